/** `vitals token`, `vitals device ...`, `vitals services ...`, `vitals news2`, `vitals rules replay`. */
import { readFile } from 'node:fs/promises';
import { ROLES, type Role } from '../../core/access.js';
import { loadConfig } from '../../platform/config.js';
import path from 'node:path';
import { SIGNING_KEY_FILE, existingSigningKey, parseTtl, signToken } from '../../platform/jwt.js';
import { flagHelp, parseFlags, type FlagSpec, type Parsed } from '../args.js';
import type { CommandIO } from '../io.js';

const fail = (io: CommandIO, cmd: string, errors: string[]): number => {
  io.err(`vitals ${cmd}: ${errors.length} problem${errors.length > 1 ? 's' : ''}:\n${errors.map((e) => `  - ${e}`).join('\n')}\nSee: vitals ${cmd} --help`);
  return 2;
};

/**
 * The running server's signing key, or a message saying why there is none. Never creates one: a new key
 * would sign tokens the server answers with 401 "invalid token".
 */
async function serverKey(dataDir: string): Promise<{ key: Uint8Array } | { problem: string }> {
  const key = await existingSigningKey(dataDir);
  if (key) return { key };
  return {
    problem:
      `no signing key in ${dataDir} (${SIGNING_KEY_FILE}): tokens must be signed with the key of the server that checks them.\n` +
      `  Start the server first (npm start), or point at its data dir with --data-dir or VITALS_DATA_DIR.`,
  };
}

