import { createReadStream } from 'node:fs';
import { ConsoleChat } from '../../adapters/console/console-chat.js';
import { createHealbot } from '../app.js';
import { parseConfig } from '../config/load.js';
import { freePort } from '../free-port.js';
import { ProcessRuntime } from './process-runtime.js';

/** The demo's healbot.yml, built around the ports its processes got. */
export function demoConfig(ports: { edge: number; proxy: number; backend: number }) {
  return parseConfig({
    healing: { verifyTimeout: '15s', approvalTimeout: '10m' },
    services: {
      api: {
        description: 'the demo API: edge → proxy → backend',
        probes: [
          {
            name: 'public',
            http: `http://127.0.0.1:${ports.edge}/ready`,
            timeoutMs: 2000,
            routesTo: `http://127.0.0.1:${ports.proxy}`,
          },
          { name: 'proxy', http: `http://127.0.0.1:${ports.proxy}/ready`, timeoutMs: 2000, service: 'proxy' },
          { name: 'internal', http: `http://127.0.0.1:${ports.backend}/ready`, timeoutMs: 2000 },
        ],
      },
      proxy: { probes: [{ name: 'internal', http: `http://127.0.0.1:${ports.proxy}/healthz`, timeoutMs: 2000 }] },
    },
  });
}

const INTRO = `healbot demo: a local edge → proxy → backend topology on 127.0.0.1, healbot's engine, and this console chat.
Commands: /heal api · /heal diagnose api · /heal status · /heal history · /break backend|proxy|edge · /fix edge · y / n to answer an approval · Ctrl-D to quit.
`;

/**
 * `healbot demo`: starts the topology, breaks the backend, and heals it through the console
 * chat, asking the person at the terminal to approve. Then the console is theirs.
 */
export async function runDemo(options: { script?: string; write?: (text: string) => void } = {}): Promise<void> {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const ports = { backend: await freePort(), proxy: await freePort(), edge: await freePort() };
  const backend = new ProcessRuntime('backend', ports.backend);
  const proxy = new ProcessRuntime('proxy', ports.proxy, ports.backend);
  const edge = new ProcessRuntime('edge', ports.edge, ports.proxy);
  const processes = { backend, proxy, edge };
  await Promise.all([backend.start(), proxy.start(), edge.start()]);
  const bot = createHealbot(demoConfig(ports), { storePath: ':memory:', runtimes: { api: backend, proxy } });
  const control = async (port: number, action: 'break' | 'fix') => {
    await fetch(`http://127.0.0.1:${port}/__demo/${action}`, { method: 'POST' });
  };
  const chat = new ConsoleChat({
    api: bot.api,
    input: options.script ? createReadStream(options.script) : process.stdin,
    write,
    actor: { platform: 'console', id: process.env.USER ?? 'you', display: `@${process.env.USER ?? 'you'}` },
    extras: {
      async break([what]) {
        if (what === 'backend') {
          await backend.kill();
          return '⚡ killed the backend process (as if it crashed)';
        }
        if (what === 'proxy') {
          await control(ports.proxy, 'break');
          return '⚡ the proxy now answers 502 (a restart fixes it)';
        }
        if (what === 'edge') {
          await control(ports.edge, 'break');
          return '⚡ the edge lost its route for the API (only a human can fix that: /fix edge)';
        }
        return `usage: /break ${Object.keys(processes).join('|')}`;
      },
      async fix([what]) {
        if (what !== 'edge') return 'usage: /fix edge';
        await control(ports.edge, 'fix');
        return '🔧 restored the edge route';
      },
    },
  });
  write(INTRO);
  try {
    if (!options.script) {
      write('\nFirst, a failure: /break backend, then /heal api. Answer y when healbot asks.\n');
      await chat.handleLine('/break backend');
      await chat.handleLine('/heal api');
    }
    await chat.run();
  } finally {
    await bot.close();
    await Promise.allSettled([backend.close(), proxy.close(), edge.close()]);
  }
}
