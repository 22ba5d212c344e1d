/**
 * HL7 v2 ER7 ("pipe and hat") messages: parsing into segments and fields, reading a component
 * with escapes decoded, and writing the few segments we send (ACK). Pure: no I/O.
 *
 * Written by hand rather than with a library: @medplum/core's Hl7Message (the parser behind
 * @medplum/hl7) does not load on Node 20 (it needs a global WebSocket) and brings a 4 MB FHIR
 * client into the ingest role; what PCD-01 needs is the grammar below (HL7 v2.6 ch. 2.5-2.7).
 */

export interface Hl7Delimiters {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
}

export interface Hl7Segment {
  /** Three-letter segment id (MSH, PID, OBR, OBX, ...). */
  name: string;
  /** Raw fields; fields[n] is field n (for MSH, fields[1] is the field separator itself). */
  fields: string[];
}

export interface Hl7Message {
  delimiters: Hl7Delimiters;
  segments: Hl7Segment[];
}

export type Hl7ParseResult = { ok: true; message: Hl7Message } | { ok: false; problem: string };

/** More segments than this is not a vital-signs message; refusing bounds the work per frame. */
export const MAX_SEGMENTS = 5000;

/**
 * Parse one message (the text inside an MLLP frame). Segments end with CR; LF and CRLF are
 * tolerated because some senders add them. `problem` never quotes the message (patient data).
 */
export function parseHl7(text: string): Hl7ParseResult {
  if (!text.startsWith('MSH') || text.length < 8) return { ok: false, problem: 'message does not start with an MSH segment' };
  const field = text.charAt(3);
  const enc = text.slice(4, text.indexOf(field, 4));
  if (enc.length < 4 || /[A-Za-z0-9\r\n]/.test(field + enc)) return { ok: false, problem: 'MSH-1/MSH-2 delimiters are missing or invalid' };
  const [component, repetition, escape, subcomponent] = enc as unknown as [string, string, string, string];
  const delimiters: Hl7Delimiters = { field, component, repetition, escape, subcomponent };
  const lines = text.split(/\r\n|\r|\n/);
  const segments: Hl7Segment[] = [];
  for (const line of lines) {
    if (line.length === 0) continue;
    if (segments.length >= MAX_SEGMENTS) return { ok: false, problem: `more than ${MAX_SEGMENTS} segments` };
    const name = line.slice(0, 3);
    if (!/^[A-Z][A-Z0-9]{2}$/.test(name) || (line.length > 3 && line.charAt(3) !== field)) return { ok: false, problem: `segment ${segments.length + 1} has no valid segment id` };
    const parts = line.split(field);
    // MSH-1 is the separator: shift so that fields[n] is field n for every segment.
    const fields = name === 'MSH' ? ['MSH', field, ...parts.slice(1)] : parts;
    segments.push({ name, fields });
  }
  return { ok: true, message: { delimiters, segments } };
}

/** Decode the escape sequences of one value (\F\ \S\ \T\ \R\ \E\ and \Xhh\); formatting escapes are dropped. */
export function unescapeHl7(value: string, d: Hl7Delimiters): string {
  if (!value.includes(d.escape)) return value;
  let out = '';
  let i = 0;
  while (i < value.length) {
    const c = value.charAt(i);
    const end = c === d.escape ? value.indexOf(d.escape, i + 1) : -1;
    if (end < 0) {
      out += c;
      i++;
      continue;
    }
    const seq = value.slice(i + 1, end);
    if (seq === 'F') out += d.field;
    else if (seq === 'S') out += d.component;
    else if (seq === 'T') out += d.subcomponent;
    else if (seq === 'R') out += d.repetition;
    else if (seq === 'E') out += d.escape;
    else if (/^X([0-9A-Fa-f]{2})+$/.test(seq)) for (let k = 1; k < seq.length; k += 2) out += String.fromCharCode(parseInt(seq.slice(k, k + 2), 16));
    i = end + 1;
  }
  return out;
}

