/** `pushcheck harness`: mock APNs, courier, MDM, FCM and the admin API on loopback, until Ctrl-C. */
import { hostPort } from '../host-port.js';
import { Command, Option } from 'commander';
import Table from 'cli-table3';
import { UsageError } from '../errors.js';
import { collect, formatOption, integer, withoutPlayServicesOptions } from './options.js';
import { FaultBoard, parseFault, ScaledClock, startHarness } from '../harness/index.js';
import { NOT_LOOPBACK } from '../harness/endpoints.js';
import { join } from 'node:path';
import { prepareStateDir, removeStateFile, STATE_FILE, writeStateDir } from '../harness/state-dir.js';
import { readCaFile } from './ca-file.js';
import { parseMdmUrl, type OwnMdmServer } from '../harness/own-mdm.js';

interface HarnessFlags {
  host: string;
  caOut?: string;
  format: 'table' | 'json';
  fault: string[];
  auth: 'certificate' | 'token';
  ios: number;
  android: number;
  withoutPlayServices: number;
  stateDir?: string;
  record?: string;
  apnsPort: number;
  courierPort: number;
  mdmPort: number;
  fcmPort: number;
  adminPort: number;
  apnsMaxStreams: number;
  apnsIdleTimeout: number;
  apnsEnvironment?: 'development' | 'production';
  mdmUrl?: string;
  mdmCheckinUrl?: string;
  mdmCa?: string;
}

/** `--mdm-url`, `--mdm-checkin-url` and `--mdm-ca`, checked: one line naming the option and what is wrong. */
function ownMdmServer(flags: HarnessFlags): OwnMdmServer | undefined {
  if (flags.mdmUrl === undefined) {
    if (flags.mdmCheckinUrl !== undefined || flags.mdmCa !== undefined) throw new UsageError(`${flags.mdmCheckinUrl !== undefined ? '--mdm-checkin-url' : '--mdm-ca'} needs --mdm-url`);
    return undefined;
  }
  const url = (option: string, text: string): string => {
    try {
      return parseMdmUrl(text).href;
    } catch (err) {
      throw new UsageError(`${option} ${(err as Error).message}`);
    }
  };
  const serverUrl = url('--mdm-url', flags.mdmUrl);
  const checkInUrl = flags.mdmCheckinUrl === undefined ? serverUrl : url('--mdm-checkin-url', flags.mdmCheckinUrl);
  if (flags.mdmCa === undefined) return { serverUrl, checkInUrl };
  return { serverUrl, checkInUrl, ca: [readCaFile('--mdm-ca', flags.mdmCa)] };
}

/** Errors that come from what the user asked for (an address or port not to be had, a path not to be written), by code. */
const USER_SETUP_CODES = new Set([NOT_LOOPBACK, 'EADDRNOTAVAIL', 'EADDRINUSE', 'EACCES', 'EPERM', 'ENOENT', 'EISDIR', 'ENOTDIR', 'EROFS']);

function isUserSetupError(err: unknown): err is Error {
  return err instanceof Error && USER_SETUP_CODES.has(String((err as NodeJS.ErrnoException).code));
}

