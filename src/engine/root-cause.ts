import type { Observations, ServiceObservation } from './observation.js';
import { describeStopOnPurpose } from './intent.js';
import { ciRootCause } from './ci/rules.js';
import { refineWithPatterns } from './patterns/refine.js';
import { kubernetesRootCause } from './rules/kubernetes.js';
import { staleConfigCause } from './rules/stale-config.js';
import type { Evidence, ProbeResult, RootCause, RuntimeState } from './types.js';

const describeProbe = (p: ProbeResult): string =>
  `${p.name} ${p.ok ? 'ok' : 'failed'}${p.status !== undefined ? ` (${p.status})` : ''}${p.error && p.error !== `HTTP ${p.status}` ? `: ${p.error}` : ''}`;

const probeEvidence = (probes: ProbeResult[]): Evidence[] =>
  probes.map((p) => ({ source: 'probe', detail: `${p.service}/${describeProbe(p)}` }));

const formatBytes = (bytes: number): string =>
  bytes >= 1024 ** 3
    ? `${(bytes / 1024 ** 3).toFixed(1)} GiB`
    : bytes >= 1024 ** 2
      ? `${Math.round(bytes / 1024 ** 2)} MiB`
      : `${Math.round(bytes / 1024)} KiB`;

/** Describes memory limit and usage for OOM summaries, e.g. `memory limit 64 MiB, last usage 63 MiB`. */
export function describeMemory(state: RuntimeState): string {
  const parts: string[] = [];
  const limit = state.memory?.limitBytes ?? 0;
  if (limit > 0) parts.push(`memory limit ${formatBytes(limit)}`);
  else if (state.kubernetes?.memoryLimit) parts.push(`memory limit ${state.kubernetes.memoryLimit}`);
  else parts.push('no memory limit set');
  if (state.memory?.usageBytes) parts.push(`usage ${formatBytes(state.memory.usageBytes)}`);
  return parts.join(', ');
}

function runtimeEvidence(state: RuntimeState): Evidence {
  const bits = [`${state.runtime} ${state.target}: ${state.status}`];
  if (state.exitCode !== undefined && state.status !== 'running') bits.push(`exit code ${state.exitCode}`);
  if (state.oomKilled) bits.push('OOMKilled');
  if (state.restartCount) bits.push(`${state.restartCount} restarts`);
  if (state.health && state.health !== 'none') bits.push(`health ${state.health}`);
  if (state.error) bits.push(state.error);
  return { source: 'runtime', detail: bits.join(', ') };
}

/**
 * Probes that must work from inside the network: every probe but the outermost of a service
 * that has several (the outermost is usually public and reachable from anywhere).
 */
function internalProbes(observations: Observations): ProbeResult[] {
  return Object.values(observations.services).flatMap((s) =>
    (s.probes.length > 1 ? s.probes.slice(1) : s.probes).map((p) => p.result),
  );
}

/** Scenario 5: healbot cannot resolve what must exist, so it cannot tell "down" from "invisible". */
export function observerBlindness(observations: Observations): RootCause | undefined {
  const blindCanaries = observations.canaries.filter((c) => !c.ok && c.errorKind === 'dns');
  const internal = internalProbes(observations);
  const dnsFailures = internal.filter((p) => !p.ok && p.errorKind === 'dns');
  const runningButUnresolvable = dnsFailures.filter(
    (p) => observations.services[p.service]?.runtime?.status === 'running',
  );
  let confidence = 0;
  if (blindCanaries.length > 0) confidence = 0.95;
  else if (internal.length > 0 && dnsFailures.length === internal.length)
    confidence = new Set(dnsFailures.map((p) => p.host)).size > 1 ? 0.9 : 0.75;
  else if (runningButUnresolvable.length > 0) confidence = 0.8;
  if (confidence === 0) return undefined;
  const names = [...new Set([...blindCanaries, ...dnsFailures].map((p) => p.host).filter(Boolean))];
  const network =
    observations.observerNetwork ??
    [...new Set(Object.values(observations.services).flatMap((s) => s.runtime?.networks ?? []))]
      .filter((n) => n !== 'host')
      .join(' or ');
  const join = network ? `join healbot to the ${network} network` : 'attach healbot to the network the services run on';
  return {
    kind: 'observer_blind',
    service: '',
    summary: `healbot cannot resolve ${names.join(', ') || 'the internal names'}, so it cannot see the services; ${join}. Nothing was changed.`,
    confidence,
    evidence: [
      ...probeEvidence([...blindCanaries, ...dnsFailures]),
      ...(network ? [{ source: 'runtime' as const, detail: `services are on network ${network}` }] : []),
    ],
    layer: network || undefined,
  };
}

