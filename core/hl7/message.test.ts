import { describe, expect, it } from 'vitest';
import { buildAck } from './ack.js';
import { escapeHl7, firstSegment, formatHl7Time, parseHl7, parseHl7Time, unescapeHl7, valueOf } from './message.js';

const D = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };

describe('HL7 v2 ER7 parsing', () => {
  it('numbers MSH fields from the separator (MSH-1) and reads components, repetitions and subcomponents', () => {
    const r = parseHl7('MSH|^~\\&|GW^ABC^EUI-64|FAC|||20261206050000+0000||ORU^R01^ORU_R01|42|P|2.6\rPID|||A1^^^H&1.2&ISO^MR~B2^^^X^PI\r');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const msh = firstSegment(r.message, 'MSH');
    const pid = firstSegment(r.message, 'PID');
    expect(valueOf(msh, 1, D)).toBe('|');
    expect(valueOf(msh, 2, D)).toBe('^~\\&');
    expect(valueOf(msh, 3, D, 2)).toBe('ABC');
    expect(valueOf(msh, 9, D, 2)).toBe('R01');
    expect(valueOf(msh, 10, D)).toBe('42');
    expect(valueOf(pid, 3, D, 4, 2)).toBe('1.2');
    expect(valueOf(pid, 3, D, 1, 1, 1)).toBe('B2');
    expect(valueOf(pid, 9, D)).toBe('');
  });

  it('uses the delimiters the message declares, and tolerates LF or CRLF segment ends', () => {
    const r = parseHl7('MSH#:*!$#A:B#\nPID###X1:Y$Z*X2\r\n');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const d = r.message.delimiters;
    expect(d).toEqual({ field: '#', component: ':', repetition: '*', escape: '!', subcomponent: '$' });
    const pid = firstSegment(r.message, 'PID');
    expect(valueOf(pid, 3, d, 2, 2)).toBe('Z');
    expect(valueOf(pid, 3, d, 1, 1, 1)).toBe('X2');
  });

  it('refuses text that is not HL7, without quoting it', () => {
    for (const bad of ['', 'GET / HTTP/1.1\r\n', 'MSH', 'MSH|^~', 'MSH|^~\\&|x\rp!d|1']) {
      const r = parseHl7(bad);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.problem).not.toContain('p!d');
    }
  });

  it('decodes and encodes escape sequences', () => {
    expect(unescapeHl7('A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\\\X41\\', D)).toBe('A|B^C&D~E\\A');
    const s = 'x|y^z&w~v\\u';
    expect(unescapeHl7(escapeHl7(s, D), D)).toBe(s);
  });
});

describe('HL7 DTM', () => {
  it('reads the UTC offset and fractions of a second', () => {
    expect(parseHl7Time('20261206050000+0000')).toBe(Date.UTC(2026, 11, 6, 5, 0, 0));
    expect(parseHl7Time('20261206070000+0200')).toBe(Date.UTC(2026, 11, 6, 5, 0, 0));
    expect(parseHl7Time('20261206003000-0430')).toBe(Date.UTC(2026, 11, 6, 5, 0, 0));
    expect(parseHl7Time('202612060500+0000')).toBe(Date.UTC(2026, 11, 6, 5, 0, 0));
    expect(parseHl7Time('20261206050001.25+0000')).toBe(Date.UTC(2026, 11, 6, 5, 0, 1, 250));
  });

  it('refuses a time without offset, an impossible date and non-times', () => {
    expect(parseHl7Time('20261206050000')).toBe('no_offset');
    expect(parseHl7Time('20260231050000+0000')).toBeNull();
    expect(parseHl7Time('20261206250000+0000')).toBeNull();
    expect(parseHl7Time('2026-12-06T05:00:00Z')).toBeNull();
    expect(parseHl7Time('20261206050000+1500')).toBeNull();
  });

  it('formats UTC with an explicit offset, and reads back what it wrote', () => {
    const t = Date.UTC(2026, 0, 2, 3, 4, 5);
    expect(formatHl7Time(t)).toBe('20260102030405+0000');
    expect(parseHl7Time(formatHl7Time(t))).toBe(t);
  });
});

describe('ACK', () => {
  it('answers with MSA and one ERR per error, escaping the text', () => {
    const ack = buildAck({
      code: 'AE',
      controlId: 'M|1',
      sendingApplication: 'GW^A1^EUI-64',
      sendingFacility: 'FAC',
      version: '2.6',
      ackControlId: 'ack-1',
      now: Date.UTC(2026, 11, 6, 5, 0, 0),
      errors: [{ code: 102, severity: 'E', location: { segment: 'OBX', sequence: 3, field: 5 }, text: 'a|b' }],
    });
    const r = parseHl7(ack);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const msa = firstSegment(r.message, 'MSA');
    const err = firstSegment(r.message, 'ERR');
    const msh = firstSegment(r.message, 'MSH');
    expect(valueOf(msh, 5, D, 2)).toBe('A1');
    expect(valueOf(msh, 9, D)).toBe('ACK');
    expect(valueOf(msa, 1, D)).toBe('AE');
    expect(valueOf(msa, 2, D)).toBe('M|1');
    expect(valueOf(err, 2, D, 1)).toBe('OBX');
    expect(valueOf(err, 2, D, 3)).toBe('5');
    expect(valueOf(err, 3, D, 1)).toBe('102');
    expect(valueOf(err, 3, D, 3)).toBe('HL70357');
    expect(valueOf(err, 4, D)).toBe('E');
    expect(valueOf(err, 8, D)).toBe('a|b');
  });
});
