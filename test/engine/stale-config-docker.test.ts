import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHealbot, loadRuntimes } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigWatch } from '../../src/monitor/config-watch.js';
import { dockerEngineUnavailableReason, requireOrSkip, startDockerEngine } from '../support/docker-engine.js';
import { useDockerWorkspace } from '../support/docker-workspace.js';
import { commands, runContainer, uniqueName, waitForContainer } from '../support/images.js';

/** A running container whose env file or mounted config changed after it started, on a real dockerd. */
const engine = await startDockerEngine();
const skip = !engine && requireOrSkip(dockerEngineUnavailableReason());

describe.skipIf(skip)('stale configuration on a real Docker engine', () => {
  const workspace = useDockerWorkspace(engine, 'stale');

  it('a changed env file and a changed read-only mounted config → stale_config, restart after approval, then healthy', async () => {
    const { docker, host, dir, bots } = workspace;
    const envFile = join(dir, 'api.env');
    const mounted = join(dir, 'app.conf');
    const scratch = join(dir, 'scratch.db');
    for (const file of [envFile, mounted, scratch]) writeFileSync(file, 'v1\n');
    const name = uniqueName('stale');
    await runContainer(docker, {
      name,
      cmd: commands.hang(['up']),
      stopSignal: 'SIGKILL',
      binds: [`${mounted}:/etc/app.conf:ro`, `${scratch}:/data/scratch.db`],
    });
    const { State } = await waitForContainer(docker, name, (info) => info.State.Running);
    const config = parseConfig({
      services: { api: { docker: { container: name, host, configFiles: [envFile] } } },
      healing: { approvers: ['U_ANA'], verifyTimeout: '5s' },
    });
    await loadRuntimes(config);
    const bot = createHealbot(config, { storePath: ':memory:' });
    bots.push(bot);
    bot.api.subscribe((event) => {
      if (event.type === 'awaiting_approval')
        void bot.api.decide(event.request.id, { platform: 'slack', id: 'U_ANA', display: '@ana' }, 'approve');
    });

    expect((await bot.api.diagnose('api')).rootCause.kind).toBe('healthy');
    await new Promise((resolve) => setTimeout(resolve, 20));
    // A writable mount (data) changing is not configuration; the env file and the read-only config are.
    for (const file of [envFile, mounted, scratch]) writeFileSync(file, 'v2\n');

    const report = await bot.api.heal({ service: 'api', source: 'chat' });
    expect(report.rootCause.kind).toBe('stale_config');
    expect(report.rootCause.summary).toContain(`${envFile}, ${mounted} changed after it started at ${State.StartedAt}`);
    expect(report.rootCause.summary).not.toContain(scratch);
    expect(report.plan).toEqual([expect.objectContaining({ action: 'restart', target: 'api', risk: 'risky' })]);
    expect(report.outcome).toBe('healed');
    expect(report.approvedBy).toEqual(['@ana']);
    expect((await docker.getContainer(name).inspect()).State.StartedAt).not.toBe(State.StartedAt);
    expect((await bot.api.diagnose('api')).rootCause.kind).toBe('healthy');
  });

  it('the config watch opens one incident per change, without anyone asking', async () => {
    const { docker, host, dir, bots } = workspace;
    const envFile = join(dir, 'watched.env');
    writeFileSync(envFile, 'A=1\n');
    const name = uniqueName('watched');
    await runContainer(docker, { name, cmd: commands.hang(['up']), stopSignal: 'SIGKILL' });
    await waitForContainer(docker, name, (info) => info.State.Running);
    const config = parseConfig({
      services: {
        api: { docker: { container: name, host, configFiles: [envFile] } },
        other: { docker: { container: name, host } },
      },
    });
    await loadRuntimes(config);
    const bot = createHealbot(config, { storePath: ':memory:' });
    bots.push(bot);
    bot.api.subscribe((event) => {
      if (event.type === 'awaiting_approval')
        void bot.api.decide(event.request.id, { platform: 'cli', id: 'root' }, 'deny');
    });
    const watch = new ConfigWatch({ config, sensors: bot.sensors, engine: bot.engine });
    expect(watch.services).toEqual(['api']);
    expect(await watch.tick()).toEqual([]);

    await new Promise((resolve) => setTimeout(resolve, 20));
    writeFileSync(envFile, 'A=2\n');
    expect(await watch.tick()).toEqual(['api']);
    const incident = (await bot.store.listIncidents({ service: 'api' }))[0];
    expect(incident).toMatchObject({ source: 'monitor' });
    const deadline = Date.now() + 10_000;
    while ((await bot.store.getIncident(incident.id))?.status !== 'closed' && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await bot.store.getIncident(incident.id)).toMatchObject({
      outcome: 'denied',
      rootCause: { kind: 'stale_config' },
    });
    // The restart was denied: the same change is not reported twice.
    expect(await watch.tick()).toEqual([]);
    expect(await bot.store.listIncidents({ service: 'api' })).toHaveLength(1);
  });
});
