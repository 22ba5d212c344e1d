/** JSON-lines plumbing for the stream-rules command-line tools: numbered input lines, backpressured output. */
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** Lines of a stream with their 1-based numbers (CRLF tolerated). */
export async function* numberedLines(input: NodeJS.ReadableStream): AsyncGenerator<{ n: number; line: string }> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) yield { n: ++n, line };
}

/** Write one line, waiting for 'drain' when the stream's buffer is full. */
export async function writeLine(output: NodeJS.WritableStream, text: string): Promise<void> {
  if (!output.write(`${text}\n`)) await once(output as unknown as NodeJS.EventEmitter, 'drain');
}

/** Parse one line as a JSON object; a reason instead when it is not one. */
export function parseObjectLine(line: string): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return { ok: false, reason: `invalid JSON (${(e as Error).message})` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'expected a JSON object' };
  return { ok: true, value: v as Record<string, unknown> };
}
