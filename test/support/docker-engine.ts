/**
 * A real Docker engine for tests: healbot's own `dockerd`, on a private socket and data root
 * under /tmp, never the machine's Docker. Under vitest's globalSetup (./global-setup.ts) the run
 * shares one, launched by the first test file that asks; a test file outside that setup
 * launches its own.
 *
 * Tests that need it follow one pattern: no engine fails the run under CI=true and skips
 * otherwise, saying why.
 *
 *   const engine = await startDockerEngine();
 *   const skip = !engine && requireOrSkip(dockerEngineUnavailableReason());
 *   describe.skipIf(skip)('…', () => { … });
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { execa } from 'execa';
import { inject } from 'vitest';

export const DOCKERD_PATH = '/usr/sbin/dockerd';
/** The prefix every engine directory carries: /tmp/healbot-dockerd-<owner pid>. */
const DIR_PREFIX = 'healbot-dockerd-';
const TMP = '/tmp';
/** Long enough for a cold start on a loaded 2-core machine. */
const PING_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 20_000;

/**
 * What globalSetup hands to test files (serialisable): the directory where the run's one
 * dockerd lives. The first test file that needs Docker launches it there; the others wait for it.
 */
export type SharedDockerEngine = { dir: string } | { unavailable: string };

declare module 'vitest' {
  export interface ProvidedContext {
    healbotDockerEngine?: SharedDockerEngine;
  }
}

export interface DockerEngine {
  /** Path of the unix socket. */
  socket: string;
  /** `unix://<socket>`, for config's `docker.host`. */
  host: string;
  docker: Dockerode;
  /** Stops the engine when this caller owns it; the run's shared engine is stopped by globalSetup's teardown. */
  stop(): Promise<void>;
}

/** A dockerd running in `dir`. */
export interface LaunchedDockerd {
  dir: string;
  socket: string;
  logFile: string;
  pid: number;
}

let unavailableReason = 'the Docker engine was not started';

/** Why the last `startDockerEngine()` returned undefined. */
export function dockerEngineUnavailableReason(): string {
  return unavailableReason;
}

/**
 * A real part is missing: under CI=true that fails the run (throws); elsewhere the caller skips,
 * and the reason is printed. Returns true, for `describe.skipIf(...)`.
 */
export function requireOrSkip(reason: string): true {
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: tests that need a real part must not skip)`);
  console.warn(`skipping: ${reason}`);
  return true;
}

/** The engine directory owned by a process (the vitest main process for the shared engine). */
export function engineDirectory(ownerPid = process.pid): string {
  return join(TMP, `${DIR_PREFIX}${ownerPid}`);
}

/** Why dockerd cannot run here at all, found without starting it; undefined when it may. */
export function dockerdUnavailable(): string | undefined {
  if (!existsSync(DOCKERD_PATH)) return `dockerd is not installed at ${DOCKERD_PATH} (run .ci/install-docker.sh)`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return 'dockerd needs root and these tests are not running as root';
  return undefined;
}

/**
 * The engine for this test file: the run's shared one when globalSetup set it up (launched by
 * whichever file asks first), else one of its own, stopped by `stop()`. Undefined when dockerd
 * is not installed or cannot start; see `dockerEngineUnavailableReason()`.
 */
export async function startDockerEngine(): Promise<DockerEngine | undefined> {
  let shared: SharedDockerEngine | undefined;
  try {
    shared = inject('healbotDockerEngine');
  } catch {
    shared = undefined;
  }
  if (shared && 'unavailable' in shared) {
    unavailableReason = shared.unavailable;
    return undefined;
  }
  const blocked = dockerdUnavailable();
  if (blocked) {
    unavailableReason = blocked;
    return undefined;
  }
  if (shared) {
    const engine = await joinSharedEngine(shared.dir);
    if (typeof engine === 'string') {
      unavailableReason = engine;
      return undefined;
    }
    const docker = new Dockerode({ socketPath: engine.socket });
    return { socket: engine.socket, host: `unix://${engine.socket}`, docker, stop: async () => {} };
  }
  await cleanLeftoverDockerds();
  const dir = engineDirectory();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const launched = launchDockerd(dir, { stopWithProcess: true });
  const ready = await waitForDockerd(launched);
  if (ready !== true) {
    unavailableReason = ready;
    await stopDockerd(launched);
    return undefined;
  }
  const docker = new Dockerode({ socketPath: launched.socket });
  return {
    socket: launched.socket,
    host: `unix://${launched.socket}`,
    docker,
    stop: () => stopDockerd(launched, docker),
  };
}

