/**
 * Node flags that pay on ingest's per-sample path. `--max-semi-space-size=64` lets the objects of
 * the samples in flight to Kafka die young instead of being promoted (ADR 0020 §6). V8 sizes the
 * young generation when the isolate starts, so the flag must be on node's command line or in
 * NODE_OPTIONS (`v8.setFlagsFromString` later does not resize it); ingest only says so at start.
 */
export const SEMI_SPACE_FLAG = '--max-semi-space-size';
export const SEMI_SPACE_ADVICE = `${SEMI_SPACE_FLAG}=64`;

/** True when node was started with a semi-space size of its own (any value: the operator chose). */
export function hasSemiSpaceFlag(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  const given = (a: string): boolean => a === SEMI_SPACE_FLAG || a.startsWith(`${SEMI_SPACE_FLAG}=`) || a === '--max_semi_space_size' || a.startsWith('--max_semi_space_size=');
  return execArgv.some(given) || (nodeOptions ?? '').split(/\s+/).some(given);
}
