/** The dashboard's client model: message handling, urgency order, alert order (pure, no DOM). */
import { describe, expect, it } from 'vitest';
import { backoff } from './conn.js';
import { age, alertFlagText, bandText, scoreText } from './format.js';
import { Model, compareAlerts, compareBed, compareUrgency, summarise, type AlertView, type Patient } from './model.js';

const alert = (id: string, patientId: string, priority: 'high' | 'medium' | 'low', state: 'open' | 'acknowledged' = 'open', openedAt = 1000): Record<string, unknown> => ({
  id,
  patientId,
  ward: '4B',
  ruleId: 'r',
  kind: 'clinical',
  priority,
  state,
  openedAt,
  message: 'm',
});

function model(): Model {
  const m = new Model();
  m.applySnapshot({
    seq: 10,
    patients: [
      { patientId: 'P1', ward: '4B', bed: '1', latest: { hr: { value: 70, ts: 100 } }, lastTs: 100, score: { score: 1, risk: 'low', complete: false, missing: ['acvpu'] }, device: null },
      { patientId: 'P2', ward: '4B', bed: '2', latest: {}, lastTs: 0, score: { score: 6, risk: 'medium', complete: true }, device: null },
      { patientId: 'P10', ward: '4B', bed: '10', latest: {}, lastTs: 0, score: { score: 3, risk: 'low-medium', complete: true }, device: null },
    ],
    alerts: [],
  });
  return m;
}

const order = (m: Model, by: 'urgency' | 'bed'): string[] => {
  const byP = m.alertsByPatient();
  return [...m.patients.values()].sort(by === 'bed' ? compareBed : (a: Patient, b: Patient) => compareUrgency(a, b, byP)).map((p) => p.patientId);
};

