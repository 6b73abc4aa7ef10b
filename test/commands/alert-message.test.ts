import { describe, expect, it } from 'vitest';
import { compileMatchers, recognizeAlert } from '../../commands/alert-message.js';
import { ConfigError } from '../../src/errors.js';

const services = ['api', 'proxy', 'db', 'api_gateway'];

describe('recognizeAlert', () => {
  it('maps Alertmanager default Slack notification (attachment title with label values) to the service', () => {
    const alert = recognizeAlert(
      {
        text: '',
        isBot: true,
        attachments: [
          {
            title: '[FIRING:1] ApiDown api (http://api:8000/ready prod)',
            text: 'The api service has been down for 1 minute.',
            fallback: '[FIRING:1] ApiDown api | http://alertmanager:9093',
          },
        ],
      },
      [],
      services,
    );
    expect(alert).toEqual({
      service: 'api',
      summary: '[FIRING:1] ApiDown api (http://api:8000/ready prod)',
      firing: true,
    });
  });

  it('reads the service label from Grafana notifications', () => {
    const alert = recognizeAlert(
      { text: '**[FIRING:1]** HighErrorRate (service=proxy severity=critical)' },
      [],
      services,
    );
    expect(alert?.service).toBe('proxy');
    expect(alert?.firing).toBe(true);
  });

  it('reads a Grafana legacy [Alerting] message with a service field', () => {
    const alert = recognizeAlert(
      { text: '', embeds: [{ title: '[Alerting] Latency', fields: [{ name: 'service', value: 'db' }] }] },
      [],
      services,
    );
    expect(alert?.service).toBe('db');
  });

  it('reads Uptime Kuma down and up notifications', () => {
    expect(recognizeAlert({ text: '[api] [🔴 Down] connect ECONNREFUSED 10.0.0.5:8000' }, [], services)).toEqual({
      service: 'api',
      summary: '[api] [🔴 Down] connect ECONNREFUSED 10.0.0.5:8000',
      firing: true,
    });
    expect(recognizeAlert({ text: '[api] [✅ Up] 200 - OK' }, [], services)?.firing).toBe(false);
  });

  it('marks resolved Alertmanager notifications as not firing', () => {
    expect(recognizeAlert({ text: '[RESOLVED] ApiDown api' }, [], services)).toMatchObject({
      service: 'api',
      firing: false,
    });
  });

  it('keeps underscores in service names', () => {
    expect(recognizeAlert({ text: '[FIRING:1] GatewayDown api_gateway' }, [], services)?.service).toBe('api_gateway');
  });

  it('never returns a service that is not configured', () => {
    expect(recognizeAlert({ text: '[FIRING:1] PaymentsDown payments' }, [], services)).toBeUndefined();
    expect(recognizeAlert({ text: '[FIRING:1] X (service=payments)' }, [], services)).toBeUndefined();
    expect(
      recognizeAlert({ text: 'payments is slow' }, [{ pattern: 'slow', service: 'payments' }], services),
    ).toBeUndefined();
  });

  it('does not guess when the headline names two services', () => {
    expect(recognizeAlert({ text: '[FIRING:2] Down api proxy' }, [], services)).toBeUndefined();
  });

  it('ignores ordinary chat', () => {
    expect(recognizeAlert({ text: 'is the api down for anyone else?' }, [], services)).toBeUndefined();
  });

  it('applies configured matchers before the built-in formats', () => {
    const alert = recognizeAlert(
      { text: 'PagerDuty: checkout latency high' },
      [{ pattern: 'checkout\\s+latency', service: 'api' }],
      services,
    );
    expect(alert).toEqual({ service: 'api', summary: 'PagerDuty: checkout latency high', firing: true });
  });

  it('reports an invalid matcher pattern as a config problem naming the field', () => {
    expect(() => compileMatchers([{ pattern: '(unclosed', service: 'api' }], 'slack.matchers')).toThrow(ConfigError);
    let caught: unknown;
    try {
      compileMatchers(
        [
          { pattern: 'ok', service: 'api' },
          { pattern: '[z-a]', service: 'api' },
        ],
        'slack.matchers',
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems.map((p) => p.path)).toEqual(['slack.matchers[1].pattern']);
  });
});
