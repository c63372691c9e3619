/**
 * What a simulated device answers to each MDM command, with the keys Apple's command reference gives its response
 * (DeviceInformation → QueryResponses, ProfileList → ProfileList, …), so that an MDM server under test reads
 * answers shaped as a device's. A device keeps what it was told to install (profiles, apps) and lists it back.
 */
import { decodePlistDict, type PlistDict } from '../plist.js';
import { commandProblem } from '../services/mdm-commands.js';
import type { MdmCommand, Platform } from '../services/mdm.js';

/** Who answers: the part of a device's profile its answers name. */
export interface AnsweringDevice {
  udid: string;
  platform: Platform;
}

/** What a device has installed through MDM commands, for ProfileList and InstalledApplicationList. */
export interface InstalledState {
  profiles: Map<string, PlistDict>;
  apps: Map<string, PlistDict>;
}

export interface CommandAnswer {
  status: 'Acknowledged' | 'Error' | 'CommandFormatError';
  /** The answer's own keys: QueryResponses, ProfileList, ErrorChain, … */
  keys: PlistDict;
}

/** What a simulated device puts in the ErrorChain of a command it fails (shaped as an iOS device's). */
export const SIMULATED_ERROR: PlistDict = { ErrorCode: 12021, ErrorDomain: 'MCMDMErrorDomain', LocalizedDescription: 'The simulated device failed the command.' };

const failed = (domain: string, code: number, description: string): CommandAnswer => ({
  status: 'Error',
  keys: { ErrorChain: [{ ErrorDomain: domain, ErrorCode: code, LocalizedDescription: description, USEnglishDescription: description }] },
});

/** The device's own facts, as DeviceInformation's QueryResponses name them. */
function deviceFacts(profile: AnsweringDevice): PlistDict {
  const serial = `SIM${profile.udid.replace(/[^A-Z0-9]/gi, '').slice(-9).toUpperCase()}`;
  const common = { UDID: profile.udid, SerialNumber: serial, DeviceCapacity: 128, AvailableDeviceCapacity: 64.5, BatteryLevel: 0.8, IsSupervised: false };
  if (profile.platform === 'android') {
    return { ...common, DeviceName: `Android ${profile.udid}`, OSVersion: '14', BuildVersion: 'AP2A.240805.005', ModelName: 'Pixel', Model: 'G1MNW', ProductName: 'Pixel 8' };
  }
  return { ...common, DeviceName: `iPhone ${profile.udid}`, OSVersion: '17.5.1', BuildVersion: '21F90', ModelName: 'iPhone', Model: 'MTLT3LL/A', ProductName: 'iPhone15,4' };
}

/** The enrollment profile that made the device managed: always first in its ProfileList. */
const ENROLLMENT_PROFILE: PlistDict = {
  PayloadIdentifier: 'com.pushcheck.harness.enrollment',
  PayloadUUID: '5B0C6A1E-6C43-4E0F-8A57-2E1F0D4C9B11',
  PayloadDisplayName: 'MDM enrollment',
  PayloadVersion: 1,
  IsManaged: true,
  PayloadContent: [{ PayloadType: 'com.apple.mdm', PayloadIdentifier: 'com.pushcheck.harness.enrollment.mdm', PayloadVersion: 1 }],
};

const BUILT_IN_APPS: PlistDict[] = [{ Identifier: 'com.apple.mobilesafari', Name: 'Safari', ShortVersion: '17.5', Version: '8618.2.12', BundleSize: 0 }];

/** True when a device would answer CommandFormatError: no Command dictionary, or one `commandProblem` rejects. */
export function isMalformed(message: MdmCommand): boolean {
  const command: unknown = message.Command;
  if (typeof command !== 'object' || command === null || Array.isArray(command)) return true;
  return commandProblem(command as PlistDict) !== undefined;
}

/**
 * The answer to a well-formed command (see `isMalformed`) that a device runs: what the command asks for.
 * `state` changes as a device's would (an installed profile appears in the next ProfileList).
 */
export function answerCommand(profile: AnsweringDevice, state: InstalledState, message: MdmCommand): CommandAnswer {
  const command = message.Command;
  const ok = (keys: PlistDict = {}): CommandAnswer => ({ status: 'Acknowledged', keys });
  switch (command.RequestType) {
    case 'DeviceInformation': {
      const facts = deviceFacts(profile);
      const queries = (command.Queries as unknown[]).filter((q): q is string => typeof q === 'string' && facts[q] !== undefined);
      return ok({ QueryResponses: Object.fromEntries(queries.map((q) => [q, facts[q]!])) });
    }
    case 'ProfileList': {
      return ok({ ProfileList: [ENROLLMENT_PROFILE, ...state.profiles.values()] });
    }
    case 'InstallProfile': {
      let inner: PlistDict;
      try {
        inner = decodePlistDict(command.Payload as Uint8Array);
      } catch {
        return failed('MCProfileErrorDomain', 1000, 'The profile could not be read.');
      }
      const { PayloadIdentifier: id, PayloadUUID: uuid } = inner;
      if (typeof id !== 'string' || typeof uuid !== 'string') return failed('MCProfileErrorDomain', 1000, 'The profile has no PayloadIdentifier or PayloadUUID.');
      const item: PlistDict = { PayloadIdentifier: id, PayloadUUID: uuid, PayloadVersion: 1, IsManaged: true };
      for (const key of ['PayloadDisplayName', 'PayloadOrganization', 'PayloadDescription']) if (typeof inner[key] === 'string') item[key] = inner[key]!;
      state.profiles.set(id, item);
      return ok();
    }
    case 'RemoveProfile': {
      const id = command.Identifier as string;
      if (!state.profiles.delete(id)) return failed('MCProfileErrorDomain', 1001, `The profile “${id}” is not installed.`);
      return ok();
    }
    case 'InstallApplication': {
      const id = typeof command.Identifier === 'string' ? command.Identifier : command.iTunesStoreID !== undefined ? `app.store.${String(command.iTunesStoreID)}` : undefined;
      if (id) state.apps.set(id, { Identifier: id, Name: id, ShortVersion: '1.0', Version: '1', BundleSize: 0 });
      return ok({ ...(typeof command.Identifier === 'string' ? { Identifier: command.Identifier } : {}), State: 'Installing' });
    }
    case 'InstalledApplicationList':
      return ok({ InstalledApplicationList: [...BUILT_IN_APPS, ...state.apps.values()] });
    case 'SecurityInfo':
      return ok({ SecurityInfo: { HardwareEncryptionCaps: 3, PasscodePresent: true, PasscodeCompliant: true, PasscodeCompliantWithProfiles: true } });
    case 'CertificateList':
      return ok({ CertificateList: [] });
    case 'DeviceLock':
      return ok(command.Message !== undefined || command.PhoneNumber !== undefined ? { MessageResult: 'Success' } : {});
    default:
      return ok();
  }
}
