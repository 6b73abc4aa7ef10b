import { createServer } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitHubApiError, GitHubClient } from '../../src/github/client.js';
import { createRedactor } from '../../src/redact.js';
import { GitHubApiServer } from '../support/github-api-server.js';

const failure = (call: Promise<unknown>) =>
  call.then(
    () => expect.fail('the call succeeded'),
    (error: unknown) => {
      expect(error).toBeInstanceOf(GitHubApiError);
      return error as GitHubApiError;
    },
  );

describe('the GitHub client', () => {
  let github: GitHubApiServer;

  beforeEach(async () => {
    github = await new GitHubApiServer({ repo: 'acme/shop' }).start();
  });
  afterEach(() => github.close());

  const client = (options: { token?: string; redact?: (text: string) => string } = {}) =>
    new GitHubClient({ token: options.token ?? github.token, apiUrl: github.apiUrl, redact: options.redact });

  it('redacts each string of a body before it leaves, keeping the markdown around a secret', async () => {
    const leaked = 'npm_SECRETsecretSECRETsecret0123456789';
    await client({ redact: createRedactor() }).json('POST', '/repos/acme/shop/issues', {
      body: {
        title: `token=${leaked}`,
        body: `\`\`\`\nnpm ERR! _authToken=${leaked}\n\`\`\`\ndone`,
        labels: ['healbot'],
      },
    });
    expect(github.issues[0].title).toBe('token=[REDACTED]');
    expect(github.issues[0].body).toBe('```\nnpm ERR! _authToken=[REDACTED]\n```\ndone');
  });

  it('tells a refusal from a passing trouble: a server error or a rate limit may pass, a 404 will not', async () => {
    github.outage({ status: 502 });
    const down = await failure(client().json('GET', '/repos/acme/shop/actions/runs'));
    expect(down.message).toBe('GitHub answered 502 to GET /repos/acme/shop/actions/runs: Server Error');
    expect(down.transient).toBe(true);

    github.rateLimit({ kind: 'secondary', retryAfter: 600 });
    const limited = await failure(client().json('GET', '/repos/acme/shop/actions/runs'));
    expect([limited.status, limited.retryAfter, limited.transient]).toEqual([403, 600, true]);

    const missing = await failure(client().json('GET', '/repos/acme/elsewhere/actions/runs'));
    expect(missing.message).toBe(
      'GitHub answered 404 to GET /repos/acme/elsewhere/actions/runs: Not Found (check the repo name and that the token can read it)',
    );
    expect(missing.transient).toBe(false);
  });

  it('never puts the token in a message, also when the runtime refuses it as a header', async () => {
    const token = 'ghp_brokenBroken0123456789\nabcdefABCD';
    const refused = await failure(client({ token }).json('GET', '/repos/acme/shop/actions/runs'));
    expect(refused.message).toMatch(/^GitHub did not answer GET \/repos\/acme\/shop\/actions\/runs: .*\[REDACTED\]/);
    expect(refused.message).not.toContain('ghp_broken');
    expect(refused.message).not.toContain('\n');
    expect(refused.transient).toBe(true);
  });

  it('says a success that is not JSON is one, in one line', async () => {
    const proxy = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>\nsign in</html>'),
    );
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const apiUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
      const error = await failure(new GitHubClient({ token: github.token, apiUrl }).json('GET', '/repos/acme/shop'));
      expect(error.message).toBe('GitHub answered 200 to GET /repos/acme/shop with something other than JSON: <html>');
      expect(error.transient).toBe(false);
    } finally {
      proxy.closeAllConnections();
      proxy.close();
    }
  });
});
