/**
 * A tiny test image made from Debian's busybox-static (no registry: `docker import` of a tar of
 * /bin/busybox), and ready-made containers built on it: an HTTP server whose `/ready` answers
 * 200, one that answers 500, a process that exits with a code, one that is OOM-killed, one
 * that hangs. Every container uses the host network and carries the label `healbot.test=1`.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  copyFileSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { execa } from 'execa';
export { freePort } from '../../src/free-port.js';

export const BUSYBOX_PATH = '/bin/busybox';
export const TEST_IMAGE = 'healbot-test/busybox:1';
export const TEST_LABEL = 'healbot.test';
/**
 * Test files share one dockerd and run in parallel: each file's module instance labels its
 * containers with its own id, so one file's cleanup never removes another's containers.
 */
const FILE_ID = randomBytes(4).toString('hex');

/** A 500 answer from a CGI script, for the failing server. */
const FAILING_CGI =
  '#!/bin/sh\nprintf "Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nbroken\\n"\n';

/**
 * Makes sure the test image exists in this engine, importing it when it does not. Returns its
 * tag, or throws saying busybox-static is missing.
 */
export async function ensureTestImage(docker: Dockerode): Promise<string> {
  try {
    await docker.getImage(TEST_IMAGE).inspect();
    return TEST_IMAGE;
  } catch {
    // not there yet
  }
  if (!existsSync(BUSYBOX_PATH))
    throw new Error(`${BUSYBOX_PATH} is missing: install Debian's busybox-static (.ci/install-docker.sh)`);
  const root = mkdtempSync('/tmp/healbot-image-');
  try {
    const rootfs = join(root, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    copyFileSync(BUSYBOX_PATH, join(rootfs, 'bin', 'busybox'));
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
    for (const applet of ['sh', 'sleep', 'echo', 'cat', 'httpd', 'head', 'tr', 'true', 'false', 'wget']) {
      symlinkSync('busybox', join(rootfs, 'bin', applet));
    }
    mkdirSync(join(rootfs, 'tmp'), { mode: 0o1777 });
    chmodSync(join(rootfs, 'tmp'), 0o1777);
    // Static root for the healthy server: /ready answers 200 "ok".
    mkdirSync(join(rootfs, 'www', 'ok'), { recursive: true });
    writeFileSync(join(rootfs, 'www', 'ok', 'ready'), 'ok\n');
    // CGI root for the failing server: /cgi-bin/ready answers 500.
    mkdirSync(join(rootfs, 'www', 'failing', 'cgi-bin'), { recursive: true });
    writeFileSync(join(rootfs, 'www', 'failing', 'cgi-bin', 'ready'), FAILING_CGI);
    chmodSync(join(rootfs, 'www', 'failing', 'cgi-bin', 'ready'), 0o755);
    const tarball = join(root, 'rootfs.tar');
    await execa('tar', ['-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', tarball, '.']);
    const [repo, tag] = TEST_IMAGE.split(':');
    const stream = await docker.importImage(tarball, { repo, tag });
    await followProgress(docker, stream);
    await docker.getImage(TEST_IMAGE).inspect();
    return TEST_IMAGE;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function followProgress(docker: Dockerode, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (error: Error | null, output: { error?: string }[]) => {
      const failed = output?.find((entry) => entry.error);
      if (error) reject(error);
      else if (failed) reject(new Error(`docker import failed: ${failed.error}`));
      else resolve();
    });
  });
}

export interface ContainerSpec {
  /** Unique per test; see `uniqueName`. */
  name: string;
  cmd: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  /** A Docker HEALTHCHECK: the command (argv) and how often it runs. */
  healthcheck?: { test: string[]; intervalMs?: number; retries?: number; timeoutMs?: number };
  /** Memory limit in bytes; swap is limited to the same, so exceeding it means OOM. */
  memory?: number;
  tty?: boolean;
  /** Create without starting. */
  start?: boolean;
  /** Bind mounts, `host-path:container-path[:ro]`. */
  binds?: string[];
  /** E.g. SIGKILL for a process that ignores SIGTERM as PID 1, so a restart need not wait out the grace period. */
  stopSignal?: string;
}

