import { describe, expect, it } from 'vitest';
import { classifyCiLog, logLinesOf, restoredCacheKeys } from '../../../src/engine/ci/patterns.js';

// Lines as npm, pip, Docker, tar and test runners print them in GitHub Actions job logs.
const cases: { name: string; lines: string[]; id: string; category: string; description?: RegExp }[] = [
  {
    name: 'npm ETIMEDOUT fetching a package document',
    lines: [
      'npm ERR! code ETIMEDOUT',
      'npm ERR! errno ETIMEDOUT',
      'npm ERR! network request to https://registry.npmjs.org/express failed, reason: connect ETIMEDOUT 104.16.0.35:443',
      'npm ERR! network This is a problem related to network connectivity.',
    ],
    id: 'npm_network',
    category: 'network',
    description: /^npm ETIMEDOUT fetching registry metadata$/,
  },
  {
    name: 'npm 10 ECONNRESET on a tarball',
    lines: [
      'npm error code ECONNRESET',
      'npm error network request to https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz failed, reason: read ECONNRESET',
    ],
    id: 'npm_network',
    category: 'network',
    description: /ECONNRESET fetching a package tarball/,
  },
  {
    name: 'npm EAI_AGAIN',
    lines: [
      'npm ERR! request to https://registry.npmjs.org/react failed, reason: getaddrinfo EAI_AGAIN registry.npmjs.org',
    ],
    id: 'npm_network',
    category: 'network',
  },
  {
    name: 'pip read timeout',
    lines: [
      "pip._vendor.urllib3.exceptions.ReadTimeoutError: HTTPSConnectionPool(host='files.pythonhosted.org', port=443): Read timed out.",
    ],
    id: 'pip_network',
    category: 'network',
    description: /files\.pythonhosted\.org/,
  },
  {
    name: 'docker pull timeout',
    lines: [
      'Error response from daemon: Get "https://registry-1.docker.io/v2/": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)',
    ],
    id: 'docker_pull_timeout',
    category: 'network',
  },
  {
    name: 'registry 503',
    lines: ['npm ERR! code E503', 'npm ERR! 503 Service Unavailable - GET https://registry.npmjs.org/left-pad'],
    id: 'registry_5xx',
    category: 'registry_unavailable',
  },
  {
    name: 'npm EINTEGRITY',
    lines: [
      'npm ERR! code EINTEGRITY',
      'npm ERR! sha512-abc integrity checksum failed when using sha512: wanted sha512-abc but got sha512-def. (15325 bytes)',
    ],
    id: 'npm_integrity',
    category: 'cache_corrupt',
  },
  {
    name: 'tar failing on cache restore',
    lines: [
      '/usr/bin/tar -xf /home/runner/work/_temp/cache.tzst -P -C /home/runner/work/app --use-compress-program unzstd',
      '/usr/bin/tar: Unexpected EOF in archive',
      'Warning: Failed to restore: "/usr/bin/tar" failed with error: The process \'/usr/bin/tar\' failed with exit code 2',
    ],
    id: 'cache_tar',
    category: 'cache_corrupt',
  },
  {
    name: 'npm ci lockfile out of date',
    lines: [
      'npm ERR! code EUSAGE',
      'npm ERR! `npm ci` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync.',
      "npm ERR! Invalid: lock file's express@4.17.1 does not satisfy express@^4.18.2",
    ],
    id: 'npm_lockfile',
    category: 'lockfile',
    description: /lock file's express@4\.17\.1 does not satisfy express@\^4\.18\.2/,
  },
  {
    name: 'yarn frozen lockfile',
    lines: ['error Your lockfile needs to be updated, but yarn was run with `--frozen-lockfile`.'],
    id: 'lockfile_frozen',
    category: 'lockfile',
  },
  {
    name: 'runner out of disk',
    lines: [
      "System.IO.IOException: No space left on device : '/home/runner/runners/2.321.0/_diag/Worker_20261130.log'",
    ],
    id: 'runner_disk_full',
    category: 'disk_full',
  },
  {
    name: 'jest failure',
    lines: [
      'FAIL src/cart.test.ts',
      '  ● cart › adds an item',
      '    expect(received).toBe(expected) // Object.is equality',
      'Tests:       1 failed, 41 passed, 42 total',
    ],
    id: 'test_failure',
    category: 'test_failure',
  },
  {
    name: 'pytest failure',
    lines: [
      'FAILED tests/test_cart.py::test_total - assert 3 == 4',
      '========================= 1 failed, 12 passed in 0.42s =========================',
    ],
    id: 'test_failure',
    category: 'test_failure',
  },
  {
    name: 'a test that hit the network is still a test failure',
    lines: ['Error: connect ETIMEDOUT 10.0.0.1:443', 'Tests:       1 failed, 3 passed, 4 total'],
    id: 'test_failure',
    category: 'test_failure',
  },
];

describe('CI failure classification', () => {
  for (const c of cases) {
    it(`recognises ${c.name}`, () => {
      const match = classifyCiLog(c.lines);
      expect(match?.id).toBe(c.id);
      expect(match?.category).toBe(c.category);
      if (c.description) expect(match?.description).toMatch(c.description);
    });
  }

  it('recognises nothing in a log without a known failure', () => {
    expect(classifyCiLog(['Run make', 'make: *** [Makefile:3: all] Error 2'])).toBeUndefined();
  });

  it('strips GitHub timestamps and group markers and finds restored cache keys', () => {
    const lines = logLinesOf(
      '2026-11-30T12:00:00.0000000Z ##[group]Run actions/setup-node@v4\n2026-11-30T12:00:01.0000000Z Cache restored from key: node-cache-Linux-x64-npm-3f5a\n2026-11-30T12:00:02.0000000Z ##[endgroup]\n',
    );
    expect(lines).toEqual(['Cache restored from key: node-cache-Linux-x64-npm-3f5a']);
    expect(restoredCacheKeys(lines)).toEqual(['node-cache-Linux-x64-npm-3f5a']);
  });
});
