/**
 * A corpus of planted secrets against every door healbot has. Secrets enter where outside text
 * enters in production: command probes and runtime logs print them, a failing restart prints
 * them, alert text and an approver's name carry them; others are configured values. Then every
 * door is read: the API, the SSE stream, the logs, the SQLite file itself, the audit export, the
 * CLI (text and --json), Slack (a local Web API), a GitHub issue (a local REST API) and the console chat.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackApiServer, signSlackRequest } from '../adapters/slack/slack-api-server.js';
import { runCli } from '../support/cli.js';
import { API_TOKEN, startTestBot, tempDir, TOKEN, waitFor, type TestBot } from './harness.js';

const PEM_BODY = [
  'MIIEpAIBAAKCAQEAzLeakedPemLineOne0000000000000000000000000000000',
  'PemLineTwoLeakedAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  'PemLineThreeLeakedBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB==',
];

/** Text that outside systems print, and the secret inside each that must never leave healbot. */
const PRINTED: { text: string; secret: string }[] = [
  { text: 'connect postgres://app:Pw-url-7731xq@db:5432/shop failed', secret: 'Pw-url-7731xq' },
  { text: 'aws key AKIAZZZZ7777LEAKED01 denied', secret: 'AKIAZZZZ7777LEAKED01' },
  { text: 'slack xoxb-7777777777-8888888888-leakedBOTtoken', secret: 'xoxb-7777777777-8888888888-leakedBOTtoken' },
  { text: 'socket xapp-1-A777-888-leakedAPPtoken', secret: 'xapp-1-A777-888-leakedAPPtoken' },
  { text: 'push with ghp_LeakedGitHubToken0123456789abcdefghij', secret: 'ghp_LeakedGitHubToken0123456789abcdefghij' },
  {
    text: 'pat github_pat_11LEAKED0_abcdefghijklmnopqrstuvwxyz',
    secret: 'github_pat_11LEAKED0_abcdefghijklmnopqrstuvwxyz',
  },
  { text: 'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrZWQifQ.c2lnbmF0dXJlTGVha2Vk', secret: 'eyJzdWIiOiJsZWFrZWQifQ' },
  { text: 'Authorization: Bearer bearerLeak0123456789', secret: 'bearerLeak0123456789' },
  { text: 'Proxy-Authorization: Basic dXNlcjpsZWFrZWRwYXNz', secret: 'dXNlcjpsZWFrZWRwYXNz' },
  {
    text: 'posting to https://hooks.slack.com/services/T000LEAK/B000LEAK/slackHookSecret123',
    secret: 'slackHookSecret123',
  },
  {
    text: 'posting to https://discord.com/api/webhooks/123456789012345678/discordHookSecret_abc',
    secret: 'discordHookSecret_abc',
  },
  { text: 'stripe sk_live_stripeLeak0123456789', secret: 'sk_live_stripeLeak0123456789' },
  { text: 'stripe restricted rk_live_restrictedLeak01234', secret: 'rk_live_restrictedLeak01234' },
  { text: 'maps AIzaSyLeakedGoogleKey_0123456789abcdefg', secret: 'AIzaSyLeakedGoogleKey_0123456789abcdefg' },
  { text: 'gitlab glpat-LeakedGitlabToken012345', secret: 'glpat-LeakedGitlabToken012345' },
  { text: 'npm npm_LeakedNpmToken0123456789abcdefghijklmn', secret: 'npm_LeakedNpmToken0123456789abcdefghijklmn' },
  { text: 'Cookie: session=cookieLeakOne; csrftoken=cookieLeakTwo', secret: 'cookieLeakTwo' },
  { text: 'Set-Cookie: sid=setCookieLeak77; Path=/; HttpOnly', secret: 'setCookieLeak77' },
  { text: 'config password="correct horse battery staple" loaded', secret: 'battery staple' },
  { text: "yaml secret: 'two words leaked'", secret: 'words leaked' },
  { text: 'DB_PASSWORD=hunter2leak started', secret: 'hunter2leak' },
  { text: 'GET /x?api_key=apikeyLeak999&x=1', secret: 'apikeyLeak999' },
  { text: '{"client_secret": "clientSecretLeak77"}', secret: 'clientSecretLeak77' },
  {
    text: `bot MTAxLeakedDiscordBotTok0.GhLeak.abcdefghijklmnopqrstuvwxyz0123`,
    secret: 'abcdefghijklmnopqrstuvwxyz0123',
  },
  {
    text: `-----BEGIN RSA PRIVATE KEY-----\n${PEM_BODY.join('\n')}\n-----END RSA PRIVATE KEY-----`,
    secret: PEM_BODY[1],
  },
];

/**
 * Several secrets per probe (a probe's error keeps its last line, so each group prints one line),
 * cookie lines last since a cookie header runs to the end of its line; the key block alone.
 */
