import { describe, expect, it } from 'vitest';
import { runArgv } from '../../src/runtimes/argv-runner.js';

const node = process.execPath;

describe('running a runbook command', () => {
  it("passes arguments as they are (no shell) and keeps healbot's tokens out of the command's environment", async () => {
    const env = { PATH: process.env.PATH, SLACK_BOT_TOKEN: 'xoxb-secret', HOME: '/tmp' };
    const outcome = await runArgv(
      [
        node,
        '-e',
        'console.log(JSON.stringify([process.argv[1], process.env.SLACK_BOT_TOKEN ?? null, process.env.HOME]))',
        '$(id) ; `id`',
      ],
      { timeoutMs: 10_000 },
      env,
    );
    expect(outcome).toMatchObject({ exitCode: 0, timedOut: false });
    expect(JSON.parse(outcome.output)).toEqual(['$(id) ; `id`', null, '/tmp']);
  });

  it('reports a command that cannot start, a failing exit code and a deadline', async () => {
    expect(await runArgv(['/nonexistent/healbot-tool'], { timeoutMs: 5000 })).toMatchObject({
      exitCode: undefined,
      error: expect.stringContaining('ENOENT'),
    });
    expect(await runArgv([node, '-e', 'console.error("boom"); process.exit(4)'], { timeoutMs: 5000 })).toMatchObject({
      exitCode: 4,
      output: 'boom',
    });
    expect(await runArgv([node, '-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 200 })).toMatchObject({
      timedOut: true,
    });
  });
});
