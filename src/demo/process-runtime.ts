import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { RuntimeState } from '../engine/types.js';
import { RuntimeError } from '../errors.js';
import type { Runtime, RuntimeAction } from '../runtimes/runtime.js';

const SERVER = fileURLToPath(new URL('./server.js', import.meta.url));

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

/** A demo process that healbot starts, watches and restarts, standing in for a container. */
export class ProcessRuntime implements Runtime {
  readonly kind = 'process' as const;
  private child?: ChildProcess;
  private exitCode?: number;
  private restarts = 0;

  constructor(
    readonly role: 'backend' | 'proxy' | 'edge',
    readonly port: number,
    private readonly upstream?: number,
  ) {}

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      [SERVER, this.role, String(this.port), ...(this.upstream ? [String(this.upstream)] : [])],
      { stdio: 'ignore' },
    );
    this.child = child;
    this.exitCode = undefined;
    child.once('exit', (code, signal) => {
      if (this.child === child) this.exitCode = code ?? (signal === 'SIGKILL' ? 137 : 143);
    });
    const deadline = Date.now() + 5000;
    while (!(await listening(this.port))) {
      if (Date.now() > deadline || this.exitCode !== undefined)
        throw new RuntimeError(`demo ${this.role} did not start on port ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Injects a fault: the process dies as if the kernel killed it. */
  kill(): Promise<void> {
    return this.terminate('SIGKILL');
  }

  stop(): Promise<void> {
    return this.terminate('SIGTERM');
  }

  private async terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  async inspect(): Promise<RuntimeState> {
    const alive = this.child !== undefined && this.exitCode === undefined;
    return {
      runtime: 'process',
      target: this.role,
      status: alive ? 'running' : 'exited',
      exitCode: this.exitCode,
      restartCount: this.restarts,
    };
  }

  supports(action: RuntimeAction['action']): boolean {
    return action === 'restart' || action === 'start';
  }

  async perform(action: RuntimeAction): Promise<void> {
    if (!this.supports(action.action)) throw new RuntimeError(`the demo ${this.role} cannot ${action.action}`);
    await this.stop();
    this.restarts += 1;
    await this.start();
  }

  async close(): Promise<void> {
    await this.stop();
  }
}
