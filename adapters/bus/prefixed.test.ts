import { describe, expect, it } from 'vitest';
import type { BusRecord } from '../../core/ports.js';
import { createMemoryBus } from './memory.js';
import { prefixedBus } from './prefixed.js';

describe('prefixedBus', () => {
  it('keeps two prefixes apart on one bus and hands back the plain topic names', async () => {
    const shared = await createMemoryBus({});
    const a = prefixedBus(shared, 'a.');
    const b = prefixedBus(shared, 'b.');
    await a.ensureTopics([{ name: 'alerts', partitions: 1 }]);
    await b.ensureTopics([{ name: 'alerts', partitions: 1 }]);
    await a.publish('alerts', [{ key: 'k', value: 'from-a' }]);
    await b.publish('alerts', [{ key: 'k', value: 'from-b' }]);
    const seen: BusRecord[] = [];
    const sub = await a.tail({ topics: ['alerts'], from: 'earliest', handler: async (rs) => void seen.push(...rs) });
    await sub.caughtUp;
    expect(seen.map((r) => [r.topic, r.value])).toEqual([['alerts', 'from-a']]);
    await sub.stop();
    await shared.close();
  });
  it('an empty prefix is the bus itself', async () => {
    const bus = await createMemoryBus({});
    expect(prefixedBus(bus, '')).toBe(bus);
    await bus.close();
  });
});