describe('dashboard model', () => {
  it('orders tiles by open alert priority, then NEWS2 risk and score; bed order is natural', () => {
    const m = model();
    expect(order(m, 'urgency')).toEqual(['P2', 'P10', 'P1']);
    expect(order(m, 'bed')).toEqual(['P1', 'P2', 'P10']);
    m.applyAlert({ seq: 11, event: 'raised', ts: 2000, alert: alert('a1', 'P1', 'medium') });
    expect(order(m, 'urgency')).toEqual(['P1', 'P2', 'P10']);
    m.applyAlert({ seq: 12, event: 'raised', ts: 2000, alert: alert('a2', 'P10', 'high') });
    expect(order(m, 'urgency')).toEqual(['P10', 'P1', 'P2']);
  });

  it('at the same priority an unacknowledged alert comes before an acknowledged one', () => {
    const m = model();
    m.applyAlert({ seq: 11, event: 'raised', ts: 1, alert: alert('a1', 'P1', 'high') });
    m.applyAlert({ seq: 12, event: 'raised', ts: 1, alert: alert('a2', 'P2', 'high') });
    m.applyAlert({ seq: 13, event: 'acknowledged', ts: 2, alert: { ...alert('a2', 'P2', 'high', 'acknowledged'), ackBy: 'n', ackAt: 2 } });
    expect(order(m, 'urgency').slice(0, 2)).toEqual(['P1', 'P2']);
  });

  it('ignores alert events at or below the applied seq (resume after a snapshot) and drops resolved alerts', () => {
    const m = model();
    expect(m.applyAlert({ seq: 10, event: 'raised', ts: 1, alert: alert('old', 'P1', 'high') })).toBeNull();
    const ch = m.applyAlert({ seq: 11, event: 'raised', ts: 1, alert: alert('a1', 'P1', 'high') });
    expect(ch?.fresh).toBe(true);
    expect(m.seq).toBe(11);
    m.applyAlert({ seq: 12, event: 'resolved', ts: 5, alert: { ...alert('a1', 'P1', 'high'), state: 'resolved' } });
    expect(m.alerts.size).toBe(0);
  });

  it('keeps escalation visible until acknowledged, and acknowledgement carries who and when', () => {
    const m = model();
    m.applyAlert({ seq: 11, event: 'raised', ts: 1, alert: alert('a1', 'P1', 'medium') });
    m.applyAlert({ seq: 12, event: 'escalated', ts: 2, alert: alert('a1', 'P1', 'high') });
    expect(m.alerts.get('a1')).toMatchObject({ priority: 'high', escalated: true, state: 'open' });
    m.applyAlert({ seq: 13, event: 'acknowledged', ts: 3, alert: { ...alert('a1', 'P1', 'high', 'acknowledged'), ackBy: 'nurse.amira', ackAt: 3 } });
    expect(m.alerts.get('a1')).toMatchObject({ state: 'acknowledged', ackBy: 'nurse.amira', ackAt: 3 });
  });

  it('takes escalation and last change time from the snapshot, so a reconnecting page shows them at once', () => {
    const m = new Model();
    m.applySnapshot({ seq: 5, patients: [], alerts: [{ ...alert('a1', 'P1', 'high'), escalated: true, changedAt: 4000 }, alert('a2', 'P1', 'low')] });
    expect(m.alerts.get('a1')).toMatchObject({ escalated: true, changedAt: 4000 });
    expect(m.alerts.get('a2')).toMatchObject({ escalated: false, changedAt: 1000 });
    // A later snapshot that says it is no longer escalated wins over what the page knew.
    m.applySnapshot({ seq: 6, patients: [], alerts: [{ ...alert('a1', 'P1', 'high', 'acknowledged'), escalated: false }] });
    expect(m.alerts.get('a1')?.escalated).toBe(false);
  });

  it('counts alerts per priority on a tile: one high and one medium is not "High ×2"', () => {
    const views = (...ps: Array<['high' | 'medium' | 'low', 'open' | 'acknowledged']>): AlertView[] =>
      ps.map(([p, st], i) => ({ ...(alert(`a${i}`, 'P1', p, st) as unknown as AlertView), escalated: false, changedAt: 0 }));
    expect(alertFlagText(summarise(views(['high', 'open'], ['medium', 'open'])))).toBe('High alert + 1 medium · not acknowledged');
    expect(alertFlagText(summarise(views(['high', 'open'], ['high', 'acknowledged'])))).toBe('High alert ×2 · 1 not acknowledged');
    expect(alertFlagText(summarise(views(['medium', 'acknowledged'], ['low', 'open'], ['low', 'open'])))).toBe('Medium alert + 2 low · 2 not acknowledged');
    expect(alertFlagText(summarise(views(['low', 'acknowledged'])))).toBe('Low alert · acknowledged');
    expect(alertFlagText(summarise([]))).toBe('');
    expect(summarise(views(['high', 'open'], ['medium', 'open'], ['medium', 'acknowledged'])).byPriority).toEqual({ high: 1, medium: 2, low: 0 });
  });

  it('never replaces a newer value with a late one', () => {
    const m = model();
    m.applyVitals({ type: 'vitals', patientId: 'P1', ward: '4B', bed: '1', ts: 50, metrics: { hr: 120, spo2: 90 } });
    expect(m.patients.get('P1')?.latest.hr).toEqual({ value: 70, ts: 100 });
    expect(m.patients.get('P1')?.latest.spo2).toEqual({ value: 90, ts: 50 });
    m.applyVitals({ type: 'vitals', patientId: 'P9', ward: '4B', bed: '9', ts: 200, metrics: { hr: 80 } });
    expect(m.patients.get('P9')).toMatchObject({ ward: '4B', bed: '9', lastTs: 200 });
  });

  it('lists alerts by priority, then unacknowledged first, then the longest waiting', () => {
    const v = (id: string, p: 'high' | 'medium' | 'low', state: 'open' | 'acknowledged', openedAt: number): AlertView => ({ ...(alert(id, 'P', p, state, openedAt) as unknown as AlertView), escalated: false, changedAt: openedAt });
    const list = [v('m-new', 'medium', 'open', 30), v('h-ack', 'high', 'acknowledged', 5), v('h-new', 'high', 'open', 20), v('h-old', 'high', 'open', 10), v('l', 'low', 'open', 1)];
    expect(list.sort(compareAlerts).map((a) => a.id)).toEqual(['h-old', 'h-new', 'h-ack', 'm-new', 'l']);
  });

  it('shows an incomplete NEWS2 as a lower bound', () => {
    expect(scoreText(5, false)).toBe('≥5');
    expect(scoreText(5, true)).toBe('5');
    expect(bandText('low', false)).toBe('Low or higher');
    expect(bandText('high', false)).toBe('High');
  });

  it('formats ages and backs off exponentially with a cap', () => {
    expect(age(500)).toBe('now');
    expect(age(12_000)).toBe('12 s');
    expect(age(125_000)).toBe('2 min');
    expect(age(3 * 3600_000 + 5 * 60_000)).toBe('3 h 05 min');
    expect([1, 2, 3, 4].map((n) => backoff(n, () => 0.5))).toEqual([500, 1000, 2000, 4000]);
    expect(backoff(20, () => 0.5)).toBe(30_000);
  });
});
