import type { HealbotApi } from '../src/engine/api.js';
import type { Incident, ProgressEvent } from '../src/engine/types.js';
import type { ChatMessage, ChatSurface, ThreadRef } from './chat.js';
import {
  actionMessage,
  approvalMessage,
  contextMessage,
  decisionMessage,
  doneMessage,
  findingMessage,
  incidentStatus,
  planMessage,
} from './present.js';

/** Where threads are remembered, so a restarted healbot keeps talking in the same thread. */
export interface ThreadStore {
  getThread(incidentId: string, platform: string): Promise<ThreadRef | undefined>;
  saveThread(incidentId: string, thread: ThreadRef): Promise<void>;
}

export interface ConversationOptions {
  platform: string;
  /** Where incidents that did not start in this platform's chat are posted (webhooks, monitoring). */
  defaultChannel?: string;
  /** Least time between two edits of one status message. */
  minUpdateIntervalMs?: number;
  threads?: ThreadStore;
  onError?: (error: unknown, incidentId: string) => void;
}

interface Conversation {
  incident: Incident;
  thread: Promise<ThreadRef | undefined>;
  /** Serialises posts so replies keep their order. */
  queue: Promise<unknown>;
  pendingStatus?: ChatMessage;
  statusTimer?: NodeJS.Timeout;
  lastStatusAt: number;
  approvals: Map<string, { request: import('../src/engine/types.js').ApprovalRequest }>;
}

/**
 * One threaded conversation per incident on one chat surface: a status message edited in
 * place, and a reply for each step that matters. Shared by every chat adapter.
 */
export class IncidentConversations {
  private readonly conversations = new Map<string, Conversation>();
  private unsubscribe?: () => void;

  constructor(
    private readonly api: HealbotApi,
    private readonly surface: ChatSurface,
    private readonly options: ConversationOptions,
  ) {}

  start(): void {
    this.unsubscribe = this.api.subscribe((event) => this.handle(event));
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await Promise.allSettled([...this.conversations.values()].map((c) => c.queue));
    for (const c of this.conversations.values()) clearTimeout(c.statusTimer);
  }

