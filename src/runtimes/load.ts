import type { Config } from '../config/schema.js';

/** The runtime modules that are large to load (their clients): loaded only when the config uses them. */
let docker: typeof import('./docker.js') | undefined;
let kubernetes: typeof import('./kubernetes.js') | undefined;

/**
 * Loads the runtime modules `config` needs, before anything builds a runtime from it: the
 * Kubernetes client (about 75 MB resident) only for a service on Kubernetes, dockerode (about
 * 25 MB) only for a service on Docker.
 */
export async function loadRuntimes(config: Pick<Config, 'services'>): Promise<void> {
  const services = Object.values(config.services);
  if (!docker && services.some((service) => service.docker)) docker = await import('./docker.js');
  if (!kubernetes && services.some((service) => service.kubernetes)) kubernetes = await import('./kubernetes.js');
}

function loaded<T>(module: T | undefined, what: string): T {
  if (!module) throw new Error(`await loadRuntimes(config) first: a service runs on ${what}`);
  return module;
}

/** The Docker runtime module, once {@link loadRuntimes} loaded it. */
export const dockerModule = () => loaded(docker, 'Docker');

/** The Kubernetes runtime module, once {@link loadRuntimes} loaded it. */
export const kubernetesModule = () => loaded(kubernetes, 'Kubernetes');
