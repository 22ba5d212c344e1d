/** The co-partition assigner for kafkajs (docs/decisions/0018): partition i of every topic to one member. */
import type { PartitionAssigner } from 'kafkajs';
import { assignCoPartitions, decodeOwned, encodeOwned } from '../co-partition.js';
import { AssignerProtocol } from './client.js';

/** kafkajs assigner around {@link assignCoPartitions}; members declare what they own in their join metadata. */
export function coPartitionAssigner(owned: () => Iterable<number>): PartitionAssigner {
  return ({ cluster }) => ({
    name: 'VitalsCoPartition',
    version: 0,
    async assign({ members, topics }) {
      const counts = new Map(topics.map((t) => [t, cluster.findTopicPartitionMetadata(t).length]));
      const count = Math.max(0, ...counts.values());
      const plan = assignCoPartitions(
        members.map((m) => ({ memberId: m.memberId, owned: decodeOwned(AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData) })),
        count,
      );
      return [...plan].map(([memberId, parts]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          // A topic with fewer partitions than the others simply has no partition i for high i.
          assignment: Object.fromEntries(topics.map((t) => [t, parts.filter((p) => p < (counts.get(t) ?? 0))])),
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return { name: 'VitalsCoPartition', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: encodeOwned(owned()) }) };
    },
  });
}
