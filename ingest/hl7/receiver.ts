/**
 * One HL7 message from an authenticated gateway, start to ACK: parse, map PCD-01, resolve each
 * bedside monitor to its registration, check the patient (PID-3) against the monitor's
 * assignment, validate each sample with the MQTT rules, publish samples and dead letters through
 * ingest's batcher, and only then build the ACK. A bus failure rejects the returned promise: no
 * ACK is written, the connection closes and the gateway resends (the PUBACK promise, ADR 0006).
 */
import { randomUUID } from 'node:crypto';
import { HL7_ERROR, buildAck, type AckCode, type Hl7Error } from '../../core/hl7/ack.js';
import { parseHl7, type Hl7Delimiters } from '../../core/hl7/message.js';
import { mapOruR01, type ObservationGroup, type OruHeader } from '../../core/hl7/pcd01.js';
import { normaliseSampleObject, type PayloadLimits, type RejectReason, type Rejection } from '../../core/payload.js';
import { TOPICS, type OutgoingRecord } from '../../core/ports.js';
import { kindOf, type DeviceRecord } from '../../core/registry.js';
import { sampleKey } from '../../core/vitals.js';
import type { Clock } from '../../core/ports.js';
import type { Logger } from '../../platform/log.js';
import { counter } from '../../platform/metrics.js';
import type { RegistryView } from '../../platform/registry-view.js';
import type { Registry } from 'prom-client';
import type { PublishBatcher } from '../publish-batcher.js';
import { dlqRecord } from '../records.js';
import { sampleJson } from '../sample-json.js';

export interface ReceiverDeps {
  registry: RegistryView;
  out: PublishBatcher;
  clock: Clock;
  limits: PayloadLimits;
  log: Logger;
  metrics: Registry;
}

export interface Receipt {
  code: AckCode;
  ack: string;
}

const STANDARD = (d: Hl7Delimiters): boolean => d.field === '|' && d.component === '^' && d.repetition === '~' && d.escape === '\\' && d.subcomponent === '&';

const EMPTY_HEADER: OruHeader = { controlId: '', sendingApplication: '', sendingFacility: '', version: '2.6' };

