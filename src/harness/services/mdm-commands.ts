/**
 * The MDM commands the harness issues, with the keys Apple's MDM command reference gives each RequestType
 * (apple/device-management, mdm/commands/*.yaml): what the harness's server puts into a command by default, and
 * what a device checks before it runs one. A command that lacks a required key, or has one of the wrong type,
 * is what a device answers `CommandFormatError` to.
 */
import type { PlistDict, PlistValue } from '../plist.js';

type KeyType = 'string' | 'integer' | 'boolean' | 'data' | 'array' | 'dictionary';

interface CommandSpec {
  /** The keys the harness sends when the caller gives none (shared, never mutated). */
  defaults: PlistDict;
  /** Every key Apple documents for the command, with its type; `required` ones must be present. */
  keys: Record<string, { type: KeyType; required?: boolean }>;
  /** Exactly one of these keys must be present (InstallApplication: iTunesStoreID, Identifier or ManifestURL). */
  oneOf?: string[];
}

/** A minimal configuration profile, as the Payload of InstallProfile carries one (XML plist as data). */
const SAMPLE_PROFILE = Buffer.from(
  `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>PayloadContent</key><array/>
<key>PayloadDisplayName</key><string>pushcheck harness sample</string>
<key>PayloadIdentifier</key><string>com.pushcheck.harness.sample</string>
<key>PayloadType</key><string>Configuration</string>
<key>PayloadUUID</key><string>7E2C51C6-3B2A-4C4E-9D0B-6F1C2A9D5E01</string>
<key>PayloadVersion</key><integer>1</integer>
</dict></plist>
`,
);

/** The DeviceInformation queries the harness asks by default (a device answers each one it knows). */
export const DEFAULT_DEVICE_QUERIES = ['DeviceName', 'OSVersion', 'BuildVersion', 'ModelName', 'Model', 'ProductName', 'SerialNumber', 'UDID'];

export const MDM_COMMANDS: Record<string, CommandSpec> = {
  DeviceInformation: { defaults: { Queries: DEFAULT_DEVICE_QUERIES }, keys: { Queries: { type: 'array', required: true } } },
  ProfileList: { defaults: { ManagedOnly: false }, keys: { ManagedOnly: { type: 'boolean' } } },
  InstallProfile: { defaults: { Payload: SAMPLE_PROFILE }, keys: { Payload: { type: 'data', required: true } } },
  RemoveProfile: { defaults: { Identifier: 'com.pushcheck.harness.sample' }, keys: { Identifier: { type: 'string', required: true } } },
  InstallApplication: {
    defaults: { iTunesStoreID: 361309726, ManagementFlags: 1 },
    keys: {
      iTunesStoreID: { type: 'integer' },
      Identifier: { type: 'string' },
      ManifestURL: { type: 'string' },
      ManagementFlags: { type: 'integer' },
      Options: { type: 'dictionary' },
      Configuration: { type: 'dictionary' },
      Attributes: { type: 'dictionary' },
      ChangeManagementState: { type: 'string' },
    },
    oneOf: ['iTunesStoreID', 'Identifier', 'ManifestURL'],
  },
  InstalledApplicationList: { defaults: { ManagedAppsOnly: false }, keys: { ManagedAppsOnly: { type: 'boolean' }, Identifiers: { type: 'array' } } },
  // PIN is macOS's (Find My); an iOS device shows Message and PhoneNumber on its Lock Screen.
  DeviceLock: {
    defaults: { Message: 'Locked by pushcheck harness', PhoneNumber: '+1 555 0100' },
    keys: { Message: { type: 'string' }, PhoneNumber: { type: 'string' }, PIN: { type: 'string' } },
  },
  EraseDevice: {
    defaults: { PreserveDataPlan: true, DisallowProximitySetup: false },
    keys: { PIN: { type: 'string' }, PreserveDataPlan: { type: 'boolean' }, DisallowProximitySetup: { type: 'boolean' } },
  },
  SecurityInfo: { defaults: {}, keys: {} },
  CertificateList: { defaults: { ManagedOnly: false }, keys: { ManagedOnly: { type: 'boolean' } } },
  RestartDevice: { defaults: {}, keys: { NotifyUser: { type: 'boolean' } } },
  ShutDownDevice: { defaults: {}, keys: {} },
};

const EMPTY: PlistDict = {};

/** The keys sent with a command of this type when the caller gives none. */
export function defaultCommandKeys(requestType: string): PlistDict {
  return MDM_COMMANDS[requestType]?.defaults ?? EMPTY;
}

/** Keys whose values are data (a JSON caller gives them base64-encoded). */
export function dataKeys(requestType: string): string[] {
  const keys = MDM_COMMANDS[requestType]?.keys ?? {};
  return Object.keys(keys).filter((k) => keys[k]!.type === 'data');
}

function typeOf(value: PlistValue): KeyType | 'other' {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'other';
  if (value instanceof Uint8Array) return 'data';
  if (Array.isArray(value)) return 'array';
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) return 'dictionary';
  return 'other';
}

/**
 * What is wrong with a command's keys, as a device sees it (unknown RequestType, a missing required key, a key of
 * the wrong type); undefined when it can run. Keys Apple does not document for the type are ignored, as devices do.
 */
export function commandProblem(command: PlistDict): string | undefined {
  const requestType = command.RequestType;
  if (typeof requestType !== 'string' || requestType === '') return 'RequestType is missing';
  const spec = MDM_COMMANDS[requestType];
  if (!spec) return `unknown RequestType ${requestType}`;
  for (const [key, { type, required }] of Object.entries(spec.keys)) {
    const value = command[key];
    if (value === undefined) {
      if (required) return `${requestType}: ${key} is required`;
      continue;
    }
    if (typeOf(value) !== type) return `${requestType}: ${key} must be ${type}`;
  }
  if (spec.oneOf) {
    const given = spec.oneOf.filter((k) => command[k] !== undefined);
    if (given.length !== 1) return `${requestType}: exactly one of ${spec.oneOf.join(', ')} is required`;
  }
  return undefined;
}
