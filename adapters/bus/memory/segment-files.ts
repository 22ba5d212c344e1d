/**
 * The embedded bus's files: `<dataDir>/bus/<topic>/topic.json` and segment files of
 * length-prefixed records. Appends go to the last segment, rolling past `segmentBytes`; a torn
 * tail (crash mid-append) is cut off on load.
 */
import { promises as fsp, writeSync } from 'node:fs';
import path from 'node:path';
import type { BusRecord, TopicSpec } from '../../../core/ports.js';
import type { Logger } from '../../../platform/log.js';
import { errorText, type Segment, type TopicLog } from './topic-log.js';

const SEGMENT_MAGIC = 'VSB1';
const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;

/** Length-prefixed record: `offset ts keyLen valueLen\n key value \n` (lengths in UTF-16 units; -1 = tombstone). */
export function encodeRecord(r: BusRecord, off: number): string {
  const v = r.value;
  return `${off} ${r.timestamp} ${r.key.length} ${v === null ? -1 : v.length}\n${r.key}${v ?? ''}\n`;
}

function segmentName(base: number): string {
  return `${String(base).padStart(20, '0')}.seg`;
}

/** Create a topic's directory and its `topic.json`. */
export async function createTopicDir(dir: string, spec: TopicSpec): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'topic.json'), JSON.stringify(spec));
}

/** A topic directory's spec, or null (logged) when it has none. */
export async function readTopicSpec(dir: string, log: Logger | undefined): Promise<TopicSpec | null> {
  try {
    return JSON.parse(await fsp.readFile(path.join(dir, 'topic.json'), 'utf8')) as TopicSpec;
  } catch {
    log?.warn({ topic: path.basename(dir) }, 'bus topic directory without topic.json; ignored');
    return null;
  }
}

/** The names of a topic directory's segment files, in offset order. */
export async function segmentFiles(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((f) => f.endsWith('.seg')).sort();
}

/**
 * Append `text` (records up to offset `end` - 1) to the topic's active segment. A failed append
 * is cut back to the last whole record (a torn one would corrupt the next) and rethrown.
 */
export async function appendToSegment(t: TopicLog, text: string, end: number, opts: { segmentBytes?: number; fsync?: boolean; log?: Logger }): Promise<void> {
  let seg: Segment | undefined;
  let sizeBefore = 0;
  try {
    seg = await activeSegment(t, opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES, opts.log);
    sizeBefore = seg.bytes;
    const handle = t.handle;
    if (!handle) throw new Error('segment not open');
    const bytes = Buffer.from(text);
    writeAllSync(handle.fd, bytes);
    if (opts.fsync) await handle.datasync();
    seg.bytes += bytes.length;
    seg.lastOffset = end - 1;
  } catch (e) {
    if (seg && t.handle) await t.handle.truncate(sizeBefore).catch(() => undefined);
    throw e;
  }
}

/**
 * A synchronous write on the event loop, on purpose: an append of a few hundred bytes lands in the
 * page cache in ~3 µs of CPU, while the same write through libuv's thread pool (FileHandle) cost
 * ~40 µs (hand-off, wake-up, promise), about a tenth of the embedded server's CPU per sample at
 * 1,000 patients (BENCHMARKS.md, issue 11). `fsync` stays asynchronous: that is the one that waits for the disk.
 */
function writeAllSync(fd: number, bytes: Buffer): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** The segment appends go to, rolling to a new file past segmentBytes. */
async function activeSegment(t: TopicLog, segmentBytes: number, log: Logger | undefined): Promise<Segment> {
  const dir = t.dir as string;
  let seg = t.segments[t.segments.length - 1];
  if (seg && t.handle && seg.bytes < segmentBytes) return seg;
  if (seg && t.handle) {
    await t.handle.close();
    t.handle = null;
  }
  if (!seg || seg.bytes >= segmentBytes) {
    const header = `${SEGMENT_MAGIC} ${t.next}\n`;
    seg = { file: path.join(dir, segmentName(t.next)), base: t.next, lastOffset: t.next - 1, bytes: Buffer.byteLength(header) };
    await fsp.writeFile(seg.file, header, { flag: 'wx' });
    t.segments.push(seg);
    scheduleSegmentCleanup(t, log);
  }
  t.handle = await fsp.open(seg.file, 'a');
  return seg;
}

