/**
 * `vitals rules replay`: run the rules engine over recorded canonical samples (JSON lines)
 * in event time and print the alert events in the WebSocket shape (docs/protocol.md):
 *   {"type":"alert","event":"raised","seq":1,"ts":…,"alert":{…}}
 *
 * Everything is event time: timers fire at the newest sample time seen so far (the
 * watermark), before that sample is processed, so a recording gives the same events however
 * fast it is read, and the same as the live engine saw. There is no live-window gating.
 * `seq` numbers the printed events from 1 (in the live system it is the alert-log offset).
 * A bad line goes to errOutput as `line N: reason` and is skipped.
 * Exit codes: 0 all lines used; 1 some lines skipped; 2 the rule set is invalid (nothing run).
 */
import type { AlertEvent } from '../core/alerts-model.js';
import { createRulesEngine } from './engine/engine.js';
import { ACVPU_VALUES, isMetricName, type CanonicalSample } from '../core/vitals.js';
import { numberedLines, parseObjectLine, writeLine } from './json-lines.js';
import { parseRuleSetText, readDefaultRulesText } from './rules-loader.js';

export interface ReplayOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  errOutput: NodeJS.WritableStream;
  /** Rule set (YAML or JSON); default: stream-rules/default-rules.yaml. */
  rulesText?: string;
  /** Alert-id salt, as the live rules role uses it, so ids match production. */
  idSalt?: string;
}

const SAMPLE_FIELDS: ReadonlySet<string> = new Set([
  'v', 'deviceId', 'patientId', 'ward', 'bed', 'ts', 'recvTs', 'source', 'metrics', 'quality', 'o2', 'acvpu', 'battery', 'traceId',
]);

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isStrOrNull = (x: unknown): boolean => x === null || typeof x === 'string';

/**
 * Check a parsed line against the canonical sample contract (core/vitals.ts).
 * Required: v 1, deviceId, patientId (string or null), ts, metrics. Optional fields default
 * (ward null, recvTs = ts, source device, traceId `replay:<line>`).
 * @returns the sample, or every problem found
 */
export function toCanonicalSample(o: Record<string, unknown>, lineNo: number): { ok: true; sample: CanonicalSample } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  for (const k of Object.keys(o)) if (!SAMPLE_FIELDS.has(k)) errors.push(`${k}: unknown field`);
  if (o['v'] !== 1) errors.push('v: must be 1');
  if (typeof o['deviceId'] !== 'string' || o['deviceId'] === '') errors.push('deviceId: required text');
  if (!('patientId' in o) || !isStrOrNull(o['patientId'])) errors.push('patientId: required, text or null');
  if (o['ward'] !== undefined && !isStrOrNull(o['ward'])) errors.push('ward: text or null');
  if (o['bed'] !== undefined && !isStrOrNull(o['bed'])) errors.push('bed: text or null');
  if (!isNum(o['ts'])) errors.push('ts: required epoch milliseconds');
  if (o['recvTs'] !== undefined && !isNum(o['recvTs'])) errors.push('recvTs: epoch milliseconds');
  if (o['source'] !== undefined && o['source'] !== 'device' && o['source'] !== 'manual') errors.push('source: device or manual');
  if (o['traceId'] !== undefined && typeof o['traceId'] !== 'string') errors.push('traceId: text');
  const checkMap = (name: 'metrics' | 'quality', min: number, max: number): void => {
    const m = o[name];
    if (m === undefined && name === 'quality') return;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      errors.push(`${name}: ${name === 'metrics' ? 'required, ' : ''}an object of metric → number`);
      return;
    }
    for (const [k, v] of Object.entries(m)) {
      if (!isMetricName(k)) errors.push(`${name}.${k}: unknown metric`);
      else if (!isNum(v) || v < min || v > max) errors.push(`${name}.${k}: must be a number${Number.isFinite(min) ? ` in ${min}..${max}` : ''}`);
    }
  };
  checkMap('metrics', -Infinity, Infinity);
  checkMap('quality', 0, 1);
  if (o['o2'] !== undefined && typeof o['o2'] !== 'boolean') errors.push('o2: true or false');
  if (o['acvpu'] !== undefined && !(ACVPU_VALUES as readonly unknown[]).includes(o['acvpu'])) errors.push('acvpu: one of A, C, V, P, U');
  if (o['battery'] !== undefined && (!isNum(o['battery']) || o['battery'] < 0 || o['battery'] > 1)) errors.push('battery: a number in 0..1');
  if (errors.length) return { ok: false, errors };
  const s = { ...o } as unknown as CanonicalSample;
  s.ward ??= null;
  s.recvTs ??= s.ts;
  s.source ??= 'device';
  s.traceId ??= `replay:${lineNo}`;
  return { ok: true, sample: s };
}

/**
 * Replay samples through the engine and print alert events.
 * @returns exit code (see the module comment)
 */
export async function runReplay(opts: ReplayOptions): Promise<number> {
  const { input, output, errOutput } = opts;
  const parsed = parseRuleSetText(opts.rulesText ?? (await readDefaultRulesText()));
  if (!parsed.ok) {
    await writeLine(errOutput, `rules: ${parsed.errors.length} error(s); nothing replayed`);
    for (const e of parsed.errors) await writeLine(errOutput, `  - ${e}`);
    return 2;
  }
  const engine = createRulesEngine(parsed.ruleSet, { idSalt: opts.idSalt ?? '', idleEvictMs: null });
  let seq = 0;
  let bad = 0;
  let watermark = -Infinity;
  const print = async (events: readonly AlertEvent[]): Promise<void> => {
    for (const e of events) {
      await writeLine(output, JSON.stringify({ type: 'alert', event: e.event, seq: ++seq, ts: e.ts, alert: e.alert }));
    }
  };
  for await (const { n, line } of numberedLines(input)) {
    if (line.trim() === '') continue;
    const p = parseObjectLine(line);
    const c = p.ok ? toCanonicalSample(p.value, n) : { ok: false as const, errors: [p.reason] };
    if (!c.ok) {
      bad++;
      // Reasons name fields only; never echo the line (it carries patient data).
      await writeLine(errOutput, `line ${n}: ${c.errors.join('; ')}`);
      continue;
    }
    watermark = Math.max(watermark, c.sample.ts);
    await print(engine.onTick(watermark));
    await print(engine.onSample(c.sample, { live: true }).alerts);
  }
  if (Number.isFinite(watermark)) await print(engine.onTick(watermark));
  return bad > 0 ? 1 : 0;
}
