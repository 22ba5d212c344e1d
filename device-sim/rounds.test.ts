/** Nurse rounds: deterministic by seed, every 4–6 h, hourly once a round scores 5+, and complete NEWS2 inputs. */
import { describe, expect, it } from 'vitest';
import { scoreNews2 } from '../core/news2.js';
import { buildCohort, type CohortSpec } from './cohort.js';
import { ROUND_MAX_MS, ROUND_MIN_MS, ROUND_URGENT_MS, createRounds, dueRounds } from './rounds.js';

const T0 = Date.UTC(2026, 0, 5, 8);
const spec = (seed: number, events: CohortSpec['events'] = []): CohortSpec => ({ name: 't', seed, patients: 6, hours: 24, startMs: 0, artefacts: false, events, scenarios: {}, wards: ['4B', '5A'] });

/** Every round of a cohort over `hours`, stepping event time by one minute. */
function play(s: CohortSpec, hours: number): Array<{ index: number; obs: ReturnType<typeof dueRounds>[number]['obs'] }> {
  const cohort = buildCohort(s);
  const rounds = createRounds(s.seed, cohort.patients.length, T0);
  const out: ReturnType<typeof play> = [];
  for (let ms = T0; ms <= T0 + hours * 3600_000; ms += 60_000) out.push(...dueRounds(rounds, cohort.patients, ms, (x) => (x - T0) / 1000));
  return out;
}

describe('simulated nurse rounds', () => {
  it('are deterministic by seed, and a different seed gives different rounds', () => {
    expect(play(spec(7), 12)).toEqual(play(spec(7), 12));
    expect(play(spec(8), 12)).not.toEqual(play(spec(7), 12));
  });

  it('walk the ward within 30 s, then come every 4–6 h for stable patients', () => {
    const all = play(spec(7), 24);
    for (let i = 0; i < 6; i++) {
      const times = all.filter((r) => r.index === i).map((r) => r.obs.ts);
      expect(times[0]! - T0).toBeLessThanOrEqual(30_000);
      expect(times.length).toBeGreaterThanOrEqual(4);
      for (let k = 1; k < times.length; k++) {
        const gap = times[k]! - times[k - 1]!;
        // Stepped by a minute: a round is charted at the first step at or after it is due.
        expect(gap).toBeGreaterThanOrEqual(ROUND_MIN_MS);
        expect(gap).toBeLessThan(ROUND_MAX_MS + 60_000);
      }
    }
  });

  it('spread the first rounds of a large cohort to at most 5 a second (the API limit is 10 a second per user)', () => {
    const r = createRounds(7, 1000, T0);
    const perSecond = new Map<number, number>();
    for (const t of r.next) perSecond.set(Math.floor((t - T0) / 1000), (perSecond.get(Math.floor((t - T0) / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(5);
    expect(Math.max(...r.next) - T0).toBeLessThanOrEqual(200_000);
  });

  it('chart every parameter a wearable cannot measure, so the NEWS2 of a stable patient is complete and low', () => {
    for (const { obs } of play(spec(7), 12)) {
      expect(obs).toEqual({ ts: expect.any(Number), acvpu: 'A', o2: false, sbp: expect.any(Number), dbp: expect.any(Number), temp: expect.any(Number) });
      expect(obs.sbp).toBeGreaterThan(obs.dbp);
      expect(obs.temp).toBeGreaterThan(35);
      expect(obs.temp).toBeLessThan(38.5);
      const n = scoreNews2({ rr: 16, spo2: 97, hr: 75, sbp: obs.sbp, temp: obs.temp, o2: obs.o2, acvpu: obs.acvpu });
      expect(n.complete).toBe(true);
    }
  });

  it('a septic patient is found confused and on oxygen, and is then seen hourly', () => {
    const rounds = play(spec(7, [{ patient: 0, scenario: 'sepsis', atSec: 60, rampSec: 1800 }]), 12).filter((r) => r.index === 0);
    const late = rounds.filter((r) => r.obs.ts > T0 + 2 * 3600_000);
    expect(late.length).toBeGreaterThan(0);
    expect(late.some((r) => r.obs.acvpu === 'C')).toBe(true);
    expect(late.some((r) => r.obs.o2)).toBe(true);
    expect(late.every((r) => r.obs.sbp < 110)).toBe(true);
    const gaps = late.slice(1).map((r, k) => r.obs.ts - late[k]!.obs.ts);
    expect(gaps.length).toBeGreaterThan(3);
    for (const g of gaps) expect(g).toBe(ROUND_URGENT_MS);
  });
});
