import { describe, expect, it } from 'vitest';
import type { ChatMessage, ChatSurface, ThreadRef } from '../../commands/chat.js';
import { IncidentConversations, type ThreadStore } from '../../commands/conversation.js';
import type { HealbotApi } from '../../src/engine/api.js';
import type { ProgressEvent } from '../../src/engine/types.js';

/** A surface that records what it was asked to post, standing in for a chat platform. */
class RecordingSurface implements ChatSurface {
  readonly platform = 'test';
  readonly posts: { kind: string; thread?: string; message: ChatMessage }[] = [];
  async openThread(_origin: unknown, status: ChatMessage): Promise<ThreadRef> {
    this.posts.push({ kind: 'open', message: status });
    return { platform: 'test', channel: 'C1', thread: 'T1', statusMessage: 'S1' };
  }
  async updateStatus(thread: ThreadRef, status: ChatMessage): Promise<void> {
    this.posts.push({ kind: 'status', thread: thread.thread, message: status });
  }
  async reply(thread: ThreadRef, message: ChatMessage): Promise<void> {
    this.posts.push({ kind: 'reply', thread: thread.thread, message });
  }
}

function events() {
  const listeners = new Set<(e: ProgressEvent) => void>();
  const api = {
    subscribe: (l: (e: ProgressEvent) => void) => (listeners.add(l), () => listeners.delete(l)),
  } as unknown as HealbotApi;
  return { api, emit: (e: ProgressEvent) => listeners.forEach((l) => l(e)) };
}

describe('IncidentConversations', () => {
  it('tells news about a finished incident in the thread it had', async () => {
    const { api, emit } = events();
    const surface = new RecordingSurface();
    const saved = new Map<string, ThreadRef>([
      ['inc_old', { platform: 'test', channel: 'C9', thread: 'T9', statusMessage: 'S9' }],
    ]);
    const threads: ThreadStore = {
      getThread: async (id) => saved.get(id),
      saveThread: async (id, t) => void saved.set(id, t),
    };
    const conversations = new IncidentConversations(api, surface, { platform: 'test', threads });
    conversations.start();
    emit({ type: 'info', incidentId: 'inc_old', message: 'container api started; healbot did not cause it.' });
    emit({ type: 'info', incidentId: 'inc_unknown', message: 'ignored' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(surface.posts).toEqual([
      {
        kind: 'reply',
        thread: 'T9',
        message: { text: 'container api started; healbot did not cause it.', tone: 'info' },
      },
    ]);
    await conversations.stop();
  });

  it('opens one thread per incident from this platform and saves it', async () => {
    const { api, emit } = events();
    const surface = new RecordingSurface();
    const saved = new Map<string, ThreadRef>();
    const conversations = new IncidentConversations(api, surface, {
      platform: 'test',
      threads: { getThread: async (id) => saved.get(id), saveThread: async (id, t) => void saved.set(id, t) },
    });
    conversations.start();
    const incident = {
      id: 'inc_1',
      service: 'api',
      source: 'chat' as const,
      openedAt: new Date().toISOString(),
      origin: { platform: 'test', channel: 'C1' },
    };
    emit({ type: 'started', incident });
    emit({ type: 'info', incidentId: 'inc_1', message: 'hello' });
    await conversations.idle();
    expect(surface.posts.map((p) => p.kind)).toEqual(['open', 'reply']);
    expect(saved.get('inc_1')?.thread).toBe('T1');
    await conversations.stop();
  });
});
