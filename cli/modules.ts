/**
 * THE module table (after Loki's `-target`): each role is a module with
 * dependencies and an init that returns a running Service. `all` is a target:
 * a module with dependencies and no init.
 */
// Roles are imported when started, not when the table is read: `vitals --help`, `token` and
// `--version` must not load fastify, Aedes, kafkajs and DuckDB (seconds on a busy machine).
import type { Context, Service } from '../platform/context.js';
import type { RegistryService, RegistryView } from '../platform/registry-view.js';
import type { ReadyFn } from '../dashboard-gateway/gateway.js';

export type ModuleName = 'registry' | 'ingest' | 'rules' | 'sink' | 'gateway' | 'sim' | 'all';

export interface ModuleEnv {
  ctx: Context;
  ready: ReadyFn;
  /** Services already started in this process, by module name. */
  started: Map<ModuleName, Service>;
}

export interface ModuleDef {
  /** Modules this one cannot run without: a target that names it starts them too, first. */
  deps: ModuleName[];
  /** Modules that start before this one when the same target has them, without being pulled in. */
  after?: ModuleName[];
  /** Infrastructure modules are not user-visible targets. */
  hidden?: boolean;
  /** What the module needs from the infrastructure (sim needs neither: it speaks MQTT and HTTP). */
  needs: Array<'bus' | 'store'>;
  help: string;
  init?: (env: ModuleEnv) => Promise<Service>;
}

/** The registry view of this process, for a module that lists `registry` in its deps (so it started first). */
function registryOf(e: ModuleEnv): RegistryView {
  const s = e.started.get('registry') as Partial<RegistryService> | undefined;
  if (!s?.view) throw new Error('registry not started');
  return s.view;
}

export const MODULES: Record<ModuleName, ModuleDef> = {
  registry: { deps: [], hidden: true, needs: ['bus'], help: 'device registry view (from the registry topic)', init: async (e) => (await import('../platform/registry-view.js')).startRegistry(e.ctx) },
  ingest: { deps: ['registry'], needs: ['bus'], help: 'MQTT broker: device auth, ACL, validation, bridge to the bus', init: async (e) => (await import('../ingest/ingest.js')).startIngest(e.ctx, registryOf(e)) },
  rules: { deps: [], needs: ['bus'], help: 'NEWS2, window rules and the alert lifecycle', init: async (e) => (await import('../stream-rules/rules-role.js')).startRules(e.ctx) },
  sink: { deps: [], needs: ['bus', 'store'], help: 'bus to store, in batches', init: async (e) => (await import('../sink/sink.js')).startSink(e.ctx) },
  gateway: { deps: ['registry'], needs: ['bus', 'store'], help: 'REST, FHIR, WebSocket and the dashboard page', init: async (e) => (await import('../dashboard-gateway/gateway.js')).startGateway(e.ctx, registryOf(e), e.ready) },
  sim: { deps: [], after: ['ingest', 'gateway'], needs: [], help: 'simulated patients over MQTT, provisioned through the API', init: async (e) => (await import('../device-sim/fleet.js')).startSimulator(e.ctx.config, e.ctx.log) },
  all: { deps: ['ingest', 'rules', 'sink', 'gateway', 'sim'], needs: [], help: 'every role in one process' },
};

/** Everything a target's modules need from the infrastructure. */
export function infraNeeds(target: ModuleName): { bus: boolean; store: boolean } {
  const mods = orderedModules(target);
  return { bus: mods.some((m) => MODULES[m].needs.includes('bus')), store: mods.some((m) => MODULES[m].needs.includes('store')) };
}

/**
 * Dependency closure of a target in start order: each module after its `deps` and after those
 * of its `after` modules that the target includes.
 * @param target - the module or target to start
 * @param table - the module table (tests pass a variant)
 */
export function orderedModules(target: ModuleName, table: Record<ModuleName, ModuleDef> = MODULES): ModuleName[] {
  const cycle = (path: ModuleName[], m: ModuleName): Error => new Error(`module cycle: ${[...path, m].join(' -> ')}`);
  const members = new Set<ModuleName>();
  const collect = (m: ModuleName, path: ModuleName[]): void => {
    if (path.includes(m)) throw cycle(path, m);
    if (members.has(m)) return;
    for (const d of table[m].deps) collect(d, [...path, m]);
    members.add(m);
  };
  collect(target, []);
  const out: ModuleName[] = [];
  const visit = (m: ModuleName, path: ModuleName[]): void => {
    if (path.includes(m)) throw cycle(path, m);
    if (out.includes(m)) return;
    const def = table[m];
    for (const d of [...def.deps, ...(def.after ?? []).filter((a) => members.has(a))]) visit(d, [...path, m]);
    out.push(m);
  };
  for (const m of members) visit(m, []);
  return out;
}
