/** Test rig for the HL7 suites: ingest with MLLP on, over a memory bus behind a gate, one gateway and one monitor registered. */
import { createMemoryBus } from '../../adapters/bus/memory.js';
import { DEFAULT_TOPIC_SPECS } from '../../adapters/bus/topics.js';
import { VitalsError } from '../../core/errors.js';
import { TOPICS, type Bus, type OutgoingRecord } from '../../core/ports.js';
import type { DeviceRecord } from '../../core/registry.js';
import { buildPcd01, observationsOf, type Pcd01Message } from '../../device-sim/pcd01-message.js';
import { absentStore } from '../../platform/absent.js';
import { loadConfig } from '../../platform/config.js';
import { systemClock } from '../../platform/context.js';
import { createLogger } from '../../platform/log.js';
import { createMetricsRegistry } from '../../platform/metrics.js';
import { startRegistryView, type RegistryView } from '../../platform/registry-view.js';
import { BusTap } from '../e2e/ingest-helpers.js';
import { startIngest, type IngestService } from '../../ingest/ingest.js';

export const GW = 'gw-4b';
export const MON = '0012345678ABCDEF';
export const MRN = 'MRN-HL7-1';

/** Publishes to vitals.samples and vitals.dlq can be held (slow bus) or failed (bus down). */
export function gate(inner: Bus): { bus: Bus; hold(): void; release(): void; fail(on: boolean): void; pending(): number } {
  let holding = false;
  let failing = false;
  const held: Array<() => void> = [];
  const gated = new Set<string>([TOPICS.samples, TOPICS.dlq]);
  const bus: Bus = {
    ...inner,
    kind: inner.kind,
    publish: async (topic: string, records: OutgoingRecord[]) => {
      if (gated.has(topic)) {
        if (holding) await new Promise<void>((r) => held.push(r));
        if (failing) throw new VitalsError('VTL_ERR_BUS_UNAVAILABLE', 'test: bus down');
      }
      return inner.publish(topic, records);
    },
    ensureTopics: (s) => inner.ensureTopics(s),
    consume: (o) => inner.consume(o),
    tail: (o) => inner.tail(o),
    healthy: () => inner.healthy(),
    close: () => inner.close(),
  };
  return {
    bus,
    hold: () => void (holding = true),
    release: () => {
      holding = false;
      for (const r of held.splice(0)) r();
    },
    fail: (on) => void (failing = on),
    pending: () => held.length,
  };
}

export interface Rig {
  ingest: IngestService;
  registry: RegistryView;
  metrics: ReturnType<typeof createMetricsRegistry>;
  tap: BusTap;
  g: ReturnType<typeof gate>;
  register(rec: Partial<DeviceRecord> & { deviceId: string }): Promise<void>;
  stop(): Promise<void>;
}

/** @param bus - the bus under the gate (default: a fresh memory bus); it is closed by `stop`. */
export async function rig(env: Record<string, string | undefined> = {}, bus?: Bus): Promise<Rig> {
  const cfg = loadConfig({ VITALS_MQTT_PORT: '0', VITALS_HL7_PORT: '0', VITALS_LOG_LEVEL: 'silent', VITALS_HL7_MAX_FRAME_BYTES: '65536', VITALS_HL7_FRAME_TIMEOUT_MS: '300', ...env });
  if (!cfg.ok) throw new Error(cfg.errors.join('; '));
  const log = createLogger({ level: 'silent' });
  const inner = bus ?? (await createMemoryBus({ log }));
  await inner.ensureTopics(DEFAULT_TOPIC_SPECS);
  const g = gate(inner);
  const metrics = createMetricsRegistry();
  const registry = await startRegistryView(g.bus, log);
  const register = async (rec: Partial<DeviceRecord> & { deviceId: string }): Promise<void> => {
    const now = Date.now();
    const full: DeviceRecord = { v: 1, tokenHash: 'unused', patientId: null, ward: '4B', bed: null, createdAt: now, updatedAt: now, ...rec };
    await inner.publish(TOPICS.registry, [{ key: rec.deviceId, value: JSON.stringify(full) }]);
    for (let i = 0; i < 100 && registry.get(rec.deviceId)?.updatedAt !== full.updatedAt; i++) await new Promise((r) => setTimeout(r, 10));
  };
  await register({ deviceId: GW, kind: 'hl7-gateway', allowFrom: ['127.0.0.1'], ward: null });
  await register({ deviceId: MON, kind: 'hl7-monitor', gatewayId: GW, patientId: MRN, bed: '3' });
  const ingest = await startIngest({ config: cfg.config, log, clock: systemClock, metrics, bus: g.bus, store: absentStore() }, registry);
  const tap = await BusTap.open(inner, [TOPICS.samples, TOPICS.dlq]);
  return {
    ingest,
    registry,
    metrics,
    tap,
    g,
    register,
    async stop() {
      g.release();
      await tap.stop();
      await ingest.stop();
      await registry.stop();
      await inner.close();
    },
  };
}

let seq = 0;
export function oru(over: Partial<Pcd01Message> = {}): string {
  return buildPcd01({
    controlId: `C-${++seq}`,
    gateway: { name: 'GW4B', eui64: '00AA00BB00CC00DD' },
    facility: 'WARD4B',
    time: Date.now() - 1000,
    patientIds: [MRN],
    monitors: [{ eui64: MON, observations: observationsOf({ hr: 72, spo2: 97, rr: 16, temp: 36.8, sbp: 121, dbp: 78 }) }],
    ...over,
  });
}

