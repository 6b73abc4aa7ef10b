import type { Incident } from '../src/engine/types.js';

/**
 * A button on a message. For approve and deny, `value` carries the approval id, so a click after
 * a restart still resolves; for command, `value` is the `/heal` text it runs as the clicking user.
 */
export interface ChatButton {
  action: 'approve' | 'deny' | 'command';
  value: string;
  label: string;
  style?: 'primary' | 'danger';
  /** A confirm dialog naming the exact action and target, for risky buttons. */
  confirm?: { title: string; text: string; confirm: string; deny: string };
}

/**
 * A platform-neutral message. Adapters render it natively (Block Kit, Discord components,
 * console text); they add nothing and decide nothing.
 */
export interface ChatMessage {
  /** Plain text, also the notification fallback. Uses *bold* and `code` only. */
  text: string;
  title?: string;
  tone?: 'info' | 'ok' | 'warn' | 'error';
  fields?: { label: string; value: string }[];
  /** Preformatted text, e.g. log lines (already redacted); adapters truncate to fit. */
  code?: string;
  buttons?: ChatButton[];
  /** Mentions to notify (already in the platform's mention syntax), e.g. the on-call. */
  mentions?: string[];
  /** Link buttons (a runbook, the graph, Sentry); only http(s) URLs. */
  links?: { label: string; url: string }[];
}

/** Where an incident's conversation lives on one platform. */
export interface ThreadRef {
  platform: string;
  channel: string;
  /** The thread's root (Slack ts, Discord thread channel id). */
  thread: string;
  /** The status message edited in place as the incident moves. */
  statusMessage: string;
}

/** What each chat adapter implements so the shared conversation logic can drive it. */
export interface ChatSurface {
  readonly platform: string;
  /** Posts the status message and opens a thread under it, or under `origin.message` when given. */
  openThread(origin: Incident['origin'] | undefined, status: ChatMessage): Promise<ThreadRef>;
  updateStatus(thread: ThreadRef, status: ChatMessage): Promise<void>;
  reply(thread: ThreadRef, message: ChatMessage): Promise<void>;
}
