/**
 * The node flags every documented start passes (SHIPPED_NODE_FLAGS). `--max-semi-space-size=64` lets the objects of
 * the samples in flight to Kafka die young instead of being promoted (ADR 0020 §6). V8 sizes the
 * young generation when the isolate starts, so the flag must be on node's command line or in
 * NODE_OPTIONS (`v8.setFlagsFromString` later does not resize it); ingest only says so at start.
 */
export const SEMI_SPACE_FLAG = '--max-semi-space-size';
export const SEMI_SPACE_ADVICE = `${SEMI_SPACE_FLAG}=64`;

/**
 * Old generation grows to 1.5x what survived the last full GC, not V8's up-to-4x: a backfill's
 * short-lived objects that survive two scavenges are promoted and die there, and with V8's default
 * a growth run's server held ~1 GB of such garbage (peak RSS 1,782 MB; with this flag 1,330 MB, same
 * CPU per sample; BENCHMARKS.md, "Flow control and backfill"). A factor, not a cap: no OOM risk.
 */
export const HEAP_GROWING_ADVICE = '--heap-growing-percent=50';

/** What every documented start gives node (the `vitals` executable's own line, npm scripts, the image); benches start the server with the same. */
export const SHIPPED_NODE_FLAGS: readonly string[] = [SEMI_SPACE_ADVICE, HEAP_GROWING_ADVICE];

/** True when node was started with a semi-space size of its own (any value: the operator chose). */
export function hasSemiSpaceFlag(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const given = (a: string): boolean => a === SEMI_SPACE_FLAG || a.startsWith(`${SEMI_SPACE_FLAG}=`) || a === '--max_semi_space_size' || a.startsWith('--max_semi_space_size=');
  return execArgv.some(given) || (nodeOptions ?? '').split(/\s+/).some(given);
}
