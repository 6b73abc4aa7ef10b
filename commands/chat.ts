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
  /** A link to the thread, in the platform's own syntax (a permalink, a channel mention). */
  link?(thread: ThreadRef): Promise<string | undefined>;
  /** Replies to one message (in its thread on Slack, as a reply on Discord), outside any incident's thread. */
  replyToMessage?(channel: string, message: string, reply: ChatMessage): Promise<void>;
}

/**
 * A chat platform as `healbot serve` runs it: where conversations go (`surface`), how it
 * connects and disconnects, and the HTTP routes it serves on healbot's server, if any.
 */
export interface ChatAdapter {
  readonly platform: string;
  readonly surface: ChatSurface;
  /** Where incidents that did not start on this platform open their thread. */
  readonly defaultChannel?: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** HTTP handlers by path, mounted on healbot's server (Slack's HTTP mode: /slack/events). */
  readonly routes?: Readonly<
    Record<string, (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void>
  >;
}

/** The `threadLink` an adapter hands to commands: the incident's stored thread on this surface, as a link. */
export function threadLinker(
  threads: { thread(incidentId: string, platform: string): Promise<ThreadRef | undefined> },
  surface: ChatSurface,
): (incidentId: string) => Promise<string | undefined> {
  return async (incidentId) => {
    const thread = await threads.thread(incidentId, surface.platform);
    return thread && surface.link ? surface.link(thread).catch(() => undefined) : undefined;
  };
}
