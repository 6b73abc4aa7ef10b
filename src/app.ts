import type { KubeConfig } from '@kubernetes/client-node';
import type { Config, ServiceConfig } from './config/schema.js';
import { configSecrets as secretsOf } from './config/secrets.js';
import type { HealbotApi } from './engine/api.js';
import type { ProbeSet, Sensors } from './engine/diagnose.js';
import { approverPolicy } from './engine/approver-policy.js';
import { Engine, type EngineLogger } from './engine/engine.js';
import { createProbe, redactingProbe } from './probes/index.js';
import { DnsProbe } from './probes/dns.js';
import { createLookup } from './probes/resolver.js';
import { createRedactor, type Redactor } from './redact.js';
import { CommandRuntime } from './runtimes/command.js';
import { dockerModule, kubernetesModule, loadRuntimes } from './runtimes/load.js';
import { GitHubActionsRuntime } from './runtimes/github-actions.js';
import { ConfigError } from './errors.js';
import { runArgv } from './runtimes/argv-runner.js';
import type { Runtime } from './runtimes/runtime.js';
import { AlertmanagerSilences } from './silences/alertmanager-silences.js';
import { redactingStore } from './store/redacting-store.js';
import { SqliteStore } from './store/sqlite-store.js';
import { claimStoreOwnership, type StoreOwnership } from './store/store-owner.js';
import type { Store } from './store/store.js';

export interface HealbotOptions {
  logger?: EngineLogger;
  /** Overrides `config.store.path` (`:memory:` for a throwaway run). */
  storePath?: string;
  store?: Store;
  /**
   * The store is shared between processes (Postgres): the leading `serve` recovers it (leadership
   * is its ownership), a CLI run (`client`) never does.
   */
  sharedStore?: 'leader' | 'client';
  /** `HEALING_ENABLED=false` turns healing off: diagnose and plan only. */
  healingEnabled?: boolean;
  /** Builds the KubeConfig for a context (tests point it at a local API server). */
  kubeConfigFor?: (context?: string) => KubeConfig;
  /** Extra runtimes by service (the demo's local processes). */
  runtimes?: Record<string, Runtime>;
  now?: () => number;
  /** Fencing: why this process must not act right now (it lost its Lease). */
  mayAct?: () => string | undefined;
  /** The redactor, when the caller built it already (serve builds one for its logger too). */
  redact?: Redactor;
}

export interface Healbot {
  /** The engine, as every door sees it. */
  api: HealbotApi;
  engine: Engine;
  store: Store;
  sensors: Sensors;
  redact: Redactor;
  config: Config;
  /**
   * Claims the store for this process (the serving leader, or a `heal`) and recovers the
   * incidents a previous owner left open. False when another live process owns it: then
   * nothing is recovered here. A diagnosis never calls this.
   */
  takeOwnership(): Promise<boolean>;
  close(): Promise<void>;
}

/** Every configured secret value, so the redactor removes them verbatim wherever they appear. */
export const configSecrets = secretsOf;

/** Loads the runtime modules a config needs; call it before {@link createHealbot}. */
export { loadRuntimes };

function runtimeFor(
  name: string,
  service: ServiceConfig,
  config: Config,
  redact: Redactor,
  options: HealbotOptions,
): Runtime | undefined {
  if (options.runtimes?.[name]) return options.runtimes[name];
  if (service.github && config.github) {
    return new GitHubActionsRuntime(service.github, {
      token: config.github.token,
      apiUrl: config.github.apiUrl,
      timeoutMs: config.github.timeoutMs,
      redact,
      breaker: service.policy.breaker ?? config.breaker,
      now: options.now,
    });
  }
  if (service.docker) return new (dockerModule().DockerRuntime)(service.docker, { redact });
  if (service.command) return new CommandRuntime(name, service.command, redact);
  if (service.kubernetes) {
    const { KUBERNETES_DEFAULTS, KubernetesRuntime } = kubernetesModule();
    const requestTimeoutMs = Math.min(KUBERNETES_DEFAULTS.requestTimeoutMs, config.healing.actionTimeout);
    try {
      return new KubernetesRuntime(service.kubernetes, {
        redact,
        requestTimeoutMs,
        kubeConfig: options.kubeConfigFor?.(service.kubernetes.context),
      });
    } catch (error) {
      if (error instanceof ConfigError)
        throw new ConfigError(
          error.problems.map((p) => ({ path: `services.${name}.kubernetes.${p.path}`, message: p.message })),
        );
      throw error;
    }
  }
  return undefined;
}

/** The composition root: builds probes, runtimes, the store and the engine from config. */
export function createHealbot(config: Config, options: HealbotOptions = {}): Healbot {
  const redact = options.redact ?? createRedactor(configSecrets(config));
  const lookup = createLookup(config.observer.dnsServers);
  const probes: Record<string, ProbeSet[]> = {};
  const runtimes: Record<string, Runtime | undefined> = {};
  for (const [name, service] of Object.entries(config.services)) {
    probes[name] = service.probes.map((probe) => ({
      config: probe,
      probe: redactingProbe(createProbe(probe, lookup), redact),
    }));
    runtimes[name] = runtimeFor(name, service, config, redact, options);
  }
  const canaries = config.observer.canary.map((host) => new DnsProbe(`canary:${host}`, host, 3000, lookup));
  const sensors: Sensors = { config, probes, runtimes, canaries };
  const storePath = options.storePath ?? config.store.path;
  const store = redactingStore(options.store ?? new SqliteStore(storePath), redact);
  let ownership: StoreOwnership | undefined;
  const engine = new Engine({
    config,
    sensors,
    store,
    redact,
    ...approverPolicy(config),
    logger: options.logger,
    now: options.now,
    healingEnabled: options.healingEnabled,
    mayAct: options.mayAct,
    runCommand: runArgv,
    silencer: config.alertmanager ? new AlertmanagerSilences(config.alertmanager.url) : undefined,
  });
  return {
    api: engine,
    engine,
    store,
    sensors,
    redact,
    config,
    async takeOwnership() {
      if (options.sharedStore === 'client') return false;
      if (storePath !== ':memory:' && !options.store) {
        ownership ??= claimStoreOwnership(storePath);
        if (!ownership) return false;
      }
      await engine.recover();
      return true;
    },
    async close() {
      ownership?.release();
      engine.close();
      await Promise.allSettled(Object.values(runtimes).map((r) => r?.close?.()));
      if (!options.store) await store.close();
    },
  };
}
