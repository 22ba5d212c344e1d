/**
 * k6: the dashboard HTTP API under load, as clinicians' browsers use it: the ward's alert list,
 * a patient's vital-sign history (raw and 1-minute buckets) and the NEWS2 trend.
 * Run while devices publish (npm run bench, or `vitals sim --patients N`):
 *   NURSE_TOKEN=$(npx vitals token --role nurse --ward L0 --ward L1) k6 run load/k6/api.ts
 */
import { check, sleep } from 'k6';
import http from 'k6/http';
import type { Options } from 'k6/options';
import { BASE, NURSE_TOKEN, WARD_SIZE, patientId, wardOf } from './common.ts';

export const options: Options = {
  scenarios: {
    clinicians: { executor: 'constant-vus', vus: Number(__ENV.VUS || 20), duration: __ENV.DURATION || '60s' },
  },
  thresholds: {
    // Reported, not enforced in CI (timings never fail the smoke test); a quiet machine should meet these.
    'http_req_duration{name:alerts}': ['p(99)<500'],
    'http_req_duration{name:history}': ['p(99)<1000'],
    http_req_failed: ['rate<0.01'],
  },
};

const headers = { authorization: `Bearer ${NURSE_TOKEN}` };

export default function (): void {
  const ward = wardOf(__VU);
  const wardIndex = Number(ward.slice(1));
  const patient = patientId(wardIndex + WARD_SIZE * Math.floor(Math.random() * 3));
  const now = Date.now();
  const alerts = http.get(`${BASE}/api/alerts?ward=${ward}&limit=100`, { headers, tags: { name: 'alerts' } });
  check(alerts, { 'alerts 200': (r) => r.status === 200 });
  const raw = http.get(`${BASE}/api/patients/${patient}/vitals?metric=hr&from=${now - 15 * 60_000}&to=${now}&step=raw`, { headers, tags: { name: 'history' } });
  check(raw, { 'history answered': (r) => r.status === 200 || r.status === 404 });
  const agg = http.get(`${BASE}/api/patients/${patient}/vitals?metric=spo2&from=${now - 6 * 3600_000}&to=${now}&step=1m`, { headers, tags: { name: 'history' } });
  check(agg, { 'buckets answered': (r) => r.status === 200 || r.status === 404 });
  sleep(1 + Math.random());
}
