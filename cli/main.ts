#!/usr/bin/env -S node --max-semi-space-size=64 --heap-growing-percent=50
/** `vitals`: one CLI for every role and tool. */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODULES } from './modules.js';
import { runRole } from './commands/run-role.js';
import { deviceCommand, news2Command, rulesCommand, servicesCommand, tokenCommand } from './commands/tools.js';
import type { CommandIO, RoleTarget } from './io.js';

export const ROLE_COMMANDS: Record<string, RoleTarget> = { start: 'all', ingest: 'ingest', rules: 'rules', sink: 'sink', gateway: 'gateway', sim: 'sim' };

/** Tools by command name; `rules replay` and `sim score` are tools under a role's name, dispatched first. */
export const TOOLS: Record<string, (argv: string[], io: CommandIO) => Promise<number>> = {
  token: tokenCommand,
  device: deviceCommand,
  services: servicesCommand,
  news2: news2Command,
};

function usage(): string {
  const roles = Object.entries(ROLE_COMMANDS)
    .map(([cmd, m]) => `  ${cmd.padEnd(9)} ${cmd === 'start' ? 'all roles in one process, embedded bus and store, simulator on' : MODULES[m].help}`)
    .join('\n');
  return `Usage: vitals <command> [flags]

Roles:
${roles}

Tools:
  news2     score NEWS2 for JSON lines on stdin
  rules     rules replay: run the rule engine over recorded samples
  device    add|assign|revoke|list device credentials (through the gateway API)
  token     print a dev JWT for a role and wards
  services  up|down|status: local Kafka and ClickHouse for development and tests
  sim score alert quality of simulator ground truth (sensitivity, false alerts, time to alert)

Run \`vitals <command> --help\` for its flags; \`vitals --version\` prints the version.`;
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    io.out(usage());
    return cmd ? 0 : 2;
  }
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    io.out(io.version);
    return 0;
  }
  // `rules` and `sim` are roles, and also the parents of tools: `rules replay`, `sim score`.
  if (cmd === 'sim' && rest[0] === 'score') return (await import('./commands/sim-score.js')).simScoreCommand(rest.slice(1), io);
  if (cmd === 'rules' && rest[0] === 'replay') return rulesCommand(rest, io);
  const role = Object.hasOwn(ROLE_COMMANDS, cmd) ? ROLE_COMMANDS[cmd] : undefined;
  if (role) return runRole(role, rest, io);
  const tool = Object.hasOwn(TOOLS, cmd) ? TOOLS[cmd] : undefined;
  if (tool) return tool(rest, io);
  io.err(`vitals: unknown command "${cmd}"\n\n${usage()}`);
  return 2;
}

/** The repository root: the nearest folder up from here with our package.json (works from cli/ and dist/cli/). */
function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'infra'))) return dir;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** True when this file is the program node was asked to run, directly or through a symlinked bin
 * (npm installs `vitals` as node_modules/.bin/vitals -> ../../dist/cli/main.js). */
function isEntryPoint(argv1: string | undefined): boolean {
  if (argv1 === undefined) return false;
  try {
    return realpathSync(path.resolve(argv1)) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
const isEntry = isEntryPoint(process.argv[1]);
if (isEntry) {
  const root = findRoot(here);
  const io: CommandIO = {
    env: process.env,
    out: (s) => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    root,
    version: (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version,
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
      // Roles end by signal; tools end here. Let stdout drain, then leave even if a handle lingers.
      setTimeout(() => process.exit(code), 200).unref();
    },
    (e: unknown) => {
      process.stderr.write(`vitals: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
