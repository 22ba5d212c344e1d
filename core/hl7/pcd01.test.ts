import { describe, expect, it } from 'vitest';
import { PCD01_TERMS, buildPcd01, observationsOf, type Pcd01Message } from '../../device-sim/pcd01-message.js';
import { parseHl7 } from './message.js';
import { mapOruR01, type OruContent } from './pcd01.js';

const T = Date.UTC(2026, 11, 6, 5, 0, 0);
const MON = '0012345678ABCDEF';

function msg(over: Partial<Pcd01Message> = {}): Pcd01Message {
  return {
    controlId: 'MSG-1',
    gateway: { name: 'GW4B', eui64: '00AA00BB00CC00DD' },
    facility: 'WARD4B',
    time: T,
    patientIds: ['MRN-1'],
    monitors: [{ eui64: MON, observations: observationsOf({ hr: 72, spo2: 97, rr: 16, temp: 36.8, sbp: 121, dbp: 78 }) }],
    ...over,
  };
}

function map(text: string): ReturnType<typeof mapOruR01> {
  const p = parseHl7(text);
  if (!p.ok) throw new Error(p.problem);
  return mapOruR01(p.message);
}

function content(text: string): OruContent {
  const r = map(text);
  if (!r.ok) throw new Error(`${r.ack} ${r.error.code} ${r.error.text}`);
  return r.content;
}

const obs = (key: keyof typeof PCD01_TERMS, value: number | string, extra: object = {}) => {
  const t = PCD01_TERMS[key];
  return { code: t.code, refId: t.refId, value, unit: t.unit, ...extra };
};