function fromRuntime(observation: ServiceObservation): RootCause | undefined {
  const state = observation.runtime;
  if (!state || state.error) return undefined;
  const { service } = observation;
  const evidence = [runtimeEvidence(state), ...probeEvidence(observation.probes.map((p) => p.result))];
  if (state.ci) return ciRootCause(service, state);
  const noun = {
    docker: 'container',
    kubernetes: 'deployment',
    process: 'process',
    command: 'service',
    github: 'pipeline',
  }[state.runtime];
  const what = state.target === service ? `the ${service} ${noun}` : `the ${service} ${noun} (${state.target})`;
  const onPurpose = describeStopOnPurpose(state);
  if (state.kubernetes) {
    const rc = kubernetesRootCause(
      service,
      state,
      observation.probes.map((p) => p.result),
    );
    return rc && onPurpose && rc.kind === 'scaled_to_zero'
      ? { ...rc, summary: `${rc.summary.split(';')[0]}: ${onPurpose}` }
      : rc;
  }
  if (state.status === 'missing')
    return { kind: 'service_down', service, summary: `${what} does not exist`, confidence: 0.9, evidence };
  if (state.oomKilled && state.status !== 'running') {
    return {
      kind: 'oom_killed',
      service,
      summary: `${what} was OOM-killed (exit ${state.exitCode ?? 137}); ${describeMemory(state)}`,
      confidence: 0.95,
      evidence,
    };
  }
  if (state.status === 'restarting') {
    return {
      kind: 'crash_loop',
      service,
      summary: `${what} keeps crashing (exit ${state.exitCode ?? '?'}, ${state.restartCount ?? 0} restarts)`,
      confidence: 0.9,
      evidence,
    };
  }
  if (state.status === 'paused')
    return {
      kind: 'service_down',
      service,
      summary: `${what} is paused${onPurpose ? `: ${onPurpose}` : ''}`,
      confidence: 0.9,
      evidence,
    };
  if (state.status === 'exited' || state.status === 'dead' || state.status === 'created') {
    const code =
      state.exitCode !== undefined ? ` (code ${state.exitCode}${state.exitCode === 137 ? ', killed' : ''})` : '';
    const verb =
      state.status === 'created' ? 'was never started' : onPurpose ? `was ${onPurpose}, and has exited` : 'has exited';
    return { kind: 'service_down', service, summary: `${what} ${verb}${code}`, confidence: 0.9, evidence };
  }
  return undefined;
}

// Only http(s) targets are URLs: `new URL('api:8000')` parses as scheme "api:" with origin "null".
const isHttp = (target: string) => /^https?:\/\//i.test(target);

function originOf(target: string): string {
  return isHttp(target) ? new URL(target).origin : target;
}

/** The host of an http(s) URL or of a `host:port` target. */
function hostOf(target: string): string {
  return isHttp(target) ? new URL(target).hostname : target.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
}

const isHealthy = (rc: RootCause) => rc.kind === 'healthy';

/**
 * Names the root cause for `service` from what the probes and runtimes saw: the innermost
 * failing layer whose inner neighbours are healthy, refined by the runtime, with dependencies
 * judged first so a dependent is never blamed for what its dependency did.
 */
export function determineRootCause(service: string, observations: Observations): RootCause {
  const blind = observerBlindness(observations);
  if (blind) return { ...blind, service };
  return rootCauseOf(service, observations, new Map());
}

/** Memoised per diagnosis: a dependency shared by several services is judged once. */
function rootCauseOf(service: string, observations: Observations, judged: Map<string, RootCause>): RootCause {
  const known = judged.get(service);
  if (known) return known;
  const observation = observations.services[service];
  const judgedHere = staleConfigCause(judge(service, observations, judged), observation?.runtime);
  const rc = refineWithPatterns(
    judgedHere,
    observation?.runtime,
    observation?.probes.map((p) => p.result) ?? [],
    observations.patterns,
  );
  judged.set(service, rc);
  return rc;
}

