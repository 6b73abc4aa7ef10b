import type { DockerEngine } from '../test/support/docker-engine.js';

type Images = typeof import('../test/support/images.js');

/**
 * healbot's test dockerd for a benchmark (as root; never the machine's Docker), with the test
 * images; or why there is none, as the benchmark's one figure.
 */
export async function benchDockerEngine(
  prefix: string,
): Promise<{ engine: DockerEngine; images: Images } | { skipped: Record<string, string> }> {
  const harness = await import('../test/support/docker-engine.js').catch(() => undefined);
  const images = await import('../test/support/images.js').catch(() => undefined);
  const engine = process.env.DOCKER_HOST ? undefined : await harness?.startDockerEngine().catch(() => undefined);
  if (!engine || !images)
    return {
      skipped: {
        [`${prefix}.skipped`]: `no Docker engine (${harness?.dockerEngineUnavailableReason() ?? 'test support not built'})`,
      },
    };
  return { engine, images };
}