/** Escape text so that it can be written into one component of a field. */
export function escapeHl7(value: string, d: Hl7Delimiters): string {
  let out = '';
  for (const c of value) {
    if (c === d.escape) out += `${d.escape}E${d.escape}`;
    else if (c === d.field) out += `${d.escape}F${d.escape}`;
    else if (c === d.component) out += `${d.escape}S${d.escape}`;
    else if (c === d.subcomponent) out += `${d.escape}T${d.escape}`;
    else if (c === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (c === '\r' || c === '\n') out += ' ';
    else out += c;
  }
  return out;
}

/** The raw repetitions of field `n` of a segment ([] when empty or absent). MSH-2 is never split. */
export function repetitions(seg: Hl7Segment, n: number, d: Hl7Delimiters): string[] {
  const raw = seg.fields[n] ?? '';
  if (raw === '') return [];
  if (seg.name === 'MSH' && n <= 2) return [raw];
  return raw.split(d.repetition);
}

/** The n-th (0-based) piece of `s` split by `sep`, without building the array; undefined past the end. */
function piece(s: string, sep: string, n: number): string | undefined {
  let start = 0;
  for (let i = 0; i < n; i++) {
    const j = s.indexOf(sep, start);
    if (j < 0) return undefined;
    start = j + 1;
  }
  const end = s.indexOf(sep, start);
  return end < 0 ? s.slice(start) : s.slice(start, end);
}

/**
 * One value: component `comp` (1-based) and subcomponent `sub` of repetition `rep` of field `n`,
 * unescaped; '' when absent. (Read by scanning, not splitting: it is the parser's hot path.)
 */
export function valueOf(seg: Hl7Segment | undefined, n: number, d: Hl7Delimiters, comp = 1, sub = 1, rep = 0): string {
  const raw = seg?.fields[n] ?? '';
  if (raw === '') return '';
  if (seg?.name === 'MSH' && n <= 2) return rep === 0 ? raw : '';
  const r = piece(raw, d.repetition, rep);
  if (r === undefined) return '';
  const c = piece(r, d.component, comp - 1) ?? '';
  return unescapeHl7(piece(c, d.subcomponent, sub - 1) ?? '', d);
}

export function firstSegment(m: Hl7Message, name: string): Hl7Segment | undefined {
  return m.segments.find((s) => s.name === name);
}

/**
 * HL7 DTM (`YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`) to epoch ms. A time without its UTC
 * offset is refused ('no_offset'): guessing the zone would shift a patient's chart by hours.
 */
export function parseHl7Time(v: string): number | 'no_offset' | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(?:(\d{2})(?:\.(\d{1,4}))?)?([+-]\d{4})?$/.exec(v);
  if (!m) return null;
  const [, y, mo, dd, hh, mi, ss, frac, tz] = m;
  if (!tz) return 'no_offset';
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(dd), Number(hh), Number(mi), Number(ss ?? '0'), ms);
  const check = new Date(utc);
  if (check.getUTCDate() !== Number(dd) || check.getUTCMonth() !== Number(mo) - 1 || Number(hh) > 23 || Number(mi) > 59 || Number(ss ?? '0') > 59) return null;
  const sign = tz.startsWith('-') ? -1 : 1;
  const offMin = Number(tz.slice(1, 3)) * 60 + Number(tz.slice(3, 5));
  if (offMin > 14 * 60) return null;
  return utc - sign * offMin * 60_000;
}

/** Epoch ms as an HL7 DTM in UTC with seconds precision and an explicit +0000 offset. */
export function formatHl7Time(ms: number): string {
  const t = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(t.getUTCFullYear(), 4)}${p(t.getUTCMonth() + 1)}${p(t.getUTCDate())}${p(t.getUTCHours())}${p(t.getUTCMinutes())}${p(t.getUTCSeconds())}+0000`;
}
