/**
 * A minimal MLLP client: what a monitoring gateway does. Sends messages and resolves each with
 * its ACK, in order (a receiver answers one message at a time). Used by `vitals sim --protocol
 * hl7`, the HL7 tests and the HL7 benchmark.
 */
import net from 'node:net';
import tls from 'node:tls';
import { MllpFramer, mllpFrame } from '../ingest/hl7/mllp-framer.js';

export interface MllpClientOptions {
  host: string;
  port: number;
  /** TLS (and a client certificate for mutual TLS); absent: plain TCP. */
  tls?: tls.ConnectionOptions;
  maxFrameBytes?: number;
}

export class MllpClient {
  private readonly waiting: Array<{ resolve: (ack: string) => void; reject: (e: Error) => void }> = [];
  private readonly framer: MllpFramer;
  /** Resolves when the connection is gone, whoever closed it. */
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket, maxFrameBytes: number) {
    this.framer = new MllpFramer(maxFrameBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      const r = this.framer.push(chunk);
      for (const f of r.frames) this.waiting.shift()?.resolve(f.toString('utf8'));
      if (r.error) socket.destroy(new Error(`mllp: ${r.error} from the receiver`));
    });
    socket.on('error', () => undefined); // reported through `closed` and the pending sends
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        for (const w of this.waiting.splice(0)) w.reject(new Error('mllp connection closed before the ACK'));
        resolve();
      });
    });
  }

  static connect(o: MllpClientOptions): Promise<MllpClient> {
    return new Promise((resolve, reject) => {
      const socket = o.tls ? tls.connect({ host: o.host, port: o.port, ...o.tls }) : net.connect({ host: o.host, port: o.port });
      const ready = o.tls ? 'secureConnect' : 'connect';
      socket.once(ready, () => {
        socket.off('error', reject);
        resolve(new MllpClient(socket, o.maxFrameBytes ?? 4 * 1024 * 1024));
      });
      socket.once('error', reject);
    });
  }

  /** Send one message; resolves with the ACK text, rejects if the connection closes first or after `timeoutMs`. */
  send(message: string, timeoutMs = 30_000): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('mllp: no ACK in time')), timeoutMs);
      this.waiting.push({
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(mllpFrame(message));
    });
  }

  /** Raw bytes, for tests of broken peers. */
  writeRaw(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  get isOpen(): boolean {
    return !this.socket.destroyed;
  }

  close(): Promise<void> {
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), 1000);
    return this.closed.finally(() => clearTimeout(t));
  }
}

/** MSA-1 (AA/AE/AR) and the ERR codes of an ACK. */
export function ackCodeOf(ack: string): { code: string; controlId: string; errors: string[] } {
  const segs = ack.split('\r');
  const msa = (segs.find((s) => s.startsWith('MSA|')) ?? '').split('|');
  const errors = segs.filter((s) => s.startsWith('ERR|')).map((s) => (s.split('|')[3] ?? '').split('^')[0] ?? '');
  return { code: msa[1] ?? '', controlId: msa[2] ?? '', errors };
}
