import type { ChatMessage, ChatSurface, ThreadRef } from '../../commands/chat.js';
import type { Incident } from '../../src/engine/types.js';
import { renderForConsole } from './render.js';

/** The terminal as a chat surface: a thread is an indented block; status edits print only when they change. */
export class ConsoleSurface implements ChatSurface {
  readonly platform = 'console';
  private threads = 0;
  private readonly lastStatus = new Map<string, string>();
  /** Approval ids shown with buttons and not yet answered, newest last. */
  readonly pendingApprovals: string[] = [];

  constructor(private readonly write: (text: string) => void) {}

  async openThread(_origin: Incident['origin'] | undefined, status: ChatMessage): Promise<ThreadRef> {
    const id = `t${++this.threads}`;
    this.write(`\n${renderForConsole(status)}\n`);
    this.lastStatus.set(id, status.text);
    return { platform: 'console', channel: 'console', thread: id, statusMessage: id };
  }

  async updateStatus(thread: ThreadRef, status: ChatMessage): Promise<void> {
    if (this.lastStatus.get(thread.thread) === status.text) return;
    this.lastStatus.set(thread.thread, status.text);
    this.write(`${renderForConsole({ ...status, title: undefined, text: status.text.split('\n')[0] }, '  ')}\n`);
  }

  async reply(_thread: ThreadRef, message: ChatMessage): Promise<void> {
    for (const button of message.buttons ?? [])
      if (button.action === 'approve') this.pendingApprovals.push(button.value);
    this.write(`${renderForConsole(message, '  │ ')}\n`);
  }
}
