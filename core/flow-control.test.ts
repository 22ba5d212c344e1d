import { describe, expect, it } from 'vitest';
import { heldLanes } from './flow-control.js';
import type { ConsumerLag } from './ports.js';

const lag = (topic: string, n: number, required = true): ConsumerLag => ({ consumer: 'c', topic, lag: n, required });
const open = { live: false, backlog: false };

describe('heldLanes', () => {
  it('holds nothing while required consumers keep up', () => {
    expect(heldLanes([lag('vitals.samples', 499)], 'vitals.backlog', 1000, open)).toEqual(open);
  });
  it('holds the backlog lane first, at half the bound, whatever topic is behind', () => {
    expect(heldLanes([lag('news2.scores', 600)], 'vitals.backlog', 1000, open)).toEqual({ live: false, backlog: true });
    expect(heldLanes([lag('vitals.backlog', 600)], 'vitals.backlog', 1000, open)).toEqual({ live: false, backlog: true });
  });
  it('holds live only when live topics are behind by the bound; backlog lag alone never does', () => {
    expect(heldLanes([lag('vitals.backlog', 1_000_000)], 'vitals.backlog', 1000, open).live).toBe(false);
    expect(heldLanes([lag('vitals.samples', 1001)], 'vitals.backlog', 1000, open)).toEqual({ live: true, backlog: true });
  });
  it('ignores optional readers (live views)', () => {
    expect(heldLanes([lag('vitals.samples', 1_000_000, false)], 'vitals.backlog', 1000, open)).toEqual(open);
  });
  it('resumes with hysteresis: live below half the bound, backlog below a quarter', () => {
    const held = { live: true, backlog: true };
    expect(heldLanes([lag('vitals.samples', 600)], 'vitals.backlog', 1000, held)).toEqual({ live: true, backlog: true });
    expect(heldLanes([lag('vitals.samples', 400)], 'vitals.backlog', 1000, held)).toEqual({ live: false, backlog: true });
    expect(heldLanes([lag('vitals.samples', 200)], 'vitals.backlog', 1000, held)).toEqual({ live: false, backlog: false });
  });
});