/** Flags of the commands that sign with the server's key (token, device): where the key is, and help. */
const SIGNING_FLAGS: FlagSpec = {
  'data-dir': { type: 'string', help: 'data dir holding the signing key [VITALS_DATA_DIR]' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

/** The settings with --data-dir applied over the environment. */
const signingConfig = (io: CommandIO, p: Parsed): ReturnType<typeof loadConfig> =>
  loadConfig(io.env, typeof p.values['data-dir'] === 'string' ? { 'data-dir': p.values['data-dir'] } : {});

const TOKEN_FLAGS: FlagSpec = {
  role: { type: 'string', help: `one of ${ROLES.join('|')}` },
  ward: { type: 'string', multiple: true, help: 'ward in scope (repeatable); admin defaults to every ward' },
  sub: { type: 'string', help: 'subject (user id); default dev-<role>' },
  ttl: { type: 'string', help: 'lifetime like 90s, 15m, 1h, 7d (default 1h)' },
  patient: { type: 'string', help: 'for role patient: the patient id the person may read' },
  ...SIGNING_FLAGS,
};

export async function tokenCommand(argv: string[], io: CommandIO): Promise<number> {
  const p = parseFlags(argv, TOKEN_FLAGS);
  if (p.values.help) {
    io.out(`vitals token: print a dev JWT signed with the key a server created in its data dir (start the server first)\n\n${flagHelp(TOKEN_FLAGS)}`);
    return 0;
  }
  const errors = [...p.errors];
  const role = p.values.role;
  if (typeof role !== 'string') errors.push('--role is required');
  else if (!ROLES.includes(role as Role)) errors.push(`--role "${role}" is not one of ${ROLES.join('|')}`);
  const ttl = parseTtl(typeof p.values.ttl === 'string' ? p.values.ttl : '1h');
  if (ttl === null) errors.push(`--ttl "${String(p.values.ttl)}" is not a duration like 15m or 1h`);
  const wards = (p.values.ward as string[] | undefined) ?? [];
  const patientId = typeof p.values.patient === 'string' ? p.values.patient : null;
  if (role === 'patient' && !patientId) errors.push('--patient is required for role patient');
  if (role !== 'patient' && patientId) errors.push('--patient is only for role patient');
  if (role !== 'admin' && role !== 'patient' && wards.length === 0 && typeof role === 'string' && ROLES.includes(role as Role)) errors.push(`--ward is required for role ${role}`);
  const cfg = signingConfig(io, p);
  if (!cfg.ok) errors.push(...cfg.errors);
  if (errors.length || !cfg.ok || ttl === null) return fail(io, 'token', errors);
  const signing = await serverKey(cfg.config.dataDir);
  if ('problem' in signing) {
    io.err(`vitals token: ${signing.problem}`);
    return 1;
  }
  const sub = typeof p.values.sub === 'string' ? p.values.sub : `dev-${String(role)}`;
  const scope = role === 'patient' ? [] : wards.length ? wards : ['*'];
  io.out(await signToken(signing.key, { sub, role: role as Role, wards: scope, ...(patientId ? { patientId } : {}) }, ttl));
  // On stderr, so `TOKEN=$(npx vitals token ...)` captures only the token.
  io.err(`vitals token: signed with ${path.join(cfg.config.dataDir, SIGNING_KEY_FILE)}; valid for ${typeof p.values.ttl === 'string' ? p.values.ttl : '1h'} on a server using that data dir`);
  return 0;
}

const DEVICE_FLAGS: FlagSpec = {
  patient: { type: 'string', help: 'patient id to assign' },
  ward: { type: 'string', help: 'ward' },
  bed: { type: 'string', help: 'bed' },
  url: { type: 'string', help: 'gateway URL (default http://VITALS_HOST:VITALS_HTTP_PORT)' },
  ...SIGNING_FLAGS,
};

/** Device admin through the gateway API, as an admin token minted from the data dir's key. */
export async function deviceCommand(argv: string[], io: CommandIO): Promise<number> {
  const [sub, ...rest] = argv;
  const p = parseFlags(rest, DEVICE_FLAGS);
  if (!sub || sub === '--help' || sub === '-h' || p.values.help) {
    io.out(`vitals device add ID --patient P --ward W [--bed B] | assign ID --patient P --ward W [--bed B] | revoke ID | list\n\n${flagHelp(DEVICE_FLAGS)}`);
    return sub ? 0 : 2;
  }
  const errors = [...p.errors];
  const id = p.positionals[0];
  if (!['add', 'assign', 'revoke', 'list'].includes(sub)) errors.push(`unknown device command "${sub}"`);
  if (sub !== 'list' && !id) errors.push('a device id is required');
  if (sub === 'assign' && (!p.values.patient || !p.values.ward)) errors.push('assign needs --patient and --ward');
  const cfg = signingConfig(io, p);
  if (!cfg.ok) errors.push(...cfg.errors);
  if (errors.length || !cfg.ok) return fail(io, 'device', errors);
  const base = typeof p.values.url === 'string' ? p.values.url.replace(/\/$/, '') : `http://${cfg.config.host}:${cfg.config.httpPort}`;
  const signing = await serverKey(cfg.config.dataDir);
  if ('problem' in signing) {
    io.err(`vitals device: ${signing.problem}`);
    return 1;
  }
  const token = await signToken(signing.key, { sub: 'cli-admin', role: 'admin', wards: ['*'] }, 300);
  const body = { patientId: p.values.patient, ward: p.values.ward, bed: p.values.bed };
  const req = {
    add: { method: 'POST', path: '/api/devices', body: { deviceId: id, ...body } },
    assign: { method: 'PUT', path: `/api/devices/${encodeURIComponent(id ?? '')}/assignment`, body },
    revoke: { method: 'DELETE', path: `/api/devices/${encodeURIComponent(id ?? '')}`, body: undefined },
    list: { method: 'GET', path: '/api/devices', body: undefined },
  }[sub as 'add' | 'assign' | 'revoke' | 'list'];
  let res: Response;
  try {
    res = await fetch(`${base}${req.path}`, {
      method: req.method,
      headers: { authorization: `Bearer ${token}`, ...(req.body ? { 'content-type': 'application/json' } : {}) },
      body: req.body ? JSON.stringify(req.body) : null,
    });
  } catch (e) {
    io.err(`vitals device: cannot reach the gateway at ${base} (${(e as Error).message}); is \`vitals start\` running?`);
    return 1;
  }
  const text = await res.text();
  if (!res.ok) {
    io.err(`vitals device ${sub}: HTTP ${res.status} ${text}`);
    return 1;
  }
  if (text) io.out(text);
  return 0;
}

export async function servicesCommand(argv: string[], io: CommandIO): Promise<number> {
  const [sub] = argv;
  if (!sub || !['up', 'down', 'status'].includes(sub)) {
    io.err('usage: vitals services up|down|status\n  up      start local Kafka (KRaft) and ClickHouse under .cache/ and print export lines: eval "$(vitals services up)"\n  down    stop them\n  status  show whether they run');
    return sub === '--help' || sub === '-h' ? 0 : 2;
  }
  const svc = await import('../../dev-services/index.js');
  const opts = { root: io.root, progress: (line: string) => io.err(line) };
  try {
    if (sub === 'up') io.out(svc.exportLines(await svc.servicesUp(opts)).trimEnd());
    else if (sub === 'down') await svc.servicesDown(opts);
    else {
      const st = await svc.servicesStatus(opts);
      io.out(`kafka       ${st.kafka}  ${st.endpoints.kafkaBrokers}\nclickhouse  ${st.clickhouse}  ${st.endpoints.clickhouseUrl}`);
    }
    return 0;
  } catch (e) {
    io.err(`vitals services ${sub}: ${(e as Error).message}`);
    return 1;
  }
}

export async function news2Command(argv: string[], io: CommandIO): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out('vitals news2: score NEWS2 for JSON lines on stdin\n  in:  {"rr":18,"spo2":95,"scale":1,"o2":false,"sbp":118,"hr":88,"acvpu":"A","temp":37.2}\n  out: {"score":N,"risk":"low|low-medium|medium|high","components":{...}}\n  lines that cannot be scored are reported on stderr; exit 1 if any');
    return 0;
  }
  if (argv.length) return fail(io, 'news2', [`unexpected argument ${argv.join(' ')}`]);
  const { runNews2Cli } = await import('../../stream-rules/news2-cli.js');
  return runNews2Cli(io.stdin, io.stdout, io.stderr);
}

const REPLAY_FLAGS: FlagSpec = {
  rules: { type: 'string', help: 'rules file (YAML or JSON); default: the shipped rules' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

export async function rulesCommand(argv: string[], io: CommandIO): Promise<number> {
  const [sub, ...rest] = argv;
  const p = parseFlags(rest, REPLAY_FLAGS);
  if (sub !== 'replay' || p.values.help) {
    io.out(`vitals rules replay [--rules FILE] < samples.jsonl > alerts.jsonl\n  runs the rule engine in event time over recorded samples\n\n${flagHelp(REPLAY_FLAGS)}`);
    return sub === 'replay' ? 0 : 2;
  }
  if (p.errors.length) return fail(io, 'rules replay', p.errors);
  let rulesText: string | undefined;
  if (typeof p.values.rules === 'string') {
    try {
      rulesText = await readFile(p.values.rules, 'utf8');
    } catch (e) {
      return fail(io, 'rules replay', [`cannot read ${p.values.rules}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
    }
  }
  const { runReplay } = await import('../../stream-rules/replay.js');
  return runReplay({ input: io.stdin, output: io.stdout, errOutput: io.stderr, ...(rulesText !== undefined ? { rulesText } : {}) });
}
