/**
 * Chart settings per patient: a clinician's order of the NEWS2 SpO2 scale (1 or 2),
 * with who ordered it, when, and until when. Orders travel on `alert.actions` as
 * `{"action":"chart"}` records keyed by patient (the rules engine ignores actions
 * other than `ack`), so every gateway instance rebuilds the same view from the bus.
 */

export interface ChartOrder {
  v: 1;
  action: 'chart';
  patientId: string;
  /** NEWS2 SpO2 scale [RCP NEWS2 chart 1: scale 2 only for confirmed hypercapnic respiratory failure]. */
  spo2Scale: 1 | 2;
  orderedBy: string;
  role: string;
  /** When the order was given, epoch ms. */
  ts: number;
  /** Expiry, epoch ms; null: until changed. */
  until: number | null;
}

export interface ChartView {
  patientId: string;
  /** The scale in force now: the active order's, else 1. */
  spo2Scale: 1 | 2;
  /** The latest order, active or expired; null when there never was one. */
  order: ChartOrder | null;
  active: boolean;
  /** Whether the rules engine scores with this order live. It does not yet: see docs/api.md. */
  appliedByRules: false;
}

export function isChartOrder(x: unknown): x is ChartOrder {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return (
    o.action === 'chart' &&
    typeof o.patientId === 'string' &&
    (o.spo2Scale === 1 || o.spo2Scale === 2) &&
    typeof o.orderedBy === 'string' &&
    typeof o.ts === 'number' &&
    (o.until === null || typeof o.until === 'number')
  );
}

export function chartView(patientId: string, order: ChartOrder | undefined, now: number): ChartView {
  const active = !!order && (order.until === null || order.until > now);
  return { patientId, spo2Scale: active && order ? order.spo2Scale : 1, order: order ?? null, active, appliedByRules: false };
}
