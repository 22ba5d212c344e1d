/**
 * MQTT framing, read from the raw byte stream before the packet parser buffers anything:
 * each fixed header announces the packet's remaining length ([MQTT-2.2.3], a 1-4 byte
 * varint), so an oversized packet is known from its first bytes, not after it arrived.
 * Pure: the transport feeds chunks and acts on the verdict.
 */

/** MQTT control packet type of CONNECT ([MQTT-2.2.1]). */
export const MQTT_CONNECT = 1;

export type FrameVerdict = { ok: true } | { ok: false; reason: 'packet_too_large' | 'connect_expected' | 'malformed_length' };

export interface FrameLimits {
  /** Largest remaining length of the first packet (the CONNECT). */
  maxConnectBytes: number;
  /** Largest remaining length of any later packet. */
  maxPacketBytes: number;
}

/**
 * Follows packet boundaries across chunks. State: inside a header (type byte, then varint
 * bytes) or skipping a body. O(1) per chunk plus one step per header byte.
 */
export class FrameScanner {
  private packets = 0;
  private skip = 0;
  private inHeader = false;
  private type = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;

  constructor(private readonly limits: FrameLimits) {}

  /** Feed the next bytes; the first violation wins and the caller closes the connection. */
  feed(chunk: Uint8Array): FrameVerdict {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++] as number;
      if (!this.inHeader) {
        this.inHeader = true;
        this.type = byte >> 4;
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        // [MQTT-3.1.0-1]: the first packet from a client is CONNECT.
        if (this.packets === 0 && this.type !== MQTT_CONNECT) return { ok: false, reason: 'connect_expected' };
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      const more = (byte & 0x80) !== 0;
      const limit = this.packets === 0 ? this.limits.maxConnectBytes : this.limits.maxPacketBytes;
      // Judged as the varint grows: a length past the limit is refused before its last byte.
      if (this.length > limit) return { ok: false, reason: 'packet_too_large' };
      if (more && this.lengthBytes === 4) return { ok: false, reason: 'malformed_length' };
      if (more) continue;
      this.inHeader = false;
      this.packets++;
      this.skip = this.length;
    }
    return { ok: true };
  }
}
