import { classifyError, type ErrorCategory, type ErrorClassification } from '../classify/error-classifier.js';
import type { Config } from '../config/schema.js';
import type { TrackOutcome } from '../engine/api.js';
import type { Engine, EngineLogger } from '../engine/engine.js';
import type { AlertContext, RootCause } from '../engine/types.js';
import { webLink } from '../server/alert-context.js';
import type { Redactor } from '../redact.js';
import type { Store } from '../store/store.js';
import type { AppError } from './app-error.js';
import { dependencyService } from './dependency-service.js';
import type { GitHubRoutes } from './github-routes.js';
import { chooseRoute, type Route, type RouteAction } from './routes.js';

/** What became of one application error. */
export interface RoutedError {
  id: string;
  /** routed: an incident was opened; duplicate: this occurrence was routed before; unmatched: no configured service. */
  result: 'routed' | 'duplicate' | 'unmatched';
  service?: string;
  category?: ErrorCategory;
  confidence?: number;
  action?: RouteAction;
  incidentId?: string;
  reason?: string;
}

export interface ErrorRouterOptions {
  config: Config;
  engine: Pick<Engine, 'track' | 'heal'>;
  store: Store;
  redact: Redactor;
  github?: GitHubRoutes;
  logger?: EngineLogger;
}

const where = (error: AppError) =>
  error.file ? `${error.file}${error.line !== undefined ? `:${error.line}` : ''}` : undefined;
