/**
 * `vitals sim score`: alert quality against simulator ground truth.
 *
 *   vitals sim score --truth sim-truth.jsonl --alerts alerts.jsonl     # score a live run
 *   vitals sim score --offline                                         # stable + deteriorating cohorts, default rules
 *   vitals sim score --offline --cohort ward-mix.yaml --rules proposed.yaml --samples-out s.jsonl
 *
 * Alerts are JSON lines in the WebSocket / `vitals rules replay` shape. Exit 0 when scored,
 * 1 when a scripted deterioration was not alerted, 2 on bad input.
 */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { flagHelp, parseFlags, type FlagSpec } from '../args.js';
import type { CommandIO } from '../io.js';
import { deterioratingCohort, parseCohortText, stableCohort, type CohortSpec, type TruthLine } from '../../device-sim/cohort.js';
import { qualityRun, runOffline } from '../../device-sim/offline.js';
import { formatReport, scoreAlerts, type AlertLine, type QualityReport } from '../../device-sim/score.js';

const FLAGS: FlagSpec = {
  truth: { type: 'string', help: 'ground truth JSON lines written by `vitals sim` (VITALS_SIM_TRUTH)' },
  alerts: { type: 'string', help: 'alert events as JSON lines (WebSocket or `vitals rules replay` shape)' },
  offline: { type: 'boolean', help: 'generate cohorts with the patient model and replay them through the rules engine' },
  cohort: { type: 'string', help: 'stable | deteriorating | both (default) | a scenario file (docs/sim.md)' },
  patients: { type: 'string', help: 'stable cohort size (default 50)' },
  hours: { type: 'string', help: 'stable cohort length in hours (default 24)' },
  'per-scenario': { type: 'string', help: 'deteriorating cohort patients per scenario (default 10)' },
  cuff: { type: 'string', help: 'minutes between cuff BP readings in the built-in cohorts (default 5)' },
  rules: { type: 'string', help: 'rule set to replay with (default: the shipped rules)' },
  'samples-out': { type: 'string', help: 'write the accepted canonical samples (replayable with `vitals rules replay`)' },
  'truth-out': { type: 'string', help: 'write the ground truth JSON lines' },
  'alerts-out': { type: 'string', help: 'write the alert events JSON lines' },
  json: { type: 'boolean', help: 'print the full report as JSON instead of a summary' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
};

async function readJsonLines<T>(file: string): Promise<T[]> {
  const text = await readFile(file, 'utf8');
  const out: T[] = [];
  text.split('\n').forEach((l, i) => {
    if (l.trim() === '') return;
    try {
      out.push(JSON.parse(l) as T);
    } catch {
      throw new Error(`${file} line ${i + 1}: not JSON`);
    }
  });
  return out;
}

async function writeJsonLines(file: string, rows: Iterable<unknown>): Promise<void> {
  const s = createWriteStream(file);
  for (const r of rows) if (!s.write(`${JSON.stringify(r)}\n`)) await new Promise<void>((res) => s.once('drain', () => res()));
  s.end();
  await finished(s);
}

export async function simScoreCommand(argv: string[], io: CommandIO): Promise<number> {
  const p = parseFlags(argv, FLAGS);
  if (p.values.help) {
    io.out(`vitals sim score: alert quality (sensitivity, false alerts per patient-day, time to alert) against simulator ground truth\n\n${flagHelp(FLAGS)}`);
    return 0;
  }
  const errors = [...p.errors];
  const str = (k: string): string | undefined => (typeof p.values[k] === 'string' ? (p.values[k] as string) : undefined);
  const num = (k: string, def: number): number => {
    const v = str(k);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) errors.push(`--${k} "${v}" is not a positive number`);
    return n;
  };
  const offline = p.values.offline === true;
  if (!offline && (!str('truth') || !str('alerts'))) errors.push('give --truth and --alerts, or --offline');
  const patients = num('patients', 50);
  const hours = num('hours', 24);
  const per = num('per-scenario', 10);
  const cuffSec = Math.round(num('cuff', 5) * 60);
  if (errors.length) {
    io.err(`vitals sim score: ${errors.length} problem${errors.length > 1 ? 's' : ''}:\n${errors.map((e) => `  - ${e}`).join('\n')}\nSee: vitals sim score --help`);
    return 2;
  }
  let report: QualityReport;
  let extra = '';
  try {
    if (!offline) {
      const truth = await readJsonLines<TruthLine>(str('truth') as string);
      const alerts = (await readJsonLines<AlertLine>(str('alerts') as string)).filter((a) => a && a.alert && typeof a.event === 'string');
      report = scoreAlerts(truth, alerts);
    } else {
      const rulesText = str('rules') ? await readFile(str('rules') as string, 'utf8') : undefined;
      const which = str('cohort') ?? 'both';
      let specs: CohortSpec[];
      const stable = (): CohortSpec => stableCohort(patients, hours, undefined, cuffSec);
      const det = (): CohortSpec => deterioratingCohort(per, undefined, undefined, undefined, cuffSec);
      if (which === 'stable') specs = [stable()];
      else if (which === 'deteriorating') specs = [det()];
      else if (which === 'both') specs = [stable(), det()];
      else {
        const parsed = parseCohortText(await readFile(which, 'utf8'));
        if (!parsed.ok) {
          io.err(`vitals sim score: ${which}: ${parsed.errors.length} problem(s):\n${parsed.errors.map((e) => `  - ${e}`).join('\n')}`);
          return 2;
        }
        specs = [parsed.spec];
      }
      const wantFiles = str('samples-out') || str('truth-out') || str('alerts-out');
      if (wantFiles && specs.length > 1) {
        io.err('vitals sim score: --samples-out/--truth-out/--alerts-out need a single cohort (--cohort stable|deteriorating|FILE)');
        return 2;
      }
      if (wantFiles) {
        const samples = str('samples-out') ? createWriteStream(str('samples-out') as string) : null;
        const run = await runOffline(specs[0] as CohortSpec, { ...(rulesText ? { rulesText } : {}), onSample: samples ? (s) => samples.write(`${JSON.stringify(s)}\n`) : undefined });
        if (samples) {
          samples.end();
          await finished(samples);
        }
        if (str('truth-out')) await writeJsonLines(str('truth-out') as string, run.truth);
        if (str('alerts-out')) await writeJsonLines(str('alerts-out') as string, run.alerts);
        report = scoreAlerts(run.truth, run.alerts);
        extra = `\n${run.messages} messages, ${run.samples} samples accepted, rejected ${JSON.stringify(run.rejected)}; ${run.elapsedMs} ms`;
      } else {
        const q = await qualityRun(specs, rulesText ? { rulesText } : {});
        report = q.report;
        extra = Object.entries(q.perCohort)
          .map(([name, c]) => `\n--- ${name}\n${formatReport(c.report)}`)
          .join('');
      }
    }
  } catch (e) {
    io.err(`vitals sim score: ${(e as Error).message}`);
    return 2;
  }
  if (p.values.json === true) io.out(JSON.stringify(report));
  else io.out(`${formatReport(report)}${extra}`);
  return report.clinical.detected < report.clinical.events ? 1 : 0;
}
