import { describe, expect, it, vi } from 'vitest';
import { decodeAlertEvent, decodeDeviceRecord, decodeRecord, decodeSample, isChartOrder } from './bus-messages.js';
import type { BusRecord } from './ports.js';

const sample = { v: 1, deviceId: 'd1', patientId: 'p1', ward: '4B', ts: 1000, recvTs: 1001, source: 'mqtt', metrics: { hr: 70 }, traceId: 't' };
const rec = (value: string | null, decoded?: unknown): BusRecord => ({ topic: 'vitals.samples', partition: 0, offset: '0', key: 'p1', value, timestamp: 1, ...(decoded === undefined ? {} : { decoded }) });

describe('bus message decoders', () => {
  it('decode a valid v1 sample and refuse another version or a missing field', () => {
    expect(decodeSample(sample)).toBe(sample);
    expect(decodeSample({ ...sample, v: 2 })).toBeNull();
    expect(decodeSample({ ...sample, ts: 'soon' })).toBeNull();
    expect(decodeSample(null)).toBeNull();
    expect(decodeAlertEvent({ v: 1, eventId: 'a:raised:1', event: 'raised', ts: 1, alert: { id: 'a', patientId: 'p' } })).not.toBeNull();
    expect(decodeAlertEvent({ v: 1, eventId: 'a:raised:1', event: 'raised', ts: 1 })).toBeNull();
  });

  it('parse a record once per process: the second reader gets the first one’s object', () => {
    const spy = vi.spyOn(JSON, 'parse');
    const r = rec(JSON.stringify(sample));
    const a = decodeRecord(r, decodeSample);
    const b = decodeRecord(r, decodeSample);
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    expect(a).toEqual(sample);
    expect(b).toBe(a);
  });

  it('use the publisher’s object when the embedded bus handed it over, without parsing', () => {
    const spy = vi.spyOn(JSON, 'parse');
    expect(decodeRecord(rec(JSON.stringify(sample), sample), decodeSample)).toBe(sample);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
  });

  it('return null for tombstones, unparsable text and refused values, remembering the outcome', () => {
    expect(decodeRecord(rec(null), decodeSample)).toBeNull();
    const bad = rec('{not json');
    expect(decodeRecord(bad, decodeSample)).toBeNull();
    expect(bad.decoded).toBeNull();
    expect(decodeRecord(rec(JSON.stringify({ ...sample, v: 9 })), decodeSample)).toBeNull();
  });
});

describe('chart orders and registry records', () => {
  const order = { v: 1, action: 'chart', patientId: 'p1', spo2Scale: 2, orderedBy: 'dr', role: 'clinician', ts: 1000, until: null };
  it('a chart order needs every field its readers apply', () => {
    expect(isChartOrder(order)).toBe(true);
    expect(isChartOrder({ ...order, until: 5000 })).toBe(true);
    for (const bad of [{ ...order, spo2Scale: 3 }, { ...order, action: 'ack' }, { ...order, orderedBy: undefined }, { ...order, ts: Number.NaN }, { ...order, until: '5000' }, null]) {
      expect(isChartOrder(bad)).toBe(false);
    }
  });
  it('a registry record is a v1 object naming its device', () => {
    const dev = { v: 1, deviceId: 'd1', tokenHash: 'h', patientId: null, ward: null, bed: null, createdAt: 1, updatedAt: 1 };
    expect(decodeDeviceRecord(dev)).toBe(dev);
    expect(decodeDeviceRecord({ ...dev, deviceId: 7 })).toBeNull();
    expect(decodeDeviceRecord({ ...dev, v: 2 })).toBeNull();
    expect(decodeDeviceRecord('d1')).toBeNull();
  });
});
