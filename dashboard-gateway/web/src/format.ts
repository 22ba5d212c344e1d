/** Text for values, ages and labels (pure). */
import type { AlertSummary, Metric, Priority, Risk } from './model.js';

/** "now", "12 s", "4 min", "2 h 05 min", "3 d". */
export function age(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 2) return 'now';
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d`;
}

export function ago(ms: number): string {
  const a = age(ms);
  return a === 'now' || a === '—' ? a : `${a} ago`;
}

export function clock(ts: number): string {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
}

export function clockShort(ts: number): string {
  return clock(ts).slice(0, 5);
}

export const METRIC_LABEL: Record<Metric, string> = { hr: 'HR', spo2: 'SpO₂', rr: 'RR', temp: 'Temp', sbp: 'Sys BP', dbp: 'Dia BP' };
export const METRIC_NAME: Record<Metric, string> = { hr: 'Heart rate', spo2: 'Oxygen saturation', rr: 'Respiration rate', temp: 'Temperature', sbp: 'Systolic blood pressure', dbp: 'Diastolic blood pressure' };
export const METRIC_UNIT: Record<Metric, string> = { hr: '/min', spo2: '%', rr: '/min', temp: '°C', sbp: 'mmHg', dbp: 'mmHg' };

export function value(m: Metric, v: number | undefined): string {
  if (v === undefined) return '—';
  return m === 'temp' ? v.toFixed(1) : String(Math.round(v));
}

/** NEWS2 parameter names as a nurse reads them. */
export const PARAM_LABEL: Record<string, string> = { rr: 'RR', spo2: 'SpO₂', o2: 'Air/O₂', sbp: 'BP', hr: 'HR', acvpu: 'ACVPU', temp: 'Temp' };

export const RISK_LABEL: Record<Risk, string> = { low: 'Low', 'low-medium': 'Low-med', medium: 'Medium', high: 'High' };
/** A shape per band, so risk never rests on colour alone. */
export const RISK_SHAPE: Record<Risk, string> = { low: '●', 'low-medium': '◆', medium: '▲', high: '■' };
/** IEC 60601-1-8 style priority markers. */
export const PRIORITY_MARK: Record<Priority, string> = { high: '!!!', medium: '!!', low: '!' };
export const PRIORITY_LABEL: Record<Priority, string> = { high: 'High', medium: 'Medium', low: 'Low' };

export function location(ward: string | null, bed: string | null): string {
  if (ward && bed) return `${ward} · Bed ${bed}`;
  if (ward) return ward;
  if (bed) return `Bed ${bed}`;
  return 'No bed';
}

/** "≥5" when the score is a lower bound because parameters are missing or stale. */
export function scoreText(score: number, complete: boolean): string {
  return complete ? String(score) : `≥${score}`;
}

/** The band of a score; a lower bound below "high" may be higher. */
export function bandText(risk: Risk, complete: boolean): string {
  return `${RISK_LABEL[risk]}${complete || risk === 'high' ? '' : ' or higher'}`;
}

/**
 * A tile's alert line, counted per priority: "High alert ×2", "High alert + 1 medium",
 * "Medium alert + 2 low", then whether anyone acknowledged them.
 */
export function alertFlagText(sum: AlertSummary): string {
  const order: Priority[] = ['high', 'medium', 'low'];
  const top = order.find((p) => sum.byPriority[p] > 0);
  if (!top) return '';
  const n = sum.byPriority[top];
  const rest = order.filter((p) => p !== top && sum.byPriority[p] > 0).map((p) => ` + ${sum.byPriority[p]} ${p}`);
  const ack = sum.open === 0 ? 'acknowledged' : sum.count > 1 && sum.open < sum.count ? `${sum.open} not acknowledged` : 'not acknowledged';
  return `${PRIORITY_LABEL[top]} alert${n > 1 ? ` ×${n}` : ''}${rest.join('')} · ${ack}`;
}
