import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHealbot, type Healbot } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import type { Actor } from '../../src/engine/api.js';
import type { ProgressEvent } from '../../src/engine/types.js';
import { commandDefinitions, commands, parseInvocation, runCommand } from '../../commands/index.js';
import { HttpTarget } from '../support/http-target.js';

/** Commands against the real engine (probes on loopback, an in-memory store). */
const ana: Actor = { platform: 'slack', id: 'U_ANA', display: '@ana' };
const eve: Actor = { platform: 'slack', id: 'U_EVE', display: '@eve' };

let target: HttpTarget;
let bot: Healbot;

beforeAll(async () => {
  target = await new HttpTarget('ok').start();
  const config = parseConfig({
    healing: { approvers: ['U_ANA'] },
    services: {
      api: { probes: [{ name: 'internal', http: target.readyUrl, timeoutMs: '1s' }] },
      'api-gateway': { probes: [{ name: 'internal', http: target.readyUrl, timeoutMs: '1s' }] },
      db: { probes: [{ name: 'tcp', tcp: target.hostPort }] },
    },
  });
  bot = createHealbot(config, { storePath: ':memory:' });
});

afterAll(async () => {
  await bot.close();
  await target.stop();
});

const run = (text: string, actor: Actor = ana) => runCommand(bot.api, { actor, text, channel: 'C1' });
const name = (text: string) => parseInvocation(text).command.definition.name;

describe('parseInvocation', () => {
  it('a bare service name is a heal', () => {
    expect(parseInvocation('api')).toMatchObject({ args: { service: 'api' } });
    expect(name('api')).toBe('heal');
  });

  it('an explicit heal subcommand heals the service after it; a lone "heal" is a service name', () => {
    expect(parseInvocation('heal api')).toMatchObject({ args: { service: 'api' } });
    expect(name('heal api')).toBe('heal');
    expect(parseInvocation('heal').args).toEqual({ service: 'heal' });
  });

  it('nothing at all is help', () => {
    expect(name('')).toBe('help');
    expect(name('   ')).toBe('help');
  });

  it('names commands case-insensitively and maps positional arguments to options', () => {
    expect(parseInvocation('DIAGNOSE api')).toMatchObject({ args: { service: 'api' } });
    expect(name('DIAGNOSE api')).toBe('diagnose');
    expect(parseInvocation('approve apr_1a2b3c4d')).toMatchObject({ args: { id: 'apr_1a2b3c4d' } });
    expect(parseInvocation('  history   db ').args).toEqual({ service: 'db' });
    expect(parseInvocation('history').args).toEqual({});
    expect(name('status')).toBe('status');
  });

  it('extra words are ignored, not passed on', () => {
    expect(parseInvocation('pause api now please').args).toEqual({ service: 'api' });
  });

  it('heal is never reached by its own name as a subcommand of itself', () => {
    // "/heal heal" names a service called heal; the engine then says it is unknown.
    expect(parseInvocation('heal').args).toEqual({ service: 'heal' });
  });
});

