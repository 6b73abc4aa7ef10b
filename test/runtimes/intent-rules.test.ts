import { describe, expect, it } from 'vitest';
import type { DockerContainerEvent } from '../../src/runtimes/docker-events.js';
import { awaitingStopEvent, stopOnPurpose } from '../../src/runtimes/docker-intent.js';
import { scaledToZeroOnPurpose } from '../../src/runtimes/kubernetes-intent.js';

/** Event sequences as dockerd 20.10 writes them (actions, signals and exit codes as observed). */
const sequence = (...steps: string[]): DockerContainerEvent[] =>
  steps.map((step, i) => {
    const [action, value] = step.split(':');
    const event: DockerContainerEvent = {
      container: 'api',
      action: action as DockerContainerEvent['action'],
      time: 1000 + i,
    };
    if (action === 'kill') event.signal = Number(value);
    if (action === 'die') event.exitCode = Number(value);
    return event;
  });

describe('a Docker stop on purpose or a crash', () => {
  it('docker stop, clean or after the SIGKILL fallback, is on purpose', () => {
    expect(stopOnPurpose(sequence('start', 'kill:15', 'die:0', 'stop'))).toEqual({ how: 'docker stop', at: 1003 });
    expect(stopOnPurpose(sequence('start', 'kill:15', 'kill:9', 'die:137', 'stop'))?.how).toBe('docker stop');
  });

  it('a kill with the stop signal and a clean exit is on purpose; with another exit it waits for the stop event', () => {
    expect(stopOnPurpose(sequence('start', 'kill:15', 'die:143'))?.how).toBe('docker kill --signal 15');
    const fallback = sequence('start', 'kill:15', 'kill:9', 'die:137');
    expect(stopOnPurpose(fallback)).toBeUndefined();
    expect(awaitingStopEvent(fallback)).toBe(true);
  });

  it('docker kill (SIGKILL), a non-zero exit and a die on its own are crashes', () => {
    expect(stopOnPurpose(sequence('start', 'kill:9', 'die:137'))).toBeUndefined();
    expect(awaitingStopEvent(sequence('start', 'kill:9', 'die:137'))).toBe(false);
    expect(stopOnPurpose(sequence('start', 'die:3'))).toBeUndefined();
    expect(stopOnPurpose(sequence('start', 'die:0'))).toBeUndefined();
  });

  it('a container started again since its stop is no longer stopped on purpose; pause and rm are', () => {
    expect(stopOnPurpose(sequence('kill:15', 'die:0', 'stop', 'start'))).toBeUndefined();
    expect(stopOnPurpose(sequence('start', 'pause'))?.how).toBe('docker pause');
    expect(stopOnPurpose(sequence('start', 'pause', 'unpause'))).toBeUndefined();
    expect(stopOnPurpose(sequence('start', 'kill:9', 'die:137', 'destroy'))?.how).toBe('docker rm');
  });

  it('honours a container whose stop signal is not SIGTERM', () => {
    expect(stopOnPurpose(sequence('start', 'kill:3', 'die:0'), 3)?.how).toBe('docker kill --signal 3');
    expect(stopOnPurpose(sequence('start', 'kill:15', 'die:0'), 3)).toBeUndefined();
  });
});

describe('a Kubernetes scale to zero on purpose', () => {
  const scale = (manager: string, time: string) => ({
    manager,
    operation: 'Update',
    subresource: 'scale',
    time: new Date(time),
    fieldsType: 'FieldsV1',
    fieldsV1: { 'f:spec': { 'f:replicas': {} } },
  });

  it('the last writer of spec.replicas was a person, and nothing failed before', () => {
    const fields = [
      scale('kube-controller-manager', '2026-01-01T10:00:00Z'),
      scale('kubectl-scale', '2026-01-01T10:42:05Z'),
    ];
    expect(scaledToZeroOnPurpose(fields, [])).toEqual({
      how: 'kubectl-scale set replicas to 0',
      at: Date.parse('2026-01-01T10:42:05Z'),
    });
  });

  it('not when a controller wrote it last, when nobody is known, or after failures', () => {
    expect(
      scaledToZeroOnPurpose(
        [scale('kubectl-scale', '2026-01-01T10:00:00Z'), scale('kube-controller-manager', '2026-01-01T10:42:05Z')],
        [],
      ),
    ).toBeUndefined();
    expect(scaledToZeroOnPurpose(undefined, [])).toBeUndefined();
    expect(
      scaledToZeroOnPurpose(
        [scale('kubectl-scale', '2026-01-01T10:42:05Z')],
        [{ reason: 'BackOff', message: 'Back-off restarting failed container', type: 'Warning' }],
      ),
    ).toBeUndefined();
  });
});
