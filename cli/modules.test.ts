import { describe, expect, it } from 'vitest';
import { MODULES, infraNeeds, orderedModules, type ModuleDef, type ModuleName } from './modules.js';

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
    // `after` orders without pulling in: the simulator alone talks to a gateway elsewhere.
    expect(orderedModules('sim')).toEqual(['sim']);
  });
  it('the simulator starts after the ingest and gateway it talks to, whatever order the target lists them in', () => {
    const simFirst: Record<ModuleName, ModuleDef> = { ...MODULES, all: { ...MODULES.all, deps: ['sim', 'sink', 'rules', 'gateway', 'ingest'] } };
    for (const table of [MODULES, simFirst]) {
      const order = orderedModules('all', table);
      expect(order.indexOf('sim')).toBeGreaterThan(order.indexOf('ingest'));
      expect(order.indexOf('sim')).toBeGreaterThan(order.indexOf('gateway'));
    }
  });
  it('reports a cycle, through deps or after', () => {
    const viaAfter: Record<ModuleName, ModuleDef> = { ...MODULES, gateway: { ...MODULES.gateway, after: ['sim'] } };
    expect(() => orderedModules('all', viaAfter)).toThrow(/module cycle: .*sim -> .*gateway|module cycle: .*gateway -> sim/);
  });
  it('every module but a target is started through its init, the registry included (no special case in the runtime)', () => {
    const targets = (Object.keys(MODULES) as ModuleName[]).filter((m) => !MODULES[m].init);
    expect(targets).toEqual(['all']);
    expect(MODULES.registry.hidden).toBe(true);
  });
  it('ingest and rules need only the bus; sink and gateway also the store; sim neither', () => {
    expect(infraNeeds('ingest')).toEqual({ bus: true, store: false });
    expect(infraNeeds('rules')).toEqual({ bus: true, store: false });
    expect(infraNeeds('sink')).toEqual({ bus: true, store: true });
    expect(infraNeeds('sim')).toEqual({ bus: false, store: false });
    expect(infraNeeds('all')).toEqual({ bus: true, store: true });
  });
});
