import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import type { HealbotApi } from '../engine/api.js';
import type { EngineLogger } from '../engine/engine.js';
import { describeError } from '../errors.js';
import { watches } from '../engine/ci/rules.js';
import type { Redactor } from '../redact.js';
import type { Store } from '../store/store.js';
import { HttpError, readBody, sendJson } from './http.js';

export interface GitHubWebhookOptions {
  config: Config;
  engine: Pick<HealbotApi, 'heal' | 'open'> & { openIncidents(): Record<string, string> };
  store: Store;
  logger: EngineLogger;
  redact: Redactor;
  /** Tells a CI service's runtime that one of its runs changed, so a waiting verification looks now. */
  notify?: (service: string) => void;
}

const FAILED = new Set(['failure', 'timed_out']);

const runEvent = z.object({
  action: z.string(),
  workflow_run: z.object({
    id: z.number().int(),
    name: z.string().nullish(),
    path: z.string().optional(),
    head_branch: z.string().nullish(),
    run_number: z.number().int().optional(),
    run_attempt: z.number().int().optional(),
    status: z.string().nullish(),
    conclusion: z.string().nullish(),
  }),
  repository: z.object({ full_name: z.string() }),
});

const jobEvent = z.object({
  action: z.string(),
  workflow_job: z.object({
    run_id: z.number().int(),
    workflow_name: z.string().nullish(),
    head_branch: z.string().nullish(),
    conclusion: z.string().nullish(),
  }),
  repository: z.object({ full_name: z.string() }),
});

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Whether `X-Hub-Signature-256` is `sha256=` + the HMAC-SHA256 of the raw body with `secret`, compared in constant time. */
export function verifyGitHubSignature(raw: Buffer, header: string | undefined, secret: string): boolean {
  const expected = `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
  return timingSafeEqual(digest(header ?? ''), digest(expected));
}

/**
 * `POST /webhooks/github`: workflow_run and workflow_job deliveries. Verified by signature (401
 * otherwise), deduplicated by `X-GitHub-Delivery`; a completed run that failed or timed out, of a
 * workflow and branch a CI service watches, opens an incident through `Engine.heal` keyed by the
 * run and its attempt. Every delivery for a watched run also wakes a waiting verification.
 */
export function createGitHubWebhook(options: GitHubWebhookOptions) {
  const { config, engine, store, logger, redact } = options;
  const limit = config.server?.maxBodyBytes ?? 1024 * 1024;

  const servicesFor = (repo: string, run: { name?: string | null; path?: string; head_branch?: string | null }) =>
    Object.entries(config.services)
      .filter(
        ([, service]) =>
          service.github && service.github.repo.toLowerCase() === repo.toLowerCase() && watches(service.github, run),
      )
      .map(([name]) => name);

  return async function githubWebhook(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const secret = config.github?.webhookSecret;
    if (!secret)
      throw new HttpError(
        503,
        'github.webhookSecret is not configured: set it to the secret of the repository webhook',
      );
    const raw = await readBody(req, limit);
    const signature = req.headers['x-hub-signature-256'];
    if (!verifyGitHubSignature(raw, typeof signature === 'string' ? signature : undefined, secret)) {
      throw new HttpError(
        401,
        'X-Hub-Signature-256 does not match the body: check that github.webhookSecret is the webhook secret',
      );
    }
    const delivery = req.headers['x-github-delivery'];
    const event = req.headers['x-github-event'];
    if (typeof delivery !== 'string' || !/^[A-Za-z0-9-]{1,100}$/.test(delivery))
      throw new HttpError(400, 'missing or malformed X-GitHub-Delivery header');
    if (typeof event !== 'string') throw new HttpError(400, 'missing X-GitHub-Event header');
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (error) {
      throw new HttpError(400, `malformed JSON: ${describeError(error)}`);
    }
    if (!(await store.claimEvent(`github-delivery:${delivery}`))) {
      sendJson(res, 200, { delivery, duplicate: true, ignored: 'this delivery was already received' });
      return 200;
    }
    if (event === 'ping') {
      sendJson(res, 200, { delivery, ok: true });
      return 200;
    }
    if (event === 'workflow_job') {
      const parsed = jobEvent.safeParse(body);
      if (!parsed.success)
        throw new HttpError(
          400,
          `not a workflow_job payload: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}`,
        );
      const job = parsed.data.workflow_job;
      const services = servicesFor(parsed.data.repository.full_name, {
        name: job.workflow_name,
        head_branch: job.head_branch,
      });
      for (const service of services) options.notify?.(service);
      // Failed jobs can be re-run only once their run completed: the workflow_run event opens the incident.
      sendJson(res, 202, {
        delivery,
        event,
        services,
        ignored: 'a job event; the run opens the incident when it completes',
      });
      return 202;
    }
    if (event !== 'workflow_run') {
      sendJson(res, 202, { delivery, event, ignored: `healbot acts on workflow_run events, not ${event}` });
      return 202;
    }
    const parsed = runEvent.safeParse(body);
    if (!parsed.success)
      throw new HttpError(
        400,
        `not a workflow_run payload: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}`,
      );
    const { workflow_run: run, repository, action } = parsed.data;
    const services = servicesFor(repository.full_name, run);
    for (const service of services) options.notify?.(service);
    if (services.length === 0) {
      sendJson(res, 202, {
        delivery,
        event,
        services,
        ignored: `no service watches ${repository.full_name} ${run.name ?? run.path ?? ''} on ${run.head_branch ?? '?'}`,
      });
      return 202;
    }
    if (action !== 'completed' || !run.conclusion || !FAILED.has(run.conclusion)) {
      sendJson(res, 202, {
        delivery,
        event,
        services,
        ignored: `run ${run.id} is ${action}${run.conclusion ? ` (${run.conclusion})` : ''}; healbot acts on completed runs that failed or timed out`,
      });
      return 202;
    }
    const attempt = run.run_attempt ?? 1;
    const incidents: Record<string, string | undefined> = {};
    for (const service of services) {
      const summary = `CI · ${run.name ?? 'workflow'} on ${run.head_branch ?? '?'} ${run.conclusion === 'timed_out' ? 'timed out' : 'failed'} (run #${run.run_number ?? run.id}, attempt ${attempt})`;
      const fail = (error: unknown) =>
        logger.error({ service, delivery, err: redact(describeError(error)) }, 'heal from a GitHub delivery failed');
      try {
        const decision = await engine.open({
          service,
          source: 'webhook',
          summary,
          dedupeKey: `github-run:${repository.full_name}:${run.id}:${attempt}:${service}`,
        });
        decision.report?.catch(fail);
        incidents[service] = decision.incidentId ?? engine.openIncidents()[service];
      } catch (error) {
        fail(error);
      }
    }
    sendJson(res, 202, { delivery, event, services, incidents });
    return 202;
  };
}
