import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

describe('github service config', () => {
  it('fills the defaults of a CI service', () => {
    const config = parseConfig({
      services: { ci: { github: { repo: 'acme/shop', workflows: ['build.yml'] } } },
      github: { token: 't0ken-value', webhookSecret: 'whsec' },
    });
    expect(config.services.ci.github).toEqual({
      repo: 'acme/shop',
      workflows: ['build.yml'],
      branches: [],
      pollInterval: 15_000,
      verifyTimeout: 1_800_000,
      logLines: 200,
    });
    expect(config.github).toMatchObject({ apiUrl: 'https://api.github.com', timeoutMs: 15_000 });
  });

  it('names the field when a CI service has no token to use or a bad repo', () => {
    expect(() => parseConfig({ services: { ci: { github: { repo: 'acme/shop' } } } })).toThrow(
      /services\.ci\.github: needs a top-level github: \{ token \}/,
    );
    expect(() => parseConfig({ services: { ci: { github: { repo: 'shop' } } }, github: { token: 'x' } })).toThrow(
      ConfigError,
    );
    expect(() => parseConfig({ services: { ci: { github: { repo: 'shop' } } }, github: { token: 'x' } })).toThrow(
      /services\.ci\.github\.repo: must be owner\/name/,
    );
    expect(() =>
      parseConfig({
        services: { ci: { github: { repo: 'a/b' }, docker: { container: 'x' } } },
        github: { token: 'x' },
      }),
    ).toThrow(/has docker and github; a service has one runtime/);
  });
});
