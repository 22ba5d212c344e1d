/**
 * Feeds one gateway instance from the bus: tails samples, scores, device status and
 * the alert log, keeps LiveState, and tells connected sockets what changed.
 */
import { EventEmitter } from 'node:events';
import { decodeAction, decodeAlertEvent, decodeSample, decodeScore, decodeV1Object, isChartOrder, type Decoder } from '../core/bus-messages.js';
import { TOPICS, type Bus, type BusRecord, type Subscription } from '../core/ports.js';
import type { CanonicalSample } from '../core/vitals.js';
import { decodeOrSkip } from '../platform/decode.js';
import type { Logger } from '../platform/log.js';
import { LiveState, type SequencedAlert } from './live-state.js';
import type { ChartOrder } from './chart.js';
import type { DeviceStatus } from '../core/bus-messages.js';

export interface ScoreMessage {
  patientId: string;
  ward: string | null;
  ts: number;
  [k: string]: unknown;
}

/** What the gateway reads of ingest's `device.status` records. */
export type DeviceStatusMessage = Pick<DeviceStatus, 'deviceId' | 'patientId' | 'ward' | 'ts' | 'online' | 'battery'>;

export interface HubEvents {
  vitals: [CanonicalSample];
  alert: [SequencedAlert];
  score: [ScoreMessage];
  device: [DeviceStatusMessage];
  chart: [ChartOrder];
}

export class Hub extends EventEmitter<HubEvents> {
  readonly state = new LiveState();
  /** The latest chart order per patient (from `alert.actions`). */
  readonly charts = new Map<string, ChartOrder>();
  private subs: Subscription[] = [];
  private warnedPartitions = false;

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {
    super();
    this.setMaxListeners(0);
  }

  private parse<T>(r: BusRecord, decoder: Decoder<T>): T | null {
    return decodeOrSkip(r, decoder, this.log);
  }

  /** Start tailing; resolves when the alert log and recent vitals are loaded. */
  async start(now: number, recentMs = 10 * 60_000): Promise<void> {
    // The alert log is one partition, so its offset is a total order: the resume sequence number.
    const alerts = await this.bus.tail({
      topics: [TOPICS.alerts],
      from: 'earliest',
      handler: async (records) => {
        for (const r of records) {
          if (r.partition !== 0 && !this.warnedPartitions) {
            // Offsets of several partitions are no total order: resumes would skip events.
            this.warnedPartitions = true;
            this.log.error({ partition: r.partition }, 'the alerts topic must have exactly one partition (docs/decisions/0007)');
          }
          const ev = this.parse(r, decodeAlertEvent);
          if (!ev) continue;
          const seq = Number(r.offset) + 1;
          if (this.state.applyAlert(seq, ev)) this.emit('alert', { seq, event: ev });
        }
      },
    });
    const recent = await this.bus.tail({
      topics: [TOPICS.samples, TOPICS.scores, TOPICS.deviceStatus],
      from: { timestamp: now - recentMs },
      // A live view, not a required reader: if it falls behind retention it skips ahead (and its lag shows).
      name: 'gateway',
      handler: async (records) => {
        for (const r of records) {
          if (r.topic === TOPICS.samples) {
            const s = this.parse(r, decodeSample);
            if (s && this.state.applySample(s)) {
              this.emit('vitals', s);
              // Battery inside a sample reaches the tiles as a device update, like the status topic's.
              if (this.state.applySampleBattery(s)) {
                const d = this.state.patients.get(s.patientId as string)?.device;
                if (d) this.emit('device', { deviceId: s.deviceId, patientId: s.patientId, ward: s.ward, ts: d.ts, online: d.online, battery: d.battery });
              }
            }
          } else if (r.topic === TOPICS.scores) {
            const sc = this.parse(r, decodeScore) as ScoreMessage | null;
            if (sc?.patientId) {
              this.state.applyScore(sc.patientId, sc.ward ?? null, sc);
              this.emit('score', sc);
            }
          } else {
            const d = this.parse(r, decodeV1Object) as DeviceStatusMessage | null;
            if (d) {
              this.state.applyDeviceStatus(d.patientId, d.ward, d.online, d.battery, d.ts);
              this.emit('device', d);
            }
          }
        }
      },
    });
    // Chart orders share the actions topic with acks; only `chart` records matter here.
    const actions = await this.bus.tail({
      topics: [TOPICS.alertActions],
      from: 'earliest',
      handler: async (records) => {
        for (const r of records) {
          const a = this.parse(r, decodeAction);
          if (!isChartOrder(a)) continue;
          const cur = this.charts.get(a.patientId);
          if (cur && cur.ts > a.ts) continue;
          this.charts.set(a.patientId, a);
          this.emit('chart', a);
        }
      },
    });
    this.subs = [alerts, recent, actions];
    await Promise.all([alerts.caughtUp, recent.caughtUp, actions.caughtUp]);
  }

  async stop(): Promise<void> {
    await Promise.all(this.subs.map((s) => s.stop()));
    this.subs = [];
  }
}
