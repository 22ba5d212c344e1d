/** `vitals start` and the single-role commands. */
import { describeConfig, loadConfig, type Config } from '../../platform/config.js';
import { createLogger } from '../../platform/log.js';
import { MODULES, infraNeeds } from '../modules.js';
import type { Running } from '../runtime.js';
import { configFlagSpec, configFlagValues, rolesOfFlag, type CommandIO, type RoleTarget } from '../io.js';
import { flagHelp, parseFlags } from '../args.js';

function banner(config: Config, target: RoleTarget, io: CommandIO, opsPort: number | null): void {
  const lines = [
    '',
    `  Vitalstream is running (${target === 'all' ? 'all roles' : target}; bus: ${config.kafkaBrokers ? 'kafka' : 'embedded'}, store: ${config.clickhouseUrl ? 'clickhouse' : 'embedded duckdb'})`,
  ];
  if (target === 'all' || target === 'gateway') {
    lines.push(`  Dashboard:  http://${config.host}:${config.httpPort}/`);
    lines.push(`  Sign in with a token from:  npx vitals token --role nurse --ward 4B --ward 5A`);
    lines.push(`  Data dir:   ${config.dataDir} (its signing key signs those tokens; elsewhere add --data-dir)`);
  }
  if (target === 'all' || target === 'ingest') lines.push(`  MQTT:       mqtt://${config.host}:${config.mqttPort}`);
  if ((target === 'all' || target === 'ingest') && config.hl7Port !== null) lines.push(`  HL7 MLLP:   ${config.host}:${config.hl7Port} (PCD-01 ORU^R01 from registered gateways)`);
  if (target === 'all' && config.simPatients > 0) lines.push(`  Simulator:  ${config.simPatients} patients in wards 4B and 5A${config.simProtocol !== 'mqtt' ? ` (${config.simProtocol === 'hl7' ? 'all' : 'half'} on bedside monitors over HL7)` : ''}${config.simScenario ? `, scenario ${config.simScenario}` : ''}`);
  if (opsPort !== null) lines.push(`  Ops:        http://${config.host}:${opsPort}/readyz, /healthz, /metrics`);
  lines.push('  Stop with Ctrl-C.', '');
  io.out(lines.join('\n'));
}

/** A flag of another role gets a message naming the roles that read it. */
function otherRolesFlag(name: string): string | undefined {
  const roles = rolesOfFlag(name);
  return roles.length ? `flag --${name} is not read by this role (it configures ${roles.join(', ')})` : undefined;
}

/** A scenario that does not exist is a configuration problem, found before anything starts. */
async function scenarioProblem(config: Config, target: RoleTarget, readFiles: boolean): Promise<string | null> {
  if (!config.simScenario || (target !== 'all' && target !== 'sim')) return null;
  if (!readFiles && (config.simScenario.includes('/') || /\.(json|ya?ml)$/.test(config.simScenario))) return null;
  try {
    const { simSpec } = await import('../../device-sim/fleet.js');
    await simSpec(config);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

export type RoleArgs = { help: true } | { help: false; config: Config; errors: [] } | { help: false; config: null; errors: string[] };

/**
 * A role command's flags and environment, checked as a whole: every problem at once.
 * @param readFiles - false: a scenario file is not opened (docs name files the reader writes)
 */
export async function parseRoleArgs(target: RoleTarget, argv: string[], env: CommandIO['env'], readFiles = true): Promise<RoleArgs> {
  const parsed = parseFlags(argv, configFlagSpec(target), otherRolesFlag);
  if (parsed.values.help) return { help: true };
  const loaded = loadConfig(env, configFlagValues(parsed.values));
  const errors = [...parsed.errors, ...(loaded.ok ? [] : loaded.errors)];
  if (parsed.positionals.length) errors.push(`unexpected argument ${parsed.positionals.join(' ')}`);
  const scenario = loaded.ok ? await scenarioProblem(loaded.config, target, readFiles) : null;
  if (scenario) errors.push(scenario);
  return loaded.ok && errors.length === 0 ? { help: false, config: loaded.config, errors: [] } : { help: false, config: null, errors };
}

export async function runRole(target: RoleTarget, argv: string[], io: CommandIO): Promise<number> {
  const args = await parseRoleArgs(target, argv, io.env);
  if (args.help) {
    io.out(`vitals ${target === 'all' ? 'start' : target}: ${MODULES[target].help}\n\nFlags (each also settable by environment):\n${flagHelp(configFlagSpec(target))}`);
    return 0;
  }
  if (!args.config) {
    const { errors } = args;
    io.err(`vitals: ${errors.length} configuration problem${errors.length > 1 ? 's' : ''}:\n${errors.map((e) => `  - ${e}`).join('\n')}`);
    return 2;
  }
  const config = args.config;
  if (target !== 'all') {
    // A role on its own shares the bus and store with other processes: the embedded ones cannot be shared.
    const needs = infraNeeds(target);
    const missing = [needs.bus && !config.kafkaBrokers && 'KAFKA_BROKERS (or --kafka-brokers)', needs.store && !config.clickhouseUrl && 'CLICKHOUSE_URL (or --clickhouse-url)'].filter(Boolean);
    if (missing.length) {
      io.err(`vitals ${target}: a single role runs on ${needs.store ? 'Kafka and ClickHouse' : 'Kafka'}; set ${missing.join(' and ')}.\n  Local services: eval "$(npx vitals services up)"   All roles embedded: npx vitals start`);
      return 2;
    }
  }
  const { StartAborted, runTarget } = await import('../runtime.js');
  const log = createLogger({ level: config.logLevel });
  log.info({ target, config: describeConfig(config) }, 'effective configuration');
  // Signals are handled from the first moment: SIGTERM while still connecting is a clean stop too.
  const abort = new AbortController();
  let running: Running | null = null;
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (sig: string): void => {
      log.info({ signal: sig }, 'stopping');
      abort.abort();
      if (!running) return; // runTarget sees the abort, stops what it started and rejects
      running.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
  try {
    running = await runTarget(target, config, log, abort.signal);
  } catch (e) {
    if (e instanceof StartAborted) {
      log.info('stopped during start-up');
      log.flush?.();
      return 0;
    }
    io.err(`vitals ${target}: ${(e as Error).message}`);
    log.flush?.();
    return 1;
  }
  banner(config, target, io, running.opsPort);
  const code = await stopped;
  log.info('stopped');
  log.flush?.();
  return code;
}
