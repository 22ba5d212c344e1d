/**
 * Sticky co-partition assignment for partition-owning consumers (docs/decisions/0018): partition
 * number i of every subscribed topic goes to one member, so a rules instance owns a patient's
 * samples, backlog, actions and checkpoint together. Members keep what they owned (up to a fair
 * share) so a rebalance moves only the partitions it must: each move costs the new owner a restore.
 * Pure: the Kafka adapter wraps it in a kafkajs assigner.
 */

export interface CoPartitionMember {
  memberId: string;
  /** Partition numbers this member owned before the rebalance (from its join metadata). */
  owned: readonly number[];
}

/**
 * Assign partition numbers 0..count-1 to members: each gets floor(count/N) or one more, keeps as
 * many of its own as its share allows, and a partition claimed by two members (a stale claim
 * after a missed rebalance) goes to the first in member-id order.
 */
export function assignCoPartitions(members: readonly CoPartitionMember[], count: number): Map<string, number[]> {
  const out = new Map<string, number[]>();
  if (members.length === 0) return out;
  // Members that owned more get the larger shares first: fewer moves.
  const order = [...members].sort((a, b) => b.owned.length - a.owned.length || (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  const base = Math.floor(count / order.length);
  const extra = count % order.length;
  const quota = new Map(order.map((m, i) => [m.memberId, base + (i < extra ? 1 : 0)]));
  const taken = new Set<number>();
  const byId = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  for (const m of byId) out.set(m.memberId, []);
  for (const m of order) {
    const mine = out.get(m.memberId) as number[];
    for (const p of [...new Set(m.owned)].sort((a, b) => a - b)) {
      if (mine.length >= (quota.get(m.memberId) as number)) break;
      if (!Number.isInteger(p) || p < 0 || p >= count || taken.has(p)) continue;
      taken.add(p);
      mine.push(p);
    }
  }
  let next = 0;
  for (const m of order) {
    const mine = out.get(m.memberId) as number[];
    while (mine.length < (quota.get(m.memberId) as number)) {
      while (taken.has(next)) next++;
      taken.add(next);
      mine.push(next);
    }
    mine.sort((a, b) => a - b);
  }
  return out;
}

/** Owned partitions as join metadata (userData): a JSON array, small and readable in broker tools. */
export function encodeOwned(owned: Iterable<number>): Buffer {
  return Buffer.from(JSON.stringify([...owned].sort((a, b) => a - b)));
}

/** The owned partitions a member declared; anything unreadable counts as owning nothing. */
export function decodeOwned(userData: Buffer | null | undefined): number[] {
  if (!userData || userData.length === 0) return [];
  try {
    const v: unknown = JSON.parse(userData.toString('utf8'));
    return Array.isArray(v) ? v.filter((x): x is number => Number.isInteger(x) && x >= 0) : [];
  } catch {
    return [];
  }
}
