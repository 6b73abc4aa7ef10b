import { createServer } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ciRootCause, explainFailure } from '../../src/engine/ci/rules.js';
import { planFor } from '../../src/engine/plan.js';
import { createRedactor } from '../../src/redact.js';
import { GitHubActionsRuntime } from '../../src/runtimes/github-actions.js';
import { GitHubApiServer } from '../support/github-api-server.js';

const failingInstall = {
  workflow: 'build.yml',
  conclusion: 'failure' as const,
  jobs: [
    {
      name: 'build',
      conclusion: 'failure' as const,
      steps: [
        {
          name: 'Install',
          conclusion: 'failure' as const,
          log: [
            'npm ERR! code ECONNRESET',
            'npm ERR! network request to https://registry.npmjs.org/react failed, reason: read ECONNRESET',
          ],
        },
      ],
    },
  ],
};

describe('GitHubActionsRuntime against the local GitHub API', () => {
  let github: GitHubApiServer;
  const runtimeFor = (options: { token?: string; timeoutMs?: number; apiUrl?: string; workflows?: string[] } = {}) => {
    const token = options.token ?? github.token;
    const config = parseConfig({
      services: {
        ci: { github: { repo: 'acme/shop', workflows: options.workflows ?? ['build.yml'], branches: ['main'] } },
      },
      github: { token },
    });
    return new GitHubActionsRuntime(config.services.ci.github!, {
      token,
      apiUrl: options.apiUrl ?? github.apiUrl,
      timeoutMs: options.timeoutMs,
      redact: createRedactor([token]),
      breaker: config.breaker,
    });
  };

  beforeEach(async () => {
    github = await new GitHubApiServer({ repo: 'acme/shop' }).start();
  });
  afterEach(() => github.close());

  it('finds the newest watched run past the first page of runs and reads why it failed', async () => {
    const watched = github.addRun(failingInstall);
    for (let i = 0; i < 60; i++)
      github.addRun({ workflow: 'docs.yml', conclusion: 'success', jobs: [{ name: 'docs', conclusion: 'success' }] });
    const state = await runtimeFor().inspect();
    expect(state.ci?.run?.id).toBe(watched.id);
    expect(state.ci?.failure).toMatchObject({ id: 'npm_network', category: 'network', job: 'build', step: 'Install' });
    expect(state.ci?.failure?.description).toBe('npm ECONNRESET fetching registry metadata');
    expect(github.calls('GET', /\/actions\/runs$/).map((r) => r.query.page ?? '1')).toEqual(['1', '2']);
  });

  it('waits out a secondary rate limit that fits in its deadline, and reports one that does not', async () => {
    github.addRun(failingInstall);
    github.rateLimit({ kind: 'secondary', retryAfter: 1, times: 1 });
    const ok = await runtimeFor().inspect();
    expect(ok.error).toBeUndefined();
    expect(github.requests.map((r) => r.status).slice(0, 2)).toEqual([403, 200]);

    github.rateLimit({ kind: 'secondary', retryAfter: 600, times: 1 });
    const limited = await runtimeFor().inspect();
    expect(limited.status).toBe('unknown');
    expect(limited.error).toMatch(/GitHub answered 403 .*secondary rate limit/);
  });

  it('says what is wrong with a bad token without showing it', async () => {
    const state = await runtimeFor({ token: 'ghp_wrongTokenWrongToken0123456789ab' }).inspect();
    expect(state.status).toBe('unknown');
    expect(state.error).toMatch(/401 .*Bad credentials \(check github\.token\)/);
    expect(JSON.stringify(state)).not.toContain('ghp_wrongToken');
  });

  it('gives up on a GitHub that does not answer, at the deadline', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const state = await runtimeFor({
        apiUrl: `http://127.0.0.1:${(silent.address() as { port: number }).port}`,
        timeoutMs: 200,
      }).inspect();
      expect(state.error).toMatch(/GitHub did not answer GET .*no answer within 0\.2 s/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('refuses to re-run a run that someone re-ran since the diagnosis', async () => {
    const run = github.addRun({ ...failingInstall, reruns: [{ conclusion: 'failure' }] });
    const runtime = runtimeFor();
    const state = await runtime.inspect();
    await fetch(`${github.apiUrl}/repos/acme/shop/actions/runs/${run.id}/rerun-failed-jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${github.token}`, 'user-agent': 'someone' },
    });
    await expect(
      runtime.perform({ action: 'rerun_failed_jobs', params: { run: run.id, attempt: state.ci!.run!.attempt } }),
    ).rejects.toThrow(/changed since the diagnosis/);
    expect(github.calls('POST', /rerun-failed-jobs$/)).toHaveLength(1);
  });

  it('does not act on a timed-out job whose log says nothing it knows', async () => {
    github.addRun({
      workflow: 'build.yml',
      conclusion: 'timed_out',
      jobs: [
        {
          name: 'e2e',
          conclusion: 'timed_out',
          steps: [{ name: 'Run e2e', conclusion: 'timed_out', log: ['waiting for the browser…'] }],
        },
      ],
    });
    const state = await runtimeFor().inspect();
    const rc = ciRootCause('ci', state)!;
    expect(rc).toMatchObject({ kind: 'pipeline_failed', confidence: 0.4 });
    expect(rc.summary).toBe(
      "CI · build on main timed out in step 'Run e2e' of job 'e2e'; its log matches no known failure pattern",
    );
    const config = parseConfig({
      services: { ci: { github: { repo: 'acme/shop' } } },
      github: { token: github.token },
    });
    const plan = planFor(rc, { config, diagnosis: { runtime: { ci: state } }, supports: () => true });
    expect(plan).toEqual([expect.objectContaining({ action: 'manual', risk: 'manual' })]);
  });
});

