/**
 * Which kafkajs error lines are routine cluster events rather than faults. During a leader move
 * or a coordinator change the broker answers "not the leader" (and friends); kafkajs logs each such
 * response at error level, refreshes its metadata and retries, which succeeds. Logged as errors they
 * alarm operators at every rolling restart, so they are logged as warnings: still visible.
 */

/** kafkajs' messages for the retriable leadership and coordinator errors (kafkajs src/protocol/error.js). */
const LEADERSHIP_MESSAGES = [
  'This server is not the leader for that topic-partition', // NOT_LEADER_FOR_PARTITION (6)
  'There is no leader for this topic-partition as we are in the middle of a leadership election', // LEADER_NOT_AVAILABLE (5)
  'The preferred leader was not available', // PREFERRED_LEADER_NOT_AVAILABLE (80)
  "The coordinator is loading and hence can't process requests for this group", // GROUP_LOAD_IN_PROGRESS (14)
  'The group coordinator is not available', // GROUP_COORDINATOR_NOT_AVAILABLE (15)
  'This is not the correct coordinator for this group', // NOT_COORDINATOR_FOR_GROUP (16)
];

/** True when a kafkajs log line's error reports a leadership or coordinator move (kafkajs retries it). */
export function isLeadershipMove(error: unknown): boolean {
  const text = typeof error === 'string' ? error : error instanceof Error ? error.message : '';
  return LEADERSHIP_MESSAGES.some((m) => text.includes(m));
}
