/**
 * The Node base image healbot's Dockerfile builds FROM, made locally: no registry is reachable,
 * so this machine's own Node runtime is imported under the exact name the Dockerfile's `FROM`
 * uses (`ARG NODE_IMAGE=…`). Like the official `node:*-slim` images it holds node and npm in
 * /usr/local, a POSIX shell for `RUN` (busybox-static's) and the shared libraries `ldd` lists.
 */
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type Dockerode from 'dockerode';
import { execa } from 'execa';
import { BUSYBOX_PATH } from './images.js';

/** The checkout: the nearest directory above this module with a package.json (from test/ or dist/test/). */
export const REPO_ROOT = (() => {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
/** The docker CLI Debian's docker.io installs (what .ci/install-docker.sh provides), else the one on PATH. */
export const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

const SHELL_APPLETS = ['sh', '[', 'test', 'mkdir', 'ln', 'chmod', 'mv', 'rm', 'cp', 'cat', 'echo', 'ls', 'env', 'true'];

/** The base image name the Dockerfile's `ARG NODE_IMAGE=` default names. */
export function dockerfileBaseImage(dockerfile = join(REPO_ROOT, 'Dockerfile')): string {
  const match = /^ARG NODE_IMAGE=(\S+)$/m.exec(readFileSync(dockerfile, 'utf8'));
  if (!match) throw new Error(`${dockerfile} has no "ARG NODE_IMAGE=<image>" line`);
  return match[1];
}

/** Runs the docker CLI against one engine (`host`: unix://…). */
export function docker(host: string, args: string[], options: { timeoutMs?: number } = {}) {
  return execa(DOCKER_CLI, ['-H', host, ...args], {
    reject: false,
    all: true,
    env: DOCKER_CLI_ENV,
    timeout: options.timeoutMs ?? 120_000,
  });
}

/**
 * BuildKit, which Debian's docker 20.10 CLI and dockerd have built in: the classic builder runs
 * a container, a full copy of the tree on the vfs driver, for every instruction (minutes here).
 */
export const DOCKER_CLI_ENV = { DOCKER_BUILDKIT: '1' };

/** The shared libraries a binary loads, as absolute paths (the loader included). */
async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await execa('ldd', [binary]);
  const paths = new Set<string>();
  for (const line of stdout.split('\n')) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (match) paths.add(match[1]);
  }
  return [...paths];
}

/** Copies a file to the same path under `root`, and follows a symlink so both names exist. */
function copyInto(root: string, path: string): void {
  const target = join(root, path);
  mkdirSync(dirname(target), { recursive: true });
  if (!existsSync(target)) copyFileSync(realpathSync(path), target);
}

/**
 * Makes sure `name` exists in the engine at `host`, importing this machine's Node runtime under
 * it when it does not. Throws, saying what is missing, when it cannot.
 */
export async function ensureNodeBaseImage(host: string, name = dockerfileBaseImage()): Promise<string> {
  if ((await docker(host, ['image', 'inspect', name])).exitCode === 0) return name;
  if (!existsSync(BUSYBOX_PATH))
    throw new Error(`${BUSYBOX_PATH} is missing: install Debian's busybox-static (.ci/install-docker.sh)`);
  const npmCli = realpathSync((await execa('which', ['npm'])).stdout.trim());
  const npmRoot = resolve(dirname(npmCli), '..');
  const root = mkdtempSync('/tmp/healbot-node-image-');
  try {
    const rootfs = join(root, 'rootfs');
    mkdirSync(join(rootfs, 'usr/local/bin'), { recursive: true });
    copyFileSync(process.execPath, join(rootfs, 'usr/local/bin/node'));
    chmodSync(join(rootfs, 'usr/local/bin/node'), 0o755);
    for (const library of await sharedLibraries(process.execPath)) copyInto(rootfs, library);
    cpSync(npmRoot, join(rootfs, 'usr/local/lib/node_modules/npm'), { recursive: true, dereference: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'));
    mkdirSync(join(rootfs, 'bin'));
    copyFileSync(BUSYBOX_PATH, join(rootfs, 'bin/busybox'));
    chmodSync(join(rootfs, 'bin/busybox'), 0o755);
    for (const applet of SHELL_APPLETS) symlinkSync('busybox', join(rootfs, 'bin', applet));
    mkdirSync(join(rootfs, 'usr/bin'), { recursive: true });
    symlinkSync('/bin/env', join(rootfs, 'usr/bin/env'));
    for (const dir of ['tmp', 'root', 'etc']) mkdirSync(join(rootfs, dir), { recursive: true });
    chmodSync(join(rootfs, 'tmp'), 0o1777);
    const tarball = join(root, 'rootfs.tar');
    await execa('tar', ['-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', tarball, '.']);
    const imported = await docker(host, [
      'import',
      '--change',
      'ENV PATH=/usr/local/bin:/usr/bin:/bin',
      '--change',
      'ENV HOME=/root',
      '--change',
      'CMD ["node"]',
      tarball,
      name,
    ]);
    if (imported.exitCode !== 0) throw new Error(`docker import of the Node base image failed: ${imported.all}`);
    return name;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** What the image's build reads from a checkout (the .dockerignore allowlist, vendor/ aside). */
const BUILD_CONTEXT = [
  'Dockerfile',
  '.dockerignore',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'src',
  'commands',
  'adapters',
];

/**
 * `docker build` of the repository's Dockerfile, the air-gapped way the README describes: this
 * checkout's node_modules (installed by `npm ci` on this platform) goes in as vendor/node_modules,
 * so the build asks no registry. The context is streamed as a tar; nothing is written to the checkout.
 */
export async function buildHealbotImage(host: string, tag: string): Promise<{ ok: boolean; log: string }> {
  if (!existsSync(join(REPO_ROOT, 'node_modules/typescript')))
    return { ok: false, log: `${REPO_ROOT}/node_modules is missing or lacks dev dependencies: run npm ci` };
  const tar = execa(
    'tar',
    [
      '-C',
      REPO_ROOT,
      '-c',
      '--exclude=node_modules/.cache',
      '--transform=s,^node_modules,vendor/node_modules,',
      ...BUILD_CONTEXT,
      'node_modules',
    ],
    { buffer: false },
  );
  const build = await tar.pipe(
    DOCKER_CLI,
    ['-H', host, 'build', '--progress=plain', '--network', 'host', '-t', tag, '-'],
    { reject: false, all: true, env: DOCKER_CLI_ENV, timeout: 600_000 },
  );
  return { ok: build.exitCode === 0, log: build.all ?? '' };
}

/**
 * Starts the healbot image the way README's `docker run` line does: host network (the test
 * dockerd has no bridge), the engine's socket mounted and reachable through its group, the
 * config read-only at the path the image's CMD reads. The HEALTHCHECK's test comes from the
 * image; only its interval is shortened.
 */
export async function startHealbotContainer(
  docker: Dockerode,
  options: {
    image: string;
    name: string;
    socket: string;
    configFile: string;
    env: Record<string, string>;
    labels?: Record<string, string>;
  },
): Promise<Dockerode.Container> {
  const container = await docker.createContainer({
    name: options.name,
    Image: options.image,
    Env: Object.entries(options.env).map(([key, value]) => `${key}=${value}`),
    Labels: options.labels,
    Healthcheck: { Interval: 500_000_000, Retries: 3 },
    HostConfig: {
      NetworkMode: 'host',
      Binds: [`${options.socket}:/var/run/docker.sock`, `${options.configFile}:/etc/healbot/healbot.yml:ro`],
      GroupAdd: [String(statSync(options.socket).gid)],
    },
  });
  await container.start();
  return container;
}
