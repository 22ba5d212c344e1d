import { describe, expect, it } from 'vitest';
import type { AlertEvent, ChartAction } from '../core/alerts-model.js';
import { Checkpoints, parseCheckpoint } from './checkpoints.js';

const ev = (alertId: string, event: AlertEvent['event'], n: number, patientId = 'P1'): AlertEvent => ({
  v: 1,
  eventId: `${alertId}:${event}:${n}`,
  event,
  ts: 1000 * n,
  alert: { id: alertId, patientId, ward: 'W', ruleId: 'r', kind: 'clinical', priority: 'medium', state: event === 'resolved' ? 'resolved' : 'open', openedAt: 1000, message: 'm' },
});
const chart = (ts: number, spo2Scale: 1 | 2): ChartAction => ({ v: 1, action: 'chart', patientId: 'P1', spo2Scale, orderedBy: 'dr', role: 'clinician', ts, until: null });

describe('Checkpoints', () => {
  it('holds the events of unresolved alerts, once each, and drops an alert when it resolves', () => {
    const c = new Checkpoints();
    expect([...c.applyEvents([ev('a1', 'raised', 1), ev('a2', 'raised', 1)])]).toEqual(['P1']);
    expect(c.applyEvents([ev('a1', 'raised', 1)]).size).toBe(0); // a replay computes it again
    c.applyEvents([ev('a1', 'escalated', 2), ev('a1', 'resolved', 3)]);
    expect(parseCheckpoint(c.record('P1').value)?.events.map((e) => e.eventId)).toEqual(['a2:raised:1']);
  });

  it('a patient with nothing left to restore becomes a tombstone', () => {
    const c = new Checkpoints();
    c.applyEvents([ev('a1', 'raised', 1), ev('a1', 'resolved', 2)]);
    expect(c.record('P1')).toEqual({ key: 'P1', value: null });
    expect(c.size).toBe(0);
  });

  it('keeps the latest chart order, also with no open alert', () => {
    const c = new Checkpoints();
    expect(c.applyChart(chart(2000, 2))).toBe(true);
    expect(c.applyChart(chart(1000, 1))).toBe(false); // older order delivered late
    expect(c.applyChart(chart(2000, 2))).toBe(false); // the same order again
    expect(parseCheckpoint(c.record('P1').value)).toEqual({ v: 1, events: [], chart: chart(2000, 2) });
  });

  it('load then forget', () => {
    const c = new Checkpoints();
    c.load('P2', { v: 1, events: [ev('b1', 'raised', 1, 'P2')], chart: null });
    expect([...c.patients()]).toEqual(['P2']);
    c.forget('P2');
    expect(c.size).toBe(0);
  });

  it('unreadable values parse to null', () => {
    expect(parseCheckpoint(null)).toBeNull();
    expect(parseCheckpoint('nope')).toBeNull();
    expect(parseCheckpoint('{"v":2,"events":[]}')).toBeNull();
  });
});
