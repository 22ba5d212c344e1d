/** The CLI's answers to bad input, run in-process with captured output. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from './main.js';
import type { CommandIO } from './io.js';

function io(env: Record<string, string> = {}, stdinText = ''): CommandIO & { outText: () => string; errText: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  const stdin = new PassThrough();
  stdin.end(stdinText);
  const stdout = new PassThrough();
  stdout.on('data', (d) => out.push(String(d)));
  const stderr = new PassThrough();
  stderr.on('data', (d) => err.push(String(d)));
  return {
    env,
    out: (s) => void out.push(`${s}\n`),
    err: (s) => void err.push(`${s}\n`),
    stdin,
    stdout,
    stderr,
    root: process.cwd(),
    version: '9.8.7',
    outText: () => out.join(''),
    errText: () => err.join(''),
  };
}

describe('vitals CLI', () => {
  it('prints usage for --help and exits 0', async () => {
    const x = io();
    expect(await main(['--help'], x)).toBe(0);
    expect(x.outText()).toMatch(/Usage: vitals <command>/);
    for (const c of ['start', 'ingest', 'rules', 'sink', 'gateway', 'sim', 'news2', 'device', 'token', 'services']) expect(x.outText()).toContain(c);
  });
  it('an unknown command exits 2 with the usage', async () => {
    const x = io();
    expect(await main(['frobnicate'], x)).toBe(2);
    expect(x.errText()).toMatch(/unknown command "frobnicate"/);
    // Names inherited by every object are not commands either.
    for (const name of ['toString', 'constructor']) {
      const y = io();
      expect(await main([name], y)).toBe(2);
      expect(y.errText()).toContain(`unknown command "${name}"`);
    }
  });
  it('unknown flags and invalid values: one message listing every problem, exit 2', async () => {
    const x = io({ VITALS_MQTT_PORT: 'abc' });
    expect(await main(['start', '--bogus', '--http-port', '70000', '--colour'], x)).toBe(2);
    const e = x.errText();
    expect(e).toMatch(/4 configuration problems/);
    expect(e).toContain('unknown flag --bogus');
    expect(e).toContain('unknown flag --colour');
    expect(e).toMatch(/--http-port: "70000" is not a port/);
    expect(e).toMatch(/VITALS_MQTT_PORT: "abc" is not a port/);
  });
  it('a split role without Kafka/ClickHouse configuration says what to set, exit 2', async () => {
    const x = io();
    expect(await main(['gateway'], x)).toBe(2);
    expect(x.errText()).toMatch(/KAFKA_BROKERS.*and CLICKHOUSE_URL/);
    const y = io({ KAFKA_BROKERS: '127.0.0.1:9' });
    expect(await main(['sink'], y)).toBe(2);
    expect(y.errText()).toMatch(/set CLICKHOUSE_URL/);
    expect(y.errText()).not.toMatch(/KAFKA_BROKERS \(/);
  });
  it('ingest and rules need only Kafka', async () => {
    const x = io();
    expect(await main(['rules'], x)).toBe(2);
    expect(x.errText()).toMatch(/runs on Kafka; set KAFKA_BROKERS/);
  });
  it('--version prints the version', async () => {
    const x = io();
    expect(await main(['--version'], x)).toBe(0);
    expect(x.outText()).toBe('9.8.7\n');
  });
  it("each role's --help lists that role's flags only", async () => {
    const help = async (cmd: string): Promise<string> => {
      const x = io();
      expect(await main([cmd, '--help'], x)).toBe(0);
      return x.outText();
    };
    const sim = await help('sim');
    expect(sim).toContain('--patients VALUE');
    expect(sim).toContain('--scenario VALUE');
    for (const other of ['--oidc-issuer', '--http-tls-cert', '--mqtt-tls-cert', '--retention-raw-days', '--kafka-brokers']) expect(sim).not.toContain(other);
    const ingest = await help('ingest');
    expect(ingest).toContain('--mqtt-tls-cert VALUE');
    expect(ingest).toContain('--kafka-brokers VALUE');
    expect(ingest).not.toContain('--oidc-issuer');
    expect(ingest).not.toContain('--patients');
    const gateway = await help('gateway');
    expect(gateway).toContain('--oidc-issuer VALUE');
    expect(gateway).not.toContain('--device-rate');
    const start = await help('start');
    for (const all of ['--patients', '--oidc-issuer', '--mqtt-tls-cert', '--retention-raw-days', '--rules VALUE']) expect(start).toContain(all);
  });
  it("another role's flag is an error naming the role that reads it, exit 2", async () => {
    const x = io();
    expect(await main(['sim', '--oidc-issuer', 'https://idp.example'], x)).toBe(2);
    expect(x.errText()).toContain('flag --oidc-issuer is not read by this role (it configures gateway)');
  });
  it('an unknown scenario or an unreadable scenario file is a configuration problem, exit 2', async () => {
    const x = io();
    expect(await main(['sim', '--scenario', 'nosuch'], x)).toBe(2);
    expect(x.errText()).toMatch(/unknown scenario "nosuch" \(known: .*sepsis/);
    const y = io();
    expect(await main(['start', '--scenario', './no-such-ward.yaml'], y)).toBe(2);
    expect(y.errText()).toMatch(/scenario file \.\/no-such-ward\.yaml: cannot read it \(ENOENT\)/);
  });
  it('token: a bad role and a bad ttl are both reported, exit 2', async () => {
    const x = io();
    expect(await main(['token', '--role', 'janitor', '--ttl', 'forever'], x)).toBe(2);
    expect(x.errText()).toMatch(/--role "janitor"/);
    expect(x.errText()).toMatch(/--ttl "forever"/);
  });
  it('rules replay is the replay tool, not the rules role', async () => {
    const sample = { v: 1, deviceId: 'd', patientId: 'P', ward: 'W', ts: 1_764_100_000_000, recvTs: 1_764_100_000_000, source: 'device', metrics: { hr: 70 }, traceId: 't' };
    const x = io({}, `${JSON.stringify(sample)}\n`);
    expect(await main(['rules', 'replay'], x)).toBe(0);
    expect(x.errText()).not.toMatch(/unexpected argument/);
  });
  it('token refuses without a server signing key, names the data dir and creates nothing', async () => {
    const { mkdtemp, readdir } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/vitals-token-');
    const x = io({ VITALS_DATA_DIR: dir });
    expect(await main(['token', '--role', 'admin'], x)).toBe(1);
    expect(x.outText()).toBe('');
    expect(x.errText()).toContain(`no signing key in ${dir} (jwt-signing.key)`);
    expect(await readdir(dir)).toEqual([]);
    const d = io({ VITALS_DATA_DIR: dir });
    expect(await main(['device', 'list'], d)).toBe(1);
    expect(d.errText()).toContain(`no signing key in ${dir}`);
  });
  it('token for a patient needs --patient, and prints a token that verifies as that patient', async () => {
    const dir = await import('node:fs/promises').then((f) => f.mkdtemp('/tmp/vitals-token-'));
    const { loadSigningKey: createKey } = await import('../platform/jwt.js');
    await createKey(dir); // as the server does at its first start
    const bad = io({ VITALS_DATA_DIR: dir });
    expect(await main(['token', '--role', 'patient'], bad)).toBe(2);
    expect(bad.errText()).toMatch(/--patient is required/);
    const ok = io({ VITALS_DATA_DIR: dir });
    expect(await main(['token', '--role', 'patient', '--patient', 'MRN-9'], ok)).toBe(0);
    const { loadSigningKey, verifyToken } = await import('../platform/jwt.js');
    const v = await verifyToken(await loadSigningKey(dir), ok.outText().trim());
    expect(v.ok && v.principal).toMatchObject({ role: 'patient', patientId: 'MRN-9' });
    expect(ok.errText()).toContain(`signed with ${dir}/jwt-signing.key`);
  });
  it('news2 scores lines from stdin and exits 1 when a line fails', async () => {
    const x = io({}, '{"rr":18,"spo2":95,"scale":1,"o2":false,"sbp":118,"hr":88,"acvpu":"A","temp":37.2}\nnot json\n');
    expect(await main(['news2'], x)).toBe(1);
    const lines = x.outText().trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ score: 1, risk: 'low' });
    expect(x.errText()).toMatch(/^vitals news2: line 2: invalid JSON/);
  });
});
