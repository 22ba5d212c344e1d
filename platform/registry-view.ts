/**
 * The device registry materialised from the compacted `registry` topic.
 * Every role that needs it (ingest, gateway) keeps its own view; the topic is the truth.
 */
import { applyRegistryRecord, type DeviceRecord, type RegistryValue } from '../core/registry.js';
import { decodeDeviceRecord } from '../core/bus-messages.js';
import { TOPICS, type Bus, type Subscription } from '../core/ports.js';
import type { Context, Service } from './context.js';
import { decodeOrSkip } from './decode.js';
import type { Logger } from './log.js';

export interface RegistryView {
  get(deviceId: string): DeviceRecord | undefined;
  list(): DeviceRecord[];
  /** Called after each applied change with the device id and its new record (undefined: revoked). */
  onChange(cb: (deviceId: string, rec: DeviceRecord | undefined) => void): void;
  /** Resolves when the view holds everything the topic held at start. */
  caughtUp: Promise<void>;
  stop(): Promise<void>;
}

export async function startRegistryView(bus: Bus, log: Logger): Promise<RegistryView> {
  const view = new Map<string, DeviceRecord>();
  const listeners: Array<(id: string, rec: DeviceRecord | undefined) => void> = [];
  const sub: Subscription = await bus.tail({
    topics: [TOPICS.registry],
    from: 'earliest',
    handler: async (records) => {
      for (const r of records) {
        // A null value is a tombstone (revocation); an unreadable record is skipped.
        const value: RegistryValue = r.value === null ? null : decodeOrSkip(r, decodeDeviceRecord, log);
        if (value === null && r.value !== null) continue;
        applyRegistryRecord(view, r.key, value);
        const rec = view.get(r.key);
        for (const l of listeners) l(r.key, rec);
      }
    },
  });
  return {
    get: (id) => view.get(id),
    list: () => [...view.values()],
    onChange: (cb) => void listeners.push(cb),
    caughtUp: sub.caughtUp,
    stop: () => sub.stop(),
  };
}

/** The `registry` module (cli/modules.ts): one view that the process's ingest and gateway share. */
export interface RegistryService extends Service {
  readonly view: RegistryView;
}

/** Start the `registry` module: resolves once the view holds the whole topic, so no device is refused for want of it. */
export async function startRegistry(ctx: Context): Promise<RegistryService> {
  const view = await startRegistryView(ctx.bus, ctx.log.child({ role: 'registry' }));
  await view.caughtUp;
  return { name: 'registry', view, stop: () => view.stop() };
}
