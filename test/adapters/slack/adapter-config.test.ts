import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSlackAdapter } from '../../../adapters/slack/adapter.js';
import type { HealbotApi } from '../../../src/engine/api.js';
import { ConfigError } from '../../../src/errors.js';
import { createRedactor } from '../../../src/redact.js';
import { SlackApiServer } from './slack-api-server.js';

// These tests stop before any engine call, so an api that fails loudly is enough.
const api = new Proxy({} as HealbotApi, {
  get: (_target, name) => () => {
    throw new Error(`unexpected engine call ${String(name)}`);
  },
});
const base = { botToken: 'xoxb-1-2-badtokenvalue', alertChannels: [], approvers: [], approverGroups: [], matchers: [] };
let slack: SlackApiServer | undefined;

afterEach(async () => {
  await slack?.stop();
  slack = undefined;
});

describe('createSlackAdapter configuration', () => {
  it('asks for an app-level token in socket mode, naming the field and where to get it', () => {
    expect(() => createSlackAdapter({ config: { ...base, mode: 'socket' }, api, redact: createRedactor() })).toThrow(
      /slack\.appToken: is required in socket mode.*connections:write/,
    );
  });

  it('reports an invalid alert matcher at construction, naming it', () => {
    const config = {
      ...base,
      mode: 'http' as const,
      signingSecret: 's',
      matchers: [{ pattern: '([', service: 'api' }],
    };
    expect(() => createSlackAdapter({ config, api, redact: createRedactor() })).toThrow(
      /slack\.matchers\[0\]\.pattern: is not a valid regular expression/,
    );
  });

  it('asks for the signing secret in http mode', () => {
    expect(() => createSlackAdapter({ config: { ...base, mode: 'http' }, api, redact: createRedactor() })).toThrow(
      /slack\.signingSecret/,
    );
  });

  it('offers a request listener only in http mode, and refuses requests until started', async () => {
    const socket = createSlackAdapter({
      config: { ...base, mode: 'socket', appToken: 'xapp-1-x' },
      api,
      redact: createRedactor(),
    });
    expect(socket.requestListener).toBeUndefined();
    const http = createSlackAdapter({
      config: { ...base, mode: 'http', signingSecret: 'secret' },
      api,
      redact: createRedactor(),
    });
    expect(typeof http.requestListener).toBe('function');
    const server = createServer(http.requestListener!);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`, {
        method: 'POST',
        body: '{}',
      });
      expect(response.status).toBe(503);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('reports a bot token Slack rejects as a config problem with the fix, without echoing the token', async () => {
    slack = await new SlackApiServer().start();
    slack.authError = 'invalid_auth';
    const redact = createRedactor([base.botToken]);
    const adapter = createSlackAdapter({
      config: { ...base, mode: 'http', signingSecret: 'secret', apiUrl: slack.apiUrl },
      api,
      redact,
    });
    const error = await adapter.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(
      /slack\.botToken: was not accepted by Slack \(.*invalid_auth.*\): use the Bot User OAuth Token/,
    );
    expect((error as ConfigError).message).not.toContain('badtokenvalue');
  });
});
