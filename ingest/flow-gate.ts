/**
 * Ingest's flow-control gate: polls the bus for what required consumers (rules, sink) have not
 * read, exports it as a metric, and holds a lane's publishes while its consumers are too far
 * behind. A held publish holds its MQTT packet, and aedes reads no more from that socket until
 * the packet is handled: TCP pushes back to the device, and nothing is acknowledged that the
 * pipeline cannot keep up with (docs/decisions/0012-flow-control.md).
 */
import type { Registry } from 'prom-client';
import { heldLanes, type Lane, type LaneState } from '../core/flow-control.js';
import { TOPICS, type Bus } from '../core/ports.js';
import type { Logger } from '../platform/log.js';
import { counter, gauge } from '../platform/metrics.js';

export interface FlowGateOptions {
  /** Records a required consumer may be behind on live topics before live ingest stops; 0 turns the gate off. */
  maxLag: number;
  /** How often lag is read (memory: cheap; Kafka: two admin requests per group). */
  pollMs: number;
}

/**
 * Held publishes let through per turn of the event loop when a lane opens. Letting all of them go
 * at once ran their bus appends back to back: 200 gateways' 500-sample batches stalled the loop
 * (and /healthz) for 1.3-1.9 s in the growth run (BENCHMARKS.md, "Flow control and backfill").
 */
export const RELEASE_PER_TURN = 8;

export class FlowGate {
  private held: LaneState = { live: false, backlog: false };
  private readonly waiters: Record<Lane, Array<() => void>> = { live: [], backlog: [] };
  private readonly releasing: Record<Lane, boolean> = { live: false, backlog: false };
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private lastError = 0;
  private readonly heldGauge;
  private readonly waitsTotal;

  constructor(
    private readonly bus: Bus,
    private readonly opts: FlowGateOptions,
    metrics: Registry,
    private readonly log: Logger,
  ) {
    this.heldGauge = gauge(metrics, 'vitals_ingest_flow_held', '1 while ingest holds a lane because required consumers are behind', ['lane']);
    this.waitsTotal = counter(metrics, 'vitals_ingest_flow_waits_total', 'MQTT messages held by flow control before they were accepted, by lane', ['lane']);
    this.heldGauge.set({ lane: 'live' }, 0);
    this.heldGauge.set({ lane: 'backlog' }, 0);
  }

  start(): void {
    if (this.opts.maxLag <= 0) return;
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs);
    this.timer.unref();
  }

  /** Read lag now and update the lanes (also run by the timer). */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const lags = await this.bus.lag();
      const next = heldLanes(lags, TOPICS.backlog, this.opts.maxLag, this.held);
      for (const lane of ['live', 'backlog'] as const) {
        if (next[lane] === this.held[lane]) continue;
        this.heldGauge.set({ lane }, next[lane] ? 1 : 0);
        // Counts and names only: lag reports carry no patient data.
        this.log.info({ lane, held: next[lane], maxLag: this.opts.maxLag }, next[lane] ? 'flow control: consumers behind; holding ingest' : 'flow control: consumers caught up; resuming ingest');
      }
      this.held = next;
      for (const lane of ['live', 'backlog'] as const) if (!next[lane]) this.release(lane);
    } catch (e) {
      // Keep the last decision: an unreadable lag neither opens nor closes the gate.
      if (Date.now() - this.lastError > 60_000) {
        this.lastError = Date.now();
        this.log.warn({ err: (e as Error).message }, 'flow control: could not read consumer lag');
      }
    } finally {
      this.polling = false;
    }
  }

  /** Resolves at once when every lane in `lanes` is open, else when they open. */
  admit(lanes: readonly Lane[]): Promise<void> | null {
    const lane = lanes.find((l) => this.held[l]);
    if (lane === undefined) return null;
    this.waitsTotal.inc({ lane });
    return new Promise<void>((res) => this.waiters[lane].push(res)).then(() => this.admit(lanes) ?? undefined);
  }

  /** Lets held publishes through a few per turn, stopping if the lane is held again meanwhile. */
  private release(lane: Lane): void {
    if (this.releasing[lane]) return;
    const step = (): void => {
      const ws = this.waiters[lane];
      if (this.held[lane] || ws.length === 0) {
        this.releasing[lane] = false;
        return;
      }
      for (const w of ws.splice(0, RELEASE_PER_TURN)) w();
      setImmediate(step);
    };
    this.releasing[lane] = true;
    step();
  }

  /** Stop polling and let every held publish through (shutdown: their devices are waiting). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.held = { live: false, backlog: false };
    for (const lane of ['live', 'backlog'] as const) for (const w of this.waiters[lane].splice(0)) w();
  }
}
