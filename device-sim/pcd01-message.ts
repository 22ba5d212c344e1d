/**
 * Builds IHE PCD-01 `ORU^R01` messages the way a monitoring gateway sends them (layout after the
 * PCD Technical Framework's examples, written here from the segment definitions): MSH, PID, PV1,
 * one OBR per monitor, an MDS-level OBX carrying the equipment instance (OBX-18, EUI-64), then
 * one OBX per metric with its containment path (OBX-4), value, MDC unit, status and time.
 * Used by the simulator (`vitals sim --protocol hl7`), the tests and the HL7 benchmark.
 */
import { escapeHl7, formatHl7Time, type Hl7Delimiters } from '../core/hl7/message.js';

export interface Pcd01Observation {
  code: number;
  refId: string;
  value: number | string;
  unit: { code: number; refId: string } | null;
  /** OBX-2; default NM. */
  valueType?: string;
  /** OBX-11; default F. */
  status?: string;
  /** OBX-8 measurement status flags (e.g. questionable, invalid). */
  flags?: string[];
  /** OBX-14; default the message time. null: no OBX-14. */
  time?: number | null;
}

export interface Pcd01Monitor {
  /** EUI-64 of the bedside monitor (OBX-18). */
  eui64: string;
  observations: Pcd01Observation[];
}

export interface Pcd01Message {
  controlId: string;
  /** Gateway name and EUI-64 (MSH-3). */
  gateway: { name: string; eui64: string };
  facility: string;
  time: number;
  /** PID-3 identifiers (each one repetition). */
  patientIds: string[];
  monitors: Pcd01Monitor[];
  processingId?: string;
  messageType?: string;
  version?: string;
}

const D: Hl7Delimiters = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };
const e = (s: string): string => escapeHl7(s, D);

/** MDS: a multi-parameter physiological monitor (MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS). */
const MDS = '69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC';

export function buildPcd01(m: Pcd01Message): string {
  const t = formatHl7Time(m.time);
  const gw = `${e(m.gateway.name)}^${e(m.gateway.eui64)}^EUI-64`;
  const segs = [
    `MSH|^~\\&|${gw}|${e(m.facility)}|VITALSTREAM|VITALSTREAM|${t}||${m.messageType ?? 'ORU^R01^ORU_R01'}|${e(m.controlId)}|${m.processingId ?? 'P'}|${m.version ?? '2.6'}|||AL|NE||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO`,
    `PID|||${m.patientIds.map((id) => `${e(id)}^^^HOSP^MR`).join('~')}`,
    'PV1||I',
  ];
  m.monitors.forEach((mon, mi) => {
    const filler = `${e(m.controlId)}-${mi + 1}^${gw}`;
    segs.push(`OBR|${mi + 1}|${filler}|${filler}|182777000^monitoring of patient^SCT|||${t}`);
    let n = 1;
    segs.push(`OBX|${n++}||${MDS}|1.0.0.0|||||||X|||||||${e(mon.eui64)}^^${e(mon.eui64)}^EUI-64`);
    mon.observations.forEach((o, oi) => {
      const unit = o.unit ? `${o.unit.code}^${o.unit.refId}^MDC` : '';
      const time = o.time === null ? '' : formatHl7Time(o.time ?? m.time);
      segs.push(`OBX|${n++}|${o.valueType ?? 'NM'}|${o.code}^${o.refId}^MDC|1.1.${oi + 1}.${o.code}|${e(String(o.value))}|${unit}||${(o.flags ?? []).map(e).join('~')}|||${o.status ?? 'F'}|||${time}`);
    });
  });
  return segs.join('\r') + '\r';
}

/** The MDC terms the simulator sends for each canonical metric (units per IEEE 11073-10101). */
export const PCD01_TERMS = {
  hr: { code: 147842, refId: 'MDC_ECG_HEART_RATE', unit: { code: 264864, refId: 'MDC_DIM_BEAT_PER_MIN' } },
  pulse: { code: 149530, refId: 'MDC_PULS_OXIM_PULS_RATE', unit: { code: 264864, refId: 'MDC_DIM_BEAT_PER_MIN' } },
  spo2: { code: 150456, refId: 'MDC_PULS_OXIM_SAT_O2', unit: { code: 262688, refId: 'MDC_DIM_PERCENT' } },
  rr: { code: 151562, refId: 'MDC_RESP_RATE', unit: { code: 264928, refId: 'MDC_DIM_RESP_PER_MIN' } },
  temp: { code: 150364, refId: 'MDC_TEMP_BODY', unit: { code: 268192, refId: 'MDC_DIM_DEGC' } },
  sbp: { code: 150021, refId: 'MDC_PRESS_BLD_NONINV_SYS', unit: { code: 266016, refId: 'MDC_DIM_MMHG' } },
  dbp: { code: 150022, refId: 'MDC_PRESS_BLD_NONINV_DIA', unit: { code: 266016, refId: 'MDC_DIM_MMHG' } },
  map: { code: 150023, refId: 'MDC_PRESS_BLD_NONINV_MEAN', unit: { code: 266016, refId: 'MDC_DIM_MMHG' } },
} as const;

/** Observations for canonical metric values (what a monitor measured at one time). */
export function observationsOf(metrics: Partial<Record<'hr' | 'spo2' | 'rr' | 'temp' | 'sbp' | 'dbp', number>>, opts: { time?: number; questionable?: ReadonlyArray<string> } = {}): Pcd01Observation[] {
  const out: Pcd01Observation[] = [];
  for (const [k, v] of Object.entries(metrics)) {
    if (v === undefined) continue;
    const term = PCD01_TERMS[k as keyof typeof PCD01_TERMS];
    out.push({ code: term.code, refId: term.refId, value: v, unit: term.unit, ...(opts.time !== undefined ? { time: opts.time } : {}), ...(opts.questionable?.includes(k) ? { flags: ['questionable'] } : {}) });
  }
  return out;
}
