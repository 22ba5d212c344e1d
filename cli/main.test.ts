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
  return {
    env,
    out: (s) => void out.push(`${s}\n`),
    err: (s) => void err.push(`${s}\n`),
    stdin,
    stdout,
    stderr: new PassThrough(),
    configHelp: () => 'FLAGS',
    root: process.cwd(),
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
  it('every role documents its flags', async () => {
    const x = io();
    expect(await main(['ingest', '--help'], x)).toBe(0);
    expect(x.outText()).toContain('FLAGS');
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
  it('token for a patient needs --patient, and prints a token that verifies as that patient', async () => {
    const dir = await import('node:fs/promises').then((f) => f.mkdtemp('/tmp/vitals-token-'));
    const bad = io({ VITALS_DATA_DIR: dir });
    expect(await main(['token', '--role', 'patient'], bad)).toBe(2);
    expect(bad.errText()).toMatch(/--patient is required/);
    const ok = io({ VITALS_DATA_DIR: dir });
    expect(await main(['token', '--role', 'patient', '--patient', 'MRN-9'], ok)).toBe(0);
    const { loadSigningKey, verifyToken } = await import('../platform/jwt.js');
    const v = await verifyToken(await loadSigningKey(dir), ok.outText().trim());
    expect(v.ok && v.principal).toMatchObject({ role: 'patient', patientId: 'MRN-9' });
  });
  it('news2 scores lines from stdin and exits 1 when a line fails', async () => {
    const x = io({}, '{"rr":18,"spo2":95,"scale":1,"o2":false,"sbp":118,"hr":88,"acvpu":"A","temp":37.2}\nnot json\n');
    expect(await main(['news2'], x)).toBe(1);
    const lines = x.outText().trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ score: 1, risk: 'low' });
    expect(lines[1]).toHaveProperty('error');
  });
});
