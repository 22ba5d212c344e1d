/**
 * Flow control from end to end (docs/decisions/0012-flow-control.md): which ingest lane must
 * stop reading device sockets, given what the required consumers have not read yet. Pure.
 *
 * Two lanes. Backfill yields first: the backlog lane is held once any required consumer is
 * behind by half the bound, the live lane only when live topics themselves are behind by the
 * whole bound. Both resume at half their threshold (hysteresis, so a lane does not flap per poll).
 */
import type { ConsumerLag } from './ports.js';

export type Lane = 'live' | 'backlog';

export interface LaneState {
  live: boolean;
  backlog: boolean;
}

/**
 * @param lags - the bus's lag report; only required consumers count
 * @param backlogTopic - the backfill lane's topic (its lag never holds live samples)
 * @param maxLag - records a required consumer may be behind on live topics before live ingest stops
 * @param held - which lanes are held now
 * @returns which lanes are held after this report
 */
export function heldLanes(lags: readonly ConsumerLag[], backlogTopic: string, maxLag: number, held: LaneState): LaneState {
  let liveLag = 0;
  let anyLag = 0;
  for (const l of lags) {
    if (!l.required) continue;
    if (l.lag > anyLag) anyLag = l.lag;
    if (l.topic !== backlogTopic && l.lag > liveLag) liveLag = l.lag;
  }
  const liveLimit = held.live ? maxLag / 2 : maxLag;
  const backlogLimit = held.backlog ? maxLag / 4 : maxLag / 2;
  const live = liveLag > liveLimit;
  // While live is held, backfill is too: it would only add to what the consumers must read.
  return { live, backlog: live || anyLag > backlogLimit };
}
