import { describe, expect, it } from 'vitest';
import { MODULES, infraNeeds, orderedModules } from './modules.js';

describe('module table', () => {
  it('starts dependencies first and each module once', () => {
    const order = orderedModules('all');
    expect(order[order.length - 1]).toBe('all');
    expect(order.indexOf('registry')).toBeLessThan(order.indexOf('ingest'));
    expect(order.indexOf('registry')).toBeLessThan(order.indexOf('gateway'));
    expect(new Set(order).size).toBe(order.length);
  });
  it('a single role pulls only what it needs', () => {
    expect(orderedModules('sink')).toEqual(['sink']);
    expect(orderedModules('ingest')).toEqual(['registry', 'ingest']);
  });
  it('ingest and rules need only the bus; sink and gateway also the store; sim neither', () => {
    expect(infraNeeds('ingest')).toEqual({ bus: true, store: false });
    expect(infraNeeds('rules')).toEqual({ bus: true, store: false });
    expect(infraNeeds('sink')).toEqual({ bus: true, store: true });
    expect(infraNeeds('sim')).toEqual({ bus: false, store: false });
    expect(infraNeeds('all')).toEqual({ bus: true, store: true });
  });
  it('stays small and static (under 10 nodes)', () => {
    expect(Object.keys(MODULES).length).toBeLessThan(10);
  });
});
