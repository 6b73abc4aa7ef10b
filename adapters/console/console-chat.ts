import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { IncidentConversations } from '../../commands/conversation.js';
import { decisionReply, runCommand } from '../../commands/index.js';
import type { Actor, HealbotApi } from '../../src/engine/api.js';
import type { ProgressEvent } from '../../src/engine/types.js';
import { renderForConsole } from './render.js';
import { ConsoleSurface } from './surface.js';

export interface ConsoleChatOptions {
  api: HealbotApi;
  input: Readable;
  write: (text: string) => void;
  actor: Actor;
  /** Extra commands for this console only (the demo's `/break`), by name; return text to print. */
  extras?: Record<string, (args: string[]) => Promise<string>>;
}

/**
 * An interactive console chat using the same commands and conversations as Slack and
 * Discord. Input is handled one line at a time: a command waits until the incidents it
 * started settle or ask for approval, so a scripted session reads like a typed one.
 */
export class ConsoleChat {
  readonly surface: ConsoleSurface;
  private readonly conversations: IncidentConversations;
  private readonly running = new Set<string>();
  private waiters: (() => void)[] = [];

  constructor(private readonly options: ConsoleChatOptions) {
    this.surface = new ConsoleSurface(options.write);
    this.conversations = new IncidentConversations(options.api, this.surface, {
      platform: 'console',
      defaultChannel: 'console',
      minUpdateIntervalMs: 0,
    });
    options.api.subscribe((event) => this.track(event));
    this.conversations.start();
  }

  private track(event: ProgressEvent): void {
    if (event.type === 'started') this.running.add(event.incident.id);
    if (event.type === 'done' || event.type === 'failed') this.running.delete(event.incidentId);
    if (event.type === 'done' || event.type === 'awaiting_approval' || event.type === 'failed') {
      // Let the conversation print first.
      setTimeout(() => this.wake(), 20);
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w());
  }

  private settled(): boolean {
    return this.running.size === 0 || this.surface.pendingApprovals.length > 0;
  }

  private async waitUntilSettled(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 30));
    while (!this.settled()) await new Promise<void>((resolve) => this.waiters.push(resolve));
    await this.conversations.idle();
  }

  async handleLine(line: string): Promise<void> {
    const text = line.trim();
    if (!text || text.startsWith('#')) return;
    const { api, write, actor } = this.options;
    if (/^(y|yes|n|no)$/i.test(text)) {
      const id = this.surface.pendingApprovals.shift();
      if (!id) return write('  (nothing is waiting for approval)\n');
      const result = await api.decide(id, actor, /^y/i.test(text) ? 'approve' : 'deny');
      // A decision that went through shows up in the incident's thread; only refusals need saying here.
      if (!result.ok || result.waitingFor) write(`${renderForConsole(decisionReply(result).message, '  │ ')}\n`);
      await this.waitUntilSettled();
      return;
    }
    const [head, ...args] = text.split(/\s+/);
    const extra = this.options.extras?.[head.replace(/^\//, '')];
    if (extra) {
      write(`${await extra(args)}\n`);
      return;
    }
    if (head !== '/heal') return write(`  unknown input "${head}"; try /heal help\n`);
    const reply = await runCommand(api, {
      actor,
      text: args.join(' '),
      channel: 'console',
      origin: { platform: 'console', channel: 'console' },
    });
    write(`${renderForConsole(reply.message)}\n`);
    if (/^approve|^deny/.test(args[0] ?? ''))
      this.surface.pendingApprovals.splice(this.surface.pendingApprovals.indexOf(args[1] ?? ''), 1);
    await this.waitUntilSettled();
  }

  /** Reads input line by line until it ends. */
  async run(): Promise<void> {
    const rl = createInterface({ input: this.options.input, terminal: false });
    for await (const line of rl) await this.handleLine(line);
    await this.waitUntilSettled();
    await this.conversations.stop();
  }
}