  /** Resolves once every message queued so far has been sent (for tests and shutdown). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.conversations.values()].map((c) => c.queue));
  }

  private origin(incident: Incident): Incident['origin'] | null {
    if (incident.origin?.platform === this.options.platform) return incident.origin;
    if (this.options.defaultChannel && (!incident.origin || incident.origin.platform !== this.options.platform)) {
      if (incident.origin && incident.origin.platform !== this.options.platform && incident.source === 'chat')
        return null;
      return { platform: this.options.platform, channel: this.options.defaultChannel };
    }
    return null;
  }

  private handle(event: ProgressEvent): void {
    if (event.type === 'started') {
      const origin = this.origin(event.incident);
      if (origin === null) return;
      const incident = event.incident;
      let opened = false;
      const thread = this.knownThread(incident.id).then((known) => {
        if (known) return known;
        opened = true;
        return this.openThread(incident, origin);
      });
      const conversation: Conversation = {
        incident,
        thread,
        queue: thread,
        lastStatusAt: Date.now(),
        approvals: new Map(),
      };
      this.conversations.set(incident.id, conversation);
      const context = incident.context;
      // Only a thread opened now starts with the alert's context; a known one has it already.
      if (context)
        this.enqueue(conversation, async (ref) => {
          if (opened) await this.surface.reply(ref, contextMessage(context, incident.id));
        });
      return;
    }
    const conversation = this.conversations.get(event.incidentId);
    if (!conversation) {
      if (event.type === 'info') this.replyInKnownThread(event.incidentId, { text: event.message, tone: 'info' });
      return;
    }
    const { incident } = conversation;
    switch (event.type) {
      case 'finding':
        this.setStatus(
          conversation,
          incidentStatus(
            incident,
            `Root cause: ${event.rootCause.summary}`,
            event.rootCause.kind === 'healthy' ? 'ok' : 'warn',
          ),
        );
        this.reply(conversation, findingMessage(event.rootCause, event.diagnosis));
        break;
      case 'plan':
        if (event.steps.length > 0 || event.blockedBy)
          this.reply(conversation, planMessage(event.steps, event.blockedBy));
        break;
      case 'awaiting_approval':
        conversation.approvals.set(event.request.id, { request: event.request });
        this.setStatus(
          conversation,
          incidentStatus(
            incident,
            `Waiting for approval to ${event.request.step.action.replaceAll('_', ' ')} ${event.request.step.target}`,
            'warn',
          ),
        );
        this.reply(conversation, approvalMessage(event.request));
        break;
      case 'approval': {
        const request = conversation.approvals.get(event.approvalId)?.request;
        if (request) this.reply(conversation, decisionMessage(request, event.decision, event.by));
        break;
      }
      case 'action_started':
        this.setStatus(
          conversation,
          incidentStatus(incident, `Acting: ${event.step.action.replaceAll('_', ' ')} ${event.step.target}…`),
        );
        break;
      case 'action_finished':
        this.reply(conversation, actionMessage(event.result));
        this.setStatus(conversation, incidentStatus(incident, 'Verifying from the inside out…'));
        break;
      case 'info':
        this.reply(conversation, { text: event.message, tone: 'warn' });
        break;
      case 'done': {
        const message = doneMessage(event.report);
        clearTimeout(conversation.statusTimer);
        const status = incidentStatus(
          incident,
          `${event.report.outcome.replace('_', ' ')}: ${event.report.summary}`,
          message.tone,
        );
        this.enqueue(conversation, (thread) => this.surface.updateStatus(thread, status));
        this.reply(conversation, message);
        void conversation.queue.finally(() => this.conversations.delete(event.incidentId));
        break;
      }
      case 'failed':
        this.reply(conversation, {
          text: `healbot hit an error on incident \`${incident.id}\`: ${event.error}`,
          tone: 'error',
        });
        break;
      default:
        break;
    }
  }

  /** Opens an incident's thread and remembers it; undefined (and told) when the platform refuses. */
  private openThread(incident: Incident, origin: Incident['origin']): Promise<ThreadRef | undefined> {
    return this.surface
      .openThread(
        origin,
        incidentStatus(
          incident,
          incident.source === 'sentry' || incident.source === 'logfire'
            ? 'Routing an application error…'
            : 'Diagnosing: probing every layer…',
        ),
      )
      .then(
        async (ref) => {
          await this.options.threads
            ?.saveThread(incident.id, ref)
            .catch((error: unknown) => this.options.onError?.(error, incident.id));
          return ref;
        },
        (error) => {
          this.options.onError?.(error, incident.id);
          return undefined;
        },
      );
  }

  /** The thread stored for an incident on this platform, if any (a store that fails is told, and counts as none). */
  private async knownThread(incidentId: string): Promise<ThreadRef | undefined> {
    try {
      return await this.options.threads?.getThread(incidentId, this.options.platform);
    } catch (error) {
      this.options.onError?.(error, incidentId);
      return undefined;
    }
  }

  /** News about an incident whose conversation has ended (a restart healbot did not cause) goes to its old thread. */
  private replyInKnownThread(incidentId: string, message: ChatMessage): void {
    void this.knownThread(incidentId)
      .then((thread) => thread && this.surface.reply(thread, message))
      .catch((error: unknown) => this.options.onError?.(error, incidentId));
  }

  private enqueue(conversation: Conversation, send: (thread: ThreadRef) => Promise<unknown>): void {
    conversation.queue = conversation.queue
      .then(async () => {
        const thread = await conversation.thread;
        if (thread) await send(thread);
      })
      .catch((error) => this.options.onError?.(error, conversation.incident.id));
  }

  private reply(conversation: Conversation, message: ChatMessage): void {
    this.enqueue(conversation, (thread) => this.surface.reply(thread, message));
  }

  /** Coalesces status edits: only the newest pending status is sent, at most once per interval. */
  private setStatus(conversation: Conversation, message: ChatMessage): void {
    conversation.pendingStatus = message;
    const interval = this.options.minUpdateIntervalMs ?? 1000;
    const wait = Math.max(0, conversation.lastStatusAt + interval - Date.now());
    if (conversation.statusTimer) return;
    conversation.statusTimer = setTimeout(() => {
      conversation.statusTimer = undefined;
      const latest = conversation.pendingStatus;
      conversation.pendingStatus = undefined;
      conversation.lastStatusAt = Date.now();
      if (latest) this.enqueue(conversation, (thread) => this.surface.updateStatus(thread, latest));
    }, wait);
  }
}
