/**
 * Stand-ins for a port a role does not use (ingest and rules never touch the store;
 * the simulator touches neither). Any call is a wiring bug and says so.
 */
import { VitalsError } from '../core/errors.js';
import type { Bus, Store } from '../core/ports.js';

function refuse(what: string): never {
  throw new VitalsError('VTL_ERR_INTERNAL', `${what} is not configured for this role`);
}

export function absentStore(): Store {
  const no = async (): Promise<never> => refuse('the store');
  return {
    kind: 'absent',
    migrate: no,
    insertSamples: no,
    insertAlertEvents: no,
    insertAudit: no,
    insertScores: no,
    history: no,
    alerts: no,
    scores: no,
    audit: no,
    erasePatient: no,
    dropExpired: no,
    healthy: async () => true,
    close: async () => undefined,
  };
}

export function absentBus(): Bus {
  const no = async (): Promise<never> => refuse('the bus');
  return { kind: 'absent', ensureTopics: no, publish: no, consume: no, tail: no, lag: async () => [], healthy: async () => true, close: async () => undefined };
}