export function createReceiver(deps: ReceiverDeps): (gatewayId: string, frame: Buffer) => Promise<Receipt> {
  const { registry, out, clock, limits, log, metrics } = deps;
  const messagesTotal = counter(metrics, 'vitals_hl7_messages_total', 'HL7 messages answered, by ACK code', ['ack']);
  const ignoredTotal = counter(metrics, 'vitals_hl7_observations_ignored_total', 'HL7 observations skipped without error (unknown code, not final, ...), by reason', ['reason']);
  const samplesTotal = counter(metrics, 'vitals_ingest_samples_total', 'Samples accepted onto the bus');
  const rejectedTotal = counter(metrics, 'vitals_ingest_rejected_total', 'Samples or messages rejected, by reason', ['reason']);

  const answer = (code: AckCode, header: OruHeader, errors: Hl7Error[], echo: boolean): Receipt => {
    messagesTotal.inc({ ack: code });
    const ack = buildAck({
      code,
      controlId: header.controlId,
      // Echoed raw only when the sender uses the standard delimiters (ours): otherwise they would not parse.
      sendingApplication: echo ? header.sendingApplication : '',
      sendingFacility: echo ? header.sendingFacility : '',
      version: header.version,
      ackControlId: randomUUID(),
      now: clock.now(),
      errors,
    });
    return { code, ack };
  };

  /** A refused message: dead-lettered (the text, when small enough to keep), counted, then answered. */
  async function refuse(gatewayId: string, frame: Buffer, text: string, code: AckCode, reason: RejectReason, header: OruHeader, error: Hl7Error, echo: boolean): Promise<Receipt> {
    const now = clock.now();
    const kept = frame.length <= limits.maxPayloadBytes ? text : null;
    await out.publish(TOPICS.dlq, [dlqRecord(gatewayId, 'hl7', { index: -1, reason }, kept, frame.length, now, randomUUID())]);
    rejectedTotal.inc({ reason });
    log.info({ gatewayId, reason, hl7Error: error.code }, 'hl7 message refused');
    return answer(code, header, [error], echo);
  }

  return async function receive(gatewayId: string, frame: Buffer): Promise<Receipt> {
    const text = frame.toString('utf8');
    const parsed = parseHl7(text);
    if (!parsed.ok) {
      const error: Hl7Error = { code: HL7_ERROR.segmentSequence, severity: 'E', location: null, text: parsed.problem };
      return refuse(gatewayId, frame, text, 'AR', 'hl7_malformed', EMPTY_HEADER, error, false);
    }
    const echo = STANDARD(parsed.message.delimiters);
    const mapped = mapOruR01(parsed.message);
    if (!mapped.ok) return refuse(gatewayId, frame, text, mapped.ack, mapped.ack === 'AR' ? 'hl7_unsupported' : 'hl7_malformed', mapped.header, mapped.error, echo);
    const { header, patientIds, groups, ignored, problems } = mapped.content;

    // Identity first, for every monitor in the message: one failure refuses the whole message.
    const monitors = new Map<string, DeviceRecord>();
    for (const g of groups) {
      if (monitors.has(g.equipmentId)) continue;
      const rec = registry.get(g.equipmentId);
      if (!rec || kindOf(rec) !== 'hl7-monitor' || rec.gatewayId !== gatewayId) {
        const error: Hl7Error = { code: HL7_ERROR.unknownKeyIdentifier, severity: 'E', location: { segment: 'OBX', sequence: firstObx(g), field: 18 }, text: 'equipment is not a monitor registered to this gateway' };
        return refuse(gatewayId, frame, text, 'AR', 'unknown_device', header, error, echo);
      }
      // Never scored against the wrong patient: the gateway's patient must be the monitor's.
      if (rec.patientId !== null && !patientIds.includes(rec.patientId)) {
        const error: Hl7Error = { code: HL7_ERROR.unknownKeyIdentifier, severity: 'E', location: { segment: 'PID', sequence: 1, field: 3 }, text: 'PID-3 does not match the patient the monitor is assigned to' };
        return refuse(gatewayId, frame, text, 'AR', 'patient_mismatch', header, error, echo);
      }
      monitors.set(g.equipmentId, rec);
    }

    const now = clock.now();
    const base = randomUUID();
    const samples: OutgoingRecord[] = [];
    const dead: OutgoingRecord[] = [];
    const rejections: Rejection[] = [];
    const errors: Hl7Error[] = [...problems];
    groups.forEach((g, i) => {
      const rec = monitors.get(g.equipmentId) as DeviceRecord;
      const dev = { deviceId: rec.deviceId, patientId: rec.patientId, ward: rec.ward, bed: rec.bed };
      const raw: Record<string, unknown> = { ts: g.ts, ...g.metrics };
      if (Object.keys(g.quality).length > 0) raw.quality = g.quality;
      const r = normaliseSampleObject(raw, dev, now, limits, `${base}-${i}`);
      if ('sample' in r) {
        samples.push({ key: sampleKey(r.sample), value: sampleJson(r.sample), timestamp: r.sample.recvTs });
        return;
      }
      const rej: Rejection = { index: i, ...r.rejection };
      rejections.push(rej);
      dead.push(dlqRecord(rec.deviceId, 'hl7', rej, JSON.stringify(raw), frame.length, now, base));
      const field = r.rejection.field;
      const seq = (field !== undefined && g.obx[field as keyof ObservationGroup['obx']]) || firstObx(g);
      errors.push({ code: HL7_ERROR.dataType, severity: 'E', location: { segment: 'OBX', sequence: seq, field: field === 'ts' ? 14 : 5 }, text: `sample refused: ${r.rejection.reason}${field ? ` (${field})` : ''}` });
    });

    // Values that could not be read, and nothing else refused: keep the message itself for diagnosis.
    if (problems.length > 0 && samples.length === 0 && dead.length === 0) {
      const kept = frame.length <= limits.maxPayloadBytes ? text : null;
      dead.push(dlqRecord(gatewayId, 'hl7', { index: -1, reason: 'hl7_malformed' }, kept, frame.length, now, base));
      rejections.push({ index: -1, reason: 'hl7_malformed' });
    }
    const jobs: Promise<void>[] = [];
    if (samples.length > 0) jobs.push(out.publish(TOPICS.samples, samples));
    if (dead.length > 0) jobs.push(out.publish(TOPICS.dlq, dead));
    await Promise.all(jobs);

    samplesTotal.inc(samples.length);
    for (const r of rejections) rejectedTotal.inc({ reason: r.reason });
    for (const [reason, n] of Object.entries(ignored)) ignoredTotal.inc({ reason }, n);
    if (errors.length > 0) log.info({ gatewayId, traceId: base, accepted: samples.length, problems: errors.map((e) => e.code) }, 'hl7 values refused');
    // Something stored: AA, with each dropped value as a warning. Nothing stored because values were bad: AE.
    if (samples.length > 0) return answer('AA', header, errors.map((e) => ({ ...e, severity: 'W' })), echo);
    return answer(errors.length > 0 ? 'AE' : 'AA', header, errors, echo);
  };
}

function firstObx(g: ObservationGroup): number {
  const seqs = Object.values(g.obx).filter((n): n is number => typeof n === 'number');
  return seqs.length > 0 ? Math.min(...seqs) : 1;
}