function judge(service: string, observations: Observations, judged: Map<string, RootCause>): RootCause {
  const observation = observations.services[service];
  if (!observation)
    return { kind: 'unknown', service, summary: `${service} was not observed`, confidence: 0, evidence: [] };
  const results = observation.probes.map((p) => p.result);
  const evidence = probeEvidence(results);
  const runtimeCause = fromRuntime(observation);
  if (runtimeCause) return runtimeCause;

  // A dependency healbot cannot observe at all (`unknown`) is no evidence that it is down.
  const unhealthyDeps = observation.dependsOn
    .map((dep) => rootCauseOf(dep, observations, judged))
    .filter((rc) => !isHealthy(rc) && rc.kind !== 'recreating' && rc.kind !== 'unknown');
  const runtimeBlind = observation.runtime?.error !== undefined;
  const cap = (rc: RootCause): RootCause =>
    runtimeBlind
      ? {
          ...rc,
          confidence: Math.min(rc.confidence, 0.5),
          evidence: [...rc.evidence, runtimeEvidence(observation.runtime!)],
        }
      : rc;

  const failing = results.filter((r) => !r.ok);
  const innermost = results.at(-1);
  if (failing.length === 0) {
    if (unhealthyDeps.length > 0) {
      const dep = unhealthyDeps[0];
      return cap({
        kind: 'dependency_down',
        service,
        layer: dep.service,
        summary: `${service} answers, but its dependency ${dep.service} is down: ${dep.summary}`,
        confidence: 0.7,
        evidence: [...evidence, { source: 'dependency', detail: `${dep.service}: ${dep.kind}` }],
        underlying: dep,
      });
    }
    if (observation.runtime?.health === 'unhealthy') {
      return {
        kind: 'service_unhealthy',
        service,
        summary: `${service} answers its probes but its runtime health check reports unhealthy`,
        confidence: 0.6,
        evidence: [...evidence, runtimeEvidence(observation.runtime)],
      };
    }
    const seen = results.length > 0 || (observation.runtime && !observation.runtime.error);
    return seen
      ? runtimeBlind
        ? cap({
            kind: 'healthy',
            service,
            summary: `${service} answers its probes, but its runtime could not be read`,
            confidence: 0.95,
            evidence,
          })
        : {
            kind: 'healthy',
            service,
            summary: `${service} is healthy`,
            confidence: 0.95,
            evidence: [...evidence, ...(observation.runtime ? [runtimeEvidence(observation.runtime)] : [])],
          }
      : {
          kind: 'unknown',
          service,
          summary: `${service} has neither probes nor a readable runtime`,
          confidence: 0,
          evidence,
        };
  }

  if (innermost && !innermost.ok) {
    if (unhealthyDeps.length > 0) {
      const dep = unhealthyDeps[0];
      return cap({
        kind: 'dependency_down',
        service,
        layer: dep.service,
        summary: `${service} fails because its dependency ${dep.service} is down: ${dep.summary}`,
        confidence: 0.85,
        evidence: [...evidence, { source: 'dependency', detail: `${dep.service}: ${dep.kind}` }],
        underlying: dep,
      });
    }
    const running = observation.runtime?.status === 'running';
    if (running && observation.runtime?.health === 'starting') {
      return {
        kind: 'recreating',
        service,
        layer: innermost.name,
        summary: `${service} is still starting (health check: starting); waiting for it rather than acting`,
        confidence: 0.8,
        evidence: [...evidence, runtimeEvidence(observation.runtime)],
      };
    }
    if (!running && (innermost.errorKind === 'refused' || innermost.errorKind === 'reset')) {
      return cap({
        kind: 'service_down',
        service,
        layer: innermost.name,
        summary: `${service} refuses connections on its ${innermost.name} probe`,
        confidence: observation.runtime ? 0.8 : 0.7,
        evidence,
      });
    }
    const noun = observation.runtime?.runtime === 'docker' ? 'container' : 'process';
    const where = running ? ` while its ${noun} is running` : '';
    if (innermost.status !== undefined && innermost.status >= 400 && innermost.status < 500) {
      // A 4xx is an answer from a live process: a wrong path, auth or routing, which a restart does not fix.
      return cap({
        kind: 'service_unhealthy',
        service,
        layer: innermost.name,
        summary: `${service}'s ${innermost.name} probe answers ${innermost.status}${where}; a restart is unlikely to fix a ${innermost.status}: check the probe's path and credentials`,
        confidence: 0.5,
        restartWontHelp: true,
        evidence,
      });
    }
    const why =
      innermost.errorKind === 'timeout'
        ? 'times out'
        : innermost.status !== undefined
          ? `answers ${innermost.status}`
          : `fails (${innermost.error})`;
    return cap({
      kind: 'service_unhealthy',
      service,
      layer: innermost.name,
      summary: `${service}'s ${innermost.name} probe ${why}${where}`,
      confidence: running ? 0.85 : 0.7,
      evidence: observation.runtime ? [...evidence, runtimeEvidence(observation.runtime)] : evidence,
    });
  }

  // The innermost layer works: blame the innermost failing layer whose inner neighbours are healthy.
  let index = results.length - 1;
  while (index > 0 && results[index].ok) index--;
  const broken = observation.probes[index];
  const inner = observation.probes[index + 1];
  const healthyInner = observation.probes.slice(index + 1).map((p) => p.config.name);
  const host = hostOf(broken.target);
  const route = broken.config.routesTo ?? (inner ? originOf(inner.target) : undefined);
  const why = broken.result.status !== undefined ? `answers ${broken.result.status}` : (broken.result.error ?? 'fails');
  const owned = broken.config.service !== undefined && broken.config.service !== service;
  const routing = !owned && route ? `: it has no working route for ${host} to ${route}` : '';
  return cap({
    kind: 'layer_broken',
    service,
    layer: broken.config.name,
    summary: `the ${broken.config.name} layer ${why} while ${healthyInner.join(' and ')} ${healthyInner.length > 1 ? 'are' : 'is'} healthy${routing}`,
    confidence: 0.9,
    evidence,
  });
}
