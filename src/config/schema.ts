import { z } from 'zod';
import { routeSchema } from '../app-errors/routes.js';
import { duration } from './duration.js';
import { argv, safeName } from './names.js';
import { patternSchema, runbookSchema } from './runbook-schema.js';

export { SAFE_NAME } from './names.js';

const httpProbe = z.union([
  z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  z.strictObject({
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    expectStatus: z.union([z.number().int(), z.array(z.number().int()).min(1)]).optional(),
    expectBody: z.string().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    timeoutMs: duration.optional(),
  }),
]);

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/, 'must be host:port');

export const probeSchema = z
  .strictObject({
    name: safeName('probe name'),
    http: httpProbe.optional(),
    tcp: hostPort.optional(),
    dns: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'must be a host name')
      .optional(),
    command: argv.optional(),
    timeoutMs: duration.default(5000),
    /** The configured service that serves this layer (e.g. the proxy), so healbot can heal it. */
    service: safeName('service name').optional(),
    /** What this layer should route to, used to phrase the fix when the layer is broken. */
    routesTo: z.string().optional(),
  })
  .superRefine((probe, ctx) => {
    const kinds = (['http', 'tcp', 'dns', 'command'] as const).filter((k) => probe[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          kinds.length === 0
            ? 'needs one of http, tcp, dns or command'
            : `has ${kinds.join(' and ')}; a probe checks one thing`,
      });
    }
  });

