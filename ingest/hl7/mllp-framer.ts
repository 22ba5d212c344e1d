/**
 * MLLP framing (HL7 v2 Appendix C): each message travels as `0x0B <message> 0x1C 0x0D`.
 * Bounded: a frame larger than `maxFrameBytes` is refused before it is buffered whole. Strict:
 * anything but a frame start between frames (CR/LF tolerated) is garbage and ends the session,
 * as is a frame start inside a frame or a 0x1C not followed by 0x0D. No I/O here.
 */
export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;
const LF = 0x0a;

export type FramerError = 'garbage' | 'oversized';

export interface FramerOutput {
  frames: Buffer[];
  /** Set when the stream can no longer be trusted: the caller closes the connection. */
  error: FramerError | null;
}

export class MllpFramer {
  private parts: Buffer[] = [];
  private size = 0;
  private inFrame = false;
  /** The last chunk ended on FS: the next byte must be CR. */
  private pendingEnd = false;
  private failed: FramerError | null = null;

  constructor(private readonly maxFrameBytes: number) {}

  /** True while a frame has started and not ended (a half-framed message). */
  get partial(): boolean {
    return this.inFrame;
  }

  push(chunk: Buffer): FramerOutput {
    const frames: Buffer[] = [];
    if (this.failed) return { frames, error: this.failed };
    let i = 0;
    while (i < chunk.length) {
      if (this.pendingEnd) {
        this.pendingEnd = false;
        if (chunk[i] !== CR) return this.fail(frames, 'garbage');
        frames.push(this.take());
        i++;
        continue;
      }
      if (!this.inFrame) {
        const b = chunk[i];
        if (b === VT) this.inFrame = true;
        else if (b !== CR && b !== LF) return this.fail(frames, 'garbage');
        i++;
        continue;
      }
      // Inside a frame: everything up to FS is message.
      const fs = chunk.indexOf(FS, i);
      const end = fs < 0 ? chunk.length : fs;
      const body = chunk.subarray(i, end);
      if (body.includes(VT)) return this.fail(frames, 'garbage');
      if (this.size + body.length > this.maxFrameBytes) return this.fail(frames, 'oversized');
      if (body.length > 0) {
        this.parts.push(body);
        this.size += body.length;
      }
      if (fs < 0) break;
      if (fs + 1 >= chunk.length) {
        this.pendingEnd = true;
        break;
      }
      if (chunk[fs + 1] !== CR) return this.fail(frames, 'garbage');
      frames.push(this.take());
      i = fs + 2;
    }
    return { frames, error: null };
  }

  private take(): Buffer {
    const frame = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    this.inFrame = false;
    return frame;
  }

  private fail(frames: Buffer[], error: FramerError): FramerOutput {
    this.failed = error;
    this.parts = [];
    this.size = 0;
    return { frames, error };
  }
}

/** Wrap one message in an MLLP frame. */
export function mllpFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  const out = Buffer.allocUnsafe(body.length + 3);
  out[0] = VT;
  body.copy(out, 1);
  out[body.length + 1] = FS;
  out[body.length + 2] = CR;
  return out;
}