describe('runCommand', () => {
  it('an unknown service is an ephemeral error suggesting close names', async () => {
    const result = await run('apx');
    expect(result.visibility).toBe('ephemeral');
    expect(result.message.tone).toBe('error');
    expect(result.message.text).toContain('unknown service "apx"');
    expect(result.message.text).toContain('Did you mean api');
    expect(result.message.text).toContain('Known services: api, api-gateway, db');
  });

  it('an unknown service in diagnose is refused the same way', async () => {
    const result = await run('diagnose dbb');
    expect(result).toMatchObject({ visibility: 'ephemeral', message: { tone: 'error' } });
    expect(result.message.text).toContain('Did you mean db?');
  });

  it('a missing argument is a usage error', async () => {
    const result = await run('diagnose');
    expect(result).toMatchObject({ visibility: 'ephemeral', message: { tone: 'error' } });
    expect(result.message.text).toBe('name a service. Usage: `/heal diagnose <service>`');
  });

  it('an unsafe service name is refused before it reaches the engine', async () => {
    const result = await run('diagnose api;rm');
    expect(result.message.text).toBe('service "api;rm" is not a valid service name. Usage: `/heal diagnose <service>`');
    const subst = await run('$(reboot)');
    expect(subst.message.tone).toBe('error');
    expect(subst.message.text).toContain('is not a valid service name');
  });

  it('approve and deny validate the id', async () => {
    for (const text of ['approve 123', 'deny apr_XYZ', 'approve apr_1a2b3c4d5', 'approve ../apr_1a2b3c4d']) {
      const result = await run(text);
      expect(result.message.tone, text).toBe('error');
      expect(result.message.text, text).toMatch(
        /is not an approval id \(like apr_1a2b3c4d\)\. Usage: `\/heal (approve|deny) <approval-id>`/,
      );
    }
    expect((await run('approve')).message.text).toContain('name an approval id');
  });

  it('a well-formed id that does not exist says so', async () => {
    const result = await run('approve apr_deadbeef');
    expect(result).toMatchObject({
      visibility: 'ephemeral',
      message: { tone: 'error', text: 'There is no approval apr_deadbeef.' },
    });
  });

  it('help lists every command with its usage', async () => {
    const result = await run('help');
    for (const definition of commandDefinitions) {
      expect(result.message.text).toContain(definition.usage);
      expect(result.message.text).toContain(definition.description);
    }
    expect(commandDefinitions.map((d) => d.name)).toEqual(
      expect.arrayContaining(['heal', 'diagnose', 'status', 'history', 'pause', 'resume', 'approve', 'deny', 'help']),
    );
    expect(new Set(commands.map((c) => c.definition.name)).size).toBe(commands.length);
    expect((await run('')).message.text).toBe(result.message.text);
  });

  it('diagnose answers in the channel and changes nothing', async () => {
    const result = await run('diagnose api');
    expect(result.visibility).toBe('channel');
    expect(result.message.title).toBe('Diagnosis of api');
    expect(result.message.text).toContain('api is healthy');
    expect(result.message.text).toContain('nothing was changed');
  });

  it('heal acknowledges at once and the incident runs on', async () => {
    const done = new Promise<ProgressEvent>((resolve) => {
      const off = bot.api.subscribe((event) => {
        if (event.type === 'done') off(), resolve(event);
      });
    });
    const result = await run('api');
    expect(result.visibility).toBe('ephemeral');
    expect(result.message.text).toContain('Healing *api*');
    const event = (await done) as Extract<ProgressEvent, { type: 'done' }>;
    expect(event.report).toMatchObject({ service: 'api', outcome: 'not_needed' });
  });

  it('status lists every service', async () => {
    const result = await run('status');
    expect(result.visibility).toBe('channel');
    expect(result.message.text).toMatch(/✓ \*api\*: healthy/);
    expect(result.message.text).toMatch(/✓ \*db\*: healthy/);
  });

  it('pause by someone who is not an approver is refused with who may', async () => {
    const result = await run('pause api', eve);
    expect(result).toMatchObject({ visibility: 'ephemeral', message: { tone: 'error' } });
    expect(result.message.text).toContain('only approvers of api may pause it (U_ANA)');
    expect(await bot.store.isPaused('api')).toBe(false);
  });

  it('pause and resume by an approver answer in the channel', async () => {
    expect((await run('pause db')).visibility).toBe('channel');
    expect(await bot.store.isPaused('db')).toBe(true);
    expect((await run('resume db')).message.text).toContain('breaker is reset');
    expect(await bot.store.isPaused('db')).toBe(false);
  });

  it('history of an unknown service suggests names', async () => {
    expect((await run('history ap')).message.text).toContain('Did you mean api');
  });

  it('a bug becomes a reply with an error id, reported to onBug', async () => {
    const broken = createHealbot(parseConfig({ services: { api: {} } }), { storePath: ':memory:' });
    await broken.store.close();
    const bugs: string[] = [];
    const result = await runCommand(broken.api, { actor: ana, text: 'history' }, (_error, id) => bugs.push(id));
    await broken.engine.close();
    expect(result.message.tone).toBe('error');
    expect(bugs).toHaveLength(1);
    expect(result.message.text).toBe(`Something went wrong on healbot's side (error ${bugs[0]}); it is logged.`);
  });
});