const dockerRuntime = z
  .strictObject({
    container: safeName('container name').optional(),
    labels: z.record(z.string(), z.string()).optional(),
    /** Docker host, e.g. unix:///var/run/docker.sock or tcp://127.0.0.1:2375; defaults to DOCKER_HOST. */
    host: z.string().optional(),
    /** Files the container reads at start (an env file, a config): changed since it started means stale_config. */
    configFiles: z.array(z.string().regex(/^\//, 'must be an absolute path')).optional(),
  })
  .refine((d) => (d.container === undefined) !== (d.labels === undefined), 'needs exactly one of container or labels');

const commandRuntime = z.strictObject({
  restart: argv,
  status: argv.optional(),
  start: argv.optional(),
  logs: argv.optional(),
  timeoutMs: duration.default(60_000),
});

const kubernetesRuntime = z.strictObject({
  namespace: safeName('namespace').default('default'),
  deployment: safeName('deployment name'),
  service: safeName('Service name').optional(),
  context: z.string().optional(),
  replicas: z.number().int().min(1).optional(),
  container: safeName('container name').optional(),
});

const ownerName = z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must be owner/name');

/** A GitHub Actions pipeline as a service: failed runs of its workflows are incidents. */
const githubRuntime = z.strictObject({
  repo: ownerName,
  /** Workflow names or file names (`build.yml`); empty means every workflow of the repo. */
  workflows: z.array(z.string().min(1)).default([]),
  /** Branches whose runs count; empty means every branch. */
  branches: z.array(z.string().min(1)).default([]),
  /** A repair workflow started with repository_dispatch (risky, needs approval) for these kinds of failure. */
  repair: z
    .strictObject({
      eventType: z.string().min(1).max(100),
      on: z
        .array(z.enum(['lockfile', 'test_failure', 'disk_full']))
        .min(1)
        .default(['lockfile']),
    })
    .optional(),
  /** How often a re-run is polled while waiting for its conclusion (a webhook wakes it sooner). */
  pollInterval: duration.default(15_000),
  /** How long to wait for a re-run's conclusion. */
  verifyTimeout: duration.default(30 * 60_000),
  /** Lines of each failed job's log to read, from its end. */
  logLines: z.number().int().min(10).max(5000).default(200),
});

const breakerSchema = z.strictObject({
  threshold: z.number().int().min(1).default(3),
  window: duration.default(3_600_000),
});

export const policySchema = z.strictObject({
  /** Plan actions that may run without approval, e.g. [restart]. */
  auto: z.array(z.enum(['restart', 'start', 'unpause', 'scale', 'rollout_restart', 'delete_pod'])).default([]),
  /** Chat user ids, Discord role ids or `@group` handles allowed to approve; empty means the global list. */
  approvers: z.array(z.string().min(1)).default([]),
  twoApprovers: z.boolean().default(false),
  cooldown: duration.default(0),
  breaker: breakerSchema.optional(),
});

const alertMatchSchema = z.strictObject({
  /** Alert labels that must all match (exact strings) for an alert to map to this service. */
  labels: z.record(z.string(), z.string()).default({}),
});

export const serviceSchema = z
  .strictObject({
    docker: dockerRuntime.optional(),
    command: commandRuntime.optional(),
    kubernetes: kubernetesRuntime.optional(),
    github: githubRuntime.optional(),
    probes: z.array(probeSchema).default([]),
    dependsOn: z.array(safeName('service name')).default([]),
    policy: policySchema.prefault({}),
    alerts: z.array(alertMatchSchema).default([]),
    description: z.string().optional(),
  })
  .superRefine((service, ctx) => {
    const runtimes = (['docker', 'command', 'kubernetes', 'github'] as const).filter((k) => service[k] !== undefined);
    if (runtimes.length > 1)
      ctx.addIssue({ code: 'custom', message: `has ${runtimes.join(' and ')}; a service has one runtime` });
  });

const slackSchema = z.strictObject({
  mode: z.enum(['socket', 'http']).default('socket'),
  botToken: z.string().min(1),
  signingSecret: z.string().optional(),
  appToken: z.string().optional(),
  apiUrl: z.url().optional(),
  alertChannels: z.array(z.string()).default([]),
  approvers: z.array(z.string()).default([]),
  approverGroups: z.array(z.string()).default([]),
  matchers: z.array(z.strictObject({ pattern: z.string(), service: safeName('service name') })).default([]),
});

const discordSchema = z.strictObject({
  token: z.string().min(1),
  applicationId: z.string().min(1),
  guildId: z.string().optional(),
  apiUrl: z.url().optional(),
  alertChannels: z.array(z.string()).default([]),
  approverRoles: z.array(z.string()).default([]),
  approvers: z.array(z.string()).default([]),
  matchers: z.array(z.strictObject({ pattern: z.string(), service: safeName('service name') })).default([]),
});

/** Project (slug or id) → configured service. */
const projectMap = z.record(z.string(), safeName('service name')).default({});

/** Application errors in (Sentry, Logfire), routed out by category (see app-errors/routes.ts), and silences through Alertmanager. */
const applicationErrorsConfig = {
  sentry: z
    .strictObject({
      /** The integration's client secret: Sentry signs every delivery with it. */
      clientSecret: z.string().min(1, 'must not be empty'),
      projects: projectMap,
      /** The event tag naming the service, when a project holds several. */
      serviceTag: z.string().default('service'),
    })
    .optional(),
  logfire: z
    .strictObject({
      /** Shared secret: `Authorization: Bearer <secret>` or `?secret=<secret>` on the webhook URL. */
      secret: z.string().min(16, 'must be at least 16 characters (e.g. openssl rand -hex 24)'),
      projects: projectMap,
    })
    .optional(),
  /** How application errors are routed; the defaults follow these. */
  routes: z.array(routeSchema).default([]),
  alertmanager: z.strictObject({ url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }) }).optional(),
};