/** Delete segment files holding only records that retention already dropped (never the active one). */
export function scheduleSegmentCleanup(t: TopicLog, log: Logger | undefined): void {
  if (!t.dir || t.compacted) return;
  void t.chain(async () => {
    const firstKept = t.offs[0] ?? t.next;
    while (t.segments.length > 1 && (t.segments[0] as Segment).lastOffset < firstKept) {
      const seg = t.segments.shift() as Segment;
      await fsp.unlink(seg.file).catch((e: unknown) => log?.warn({ topic: t.name, error: errorText(e) }, 'could not delete a bus segment'));
    }
  }, log);
}

/** Parse one segment into the log; a torn tail (crash mid-append) is cut off the file. */
export async function loadSegment(t: TopicLog, file: string, log: Logger | undefined): Promise<Segment | null> {
  const text = await fsp.readFile(file, 'utf8');
  const nl = text.indexOf('\n');
  const head = nl < 0 ? [] : text.slice(0, nl).split(' ');
  if (head[0] !== SEGMENT_MAGIC || !Number.isSafeInteger(Number(head[1]))) {
    log?.warn({ topic: t.name, file: path.basename(file) }, 'not a bus segment; ignored');
    return null;
  }
  const base = Number(head[1]);
  t.next = Math.max(t.next, base);
  let lastLoaded = t.offs.length > 0 ? (t.offs[t.offs.length - 1] as number) : -1;
  let pos = nl + 1;
  let lastOffset = base - 1;
  while (pos < text.length) {
    const eol = text.indexOf('\n', pos);
    if (eol < 0) break;
    const h = text.slice(pos, eol).split(' ');
    const off = Number(h[0]);
    const ts = Number(h[1]);
    const kl = Number(h[2]);
    const vl = Number(h[3]);
    const end = eol + 1 + kl + Math.max(vl, 0);
    if (h.length !== 4 || !Number.isSafeInteger(off) || !Number.isFinite(ts) || !(kl >= 0) || !(vl >= -1) || text[end] !== '\n') break;
    const key = text.slice(eol + 1, eol + 1 + kl);
    const value = vl < 0 ? null : text.slice(eol + 1 + kl, end);
    pos = end + 1;
    // After an interrupted compaction rewrite, records can repeat: keep the first copy.
    if (off <= lastLoaded) continue;
    t.append({ topic: t.name, partition: 0, offset: String(off), key, value, timestamp: ts }, off);
    t.next = Math.max(t.next, off + 1);
    lastLoaded = off;
    lastOffset = off;
  }
  const bytes = Buffer.byteLength(text.slice(0, pos));
  if (pos < text.length) {
    log?.warn({ topic: t.name, file: path.basename(file), droppedBytes: Buffer.byteLength(text) - bytes }, 'bus segment had a torn tail; truncated');
    await fsp.truncate(file, bytes);
  }
  return { file, base, lastOffset, bytes };
}

/**
 * Rewrite a compacted topic as one segment of its live records. Written first, old files
 * deleted after: a crash in between leaves duplicates that the loader skips.
 */
export async function rewriteCompacted(t: TopicLog): Promise<void> {
  const header = `${SEGMENT_MAGIC} ${t.next}\n`;
  let text = header;
  for (let i = 0; i < t.records.length; i++) text += encodeRecord(t.records[i] as BusRecord, t.offs[i] as number);
  const file = path.join(t.dir as string, segmentName(t.next));
  const old = t.segments.filter((s) => s.file !== file);
  await fsp.writeFile(`${file}.tmp`, text);
  await fsp.rename(`${file}.tmp`, file);
  for (const s of old) await fsp.unlink(s.file);
  t.segments = [{ file, base: t.next, lastOffset: t.next - 1, bytes: Buffer.byteLength(text) }];
}
