/**
 * A low-overhead MQTT 3.1.1 load generator for the ingest benchmark: raw sockets, packets
 * encoded once per device (only the packet id is patched), several publishes per write, and
 * just enough parsing for CONNACK and PUBACK. MQTT.js costs 7-17 us per message in the
 * generator (PERF_NOTES); on 2 shared cores that would measure the client, not the broker.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';

/** Every bench device shares one token (provisioned by load/ingest-bench-server.ts). */
export const BENCH_TOKEN = 'bench-token-not-secret';
export const benchDeviceId = (i: number): string => `bench-${String(i).padStart(5, '0')}`;

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

export function encodeConnect(clientId: string, username: string, password: string, keepaliveSec = 60): Buffer {
  const keep = Buffer.alloc(2);
  keep.writeUInt16BE(keepaliveSec);
  // 0x80 username, 0x40 password, 0x02 clean session [MQTT-3.1.2-4]
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2]), keep, str(clientId), str(username), str(password)]);
  return Buffer.concat([Buffer.from([0x10, ...varint(body.length)]), body]);
}

/** A PUBLISH packet and the offset of its packet id (-1 for QoS 0). */
export function encodePublish(topic: string, payload: Buffer, qos: 0 | 1): { packet: Buffer; idOffset: number } {
  const t = str(topic);
  const remaining = t.length + (qos ? 2 : 0) + payload.length;
  const head = Buffer.from([0x30 | (qos << 1), ...varint(remaining)]);
  const id = qos ? Buffer.alloc(2) : Buffer.alloc(0);
  return { packet: Buffer.concat([head, t, id, payload]), idOffset: qos ? head.length + t.length : -1 };
}

export interface GenStats {
  sent: number;
  acked: number;
  /** Publish -> PUBACK latencies (ms), recorded only while `recording`. */
  latencies: number[];
  recording: boolean;
}

/** One simulated device on a raw socket. */
export class GenDevice {
  private rx: Buffer | null = null;
  private nextId = 1;
  private readonly sentAt = new Float64Array(65536);
  outstanding = 0;
  running = false;
  private connack: ((rc: number) => void) | null = null;
  private ackWaiters: Array<() => void> = [];
  private readonly tpl: { packet: Buffer; idOffset: number };

  private constructor(
    readonly sock: net.Socket,
    readonly deviceId: string,
    readonly qos: 0 | 1,
    payload: Buffer,
    private readonly stats: GenStats,
    private readonly window: number,
  ) {
    this.tpl = encodePublish(`devices/${deviceId}/vitals`, payload, qos);
    sock.on('data', (d) => this.onData(d));
  }

  static connect(port: number, deviceId: string, password: string, qos: 0 | 1, payload: Buffer, stats: GenStats, window: number): Promise<GenDevice> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host: '127.0.0.1', noDelay: true });
      const dev = new GenDevice(sock, deviceId, qos, payload, stats, window);
      const fail = (e: Error): void => {
        sock.destroy();
        reject(e);
      };
      sock.once('error', fail);
      // A server may close a socket before CONNACK (ingest's pre-auth limit per address, 64):
      // without this the promise never settled and a bench cell hung for good.
      const closed = (): void => fail(new Error(`${deviceId}: closed before CONNACK`));
      sock.once('close', closed);
      sock.setTimeout(15_000, () => fail(new Error(`${deviceId}: CONNACK timeout`)));
      dev.connack = (rc) => {
        sock.setTimeout(0);
        sock.off('error', fail);
        sock.off('close', closed);
        sock.on('error', () => undefined);
        if (rc === 0) resolve(dev);
        else fail(new Error(`${deviceId}: CONNACK ${rc}`));
      };
      sock.write(encodeConnect(deviceId, deviceId, password, 0));
    });
  }

  private batch(n: number): Buffer {
    const { packet, idOffset } = this.tpl;
    const buf = Buffer.allocUnsafe(packet.length * n);
    const now = performance.now();
    for (let i = 0; i < n; i++) {
      const at = i * packet.length;
      packet.copy(buf, at);
      if (idOffset >= 0) {
        const id = this.nextId;
        this.nextId = id === 65535 ? 1 : id + 1;
        buf.writeUInt16BE(id, at + idOffset);
        this.sentAt[id] = now;
      }
    }
    return buf;
  }

  /** QoS 1 closed loop: keep `window` publishes unacknowledged. */
  fill(): void {
    if (!this.running) return;
    const n = this.window - this.outstanding;
    if (n <= 0) return;
    this.outstanding += n;
    this.stats.sent += n;
    this.sock.write(this.batch(n));
  }

  /** One publish now (paced mode). */
  publishOne(): void {
    if (this.qos === 1) this.outstanding++;
    this.stats.sent++;
    this.sock.write(this.batch(1));
  }

  /**
   * QoS 0, closed loop: `k` QoS 0 publishes and a QoS 1 fence in one write, then wait for the
   * fence's PUBACK (the broker has handled what came before it on this connection) and count
   * the k as done. An open loop would measure the kernel's socket buffers, not the broker, and
   * pile up a backlog that outlives the measurement.
   */
  async pumpQos0Fenced(k: number): Promise<void> {
    const fence = encodePublish(`devices/${this.deviceId}/vitals`, Buffer.from('{"hr":70}'), 1).packet;
    fence.writeUInt16BE(65535, fence.length - '{"hr":70}'.length - 2);
    while (this.running) {
      const acked = new Promise<void>((r) => this.ackWaiters.push(r));
      this.stats.sent += k;
      this.outstanding += k;
      this.sock.write(Buffer.concat([this.batch(k), fence]));
      await acked;
      this.outstanding -= k;
      this.stats.acked += k;
    }
  }

  /** Resolves when nothing is unacknowledged. */
  async drained(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.outstanding > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.outstanding === 0;
  }

  close(): void {
    this.running = false;
    if (!this.sock.destroyed) this.sock.end(Buffer.from([0xe0, 0x00]));
  }

  private onData(chunk: Buffer): void {
    const buf = this.rx ? Buffer.concat([this.rx, chunk]) : chunk;
    let off = 0;
    const now = performance.now();
    let acks = 0;
    while (off + 2 <= buf.length) {
      const type = (buf[off] as number) >> 4;
      let len = 0;
      let mult = 1;
      let i = off + 1;
      let byte: number;
      let complete = true;
      do {
        if (i >= buf.length) {
          complete = false;
          break;
        }
        byte = buf[i++] as number;
        len += (byte & 0x7f) * mult;
        mult *= 128;
      } while (byte & 0x80);
      if (!complete || i + len > buf.length) break;
      if (type === 2) this.connack?.(buf[i + 1] as number);
      else if (type === 4) {
        const id = buf.readUInt16BE(i);
        if (this.qos === 0) {
          this.ackWaiters.shift()?.(); // QoS 0 devices only ever get PUBACKs for fences
        } else {
          acks++;
          if (this.stats.recording) this.stats.latencies.push(now - (this.sentAt[id] as number));
        }
      }
      off = i + len;
    }
    this.rx = off < buf.length ? buf.subarray(off) : null;
    if (acks > 0) {
      this.outstanding -= acks;
      this.stats.acked += acks;
      this.fill();
    }
  }
}