/** Outside text in a Markdown code span or fence: backticks cannot close it, mentions inside do not notify. */
const fenced = (text: string) => '```\n' + text.replace(/```/g, "'''") + '\n```';
const SOURCE_NAME = { sentry: 'Sentry', logfire: 'Logfire' } as const;

function errorContext(error: AppError): AlertContext {
  const link = webLink(error.link);
  return {
    summary: error.title,
    description: error.culprit,
    links: link ? [{ label: `Open in ${SOURCE_NAME[error.source]}`, url: link }] : [],
    labels: error.labels,
    source: error.source,
  };
}

/**
 * Routes application errors: maps each to a service, classifies it, picks the route from the
 * matrix and runs it as an incident whose thread says what was recognised, what was done and
 * where (the workflow runs, the issue, the Sentry or Logfire link).
 */
export class ErrorRouter {
  private readonly pending = new Set<Promise<unknown>>();
  /** Issue work per fingerprint runs one at a time, so two occurrences never open two issues. */
  private readonly issueQueues = new Map<string, Promise<unknown>>();

  constructor(private readonly options: ErrorRouterOptions) {}

  /** The configured service: the sender's tag or attribute first, then the project map. */
  serviceFor(error: AppError): string | undefined {
    const { services } = this.options.config;
    if (error.service !== undefined && Object.hasOwn(services, error.service)) return error.service;
    const projects = this.options.config[error.source]?.projects ?? {};
    if (error.project !== undefined && Object.hasOwn(projects, error.project)) return projects[error.project];
    return undefined;
  }

  /**
   * Opens an incident per new error before answering (the store's atomic claim of the error's
   * key decides, so a redelivery racing it is a duplicate) and routes it in the background.
   */
  async accept(errors: AppError[]): Promise<RoutedError[]> {
    const routed: RoutedError[] = [];
    for (const error of errors) routed.push(await this.acceptOne(error));
    return routed;
  }

  private async acceptOne(error: AppError): Promise<RoutedError> {
    const { store, engine, logger } = this.options;
    const service = this.serviceFor(error);
    if (!service) {
      const named = [error.service && `service "${error.service}"`, error.project && `project "${error.project}"`]
        .filter(Boolean)
        .join(' and ');
      return {
        id: error.id,
        result: 'unmatched',
        reason: named
          ? `${named} is not mapped to a configured service (${error.source}.projects)`
          : `no service tag and no project in the payload`,
      };
    }
    const key = `app-error:${error.source}:${error.id}`;
    const prior = await store.eventIncident(key);
    if (prior !== undefined) return { id: error.id, result: 'duplicate', service, incidentId: prior };
    const classification = classifyError({ type: error.type, message: error.message, platform: error.platform });
    const { route } = chooseRoute(classification, service, this.options.config.routes);
    const rootCause: RootCause = {
      kind: 'unknown',
      service,
      summary: `${classification.category.replace('_', ' ')} in ${service}: ${error.title}`,
      confidence: classification.confidence,
      evidence: [
        {
          source: 'policy',
          detail: `${SOURCE_NAME[error.source]}: ${classification.reason} (${classification.language}); route: ${route.do}`,
        },
      ],
    };
    const tracked = await engine.track(
      {
        service,
        source: error.source,
        summary: error.title,
        rootCause,
        dedupeKey: key,
        context: errorContext(error),
      },
      (say, incidentId) => this.run(error, service, classification, route, incidentId, say),
    );
    if (tracked.duplicate) return { id: error.id, result: 'duplicate', service, incidentId: tracked.incidentId };
    const work = tracked.report.catch((err: unknown) =>
      logger?.error({ err, service, error: error.id }, 'routing an application error failed'),
    );
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
    return {
      id: error.id,
      result: 'routed',
      service,
      category: classification.category,
      confidence: classification.confidence,
      action: route.do,
      incidentId: tracked.incidentId,
    };
  }

  private async run(
    error: AppError,
    service: string,
    classification: ErrorClassification,
    route: Route,
    incidentId: string,
    say: (message: string) => void,
  ): Promise<TrackOutcome> {
    const { config, github } = this.options;
    // The route is this incident's escalation: taking GitHub escalation's once-per-incident claim keeps it from opening a second issue.
    await this.options.store.claimEvent(`github-issue:${incidentId}`, incidentId);
    const facts = [where(error), error.traceId && `trace ${error.traceId}`, error.link].filter(Boolean).join(' · ');
    say(
      `*${SOURCE_NAME[error.source]}:* ${error.title}${facts ? `\n${facts}` : ''}\nClassified *${classification.category.replace('_', ' ')}* (confidence ${classification.confidence.toFixed(2)}: ${classification.reason}); route: *${route.do}*`,
    );
    let action = route.do;
    if ((action === 'dispatch' || action === 'issue') && !github) {
      say(
        `GitHub is not configured (github: { repo, token }), so healbot cannot ${action === 'dispatch' ? 'trigger the fix workflow' : 'open an issue'}: alerting only.`,
      );
      action = 'alert';
    }
    const link = error.link ? ` ${SOURCE_NAME[error.source]}: ${error.link}` : '';
    switch (action) {
      case 'heal':
        return this.heal(error, service, classification, say);
      case 'dispatch': {
        const runs = await github!.dispatch({
          error_message: error.message,
          file: error.file ?? null,
          line: error.line ?? null,
          trace_id: error.traceId ?? null,
          service,
          incident: incidentId,
        });
        return {
          outcome: 'escalated',
          summary: `Triggered the fix workflow (repository_dispatch error-detected on ${config.github!.repo}): ${runs}${link}`,
        };
      }
      case 'issue':
        return this.fileIssue(error, service, classification, incidentId, link);
      case 'block': {
        await this.options.store.setPaused(service, true);
        await this.options.store.appendAudit({
          at: new Date().toISOString(),
          incidentId,
          service,
          event: 'paused',
          actor: 'healbot:security-route',
          detail: { error: error.id, fingerprint: error.fingerprint },
        });
        return {
          outcome: 'escalated',
          summary: `Security issue in ${service}: automatic healing of ${service} is paused until someone runs /heal resume ${service}.${link}`,
          escalation: config.oncall.join(' ') || undefined,
        };
      }
      default:
        return {
          outcome: 'escalated',
          summary: `Alert only (${classification.category.replace('_', ' ')}): nothing automated.${link}`,
        };
    }
  }

  /** A dependency the error names is healed through the engine's own pipeline; without one, the error's own service. */
  private async heal(
    error: AppError,
    service: string,
    classification: ErrorClassification,
    say: (message: string) => void,
  ): Promise<TrackOutcome> {
    const address = classification.dependency;
    const named = address?.host ? `${address.host}${address.port !== undefined ? `:${address.port}` : ''}` : undefined;
    const target = address ? (named ? dependencyService(this.options.config, address, service) : undefined) : service;
    if (!target)
      return {
        outcome: 'escalated',
        summary: `${service} cannot reach ${named ?? 'a dependency'} (${address?.failure}), which is no configured service: alerting only.`,
      };
    if (target !== service)
      say(
        `The code is not at fault: ${named} (${address!.failure}) is *${target}*. Handing it to healbot's diagnosis of ${target}.`,
      );
    const report = await this.options.engine.heal({
      service: target,
      source: error.source,
      summary: `${service}: ${error.title}`,
    });
    return {
      outcome: report.outcome,
      summary: `Healing ${target} (incident ${report.incidentId}): ${report.summary}`,
      escalation: report.escalation,
    };
  }

  /** One issue per fingerprint: the first occurrence opens it, later ones comment with their count. */
  private fileIssue(
    error: AppError,
    service: string,
    classification: ErrorClassification,
    incidentId: string,
    link: string,
  ): Promise<TrackOutcome> {
    const previous = this.issueQueues.get(error.fingerprint) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(() => this.openOrComment(error, service, classification, incidentId, link));
    this.issueQueues.set(error.fingerprint, next);
    void next
      .finally(() => {
        if (this.issueQueues.get(error.fingerprint) === next) this.issueQueues.delete(error.fingerprint);
      })
      .catch(() => undefined);
    return next;
  }

  private async openOrComment(
    error: AppError,
    service: string,
    classification: ErrorClassification,
    incidentId: string,
    link: string,
  ): Promise<TrackOutcome> {
    const { store, github } = this.options;
    const key = `github-issue-for:${error.fingerprint}`;
    const known = await store.eventIncident(key);
    await store.appendAudit({
      at: new Date().toISOString(),
      incidentId,
      service,
      event: 'error_occurrence',
      detail: { fingerprint: error.fingerprint, error: error.id },
    });
    const details = [
      `- **Service:** ${service}`,
      `- **Category:** ${classification.category} (confidence ${classification.confidence.toFixed(2)}; ${classification.reason}, ${classification.language})`,
      where(error) && `- **Where:** \`${where(error)!.replace(/`/g, "'")}\``,
      error.traceId && `- **Trace id:** \`${error.traceId}\``,
      error.link && `- **${SOURCE_NAME[error.source]}:** ${error.link}`,
      `- **healbot incident:** \`${incidentId}\``,
      `- **Fingerprint:** \`${error.fingerprint}\``,
    ].filter(Boolean);
    if (known !== undefined) {
      const occurrences = (await store.listAudit({ service })).filter(
        (e) => e.event === 'error_occurrence' && e.detail.fingerprint === error.fingerprint,
      ).length;
      const url = await github!.comment(
        Number(known),
        [`Seen again (occurrence ${occurrences}):`, '', fenced(error.title), '', ...details].join('\n'),
      );
      return {
        outcome: 'escalated',
        summary: `Seen before: counted on issue #${known} (occurrence ${occurrences}): ${url}${link}`,
      };
    }
    const labels = Object.entries(error.labels).map(
      ([k, v]) => `| ${k.replace(/\|/g, '/')} | ${v.replace(/\|/g, '/')} |`,
    );
    const body = [
      `healbot routed an application error from ${SOURCE_NAME[error.source]} here for a human.`,
      '',
      fenced(`${error.title}${error.message && !error.title.includes(error.message) ? `\n${error.message}` : ''}`),
      '',
      ...details,
      ...(labels.length > 0 ? ['', '| label | value |', '|---|---|', ...labels] : []),
      '',
      '_Later occurrences of this error are counted here as comments._',
    ].join('\n');
    const issue = await github!.openIssue({
      title: `${service}: ${classification.category.replace('_', ' ')}: ${error.title}`.slice(0, 240),
      body,
      labels: ['healbot', `error:${classification.category}`],
    });
    await store.claimEvent(key, String(issue.number));
    return { outcome: 'escalated', summary: `Opened issue #${issue.number}: ${issue.url}${link}` };
  }

  /** Waits for routing in flight (shutdown and tests). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
