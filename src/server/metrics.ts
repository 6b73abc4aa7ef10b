import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { HealReport, ProgressEvent, ProbeResult } from '../engine/types.js';

export interface MetricsOptions {
  services: () => string[];
  breakerOpen: (service: string) => Promise<boolean>;
  /** The approvals waiting for a decision, read when /metrics is scraped. */
  pendingApprovals?: () => Promise<readonly { service: string }[]>;
  /** Process metrics (memory, CPU, event loop lag). @defaultValue true */
  processMetrics?: boolean;
}

/**
 * healbot's Prometheus metrics, in a Registry of its own (never the global one, so two
 * healbots in one process, as in tests, do not collide).
 */
export class HealbotMetrics {
  readonly registry = new Registry();
  private readonly incidentsOpened: Counter<'service' | 'source'>;
  private readonly healsAttempted: Counter<'service' | 'root_cause'>;
  private readonly healsSucceeded: Counter<'service' | 'root_cause'>;
  private readonly healsFailed: Counter<'service' | 'root_cause'>;
  private readonly outcomes: Counter<'service' | 'outcome'>;
  private readonly remediations: Counter<'service' | 'remediation' | 'result'>;
  private readonly timeToHeal: Histogram<'service'>;
  private readonly probeLatency: Histogram<'service' | 'probe' | 'ok'>;
  private readonly alerts: Counter<'source' | 'result'>;
  private readonly httpRequests: Counter<'route' | 'status'>;
  private readonly services = new Map<string, string>();
  /** The last result of each probe, by service then probe name, for the health gauge. */
  private readonly lastProbes = new Map<string, Map<string, boolean>>();

  constructor(options: MetricsOptions) {
    const registers = [this.registry];
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'healbot_' });
    this.incidentsOpened = new Counter({
      name: 'healbot_incidents_opened_total',
      help: 'Incidents opened, by service and source',
      labelNames: ['service', 'source'],
      registers,
    });
    this.healsAttempted = new Counter({
      name: 'healbot_heals_attempted_total',
      help: 'Incidents in which healbot acted, by service and root cause',
      labelNames: ['service', 'root_cause'],
      registers,
    });
    this.healsSucceeded = new Counter({
      name: 'healbot_heals_succeeded_total',
      help: 'Heals verified healthy, by service and root cause',
      labelNames: ['service', 'root_cause'],
      registers,
    });
    this.healsFailed = new Counter({
      name: 'healbot_heals_failed_total',
      help: 'Heals that acted and did not restore health, by service and root cause',
      labelNames: ['service', 'root_cause'],
      registers,
    });
    this.outcomes = new Counter({
      name: 'healbot_incident_outcomes_total',
      help: 'Closed incidents by outcome',
      labelNames: ['service', 'outcome'],
      registers,
    });
    this.remediations = new Counter({
      name: 'healbot_remediation_runs_total',
      help: 'Runs of each runbook (runbook:<name>) and built-in action (action:<kind>), by service and result',
      labelNames: ['service', 'remediation', 'result'],
      registers,
    });
    this.timeToHeal = new Histogram({
      name: 'healbot_time_to_heal_seconds',
      help: 'From the first failure signal (a Docker event, the first failing probe) to verified health',
      labelNames: ['service'],
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
      registers,
    });
    this.probeLatency = new Histogram({
      name: 'healbot_probe_duration_seconds',
      help: 'Probe latency',
      labelNames: ['service', 'probe', 'ok'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.alerts = new Counter({
      name: 'healbot_alerts_received_total',
      help: 'Alerts received, by source and what became of them',
      labelNames: ['source', 'result'],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'healbot_http_requests_total',
      help: 'HTTP requests, by route and status',
      labelNames: ['route', 'status'],
      registers,
    });
    new Gauge({
      name: 'healbot_breaker_open',
      help: '1 when the service breaker is open (no automatic attempts until /heal resume)',
      labelNames: ['service'],
      registers,
      async collect() {
        for (const service of options.services()) this.set({ service }, (await options.breakerOpen(service)) ? 1 : 0);
      },
    });
    const lastProbes = this.lastProbes;
    new Gauge({
      name: 'healbot_service_healthy',
      help: '1 when every probe of the service passed its last run, 0 when one failed (absent until one ran)',
      labelNames: ['service'],
      registers,
      collect() {
        for (const [service, probes] of lastProbes) this.set({ service }, [...probes.values()].every(Boolean) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'healbot_pending_approvals',
      help: 'Actions waiting for an approver, by service',
      labelNames: ['service'],
      registers,
      async collect() {
        const counts = new Map(options.services().map((service) => [service, 0]));
        for (const { service } of (await options.pendingApprovals?.()) ?? [])
          counts.set(service, (counts.get(service) ?? 0) + 1);
        for (const [service, count] of counts) this.set({ service }, count);
      },
    });
  }

  /** Feeds the metrics from the engine's progress events. */
  observe(event: ProgressEvent): void {
    switch (event.type) {
      case 'started':
        this.services.set(event.incident.id, event.incident.service);
        this.incidentsOpened.inc({ service: event.incident.service, source: event.incident.source });
        break;
      case 'probe':
        this.observeProbe(event.result);
        break;
      case 'done': {
        this.services.delete(event.incidentId);
        const { report } = event;
        const labels = { service: report.service, root_cause: report.rootCause.kind };
        this.outcomes.inc({ service: report.service, outcome: report.outcome });
        if (report.actions.length > 0) {
          this.healsAttempted.inc(labels);
          if (report.outcome === 'healed') this.healsSucceeded.inc(labels);
          else this.healsFailed.inc(labels);
        }
        for (const run of remediationRuns(report))
          this.remediations.inc({
            service: run.service,
            remediation: run.remediation,
            result: run.ok ? 'ok' : 'failed',
          });
        if (report.timeToHealMs !== undefined)
          this.timeToHeal.observe({ service: report.service }, report.timeToHealMs / 1000);
        break;
      }
      default:
        break;
    }
  }

  observeProbe(result: ProbeResult): void {
    let probes = this.lastProbes.get(result.service);
    if (!probes) this.lastProbes.set(result.service, (probes = new Map()));
    probes.set(result.name, result.ok);
    this.probeLatency.observe({ service: result.service, probe: result.name, ok: String(result.ok) }, result.ms / 1000);
  }

  countAlert(source: string, result: string): void {
    this.alerts.inc({ source, result });
  }

  countRequest(route: string, status: number): void {
    this.httpRequests.inc({ route, status: String(status) });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** What a closed incident ran: its runbook as one run, or each built-in action. */
function remediationRuns(report: HealReport): { service: string; remediation: string; ok: boolean }[] {
  if (report.runbook)
    return [
      {
        service: report.plan.find((s) => s.action !== 'manual')?.target ?? report.service,
        remediation: `runbook:${report.runbook.name}`,
        ok: report.outcome === 'healed',
      },
    ];
  return report.actions
    .filter((a) => a.action !== 'manual')
    .map((a) => ({ service: a.target, remediation: `action:${a.action}`, ok: a.ok && report.outcome === 'healed' }));
}
