/**
 * The device registry as it travels on the compacted `registry` topic.
 * Pure: materialising the topic into a map is a fold over these records.
 */

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
