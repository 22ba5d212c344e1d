/**
 * `vitals news2`: score NEWS2 for JSON lines on stdin, one result line per input line.
 *
 * In:  {"rr":18,"spo2":95,"scale":1,"o2":false,"sbp":118,"hr":88,"acvpu":"A","temp":37.2}
 * Out: {"score":1,"risk":"low","components":{"rr":0,"spo2":1,"o2":0,"sbp":0,"hr":0,"acvpu":0,"temp":0}}
 *
 * Policy (docs/decisions/0003-news2-and-alerting.md):
 * - A set with some parameters missing is scored, as a lower bound, and the line says so:
 *   `"complete":false,"missing":[...],"maxScore":N`. A line with no parameter at all is an error.
 * - A line that cannot be scored (invalid JSON, unknown field, wrong type, impossible value such
 *   as spo2 150, unknown ACVPU) is reported on stderr as `vitals news2: line N: ...` and the rest
 *   go on: stdout carries only scores, so it can be piped on (docs/decisions/0014-cli-contract.md).
 * - Blank lines are skipped. Exit code 1 if any line failed, else 0.
 */
import { checkObservations, NEWS2_PARAMS, scoreNews2, type News2Observations } from '../core/news2.js';
import { numberedLines, parseObjectLine, writeLine } from './json-lines.js';

const FIELDS: ReadonlySet<string> = new Set(['rr', 'spo2', 'scale', 'o2', 'sbp', 'hr', 'acvpu', 'temp']);

/**
 * Score one input line.
 * @returns the output object ({score,...} or {error})
 */
export function scoreLine(line: string, n: number): { ok: boolean; out: Record<string, unknown> } {
  const fail = (msg: string) => ({ ok: false, out: { error: `line ${n}: ${msg}` } });
  const p = parseObjectLine(line);
  if (!p.ok) return fail(p.reason);
  const errors: string[] = [];
  for (const k of Object.keys(p.value)) if (!FIELDS.has(k)) errors.push(`${k}: unknown field`);
  // null is a wrong type here, not "missing": a missing parameter is left out of the line.
  const obs = p.value as News2Observations;
  errors.push(...checkObservations(obs));
  if (errors.length) return fail(errors.join('; '));
  if (!NEWS2_PARAMS.some((k) => p.value[k] !== undefined)) return fail('no NEWS2 parameter in the line');
  const r = scoreNews2(obs);
  const out: Record<string, unknown> = { score: r.score, risk: r.risk, components: r.components };
  if (!r.complete) {
    out['complete'] = false;
    out['missing'] = r.missing;
    out['maxScore'] = r.maxScore;
  }
  return { ok: true, out };
}

/**
 * Run the filter.
 * @param input - JSON lines of observation sets
 * @param output - one JSON line per scored input line
 * @param errOutput - one message per line that could not be scored
 * @returns exit code: 1 if any line could not be scored, else 0
 */
export async function runNews2Cli(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, errOutput: NodeJS.WritableStream): Promise<number> {
  let failed = false;
  for await (const { n, line } of numberedLines(input)) {
    if (line.trim() === '') continue;
    const r = scoreLine(line, n);
    if (r.ok) await writeLine(output, JSON.stringify(r.out));
    else {
      failed = true;
      await writeLine(errOutput, `vitals news2: ${String(r.out.error)}`);
    }
  }
  return failed ? 1 : 0;
}