describe('CI plans and the confidence threshold', () => {
  it('proposes nothing when the pattern is less sure than healing.confidenceThreshold', async () => {
    const github = await new GitHubApiServer({ repo: 'acme/shop' }).start();
    try {
      github.addRun(failingInstall);
      const config = parseConfig({
        services: { ci: { github: { repo: 'acme/shop' } } },
        github: { token: github.token },
        healing: { confidenceThreshold: 0.95 },
      });
      const runtime = new GitHubActionsRuntime(config.services.ci.github!, {
        token: github.token,
        apiUrl: github.apiUrl,
        redact: createRedactor(),
        breaker: config.breaker,
      });
      const state = await runtime.inspect();
      const rc = ciRootCause('ci', state)!;
      expect(rc.confidence).toBe(0.9);
      const plan = planFor(rc, { config, diagnosis: { runtime: { ci: state } }, supports: () => true });
      expect(plan).toEqual([
        expect.objectContaining({
          action: 'manual',
          reason: expect.stringMatching(/not sure \(confidence 0\.90 < 0\.95\)/),
        }),
      ]);
    } finally {
      await github.close();
    }
  });
});

describe('which run a CI service looks at', () => {
  it('reports the failed head of one workflow even when another workflow passed after it, and forgets a failure a newer run superseded', async () => {
    const github = await new GitHubApiServer({ repo: 'acme/shop' }).start();
    try {
      const config = parseConfig({
        services: { ci: { github: { repo: 'acme/shop', workflows: ['build.yml', 'lint.yml'] } } },
        github: { token: github.token },
      });
      const runtime = new GitHubActionsRuntime(config.services.ci.github!, {
        token: github.token,
        apiUrl: github.apiUrl,
        redact: createRedactor(),
        breaker: config.breaker,
      });
      const build = github.addRun(failingInstall);
      github.addRun({ workflow: 'lint.yml', conclusion: 'success', jobs: [{ name: 'lint', conclusion: 'success' }] });
      expect((await runtime.inspect()).ci?.run?.id).toBe(build.id);
      const fixed = github.addRun({
        workflow: 'build.yml',
        conclusion: 'success',
        jobs: [{ name: 'build', conclusion: 'success' }],
      });
      const state = await runtime.inspect();
      expect(state.ci?.run?.id).toBe(fixed.id);
      expect(ciRootCause('ci', state)?.kind).toBe('healthy');
    } finally {
      await github.close();
    }
  });
});

describe('a run with several failed jobs', () => {
  const job = (name: string, log: string[]) => ({
    id: 1,
    name,
    conclusion: 'failure',
    failedStep: 'Run',
    logTail: log,
    cacheKeys: [],
  });
  const timeout = [
    'npm ERR! network request to https://registry.npmjs.org/x failed, reason: connect ETIMEDOUT 1.2.3.4:443',
  ];

  it('is decided by the job a re-run cannot heal: failing tests beside a network timeout are not re-run', () => {
    const { failure } = explainFailure([
      job('build', timeout),
      job('test', ['Tests:       2 failed, 40 passed, 42 total']),
    ]);
    expect(failure).toMatchObject({ category: 'test_failure', job: 'test' });
  });

  it('is not re-run with confidence when another failed job says nothing healbot knows', () => {
    const { failure, unexplainedJobs } = explainFailure([job('build', timeout), job('deploy', ['exit status 3'])]);
    expect(failure).toMatchObject({ category: 'network', confidence: 0.5 });
    expect(unexplainedJobs).toEqual(['deploy']);
  });
});

describe('a very long job log', () => {
  it('is read by its head and tail: the restored cache key at the start, the failure at the end', async () => {
    const github = await new GitHubApiServer({ repo: 'acme/shop' }).start();
    try {
      const noise = Array.from({ length: 60_000 }, (_, i) => `compiling module ${i} ${'x'.repeat(80)}`);
      github.addRun({
        workflow: 'build.yml',
        conclusion: 'failure',
        jobs: [
          {
            name: 'build',
            conclusion: 'failure',
            steps: [
              { name: 'Run actions/setup-node@v4', log: ['Cache restored from key: node-cache-Linux-x64-npm-big'] },
              { name: 'Build', log: noise },
              {
                name: 'Install',
                conclusion: 'failure',
                log: [
                  'npm ERR! code EINTEGRITY',
                  'npm ERR! sha512-A integrity checksum failed when using sha512: wanted sha512-A but got sha512-B. (1 bytes)',
                ],
              },
            ],
          },
        ],
      });
      const config = parseConfig({
        services: { ci: { github: { repo: 'acme/shop' } } },
        github: { token: github.token },
      });
      const state = await new GitHubActionsRuntime(config.services.ci.github!, {
        token: github.token,
        apiUrl: github.apiUrl,
        redact: createRedactor(),
        breaker: config.breaker,
      }).inspect();
      expect(state.ci?.failedJobs[0].cacheKeys).toEqual(['node-cache-Linux-x64-npm-big']);
      expect(state.ci?.failure).toMatchObject({ id: 'npm_integrity', step: 'Install' });
      expect(state.ci?.failedJobs[0].logTail).toHaveLength(200);
    } finally {
      await github.close();
    }
  });
});