/** Creates (and by default starts) a container of the test image on the host network. */
export async function runContainer(docker: Dockerode, spec: ContainerSpec): Promise<Dockerode.Container> {
  const image = await ensureTestImage(docker);
  const ms = 1_000_000; // nanoseconds
  const container = await docker.createContainer({
    name: spec.name,
    Image: image,
    Cmd: spec.cmd,
    Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Labels: { [TEST_LABEL]: FILE_ID, ...spec.labels },
    Tty: spec.tty ?? false,
    StopSignal: spec.stopSignal,
    Healthcheck: spec.healthcheck
      ? {
          Test: ['CMD', ...spec.healthcheck.test],
          Interval: (spec.healthcheck.intervalMs ?? 300) * ms,
          Timeout: (spec.healthcheck.timeoutMs ?? 2_000) * ms,
          Retries: spec.healthcheck.retries ?? 1,
          StartPeriod: 0,
        }
      : undefined,
    HostConfig: {
      NetworkMode: 'host',
      Memory: spec.memory,
      MemorySwap: spec.memory,
      Binds: spec.binds,
    },
  });
  if (spec.start ?? true) await container.start();
  return container;
}

/** A container name no other test (or test file) uses. */
export function uniqueName(prefix: string): string {
  return `healbot-${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Shell that prints its arguments one a line: to stderr when they start with "!", else to stdout. */
const PRINT_ARGS = 'for l in "$@"; do case "$l" in "!"*) echo "${l#!}" >&2;; *) echo "$l";; esac; done';

/** Ready-made commands; each server binds 127.0.0.1 only. */
export const commands = {
  /** busybox httpd serving `GET /ready` → 200 "ok" at `http://127.0.0.1:<port>/ready`. */
  readyServer(port: number): string[] {
    return ['/bin/busybox', 'httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/www/ok'];
  },
  /** busybox httpd whose CGI `GET /cgi-bin/ready` answers 500 (busybox runs CGI only under /cgi-bin). */
  failingServer(port: number): string[] {
    return ['/bin/busybox', 'httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', '/www/failing'];
  },
  /** Prints `lines` (to stdout, or stderr for lines starting with "!"), then exits with `code`. */
  exitWith(code: number, lines: string[] = []): string[] {
    return ['/bin/busybox', 'sh', '-c', `${PRINT_ARGS}; exit ${Math.trunc(code)}`, 'exit-with', ...lines];
  },
  /** Grows a shell variable until the memory limit kills it (use with `memory`, e.g. 16 MiB). */
  allocateForever(): string[] {
    return [
      '/bin/busybox',
      'sh',
      '-c',
      'x=$(/bin/busybox head -c 1000000000 /dev/zero | /bin/busybox tr "\\0" a); echo survived',
    ];
  },
  /**
   * Keeps running; exits 0 on SIGTERM (a clean `docker stop`); exits 3 once `/tmp/crash`
   * appears (`docker exec … touch /tmp/crash`, removed on the way out); and, with a health check
   * of `cat /tmp/healthy`, is healthy until `/tmp/healthy` is removed, which every start recreates.
   */
  serviceLike(): string[] {
    const loop = 'while [ ! -f /tmp/crash ]; do /bin/busybox sleep 0.05; done; /bin/busybox rm -f /tmp/crash; exit 3';
    return ['/bin/busybox', 'sh', '-c', `echo ok > /tmp/healthy; trap "exit 0" TERM; ${loop}`];
  },
  /** Prints `lines` and then sleeps: a container that keeps running and does nothing. */
  hang(lines: string[] = []): string[] {
    return ['/bin/busybox', 'sh', '-c', `${PRINT_ARGS}; exec /bin/busybox sleep 100000`, 'hang', ...lines];
  },
};

/** Polls the container until `predicate` holds on its inspect data; throws with the last state on timeout. */
export async function waitForContainer(
  docker: Dockerode,
  name: string,
  predicate: (info: Dockerode.ContainerInspectInfo) => boolean,
  timeoutMs = 20_000,
): Promise<Dockerode.ContainerInspectInfo> {
  const deadline = Date.now() + timeoutMs;
  let last: Dockerode.ContainerInspectInfo | undefined;
  while (Date.now() < deadline) {
    last = await docker.getContainer(name).inspect();
    if (predicate(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `container ${name} did not reach the expected state within ${timeoutMs} ms; last state: ${JSON.stringify(last?.State)}`,
  );
}

/** Runs `cmd` inside a running container (`docker exec`) and waits for it to finish. */
export async function execIn(docker: Dockerode, name: string, cmd: string[]): Promise<void> {
  const exec = await docker.getContainer(name).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.resume();
  });
}

/** Removes every container this test file made. */
export async function removeTestContainers(docker: Dockerode): Promise<void> {
  const all = await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${FILE_ID}`] } });
  await Promise.allSettled(all.map((c) => docker.getContainer(c.Id).remove({ force: true })));
}
