/** Synthetic wearable streams with realistic noise for the NEWS2 tests (issue 17), from noise-free "truth". */
import { scoreNews2 } from '../../core/news2.js';
import type { CanonicalSample } from '../../core/vitals.js';
import { gaussian } from './noise.js';

/** Noise-free vitals at one second. */
export type Truth = { hr: number; spo2: number; rr: number; temp: number; sbp: number };

/** NEWS2 urgent trigger of noise-free vitals (Scale 1, air, alert): aggregate >= 5 or a 3 in one parameter. */
export function urgent(v: Truth): boolean {
  const r = scoreNews2({ ...v, o2: false, acvpu: 'A', scale: 1 });
  return r.score >= 5 || Object.values(r.components).includes(3);
}

export interface WearableOptions {
  /** Minutes between cuff BP and temperature readings (default 15, a nurse's round). */
  cuffMin?: number;
  /** Cuff BP noise, mmHg SD (default 4). */
  cuffSd?: number;
  /** Consciousness and oxygen (A, air) with every round, or only with the first (default every). */
  acvpuEveryRound?: boolean;
}

/** Patient P1 from `t0`: HR and SpO2 each second, RR every 4 s (integers, with measurement noise), cuff BP and temperature every `cuffMin`. */
export function wearable(truth: (sec: number) => Truth, seconds: number, seed: number, t0: number, o: WearableOptions = {}): CanonicalSample[] {
  const { cuffMin = 15, cuffSd = 4, acvpuEveryRound = true } = o;
  const g = gaussian(seed);
  const out: CanonicalSample[] = [];
  for (let sec = 0; sec < seconds; sec++) {
    const v = truth(sec);
    const metrics: CanonicalSample['metrics'] = { hr: Math.round(v.hr + 1.5 * g()), spo2: Math.min(100, Math.round(v.spo2 + 0.6 * g())) };
    if (sec % 4 === 0) metrics.rr = Math.round(v.rr + 0.8 * g());
    const round = sec % (cuffMin * 60) === 0;
    if (round) {
      metrics.sbp = Math.round(v.sbp + cuffSd * g());
      metrics.temp = Math.round(v.temp * 10) / 10;
    }
    const ts = t0 + sec * 1000;
    const spot = acvpuEveryRound ? round : sec === 0;
    out.push({ v: 1, deviceId: 'd1', patientId: 'P1', ward: 'w1', ts, recvTs: ts, source: 'device', metrics, traceId: `t${sec}`, ...(spot ? { acvpu: 'A' as const, o2: false } : {}) });
  }
  return out;
}
