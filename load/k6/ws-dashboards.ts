/**
 * k6: WebSocket dashboards, one per virtual user and ward, as in the Node harness: authenticate,
 * subscribe to the ward, receive the snapshot, then count vitals and alert events and time each
 * alert from its event time to arrival. Run while devices publish:
 *   NURSE_TOKEN=$(npx vitals token --role nurse --ward L0 --ward L1 …) WARDS=5 k6 run load/k6/ws-dashboards.ts
 */
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import ws from 'k6/ws';
import { NURSE_TOKEN, WARDS, WS_URL, wardOf } from './common.ts';

export const options: Options = {
  scenarios: {
    dashboards: { executor: 'per-vu-iterations', vus: Number(__ENV.DASHBOARDS || WARDS), iterations: 1, maxDuration: '10m' },
  },
  thresholds: { ws_snapshot_ms: ['p(99)<2000'] },
};

const vitals = new Counter('ws_vitals');
const alerts = new Counter('ws_alerts');
const snapshotMs = new Trend('ws_snapshot_ms', true);
/** Event time of the alert transition to arrival; includes the device's own clock offset. */
const alertAgeMs = new Trend('ws_alert_age_ms', true);

interface ServerMessage {
  type: string;
  ts?: number;
}

export default function (): void {
  const ward = wardOf(__VU);
  const seconds = Number(__ENV.SECONDS || 60);
  const opened = Date.now();
  const res = ws.connect(WS_URL, { headers: { authorization: `Bearer ${NURSE_TOKEN}` } }, (socket) => {
    socket.on('message', (data: string) => {
      const m = JSON.parse(data) as ServerMessage;
      if (m.type === 'ready') socket.send(JSON.stringify({ op: 'subscribe', wards: [ward] }));
      else if (m.type === 'snapshot') snapshotMs.add(Date.now() - opened);
      else if (m.type === 'vitals') vitals.add(1);
      else if (m.type === 'alert') {
        alerts.add(1);
        if (typeof m.ts === 'number') alertAgeMs.add(Date.now() - m.ts);
      }
    });
    socket.setTimeout(() => socket.close(), seconds * 1000);
  });
  check(res, { 'upgraded (101)': (r) => r !== null && r.status === 101 });
}