export function register(program: Command): void {
  const withoutPlay = withoutPlayServicesOptions('fraction of those Android devices without Google Play services');
  program
    .command('harness')
    .description('run the mock APNs, MDM server, FCM and admin API on loopback until interrupted')
    .option('--host <address>', 'loopback address to bind', '127.0.0.1')
    .option('--ca-out <file>', 'write the CA certificate clients must trust here (default: a temporary file)')
    .option('--fault <spec>', 'NAME[=VALUE][@START-END] from start, repeatable (also switchable through the admin API)', collect, [])
    .addOption(new Option('--auth <kind>', 'how the harness MDM server authenticates to APNs').choices(['certificate', 'token']).default('certificate'))
    .option('--ios <n>', 'simulated iOS devices to start (over real sockets)', integer(0, 2000), 0)
    .option('--android <n>', 'simulated Android devices to start', integer(0, 2000), 0)
    .addOption(withoutPlay[0]!)
    .addOption(withoutPlay[1]!)
    .option('--state-dir <dir>', `write the CA, client certificates and keys, and ${STATE_FILE} (where everything is) into this directory`)
    .option('--record <file>', 'append every request the mock APNs and FCM receive, and the answer, to this file as JSON lines')
    .option('--apns-port <port>', 'port of the mock APNs (0: any free port; 443 where you may bind it)', integer(0, 65535), 0)
    .option('--courier-port <port>', 'port of the device channel standing for 5223', integer(0, 65535), 0)
    .option('--mdm-port <port>', 'port of the MDM server', integer(0, 65535), 0)
    .option('--fcm-port <port>', 'port of the mock FCM', integer(0, 65535), 0)
    .option('--admin-port <port>', 'port of the admin API', integer(0, 65535), 0)
    .option('--apns-max-streams <n>', 'SETTINGS_MAX_CONCURRENT_STREAMS the mock APNs advertises (as Apple: about 1,000)', integer(1, 2 ** 31 - 1), 1000)
    .option('--apns-idle-timeout <seconds>', 'the mock APNs closes a connection idle this long with GOAWAY IdleTimeout', integer(1, 86_400), 3600)
    .addOption(
      new Option('--apns-environment <env>', 'APNs environment of requests to a host name that is not Apple’s (default: none said)').choices([
        'development',
        'production',
      ]),
    )
    .option('--mdm-url <url>', "an MDM server of your own (its ServerURL): the simulated iOS devices check in and fetch commands there, woken by its pushes through the mock APNs")
    .option('--mdm-checkin-url <url>', 'its CheckInURL, if not the ServerURL (needs --mdm-url)')
    .option('--mdm-ca <file>', 'a CA certificate (PEM) the devices trust for that server, beside the public roots and the harness CA')
    .addOption(formatOption(['table', 'json'], 'how to print the endpoints'))
    .action(async (flags: HarnessFlags) => {
      const faults = flags.fault.map(parseFault);
      const ownMdm = ownMdmServer(flags);
      const clock = new ScaledClock(1);
      let harness;
      try {
        // With a state directory the CA goes there too (and stays after exit, with the other credentials).
        const caOut = flags.caOut ?? (flags.stateDir !== undefined ? join(prepareStateDir(flags.stateDir), 'ca.pem') : undefined);
        harness = await startHarness({
          host: flags.host,
          clock,
          faults: new FaultBoard(faults, clock.now()),
          auth: flags.auth,
          ports: { apns: flags.apnsPort, courier5223: flags.courierPort, mdm: flags.mdmPort, fcm: flags.fcmPort, admin: flags.adminPort },
          apnsMaxConcurrentStreams: flags.apnsMaxStreams,
          apnsIdleTimeoutMs: flags.apnsIdleTimeout * 1000,
          ...(flags.apnsEnvironment ? { apnsEnvironment: flags.apnsEnvironment } : {}),
          ...(caOut ? { caOut } : {}),
          ...(flags.record !== undefined ? { recordFile: flags.record } : {}),
          ...(ownMdm ? { ownMdm } : {}),
        });
      } catch (err) {
        if (isUserSetupError(err)) throw new UsageError(err.message);
        throw err;
      }
      if (flags.ios + flags.android > 0) harness.addDevices({ ios: flags.ios, android: flags.android, withoutPlayServices: flags.withoutPlayServices });
      let stateFile: string | undefined;
      if (flags.stateDir !== undefined) {
        try {
          stateFile = writeStateDir(flags.stateDir, harness).file;
        } catch (err) {
          await harness.close();
          if (isUserSetupError(err)) throw new UsageError(`--state-dir ${flags.stateDir}: ${err.message}`);
          throw err;
        }
      }
      const info = {
        endpoints: harness.endpoints,
        caFile: harness.caFile,
        mdmTopic: harness.mdmTopic,
        provider: { keyId: harness.provider.keyId, teamId: harness.provider.teamId },
        fcm: { projectId: harness.fcmProject, accessToken: harness.fcmAccessToken },
        ...(ownMdm ? { ownMdm: { serverUrl: ownMdm.serverUrl, checkInUrl: ownMdm.checkInUrl } } : {}),
        ...(stateFile ? { stateFile } : {}),
      };
      if (flags.format === 'json') {
        process.stdout.write(`${JSON.stringify(info)}\n`);
      } else {
        const table = new Table({ head: ['Endpoint', 'Address', 'What'], style: { head: [], border: [] } });
        const e = harness.endpoints;
        const at = (hp: { host: string; port: number }): string => hostPort(hp.host, hp.port);
        table.push(
          ['apns', at(e.apns), 'APNs provider API, HTTP/2 + TLS, POST /3/device/<token>'],
          ['courier5223', at(e.courier5223), 'device channel standing for port 5223'],
          ['courier443', at(e.courier443), 'device channel standing for port 443 (fallback)'],
          ['mdm', at(e.mdm), 'MDM server, HTTPS: PUT /mdm/checkin, PUT /mdm/connect, POST /ping, /heartbeat'],
          ['fcm', at(e.fcm), `FCM HTTP v1: POST /v1/projects/${harness.fcmProject}/messages:send`],
          ['fcmDevice', at(e.fcmDevice), 'FCM device channel'],
          ['admin', at(e.admin), 'admin API, plain HTTP, JSON (routes: docs/harness.md)'],
        );
        const state = stateFile ? `State: ${stateFile} (certificates, keys, device tokens; docs/harness.md)\n` : '';
        const own = ownMdm
          ? `iOS devices check in with your MDM server: ServerURL ${ownMdm.serverUrl}${ownMdm.checkInUrl === ownMdm.serverUrl ? '' : `, CheckInURL ${ownMdm.checkInUrl}`}\n`
          : '';
        process.stdout.write(`${table.toString()}\nCA file: ${harness.caFile}\nMDM topic: ${harness.mdmTopic}\n${own}${state}Ctrl-C to stop.\n`);
      }
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      if (flags.stateDir !== undefined) removeStateFile(flags.stateDir);
      await harness.close();
    });
}
