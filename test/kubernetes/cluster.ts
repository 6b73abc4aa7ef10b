/**
 * A local "cluster" for tests: the fake API server, its controller, and a KubeConfig for the
 * real @kubernetes/client-node pointing at it over loopback.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { FakeApiServer, type ApiServerOptions } from './api-server.js';
import { DeploymentController } from './controller.js';

export interface TestCluster {
  server: FakeApiServer;
  controller: DeploymentController;
  kubeConfig: KubeConfig;
  stop(): Promise<void>;
}

export async function startCluster(options: ApiServerOptions & { startMs?: number } = {}): Promise<TestCluster> {
  const server = new FakeApiServer(options);
  await server.start();
  const controller = new DeploymentController(server, { startMs: options.startMs }).start();
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions(server.kubeConfigOptions());
  return {
    server,
    controller,
    kubeConfig,
    async stop() {
      controller.stop();
      await server.stop();
    },
  };
}
