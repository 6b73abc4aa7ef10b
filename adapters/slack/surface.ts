import type { webApi } from '@slack/bolt';
import type { ChatMessage, ChatSurface, ThreadRef } from '../../commands/chat.js';
import type { Incident } from '../../src/engine/types.js';
import { UsageError } from '../../src/errors.js';
import type { Redactor } from '../../src/redact.js';
import { asKnownBlocks, renderMessage, type SlackBlock, type SlackPeople } from './blocks.js';
import type { ChannelPostQueue } from './post-queue.js';

export interface SlackSurfaceOptions {
  client: webApi.WebClient;
  queue: ChannelPostQueue;
  redact: Redactor;
  /** Who healbot may mention. */
  people?: SlackPeople;
  /** Where incidents without a Slack origin (webhooks, monitoring) open their thread. */
  defaultChannel?: string;
}

/**
 * The conversation surface on Slack: a status message edited in place with `chat.update`,
 * everything else as replies in its thread. An alert's own message is the thread root when
 * the incident came from one, so the diagnosis lands under the alert.
 */
export class SlackSurface implements ChatSurface {
  readonly platform = 'slack';
  readonly #client: webApi.WebClient;
  readonly #queue: ChannelPostQueue;
  readonly #redact: Redactor;
  readonly #people?: SlackPeople;
  readonly #defaultChannel?: string;

  constructor(options: SlackSurfaceOptions) {
    this.#client = options.client;
    this.#queue = options.queue;
    this.#redact = options.redact;
    this.#people = options.people;
    this.#defaultChannel = options.defaultChannel;
  }

  async openThread(origin: Incident['origin'] | undefined, status: ChatMessage): Promise<ThreadRef> {
    const fromSlack = origin?.platform === 'slack' ? origin : undefined;
    const channel = fromSlack?.channel ?? this.#defaultChannel;
    if (!channel) {
      throw new UsageError(
        'healbot has no Slack channel for this incident: set slack.alertChannels so incidents from webhooks and monitoring have a place to go',
      );
    }
    const rendered = renderMessage(status, this.#redact, this.#people);
    const root = fromSlack?.message;
    const ts = await this.#post(channel, { text: rendered.text, blocks: rendered.blocks, thread_ts: root });
    return { platform: 'slack', channel, thread: root ?? ts, statusMessage: ts };
  }

  async updateStatus(thread: ThreadRef, status: ChatMessage): Promise<void> {
    const rendered = renderMessage(status, this.#redact, this.#people);
    await this.#queue.update(thread.channel, thread.statusMessage, () =>
      this.#client.chat.update({
        channel: thread.channel,
        ts: thread.statusMessage,
        text: rendered.text,
        blocks: asKnownBlocks(rendered.blocks),
      }),
    );
  }

  async reply(thread: ThreadRef, message: ChatMessage): Promise<void> {
    const rendered = renderMessage(message, this.#redact, this.#people);
    await this.#post(thread.channel, { text: rendered.text, blocks: rendered.blocks, thread_ts: thread.thread });
  }

  async #post(channel: string, message: { text: string; blocks: SlackBlock[]; thread_ts?: string }): Promise<string> {
    const result = await this.#queue.post(channel, () =>
      this.#client.chat.postMessage({
        channel,
        text: message.text,
        blocks: asKnownBlocks(message.blocks),
        ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}),
        unfurl_links: false,
        unfurl_media: false,
      }),
    );
    if (!result.ts) throw new Error(`chat.postMessage to ${channel} returned no ts`);
    return result.ts;
  }
}