describe('PCD-01 ORU^R01 to canonical observations', () => {
  it('maps every MDC term to its metric in canonical units, one group per monitor and time', () => {
    const c = content(buildPcd01(msg()));
    expect(c.header).toMatchObject({ controlId: 'MSG-1', version: '2.6' });
    expect(c.patientIds).toEqual(['MRN-1']);
    expect(c.groups).toEqual([{ equipmentId: MON, ts: T, metrics: { hr: 72, spo2: 97, rr: 16, temp: 36.8, sbp: 121, dbp: 78 }, quality: {}, obx: { hr: 2, spo2: 3, rr: 4, temp: 5, sbp: 6, dbp: 7 } }]);
    expect(c.problems).toEqual([]);
    // The MDS-level OBX (device, not a measurement) is an unknown code to the mapping.
    expect(c.ignored).toEqual({ unknown_code: 1 });
  });

  it('converts degF and kPa, and reads units given as UCUM', () => {
    const text = buildPcd01(msg({ monitors: [{ eui64: MON, observations: [
      { ...obs('temp', 98.6), unit: { code: 266560, refId: 'MDC_DIM_FAHR' } },
      { ...obs('sbp', 16), unit: { code: 265987, refId: 'MDC_DIM_KILO_PASCAL' } },
      { ...obs('spo2', 95), unit: null },
    ] }] })).replace('|95||', '|95|%^percent^UCUM|');
    const c = content(text);
    expect(c.groups[0]?.metrics).toEqual({ temp: 37, sbp: 120.01, spo2: 95 });
  });

  it('prefers ECG heart rate over the pulse oximeter rate, whatever the order', () => {
    for (const order of [['pulse', 'hr'], ['hr', 'pulse']] as const) {
      const c = content(buildPcd01(msg({ monitors: [{ eui64: MON, observations: order.map((k) => obs(k, k === 'hr' ? 80 : 84)) }] })));
      expect(c.groups[0]?.metrics).toEqual({ hr: 80 });
      expect(c.ignored.superseded).toBe(1);
    }
  });

  it('uses OBX-14, else OBR-7, and groups by time', () => {
    const c = content(buildPcd01(msg({ monitors: [{ eui64: MON, observations: [obs('hr', 70, { time: T - 10_000 }), obs('hr', 71, { time: null }), obs('spo2', 96, { time: T - 10_000 })] }] })));
    expect(c.groups.map((g) => [g.ts, g.metrics])).toEqual([[T - 10_000, { hr: 70, spo2: 96 }], [T, { hr: 71 }]]);
  });

  it('ignores and counts unknown codes, values that are not final, not measurements or empty', () => {
    const c = content(buildPcd01(msg({ monitors: [{ eui64: MON, observations: [
      { code: 188736, refId: 'MDC_MASS_BODY_ACTUAL', value: 70, unit: { code: 263875, refId: 'MDC_DIM_KILO_G' } },
      obs('hr', 90, { status: 'R' }),
      obs('hr', 91, { status: 'P' }),
      obs('spo2', 50, { flags: ['invalid'] }),
      obs('spo2', 51, { flags: ['demo-data'] }),
      obs('rr', ''),
      obs('map', 90),
      obs('temp', 37.2, { status: 'C' }),
    ] }] })));
    expect(c.groups.map((g) => g.metrics)).toEqual([{ temp: 37.2 }]);
    expect(c.ignored).toEqual({ unknown_code: 2, not_final: 2, not_measured: 2, no_value: 1, not_carried: 1 });
  });

  it('keeps a questionable value with low signal quality', () => {
    const c = content(buildPcd01(msg({ monitors: [{ eui64: MON, observations: [obs('spo2', 82, { flags: ['questionable'] }), obs('hr', 75)] }] })));
    expect(c.groups[0]).toMatchObject({ metrics: { spo2: 82, hr: 75 }, quality: { spo2: 0.3 } });
  });

  it('reports unreadable values per OBX: not numeric, unknown unit, time without offset', () => {
    const text = buildPcd01(msg({ monitors: [{ eui64: MON, observations: [obs('hr', 'abc'), { ...obs('spo2', 97), valueType: 'ST' }, { ...obs('rr', 16), unit: { code: 266016, refId: 'MDC_DIM_MMHG' } }, obs('temp', 37)] }] })).replace(/(OBX\|5\|.*\|)20261206050000\+0000/, '$120261206050000');
    const c = content(text);
    expect(c.groups).toEqual([]);
    expect(c.problems.map((p) => [p.code, p.location?.sequence, p.location?.field])).toEqual([[102, 2, 5], [102, 3, 5], [103, 4, 6], [102, 5, 14]]);
    expect(c.problems.map((p) => p.text).join(' ')).not.toMatch(/abc|MRN/);
  });

  it('reads one group per monitor when a gateway sends several in one message', () => {
    const c = content(buildPcd01(msg({ monitors: [{ eui64: 'MON-A', observations: observationsOf({ hr: 60 }) }, { eui64: 'MON-B', observations: observationsOf({ hr: 61 }) }] })));
    expect(c.groups.map((g) => [g.equipmentId, g.metrics.hr])).toEqual([['MON-A', 60], ['MON-B', 61]]);
  });

  it('falls back to MSH-3 for the equipment when no OBX-18 is sent', () => {
    const text = buildPcd01(msg()).replace(/\|0012345678ABCDEF\^\^0012345678ABCDEF\^EUI-64/, '|');
    expect(content(text).groups[0]?.equipmentId).toBe('00AA00BB00CC00DD');
  });

  it('decodes escaped PID-3 identifiers and reads every repetition', () => {
    const c = content(buildPcd01(msg({ patientIds: ['MRN|9', 'NHS-1'] })));
    expect(c.patientIds).toEqual(['MRN|9', 'NHS-1']);
  });

  it.each([
    [{ messageType: 'ADT^A01^ADT_A01' }, 'AR', 200],
    [{ messageType: 'ORU^R30^ORU_R30' }, 'AR', 201],
    [{ processingId: 'T' }, 'AR', 202],
    [{ version: '3.0' }, 'AR', 203],
    [{ controlId: '' }, 'AR', 101],
    [{ patientIds: [] }, 'AE', 101],
    [{ monitors: [] }, 'AE', 100],
  ] as const)('refuses the whole message: %j -> %s %d', (over, ack, code) => {
    const r = map(buildPcd01(msg(over as Partial<Pcd01Message>)));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.ack).toBe(ack);
    expect(r.error.code).toBe(code);
  });
});
