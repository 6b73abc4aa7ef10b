import { describe, expect, it } from 'vitest';
import { configDir, runCli } from '../support/cli.js';

describe('healbot demo', () => {
  it('breaks and heals the local topology through the console chat, asking before each restart', async () => {
    const dir = configDir();
    const script = dir.write(
      'script.txt',
      [
        '/break backend',
        '/heal api',
        'y',
        '/break proxy',
        '/heal api',
        'n',
        '/heal api',
        'y',
        '/break edge',
        '/heal api',
        '/fix edge',
        '/heal status',
        '/heal history',
      ].join('\n'),
    );
    const result = await runCli(['demo', '--script', script]);
    dir.cleanup();
    expect(result.exitCode, result.stderr).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(
      /healed: the api process \(backend\) has exited \(code 137, killed\); started api after approval by @\S+; healthy again in \d+\.\d s/,
    );
    expect(out).toMatch(/Root cause: layer broken \(proxy\)/);
    expect(out).toMatch(/restart proxy: denied by @\S+/);
    expect(out).toMatch(/healed: the proxy layer answers 502 while internal is healthy; restarted proxy/);
    expect(out).toMatch(
      /escalated: the public layer answers 502 while proxy and internal are healthy: it has no working route for 127\.0\.0\.1 to http:\/\/127\.0\.0\.1:\d+; the api backend is healthy; nothing was restarted/,
    );
    expect(out).toMatch(/✓ api: healthy\n✓ proxy: healthy/);
    expect(out.match(/Approval needed/g)).toHaveLength(3);
  });
});
