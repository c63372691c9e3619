/** `pushcheck simulate`: a fleet on a virtual clock against the harness; exit 0 when every action is final. */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { abortOnStopSignals } from '../signals.js';
import { collect, formatOption, integer, withoutPlayServicesOptions } from './options.js';
import { FAULT_NAMES, parseFault, parseDuration } from '../harness/faults.js';
import { MAX_SOCKET_DEVICES, MAX_SOCKET_SPEED, renderSimulationTable, runSimulation } from '../harness/index.js';

interface SimulateFlags {
  ios: number;
  android: number;
  withoutPlayServices: number;
  hours: string;
  speed: string;
  actions?: number;
  fault: string[];
  seed: number;
  format: 'table' | 'json';
  commandTtl?: string;
}

export function register(program: Command): void {
  const withoutPlay = withoutPlayServicesOptions('fraction of Android devices without Google Play services (reached at their hourly heartbeat only)');
  program
    .command('simulate')
    .description('run a simulated fleet (APNs, FCM, MDM, devices) on a virtual clock and report what reached whom')
    .option('--ios <n>', 'iOS devices', integer(0, 1_000_000), 0)
    .option('--android <n>', 'Android devices', integer(0, 1_000_000), 0)
    .addOption(withoutPlay[0]!)
    .addOption(withoutPlay[1]!)
    .option('--hours <h>', 'simulated hours over which actions are sent', '24')
    .option('--speed <x|max>', 'max: jump from event to event, in process; X: an hour passes in 1/X of the wall time, over real sockets', 'max')
    .option('--actions <n>', 'actions to send, spread over the run (default: one per device)', integer(0, 10_000_000))
    .option('--fault <spec>', `NAME[=VALUE][@START-END], repeatable; NAME one of: ${FAULT_NAMES.join(', ')}`, collect, [])
    .option('--command-ttl <duration>', 'how long a command may wait before it expires (e.g. 6h; default 7 days)')
    .option('--seed <n>', 'random seed; a --speed max run is the same for the same seed', integer(0, 2 ** 32 - 1), 1)
    .addOption(formatOption(['table', 'json']))
    .action(async (flags: SimulateFlags) => {
      const hours = Number(flags.hours);
      if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 365) throw new UsageError(`--hours ${flags.hours}: expected a number of hours > 0`);
      let speed: number | 'max' = 'max';
      if (flags.speed !== 'max') {
        speed = Number(flags.speed);
        if (!Number.isFinite(speed) || speed <= 0) throw new UsageError(`--speed ${flags.speed}: expected a number > 0 or "max"`);
        if (speed > MAX_SOCKET_SPEED) {
          throw new UsageError(`--speed ${flags.speed}: over real sockets at most ${MAX_SOCKET_SPEED} (an hour a second); faster, network delays become simulated minutes and actions end pending for no fault (use --speed max)`);
        }
      }
      const devices = flags.ios + flags.android;
      if (devices === 0) throw new UsageError('no devices: give --ios N and/or --android N');
      if (speed !== 'max' && devices > MAX_SOCKET_DEVICES) {
        throw new UsageError(`--speed ${flags.speed} runs every device over real sockets: at most ${MAX_SOCKET_DEVICES} devices (use --speed max for more)`);
      }
      const faults = flags.fault.map(parseFault);
      let commandTtlMs: number | undefined;
      if (flags.commandTtl !== undefined) {
        commandTtlMs = parseDuration(flags.commandTtl);
        if (!commandTtlMs) throw new UsageError(`--command-ttl ${flags.commandTtl}: expected a duration such as 6h or 90m`);
      }
      // Ctrl-C or SIGTERM stops the fleet; what was simulated until then is still reported.
      const stop = abortOnStopSignals();
      const report = await runSimulation({
        signal: stop.signal,
        ios: flags.ios,
        android: flags.android,
        withoutPlayServices: flags.withoutPlayServices,
        hours,
        speed,
        faults,
        seed: flags.seed,
        ...(flags.actions !== undefined ? { actions: flags.actions } : {}),
        ...(commandTtlMs ? { commandTtlMs } : {}),
      }).finally(stop.release);
      process.stdout.write(flags.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderSimulationTable(report));
      process.exitCode = report.exitCode;
    });
}
