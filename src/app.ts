import type { KubeConfig } from '@kubernetes/client-node';
import type { Config, ServiceConfig } from './config/schema.js';
import { serviceConfig } from './config/own.js';
import { configSecrets as secretsOf } from './config/secrets.js';
import type { Actor, HealbotApi } from './engine/api.js';
import type { ProbeSet, Sensors } from './engine/diagnose.js';
import { Engine, type EngineLogger } from './engine/engine.js';
import { createProbe, redactingProbe } from './probes/index.js';
import { DnsProbe } from './probes/dns.js';
import { createLookup } from './probes/resolver.js';
import { createRedactor, type Redactor } from './redact.js';
import { CommandRuntime } from './runtimes/command.js';
import { DockerRuntime } from './runtimes/docker.js';
import { KubernetesRuntime } from './runtimes/kubernetes.js';
import type { Runtime } from './runtimes/runtime.js';
import { redactingStore } from './store/redacting-store.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { Store } from './store/store.js';

export interface HealbotOptions {
  logger?: EngineLogger;
  /** Overrides `config.store.path` (`:memory:` for a throwaway run). */
  storePath?: string;
  store?: Store;
  /** `HEALING_ENABLED=false` turns healing off: diagnose and plan only. */
  healingEnabled?: boolean;
  /** Builds the KubeConfig for a context (tests point it at a local API server). */
  kubeConfigFor?: (context?: string) => KubeConfig;
  /** Extra runtimes by service (the demo's local processes). */
  runtimes?: Record<string, Runtime>;
  now?: () => number;
}

export interface Healbot {
  /** The engine, as every door sees it. */
  api: HealbotApi;
  engine: Engine;
  store: Store;
  sensors: Sensors;
  redact: Redactor;
  config: Config;
  close(): Promise<void>;
}

/** Every configured secret value, so the redactor removes them verbatim wherever they appear. */
export const configSecrets = secretsOf;

function runtimeFor(name: string, service: ServiceConfig, redact: Redactor, options: HealbotOptions): Runtime | undefined {
  if (options.runtimes?.[name]) return options.runtimes[name];
  if (service.docker) return new DockerRuntime(service.docker, { redact });
  if (service.command) return new CommandRuntime(name, service.command, redact);
  if (service.kubernetes) return new KubernetesRuntime(service.kubernetes, { redact, kubeConfig: options.kubeConfigFor?.(service.kubernetes.context) });
  return undefined;
}

/** Who may approve actions on a service, from the service policy or the global and platform lists. */
export function approverPolicy(config: Config) {
  const approversOf = (service: string): string[] => {
    const policy = serviceConfig(config, service)?.policy.approvers ?? [];
    if (policy.length > 0) return policy;
    return [...config.healing.approvers, ...(config.slack?.approvers ?? []), ...(config.slack?.approverGroups ?? []), ...(config.discord?.approvers ?? []), ...(config.discord?.approverRoles ?? [])];
  };
  const mayApprove = (actor: Actor, service: string): boolean => {
    // The terminal and the token-protected API are the operator's own doors.
    if (actor.platform === 'cli' || actor.platform === 'console' || actor.platform === 'api') return true;
    const policy = serviceConfig(config, service)?.policy.approvers ?? [];
    const platformUsers = actor.platform === 'slack' ? (config.slack?.approvers ?? []) : (config.discord?.approvers ?? []);
    const platformRoles = actor.platform === 'slack' ? (config.slack?.approverGroups ?? []) : (config.discord?.approverRoles ?? []);
    const users = policy.length > 0 ? policy : [...config.healing.approvers, ...platformUsers];
    const roles = policy.length > 0 ? policy : [...config.healing.approvers, ...platformRoles];
    return users.includes(actor.id) || (actor.roles ?? []).some((role) => roles.includes(role));
  };
  return { approversOf, mayApprove };
}

/** The composition root: builds probes, runtimes, the store and the engine from config. */
export function createHealbot(config: Config, options: HealbotOptions = {}): Healbot {
  const redact = createRedactor(configSecrets(config));
  const lookup = createLookup(config.observer.dnsServers);
  const probes: Record<string, ProbeSet[]> = {};
  const runtimes: Record<string, Runtime | undefined> = {};
  for (const [name, service] of Object.entries(config.services)) {
    probes[name] = service.probes.map((probe) => ({ config: probe, probe: redactingProbe(createProbe(probe, lookup), redact) }));
    runtimes[name] = runtimeFor(name, service, redact, options);
  }
  const canaries = config.observer.canary.map((host) => new DnsProbe(`canary:${host}`, host, 3000, lookup));
  const sensors: Sensors = { config, probes, runtimes, canaries };
  const store = redactingStore(options.store ?? new SqliteStore(options.storePath ?? config.store.path), redact);
  const engine = new Engine({ config, sensors, store, redact, ...approverPolicy(config), logger: options.logger, now: options.now, healingEnabled: options.healingEnabled });
  engine.recover();
  return {
    api: engine,
    engine,
    store,
    sensors,
    redact,
    config,
    async close() {
      engine.close();
      await Promise.allSettled(Object.values(runtimes).map((r) => r?.close?.()));
      if (!options.store) store.close();
    },
  };
}