export const configSchema = z.strictObject({
  services: z.record(z.string(), serviceSchema).refine((s) => Object.keys(s).length > 0, 'needs at least one service'),
  healing: z
    .strictObject({
      enabled: z.boolean().default(true),
      confidenceThreshold: z
        .number()
        .min(0.5, 'must be at least 0.5: below that healbot would act on guesses')
        .max(1)
        .default(0.6),
      verifyTimeout: duration.default(60_000),
      actionTimeout: duration.default(60_000),
      approvalTimeout: duration.default(15 * 60_000),
      approvers: z.array(z.string()).default([]),
      /** Verification ends early once a probe failed exactly as before the fix this many times in a row. */
      unchangedChecks: z.number().int().min(1).default(3),
    })
    .prefault({}),
  /** The policy every service inherits; a service's own `policy` overrides it field by field. */
  policy: policySchema.prefault({}),
  breaker: breakerSchema.prefault({}),
  observer: z
    .strictObject({
      /** Names that must always resolve from where healbot runs; if they do not, healbot is blind. */
      canary: z.array(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be a host name')).default([]),
      /** The network healbot must join to see the services, named in the observer_blind advice. */
      network: z.string().optional(),
      /** DNS servers (host:port) to resolve probe names with instead of the system resolver, e.g. Docker's 127.0.0.11. */
      dnsServers: z.array(hostPort).optional(),
    })
    .prefault({}),
  server: z
    .strictObject({
      listen: z.string().default('127.0.0.1:8080'),
      /** Bearer token for webhooks and the API; `healbot serve` warns when it is shorter than 16 characters. */
      token: z.string().min(1, 'must not be empty').optional(),
      /** Largest request body accepted, in bytes; larger ones get 413. */
      maxBodyBytes: z
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024),
      /** Named API credentials, separate from the webhook token; one approves when `api:<name>` is listed as an approver. */
      apiTokens: z
        .array(
          z.strictObject({
            name: safeName('API credential name'),
            token: z.string().min(16, 'must be at least 16 characters'),
          }),
        )
        .default([]),
    })
    .superRefine((server, ctx) => {
      const seen = new Set<string>();
      server.apiTokens.forEach((credential, i) => {
        if (credential.token === server.token)
          ctx.addIssue({
            code: 'custom',
            path: ['apiTokens', i, 'token'],
            message: 'must differ from server.token: the webhook token can never approve',
          });
        if (seen.has(credential.name))
          ctx.addIssue({
            code: 'custom',
            path: ['apiTokens', i, 'name'],
            message: `"${credential.name}" is listed twice`,
          });
        seen.add(credential.name);
      });
    })
    .optional(),
  store: z
    .strictObject({
      path: z.string().default(':memory:'),
      /** Postgres instead of the SQLite file at `path`, shared by several replicas; its password is a secret. */
      url: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' }).optional(),
      /** With `url` and no `leaderElection`: the Postgres advisory lock that elects the one replica that acts. */
      leader: z
        .strictObject({
          name: z.string().min(1).max(100).default('healbot'),
          /** This replica's name; defaults to HOSTNAME. */
          identity: z.string().min(1).max(63).optional(),
          leaseDuration: duration.default(15_000),
        })
        .prefault({}),
    })
    .prefault({}),
  monitor: z
    .strictObject({
      interval: duration.default(30_000),
      dockerEvents: z.boolean().default(true),
      groupWindow: duration.default(5 * 60_000),
    })
    .prefault({}),
  alerting: z
    .strictObject({
      serviceLabels: z.array(z.string()).default(['service', 'job', 'app']),
      securityLabel: z.string().default('security'),
    })
    .prefault({}),
  /** Several replicas: only the holder of this coordination.k8s.io Lease serves; the others stand by. */
  leaderElection: z
    .strictObject({
      namespace: safeName('namespace'),
      lease: safeName('Lease name').default('healbot'),
      /** This replica's name; defaults to the pod's HOSTNAME. */
      identity: z.string().min(1).optional(),
      context: z.string().optional(),
      leaseDuration: duration.default(15_000),
    })
    .optional(),
  oncall: z.array(z.string()).default([]),
  heartbeat: z.strictObject({ url: z.url(), interval: duration.default(60_000) }).optional(),
  github: z
    .strictObject({
      /** Where escalation issues go; a CI service's own repo takes precedence for its incidents. */
      repo: ownerName.optional(),
      token: z.string().min(1),
      apiUrl: z.url().default('https://api.github.com'),
      /** The secret of the repository webhook that posts workflow_run events to /webhooks/github. */
      webhookSecret: z.string().min(1).optional(),
      /** Deadline of each GitHub API call. */
      timeoutMs: duration.default(15_000),
    })
    .optional(),
  slack: slackSchema.optional(),
  discord: discordSchema.optional(),
  /** Failure patterns of your own, checked before the built-in ones. */
  patterns: z.array(patternSchema).default([]),
  /** Multi-step remediations that replace the default action when their `when` matches. */
  runbooks: z.array(runbookSchema).default([]),
  ...applicationErrorsConfig,
});

export type Config = z.infer<typeof configSchema>;
export type ServiceConfig = z.infer<typeof serviceSchema>;
export type ProbeConfig = z.infer<typeof probeSchema>;
export type PolicyConfig = z.infer<typeof policySchema>;
export type SlackConfig = z.infer<typeof slackSchema>;
export type DiscordConfig = z.infer<typeof discordSchema>;
export type GitHubServiceConfig = z.infer<typeof githubRuntime>;