const PROBE_GROUPS = [
  [0, 1, 2, 3, 16],
  [4, 5, 6, 7, 17],
  [8, 9, 10, 11, 12],
  [13, 14, 15, 18],
  [19, 20, 21, 22, 23],
  [24],
];

describe('secrets never leave healbot, through any door', () => {
  const dir = tempDir();
  const storePath = `${dir.path}/healbot.db`;
  let slack: SlackApiServer;
  let github: Server;
  const githubBodies: string[] = [];
  let bot: TestBot;
  const sse: string[] = [];
  let configFile: string;
  let configured: Record<string, string>;
  let raw: Record<string, unknown>;

  beforeAll(async () => {
    slack = await new SlackApiServer().start();
    github = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        githubBodies.push(body);
        res
          .writeHead(201, { 'content-type': 'application/json' })
          .end(JSON.stringify({ number: 7, html_url: 'https://ghe.example/acme/ops/issues/7' }));
      });
    });
    await new Promise<void>((resolve) => github.listen(0, '127.0.0.1', resolve));
    const githubUrl = `http://127.0.0.1:${(github.address() as AddressInfo).port}/api/v3`;

    writeFileSync(`${dir.path}/printed.json`, JSON.stringify(PRINTED.map((p) => p.text)));
    // One script prints what outside programs print: argv carries only an index, never a secret.
    writeFileSync(
      `${dir.path}/leak.cjs`,
      `const printed = require(${JSON.stringify(`${dir.path}/printed.json`)});
const [mode, index] = process.argv.slice(2);
if (mode === 'probe') { console.error('login failed: ' + index.split(',').map((i) => printed[Number(i)]).join(' ; ')); process.exit(1); }
if (mode === 'logs') { for (const line of printed) console.log(line); process.exit(0); }
if (mode === 'restart') { console.error(printed.join('\\n')); process.exit(3); }
process.exit(1);`,
    );
    const leak = (...args: string[]) => [process.execPath, `${dir.path}/leak.cjs`, ...args];
    configured = {
      botToken: 'xoxb-1111111111-2222222222-configuredBOT',
      signingSecret: 'f00dfeedcafe1234configuredSIGN',
      githubToken: 'ghp_ConfiguredGithubToken0123456789abcd',
      heartbeat: `http://127.0.0.1:1/ping/heartbeatSecretPath123`,
      probeHeader: 'plainLookingHeaderValue',
      probeUrlPassword: 'probeUrlPw55',
    };
    raw = {
      services: {
        leaky: {
          probes: [
            ...PROBE_GROUPS.map((group, i) => ({
              name: `p${i}`,
              command: leak('probe', group.join(',')),
              timeoutMs: 10_000,
            })),
            {
              name: 'hdr',
              http: {
                url: `http://watch:${configured.probeUrlPassword}@127.0.0.1:1/ready`,
                headers: { 'x-api-key': configured.probeHeader },
              },
            },
          ],
          command: { restart: leak('restart'), status: leak('status'), logs: leak('logs'), timeoutMs: 10_000 },
        },
      },
      healing: { verifyTimeout: 2000, actionTimeout: 10_000, approvalTimeout: '10m', approvers: ['api:ops'] },
      heartbeat: { url: configured.heartbeat, interval: '1h' },
      github: { repo: 'acme/ops', token: configured.githubToken, apiUrl: githubUrl },
      slack: {
        mode: 'http',
        botToken: configured.botToken,
        signingSecret: configured.signingSecret,
        apiUrl: slack.apiUrl,
        alertChannels: ['C0ALERTS'],
        approvers: ['U0ANA'],
      },
      store: { path: storePath },
    };
    configFile = `${dir.path}/healbot.json`;
    writeFileSync(
      configFile,
      JSON.stringify({
        ...raw,
        server: { listen: '127.0.0.1:0', token: TOKEN, apiTokens: [{ name: 'ops', token: API_TOKEN }] },
      }),
    );
    bot = await startTestBot(raw);
    const stream = await fetch(`${bot.url}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream.body!) sse.push(decoder.decode(chunk as Uint8Array));
    })().catch(() => undefined);
  }, 120_000);

  afterAll(async () => {
    await bot?.close();
    await slack?.stop();
    github?.closeAllConnections();
    github?.close();
    dir.cleanup();
  });

  const secrets = () => [
    ...PRINTED.map((p) => p.secret),
    ...PEM_BODY,
    ...Object.values(configured),
    TOKEN,
    'cookieLeakOne',
    'correct horse',
  ];

  function leaksIn(door: string, text: string): string[] {
    return secrets()
      .filter((secret) => text.includes(secret))
      .map((secret) => `${door}: ${secret}`);
  }

  it('plants at least 30 secrets, and none comes out of any door', async () => {
    expect(secrets().length).toBeGreaterThanOrEqual(30);
    const alert = await bot.call('/webhooks/generic', {
      method: 'POST',
      json: { service: 'leaky', summary: `db down: ${PRINTED[0].text} ${PRINTED[11].text}`, severity: 'critical' },
    });
    expect(alert.status).toBe(202);
    const approval = await waitFor(
      async () => (await bot.bot.store.pendingApprovals())[0],
      'the approval request',
      30_000,
    );
    const approvals = await (await bot.call('/api/approvals')).text();
    const decided = await bot.call(`/api/approvals/${approval.id}`, {
      method: 'POST',
      token: API_TOKEN,
      json: { decision: 'approve', by: 'ana password="correct horse battery staple"' },
    });
    expect(decided.status).toBe(200);
    await waitFor(
      async () => (await bot.bot.store.listIncidents())[0]?.status === 'closed',
      'the incident to close',
      30_000,
    );
    await waitFor(() => githubBodies.length > 0, 'the GitHub issue', 30_000);
    // A Slack slash command reads history back through chat.
    const form = new URLSearchParams({
      command: '/heal',
      text: 'history leaky',
      user_id: 'U0ANA',
      channel_id: 'C0OPS',
      team_id: 'T1',
      response_url: slack.responseUrl('hist'),
      trigger_id: 't',
    }).toString();
    const slash = await fetch(`${bot.url}/slack/events`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...signSlackRequest(form, configured.signingSecret),
      },
      body: form,
    });
    expect(slash.status).toBe(200);
    await waitFor(() => slack.calls.some((c) => c.url.includes('/response/hist')), 'the history reply');
    await waitFor(() => sse.join('').includes('event: done'), 'the done event on the stream');

    const incidents = await (await bot.call('/api/incidents')).text();
    const one = await (await bot.call(`/api/incidents/${approval.incidentId}`)).text();
    expect(incidents).toContain('"action":"start"');

    const leaks: string[] = [
      ...leaksIn('GET /api/incidents', incidents),
      ...leaksIn('GET /api/incidents/:id', one),
      ...leaksIn('GET /api/approvals', approvals),
      ...leaksIn('SSE /api/events', sse.join('')),
      ...leaksIn('logs', bot.logs.join('\n')),
      ...leaksIn('Slack', slack.everythingSent()),
      ...leaksIn('GitHub issue', githubBodies.join('\n')),
    ];
    // What the doors above show must have come from somewhere: the outside text did get in.
    expect(sse.join('')).toContain('[REDACTED]');
    expect(slack.calls.map((c) => c.raw).join('\n')).toContain('REDACTED');

    await bot.close();
    for (const file of readdirSync(dir.path).filter((f) => f.startsWith('healbot.db')))
      leaks.push(...leaksIn(`store file ${file}`, readFileSync(`${dir.path}/${file}`, 'latin1')));
    const audit = await runCli(['audit', '--config', configFile, '--json']);
    expect(audit.exitCode).toBe(0);
    expect(audit.stdout).toContain('approval_requested');
    leaks.push(...leaksIn('healbot audit --json', audit.stdout));
    const auditText = await runCli(['audit', '--config', configFile]);
    leaks.push(...leaksIn('healbot audit', auditText.stdout + auditText.stderr));

    const cliConfig = `${dir.path}/cli.json`;
    writeFileSync(cliConfig, JSON.stringify({ ...raw, slack: undefined, github: undefined, store: undefined }));
    const text = await runCli(['diagnose', 'leaky', '--config', cliConfig]);
    const asJson = await runCli(['diagnose', 'leaky', '--config', cliConfig, '--json']);
    const heal = await runCli(['heal', 'leaky', '--config', cliConfig, '--yes']);
    expect(asJson.json.runtime.leaky.logs.length).toBeGreaterThan(5);
    leaks.push(
      ...leaksIn('healbot diagnose', text.stdout + text.stderr),
      ...leaksIn('healbot diagnose --json', asJson.stdout + asJson.stderr),
      ...leaksIn('healbot heal', heal.stdout + heal.stderr),
    );

    // The console chat: serve with no chat platform, a scripted terminal.
    const input = new PassThrough();
    let consoleText = '';
    const consoleBot = await startTestBot(
      { ...raw, slack: undefined, github: undefined, store: undefined },
      { console: true, input, output: (t) => (consoleText += t) },
    );
    try {
      input.write('/heal diagnose leaky\n');
      input.write('/heal leaky\n');
      await waitFor(() => /Approval needed|approve/i.test(consoleText), 'the console approval prompt', 30_000);
      input.write('y\n');
      await waitFor(
        async () => (await consoleBot.bot.store.listIncidents())[0]?.status === 'closed',
        'the console incident to close',
        30_000,
      );
    } finally {
      await consoleBot.close();
    }
    expect(consoleText).toContain('Diagnosis');
    leaks.push(...leaksIn('console chat', consoleText), ...leaksIn('console serve logs', consoleBot.logs.join('\n')));

    expect(leaks).toEqual([]);
  }, 240_000);
});
