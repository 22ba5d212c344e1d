import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runReplay } from './replay.js';

const T0 = 1_767_225_600_000;

function lines(n: number, f: (i: number) => Record<string, unknown>): string[] {
  return Array.from({ length: n }, (_, i) => JSON.stringify({ v: 1, deviceId: 'd1', patientId: 'P1', ward: 'w1', ts: T0 + i * 1000, recvTs: T0 + i * 1000, source: 'device', traceId: 't', ...f(i) }));
}

async function replay(text: string, rulesText?: string): Promise<{ code: number; out: Record<string, unknown>[]; err: string[] }> {
  const output = new PassThrough();
  const errOutput = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  output.on('data', (c: Buffer) => o.push(c));
  errOutput.on('data', (c: Buffer) => e.push(c));
  const code = await runReplay({ input: Readable.from([text]), output, errOutput, ...(rulesText ? { rulesText } : {}) });
  return {
    code,
    out: Buffer.concat(o).toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    err: Buffer.concat(e).toString().split('\n').filter(Boolean),
  };
}

const RULES = `
version: replay-test
rules:
  - id: spo2-low
    type: threshold
    condition: spo2 < 90
    for: 60s
    hysteresis: 2
    clearFor: 30s
    priority: medium
  - id: hr-missing
    type: missing
    metric: hr
    after: 2m
    priority: low
`;

describe('vitals rules replay', () => {
  it('prints alert events in the WebSocket shape with seq from 1, in event time', async () => {
    const input = [
      ...lines(120, () => ({ metrics: { spo2: 85, hr: 70 } })),
      ...lines(60, (i) => ({ ts: T0 + (120 + i) * 1000, metrics: { spo2: 97 } })),
    ].join('\n');
    const r = await replay(input, RULES);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out.map((x) => [x['type'], x['event'], x['seq'], ((x['ts'] as number) - T0) / 1000, (x['alert'] as { ruleId: string }).ruleId])).toEqual([
      ['alert', 'raised', 1, 60, 'spo2-low'],
      ['alert', 'resolved', 2, 150, 'spo2-low'],
      // hr stopped at 119 s: overdue at 239 s, the recording reaches 179 s: not yet.
    ]);
    expect(r.out[0]?.['alert']).toMatchObject({ patientId: 'P1', ward: 'w1', kind: 'clinical', priority: 'medium', state: 'open', openedAt: T0 + 60_000 });
  });

  it('raises missing-data alerts from the watermark, whatever the patient', async () => {
    const input = [
      ...lines(10, () => ({ metrics: { hr: 70 } })),
      ...lines(200, (i) => ({ patientId: 'P2', ts: T0 + i * 1000, metrics: { hr: 70 } })),
    ].sort((a, b) => (JSON.parse(a) as { ts: number }).ts - (JSON.parse(b) as { ts: number }).ts).join('\n');
    const r = await replay(input, RULES);
    expect(r.out.map((x) => [x['event'], (x['alert'] as { patientId: string }).patientId, ((x['ts'] as number) - T0) / 1000])).toEqual([['raised', 'P1', 129]]);
  });

  it('reports bad lines on stderr with their number, skips them, exits 1; never echoes the line', async () => {
    const good = lines(3, () => ({ metrics: { hr: 70 } }));
    const input = [
      good[0],
      '{"v":1,',
      JSON.stringify({ v: 2, deviceId: '', patientId: 'SECRET-P', ts: 'x', metrics: { pulse: 1, hr: 'fast' }, extra: 1 }),
      '',
      good[1],
      '"just a string"',
      good[2],
    ].join('\n');
    const r = await replay(input, RULES);
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(3);
    expect(r.err[0]).toMatch(/^line 2: invalid JSON/);
    expect(r.err[1]).toBe('line 3: extra: unknown field; v: must be 1; deviceId: required text; ts: required epoch milliseconds; metrics.pulse: unknown metric; metrics.hr: must be a number');
    expect(r.err[2]).toBe('line 6: expected a JSON object');
    expect(r.err.join()).not.toContain('SECRET');
  });

  it('refuses an invalid rule set, listing every error, exit 2', async () => {
    const r = await replay(lines(1, () => ({ metrics: { hr: 70 } })).join('\n'), 'version: x\nrules:\n  - id: a\n    type: threshold\n    condition: nope\n    priority: urgent\n');
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
    expect(r.err[0]).toBe('rules: 2 error(s); nothing replayed');
  });

  it('uses the shipped default rules when none are given, and is deterministic', async () => {
    const input = lines(400, (i) => ({ metrics: { spo2: 86, hr: 70 + i / 10, rr: 26 }, quality: { spo2: 0.9 } })).join('\n');
    const a = await replay(input);
    const b = await replay(input);
    expect(a.code).toBe(0);
    expect(a.out.length).toBeGreaterThan(0);
    expect(b.out).toEqual(a.out);
    // hr-rising is shipped off (stream-rules/default-rules.yaml), so the rising HR here raises nothing.
    expect(new Set(a.out.map((x) => (x['alert'] as { ruleId: string }).ruleId))).toEqual(new Set(['spo2-low', 'rr-high', 'news2']));
  });
});
