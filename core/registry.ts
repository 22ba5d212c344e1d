/**
 * The device registry as it travels on the compacted `registry` topic.
 * Pure: materialising the topic into a map is a fold over these records.
 */

/**
 * What a registered identity is: a device that speaks MQTT itself, an HL7 monitoring gateway
 * (an MLLP peer, authenticated by mutual TLS or a source-address allow-list), or a bedside
 * monitor whose observations reach us through its gateway (docs/protocol.md "HL7 v2 / MLLP").
 */
export const DEVICE_KINDS = ['device', 'hl7-gateway', 'hl7-monitor'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export interface DeviceRecord {
  v: 1;
  deviceId: string;
  /** Salted scrypt hash of the device token: `scrypt$N$r$p$saltB64$hashB64`. Never the token. */
  tokenHash: string;
  patientId: string | null;
  ward: string | null;
  bed: string | null;
  createdAt: number;
  updatedAt: number;
  /** Absent on records written before kinds existed: 'device'. */
  kind?: DeviceKind;
  /** hl7-monitor: the gateway allowed to send its observations. */
  gatewayId?: string | null;
  /** hl7-gateway: source addresses allowed on the plain MLLP port (weaker than mutual TLS). */
  allowFrom?: string[];
}

export function kindOf(rec: Pick<DeviceRecord, 'kind'>): DeviceKind {
  return rec.kind ?? 'device';
}

/** A registry record value; null (tombstone) revokes the device. */
export type RegistryValue = DeviceRecord | null;

export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isValidDeviceId(id: string): boolean {
  return DEVICE_ID_PATTERN.test(id);
}

/** Apply one registry record to the materialised view (last write wins per key). */
export function applyRegistryRecord(view: Map<string, DeviceRecord>, key: string, value: RegistryValue): void {
  if (value === null) view.delete(key);
  else view.set(key, value);
}