/**
 * Launches the shared dockerd in `dir` unless another test file already did (creating the
 * directory is the lock), then waits for it. Returns it, or why it is not there.
 */
async function joinSharedEngine(dir: string): Promise<LaunchedDockerd | string> {
  let first = true;
  try {
    mkdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return `cannot create ${dir}: ${(error as Error).message}`;
    first = false;
  }
  // Detached: the worker that launched it may finish first; globalSetup's teardown stops it.
  const launched = first ? launchDockerd(dir, { stopWithProcess: false }) : await launchedBySomeoneElse(dir);
  if (typeof launched === 'string') return launched;
  const ready = await waitForDockerd(launched);
  return ready === true ? launched : ready;
}

async function launchedBySomeoneElse(dir: string): Promise<LaunchedDockerd | string> {
  const deadline = Date.now() + PING_TIMEOUT_MS;
  const launcherPid = join(dir, 'launcher.pid');
  while (Date.now() < deadline) {
    const pid = readPid(launcherPid);
    if (pid !== undefined) return describeLaunched(dir, pid);
    await sleep(50);
  }
  return `no dockerd was launched in ${dir} within ${PING_TIMEOUT_MS} ms`;
}

function describeLaunched(dir: string, pid: number): LaunchedDockerd {
  return { dir, pid, socket: join(dir, 'docker.sock'), logFile: join(dir, 'dockerd.log') };
}

/**
 * Spawns dockerd in `dir` without waiting for it. Its flags keep it away from the machine: no
 * bridge and no iptables (containers use the host network), vfs storage (no overlay mounts to
 * leak), its own containerd namespace and cgroup parent, and a short shutdown timeout.
 * `stopWithProcess`: SIGTERM it should this process exit without stopping it.
 */
export function launchDockerd(dir: string, options: { stopWithProcess: boolean }): LaunchedDockerd {
  const name = dir.slice(dir.lastIndexOf('/') + 1);
  const socket = join(dir, 'docker.sock');
  const logFile = join(dir, 'dockerd.log');
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(dir, 'exec'), { recursive: true });
  writeFileSync(join(dir, 'daemon.json'), '{}\n');
  const log = openSync(logFile, 'a');
  const args = [
    `--host=unix://${socket}`,
    `--data-root=${join(dir, 'data')}`,
    `--exec-root=${join(dir, 'exec')}`,
    `--pidfile=${join(dir, 'docker.pid')}`,
    `--config-file=${join(dir, 'daemon.json')}`,
    '--bridge=none',
    '--iptables=false',
    '--ip6tables=false',
    '--ip-masq=false',
    '--storage-driver=vfs',
    `--containerd-namespace=${name}`,
    `--containerd-plugins-namespace=${name}-plugins`,
    `--cgroup-parent=/${name}`,
    '--shutdown-timeout=2',
    '--log-level=warn',
  ];
  const child = spawn(DOCKERD_PATH, args, { stdio: ['ignore', log, log], detached: !options.stopWithProcess });
  closeSync(log);
  child.on('error', () => {});
  if (child.pid === undefined) {
    writeFileSync(join(dir, 'launcher.pid'), '0\n');
    return { dir, socket, logFile, pid: 0 };
  }
  writeFileSync(join(dir, 'launcher.pid'), `${child.pid}\n`);
  if (options.stopWithProcess) {
    // Should this process exit without its teardown, dockerd still shuts itself down; the
    // directory left behind is removed by the next run's cleanLeftoverDockerds.
    const onExit = () => signal(child.pid!, 'SIGTERM');
    process.once('exit', onExit);
    child.once('exit', () => process.removeListener('exit', onExit));
  } else {
    child.unref();
  }
  return { dir, socket, logFile, pid: child.pid };
}

/** True once dockerd answers `/_ping`, else a reason with the end of its log. */
export async function waitForDockerd(launched: LaunchedDockerd, timeoutMs = PING_TIMEOUT_MS): Promise<true | string> {
  const ok = await waitForPing(launched.socket, timeoutMs, () => isAlive(launched.pid));
  if (ok) return true;
  const how = isAlive(launched.pid) ? `did not answer within ${timeoutMs} ms` : 'exited';
  return `dockerd ${how}: ${logTail(launched.logFile)}`;
}

/**
 * Stops a dockerd: removes its containers, SIGTERM (SIGKILL after a grace period), then kills
 * anything left in its cgroups, unmounts and deletes its directory.
 */
