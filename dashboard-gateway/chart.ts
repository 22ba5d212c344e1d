/**
 * Chart settings per patient: a clinician's order of the NEWS2 SpO2 scale (1 or 2),
 * with who ordered it, when, and until when. Orders travel on `alert.actions` as
 * `{"action":"chart"}` records keyed by patient; the rules engine scores NEWS2 with the
 * order in force at each sample's event time, and every gateway instance rebuilds the same
 * view from the bus.
 */
import type { ChartAction } from '../core/alerts-model.js';

export type ChartOrder = ChartAction;

export interface ChartView {
  patientId: string;
  /** The scale in force now: the active order's, else 1. */
  spo2Scale: 1 | 2;
  /** The latest order, active or expired; null when there never was one. */
  order: ChartOrder | null;
  active: boolean;
  /** The rules engine scores NEWS2 with the order in force (from the order's time until its expiry). */
  appliedByRules: true;
}

export function chartView(patientId: string, order: ChartOrder | undefined, now: number): ChartView {
  const active = !!order && (order.until === null || order.until > now);
  return { patientId, spo2Scale: active && order ? order.spo2Scale : 1, order: order ?? null, active, appliedByRules: true };
}
