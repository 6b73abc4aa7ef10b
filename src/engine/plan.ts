import type { Config } from '../config/schema.js';
import { serviceConfig } from '../config/own.js';
import type { RuntimeAction } from './ports/runtime.js';
import { probeTarget } from './probe-target.js';
import { ciPlan } from './ci/rules.js';
import { serviceNamedBy } from './patterns/index.js';
import { describeMemory } from './root-cause.js';
import type { Diagnosis, PlanStep, RootCause } from './types.js';

export interface PlanContext {
  config: Config;
  diagnosis: Pick<Diagnosis, 'runtime'>;
  /** Whether `service`'s runtime can perform `action`; false when it has no runtime. */
  supports(service: string, action: RuntimeAction['action']): boolean;
}

const manual = (target: string, reason: string): PlanStep => ({ action: 'manual', target, risk: 'manual', reason });

/** The restart-like action that fits the service's runtime and state. */
function restartStep(rc: RootCause, target: string, ctx: PlanContext, reason: string): PlanStep {
  const state = ctx.diagnosis.runtime[target];
  if (!state)
    return manual(
      target,
      `${reason}; ${target} has no runtime configured, so healbot cannot restart it: restart it by hand`,
    );
  if (state.error)
    return manual(
      target,
      `healbot cannot read ${target}'s runtime (${state.error}), so it will not act on it: check it by hand`,
    );
  if (state.status === 'missing')
    return manual(target, `${state.target} does not exist: recreate it (e.g. \`docker compose up -d ${target}\`)`);
  if (state.status === 'paused' && ctx.supports(target, 'unpause'))
    return { action: 'unpause', target, risk: 'risky', reason };
  if (state.runtime === 'kubernetes' && ctx.supports(target, 'rollout_restart'))
    return { action: 'rollout_restart', target, risk: 'risky', reason };
  const stopped = state.status === 'exited' || state.status === 'created' || state.status === 'dead';
  if (stopped && ctx.supports(target, 'start')) return { action: 'start', target, risk: 'risky', reason };
  if (ctx.supports(target, 'restart')) return { action: 'restart', target, risk: 'risky', reason };
  return manual(target, `${reason}; ${state.runtime} runtime of ${target} cannot restart it: do it by hand`);
}

/**
 * Turns a root cause into steps. Never a step on a healthy service or on one healbot cannot
 * see; an unknown or unsure root cause only escalates with what was seen.
 */
export function planFor(rc: RootCause, ctx: PlanContext): PlanStep[] {
  const threshold = ctx.config.healing.confidenceThreshold;
  switch (rc.kind) {
    case 'healthy':
      return [];
    case 'recreating':
      return [];
    case 'observer_blind':
      return [
        manual(rc.service, rc.summary.replace(/ Nothing was changed\.$/, '') + ' Until then healbot changes nothing.'),
      ];
    case 'unknown':
      return [
        manual(rc.service, `healbot could not name a root cause: ${rc.summary}. Look at the evidence and act by hand`),
      ];
    default:
      break;
  }
  if (rc.restartWontHelp) return [manual(rc.service, `${rc.summary}. healbot does not restart a service that answers`)];
  if (rc.confidence < threshold) {
    return [
      manual(
        rc.service,
        `healbot is not sure (confidence ${rc.confidence.toFixed(2)} < ${threshold}): ${rc.summary}. Check by hand`,
      ),
    ];
  }
  // The service's own words say a restart only repeats the failure.
  if (rc.pattern && !rc.pattern.restartHelps && rc.pattern.confidence >= threshold) {
    const named =
      rc.pattern.id === 'connection_refused' || rc.pattern.id === 'dns_failure'
        ? serviceNamedBy(rc.pattern.subject, ctx.config)
        : undefined;
    const next = named && named !== rc.service ? `; ${named} is a configured service: /heal ${named}` : '';
    return [manual(rc.service, `${rc.pattern.advice} (pattern ${rc.pattern.id})${next}`)];
  }
  switch (rc.kind) {
    case 'dependency_down':
      return rc.underlying ? planFor(rc.underlying, ctx) : [manual(rc.layer ?? rc.service, rc.summary)];
    case 'layer_broken': {
      const probe = serviceConfig(ctx.config, rc.service)?.probes.find((p) => p.name === rc.layer);
      const owner = probe?.service;
      if (owner && owner !== rc.service)
        return [
          restartStep(
            rc,
            owner,
            ctx,
            `the ${rc.layer} layer (${owner}) is broken while the layers behind it are healthy`,
          ),
        ];
      const target = probe ? probeTarget(probe) : rc.layer;
      const route = / for (\S+) to (\S+)$/.exec(rc.summary);
      const fix = route
        ? `route ${route[1]} → ${route[2]} in the ${rc.layer} layer's configuration (tunnel ingress or edge route)`
        : `fix the ${rc.layer} layer (${target})`;
      return [manual(rc.service, `${fix}; do not restart ${rc.service}, it is healthy`)];
    }
    case 'service_down':
    case 'service_unhealthy':
    case 'crash_loop':
    case 'stale_config':
      return [restartStep(rc, rc.service, ctx, rc.summary)];
    case 'oom_killed': {
      const state = ctx.diagnosis.runtime[rc.service];
      return [
        restartStep(
          rc,
          rc.service,
          ctx,
          `${rc.summary}; a restart brings it back, but raise the memory limit or fix the leak${state ? ` (${describeMemory(state)})` : ''}`,
        ),
      ];
    }
    case 'scaled_to_zero': {
      const state = ctx.diagnosis.runtime[rc.service];
      const replicas =
        serviceConfig(ctx.config, rc.service)?.kubernetes?.replicas ?? state?.kubernetes?.lastKnownReplicas;
      if (!replicas || !ctx.supports(rc.service, 'scale'))
        return [
          manual(rc.service, `${rc.summary}; healbot does not know how many replicas to restore: scale it by hand`),
        ];
      const source = state?.kubernetes?.replicasSource;
      return [
        {
          action: 'scale',
          target: rc.service,
          risk: 'risky',
          reason: `${rc.summary}; scale back to ${replicas}${source ? ` (from ${source})` : ''}`,
          params: { replicas },
        },
      ];
    }
    case 'pipeline_failed':
      return ciPlan(
        rc,
        ctx.config,
        ctx.diagnosis.runtime[rc.service],
        (action) =>
          action !== 'manual' && action !== 'command' && action !== 'runbook' && ctx.supports(rc.service, action),
      );
    case 'bad_rollout': {
      const previous = ctx.diagnosis.runtime[rc.service]?.kubernetes?.rollout?.previous;
      if (!previous || !ctx.supports(rc.service, 'rollout_undo'))
        return [manual(rc.service, `${rc.summary}: undo it by hand (kubectl rollout undo)`)];
      return [
        {
          action: 'rollout_undo',
          target: rc.service,
          risk: 'risky',
          reason: rc.summary,
          params: { revision: previous.revision, image: previous.images.join(', ') },
        },
      ];
    }
    case 'image_pull_failed':
    case 'no_endpoints':
      return [manual(rc.service, `${rc.summary}. Restarting will not help; fix it by hand`)];
    default:
      return [manual(rc.service, rc.summary)];
  }
}