export async function stopDockerd(launched: LaunchedDockerd, docker?: Dockerode): Promise<void> {
  if (isAlive(launched.pid)) {
    const client = docker ?? new Dockerode({ socketPath: launched.socket });
    try {
      const containers = await client.listContainers({
        all: true,
        abortSignal: AbortSignal.timeout(5_000),
      } as Dockerode.ContainerListOptions);
      await Promise.allSettled(containers.map((c) => client.getContainer(c.Id).remove({ force: true, v: true })));
    } catch {
      // Not answering: the signals below still stop it.
    }
    signal(launched.pid, 'SIGTERM');
    if (!(await waitForExit(launched.pid, STOP_GRACE_MS))) {
      signal(launched.pid, 'SIGKILL');
      await waitForExit(launched.pid, 5_000);
    }
  }
  await cleanDirectory(launched.dir);
}

/** Stops the dockerd in `dir`, if one was launched there, and removes the directory. */
export async function stopDockerdIn(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  const pid = readPid(join(dir, 'launcher.pid'));
  await stopDockerd(describeLaunched(dir, pid ?? 0));
}

/** Kills dockerds (and their containerd, shims and containers) left by test processes that are gone. */
export async function cleanLeftoverDockerds(): Promise<void> {
  for (const entry of safeReaddir(TMP)) {
    const match = /^healbot-dockerd-(\d+)$/.exec(entry);
    if (!match) continue;
    const owner = Number(match[1]);
    if (owner === process.pid || isAlive(owner)) continue;
    const dir = join(TMP, entry);
    for (const file of ['docker.pid', 'launcher.pid']) {
      const pid = readPid(join(dir, file));
      if (pid !== undefined && isAlive(pid) && cmdlineOf(pid).includes(dir)) signal(pid, 'SIGKILL');
    }
    await cleanDirectory(dir);
  }
}

/** Kills the processes still tied to an engine directory, unmounts what lies under it, deletes it. */
async function cleanDirectory(dir: string): Promise<void> {
  const name = dir.slice(dir.lastIndexOf('/') + 1);
  for (const pid of processesMentioning(dir)) signal(pid, 'SIGKILL');
  for (const pid of processesInCgroup(name)) signal(pid, 'SIGKILL');
  removeCgroups(name);
  for (const mountpoint of mountsUnder(dir)) {
    await execa('umount', ['-l', mountpoint], { reject: false });
  }
  await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
}

function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if (cmdlineOf(pid).includes(text)) found.push(pid);
  }
  return found;
}

function cgroupDirs(name: string): string[] {
  return safeReaddir('/sys/fs/cgroup')
    .map((controller) => join('/sys/fs/cgroup', controller, name))
    .filter((path) => existsSync(path));
}

function processesInCgroup(name: string): number[] {
  const pids = new Set<number>();
  const walk = (path: string) => {
    try {
      for (const line of readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n'))
        if (line.trim()) pids.add(Number(line));
    } catch {
      // not a cgroup directory
    }
    for (const child of safeReaddir(path)) {
      const sub = join(path, child);
      if (isDirectory(sub)) walk(sub);
    }
  };
  for (const root of cgroupDirs(name)) walk(root);
  return [...pids];
}

function removeCgroups(name: string): void {
  const remove = (path: string) => {
    for (const child of safeReaddir(path)) {
      const sub = join(path, child);
      if (isDirectory(sub)) remove(sub);
    }
    try {
      rmdirSync(path);
    } catch {
      // busy or already gone
    }
  };
  for (const root of cgroupDirs(name)) remove(root);
}

function mountsUnder(dir: string): string[] {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
      .filter((point): point is string => point !== undefined && (point === dir || point.startsWith(`${dir}/`)))
      .sort((a, b) => b.length - a.length);
  } catch {
    return [];
  }
}

/** Resolves true when GET /_ping answers 200, false once `timeoutMs` passed or `alive()` says the daemon died. */
export async function waitForPing(
  socket: string,
  timeoutMs: number,
  alive: () => boolean = () => true,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ping(socket)) return true;
    if (!alive()) return false;
    await sleep(100);
  }
  return false;
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get({ socketPath: socket, path: '/_ping', timeout: 2_000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

function logTail(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8').trim().split('\n');
    return lines.slice(-5).join(' | ') || '(empty log)';
  } catch {
    return '(no log)';
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True while the process runs; a zombie (exited, not yet reaped) counts as gone. */
function isAlive(pid: number | undefined): boolean {
  if (pid === undefined || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function safeReaddir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
