import { REST, RESTEvents, type RateLimitData } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISCORD_LIMITS } from '../../../adapters/discord/render.js';
import { DiscordSurface } from '../../../adapters/discord/surface.js';
import { createRedactor } from '../../../src/redact.js';
import { DiscordTestServer } from './discord-server.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAwMg.GsUrFc.surface-test-token-0123456789abcdefghij';
const SECRETS = ['hunter2-db-password', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'];
const OPS = '1100000000000000200';
const ALERTS = '1100000000000000201';

let server: DiscordTestServer;
let rest: REST;
let surface: DiscordSurface;
const rateLimits: RateLimitData[] = [];

beforeAll(async () => {
  server = await DiscordTestServer.start();
  // The real discord.js REST client (with its rate-limit handling), pointed at the local server.
  rest = new REST({ api: server.apiUrl }).setToken(TOKEN);
  rest.on(RESTEvents.RateLimited, (info) => rateLimits.push(info));
  surface = new DiscordSurface(rest, createRedactor([TOKEN, ...SECRETS]));
});

afterAll(async () => {
  rest?.clearHashSweeper();
  rest?.clearHandlerSweeper();
  await server?.close();
});

describe('DiscordSurface', () => {
  it('posts the status message in the channel and starts the thread on it', async () => {
    const ref = await surface.openThread(
      { platform: 'discord', channel: OPS },
      { title: 'api: diagnosing', text: 'Probing every layer…' },
    );
    const [post, thread] = server.calls.filter((c) => c.route.startsWith(`/channels/${OPS}/messages`)).slice(-2);
    expect(post).toMatchObject({ method: 'POST', route: `/channels/${OPS}/messages` });
    expect(post.body.embeds[0].title).toBe('api: diagnosing');
    expect(thread).toMatchObject({ method: 'POST', route: `/channels/${OPS}/messages/${ref.statusMessage}/threads` });
    expect(thread.body).toEqual({ name: 'api: diagnosing', auto_archive_duration: 1440 });
    expect(ref).toEqual({
      platform: 'discord',
      channel: OPS,
      thread: ref.statusMessage,
      statusMessage: ref.statusMessage,
    });

    await surface.updateStatus(ref, { title: 'api: healed', text: 'Verified from the outside in', tone: 'ok' });
    expect(server.calls.at(-1)).toMatchObject({
      method: 'PATCH',
      route: `/channels/${OPS}/messages/${ref.statusMessage}`,
    });
    expect(server.messages.get(ref.statusMessage)!.embeds[0].title).toBe('api: healed');

    await surface.reply(ref, { text: 'Root cause: *service_down*' });
    expect(server.calls.at(-1)).toMatchObject({
      method: 'POST',
      route: `/channels/${ref.thread}/messages`,
      body: { content: 'Root cause: **service_down**' },
    });
  });

  it('threads on the alert message and posts the status message inside the thread', async () => {
    const alert = '1100000000000002000';
    const ref = await surface.openThread(
      { platform: 'discord', channel: ALERTS, message: alert },
      { title: 'api: alert received', text: 'Diagnosing…' },
    );
    expect(server.calls.at(-2)).toMatchObject({
      method: 'POST',
      route: `/channels/${ALERTS}/messages/${alert}/threads`,
    });
    expect(server.calls.at(-1)).toMatchObject({ method: 'POST', route: `/channels/${alert}/messages` });
    expect(ref.thread).toBe(alert);
    expect(ref.statusMessage).not.toBe(alert);

    await surface.updateStatus(ref, { title: 'api: healed', text: 'done' });
    expect(server.calls.at(-1)).toMatchObject({
      method: 'PATCH',
      route: `/channels/${alert}/messages/${ref.statusMessage}`,
    });
  });

  it('reuses the existing thread when the alert message already has one (Discord error 160004)', async () => {
    const alert = '1100000000000002001';
    await surface.openThread({ platform: 'discord', channel: ALERTS, message: alert }, { text: 'first' });
    const ref = await surface.openThread({ platform: 'discord', channel: ALERTS, message: alert }, { text: 'second' });
    expect(server.calls.at(-2)).toMatchObject({ route: `/channels/${ALERTS}/messages/${alert}/threads`, status: 400 });
    expect(ref.thread).toBe(alert);
    expect(server.calls.at(-1)).toMatchObject({ method: 'POST', route: `/channels/${alert}/messages`, status: 200 });
  });

  it('waits retry_after on a 429 and retries the same request', async () => {
    const ref = await surface.openThread({ platform: 'discord', channel: OPS }, { text: 'rate limit test' });
    server.rateLimitNext('POST', new RegExp(`^/channels/${ref.thread}/messages$`), 0.3);
    await surface.reply(ref, { text: 'after the rate limit' });

    const attempts = server.calls.filter((c) => c.method === 'POST' && c.route === `/channels/${ref.thread}/messages`);
    expect(attempts.map((c) => c.status)).toEqual([429, 200]);
    expect(attempts[1].body).toEqual(attempts[0].body);
    expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(300);
    // discord.js read the X-RateLimit-* headers of the 429 and waited for the bucket to reset before retrying.
    expect(rateLimits).toHaveLength(1);
    expect(rateLimits[0]).toMatchObject({
      method: 'POST',
      route: '/channels/:id/messages',
      limit: 5,
      global: false,
      scope: 'user',
    });
    expect([...server.messages.values()].some((m) => m.content === 'after the rate limit')).toBe(true);
  });

  it('truncates long logs to fit Discord limits, saying how many lines were left out', async () => {
    const ref = await surface.openThread({ platform: 'discord', channel: OPS }, { text: 'logs test' });
    const logs = Array.from({ length: 400 }, (_, i) => `12:00:${i} ERROR upstream timed out (attempt ${i})`).join('\n');
    await surface.reply(ref, { title: 'Last log lines', text: 'api exited with code 1', code: logs, tone: 'error' });
    const embed = server.calls.at(-1)!.body.embeds[0];
    expect(embed.description.length).toBeLessThanOrEqual(DISCORD_LIMITS.embedDescription);
    expect(embed.description).toMatch(/… \d+ more lines\n```$/);
    expect(embed.description).toContain('12:00:0 ERROR upstream timed out (attempt 0)');
  });

  it('never sends a secret: configured values and known token shapes are redacted in every call', async () => {
    const ref = await surface.openThread(
      { platform: 'discord', channel: OPS },
      { title: `login with ${SECRETS[0]}`, text: `token ${TOKEN}` },
    );
    await surface.reply(ref, {
      text: 'leak?',
      code: `DATABASE_URL=postgres://app:${SECRETS[0]}@db/app\nGITHUB_TOKEN=${SECRETS[1]}`,
      fields: [{ label: 'bot', value: TOKEN }],
    });
    await surface.updateStatus(ref, { text: `still ${SECRETS[1]}` });
    for (const call of server.calls) {
      for (const secret of [TOKEN, ...SECRETS]) expect(call.rawBody).not.toContain(secret);
    }
    // The bot token travels only where Discord expects it: the Authorization header.
    expect(server.calls.every((c) => c.headers.authorization === `Bot ${TOKEN}`)).toBe(true);
  });
});
