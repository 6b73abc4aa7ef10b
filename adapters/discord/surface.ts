import {
  DiscordAPIError,
  Routes,
  ThreadAutoArchiveDuration,
  type REST,
  type APIChannel,
  type APIMessage,
} from 'discord.js';
import type { ChatMessage, ChatSurface, ThreadRef } from '../../commands/chat.js';
import type { Incident } from '../../src/engine/types.js';
import { HealbotError } from '../../src/errors.js';
import type { Redactor } from '../../src/redact.js';
import { renderMessage, threadName, type DiscordPeople } from './render.js';

/** Discord's error code for "A thread has already been created for this message". */
const THREAD_ALREADY_CREATED = 160004;

/**
 * The Discord ChatSurface: an incident's conversation is a thread. Without an origin message
 * the status message is posted in the channel and the thread is started on it; with one (an
 * alert), the thread is started on the alert and the status message is the thread's first post.
 *
 * A thread started from a message has the message's id (Discord's rule), which is how
 * `updateStatus` knows where the status message lives.
 */
export class DiscordSurface implements ChatSurface {
  readonly platform = 'discord';

  constructor(
    private readonly rest: REST,
    private readonly redact: Redactor,
    private readonly people?: DiscordPeople,
  ) {}

  async openThread(origin: Incident['origin'] | undefined, status: ChatMessage): Promise<ThreadRef> {
    if (!origin?.channel) {
      throw new HealbotError(
        'USAGE',
        'the Discord conversation needs a channel: set an origin channel for this incident',
        { userFacing: false },
      );
    }
    const channel = origin.channel;
    const name = threadName(status, this.redact);
    if (origin.message) {
      const thread = await this.startThread(channel, origin.message, name);
      const posted = (await this.rest.post(Routes.channelMessages(thread), {
        body: renderMessage(status, this.redact, this.people),
      })) as APIMessage;
      return { platform: this.platform, channel, thread, statusMessage: posted.id };
    }
    const posted = (await this.rest.post(Routes.channelMessages(channel), {
      body: renderMessage(status, this.redact, this.people),
    })) as APIMessage;
    const thread = await this.startThread(channel, posted.id, name);
    return { platform: this.platform, channel, thread, statusMessage: posted.id };
  }

  async updateStatus(thread: ThreadRef, status: ChatMessage): Promise<void> {
    // The status message sits in the channel when the thread grew from it, else inside the thread.
    const where = thread.thread === thread.statusMessage ? thread.channel : thread.thread;
    await this.rest.patch(Routes.channelMessage(where, thread.statusMessage), {
      body: renderMessage(status, this.redact, this.people),
    });
  }

  async reply(thread: ThreadRef, message: ChatMessage): Promise<void> {
    await this.rest.post(Routes.channelMessages(thread.thread), {
      body: renderMessage(message, this.redact, this.people),
    });
  }

  private async startThread(channel: string, message: string, name: string): Promise<string> {
    try {
      const created = (await this.rest.post(Routes.threads(channel, message), {
        body: { name, auto_archive_duration: ThreadAutoArchiveDuration.OneDay },
      })) as APIChannel;
      return created.id;
    } catch (error) {
      // Someone (or a previous healbot run) already opened a thread on this message: it has the message's id.
      if (error instanceof DiscordAPIError && error.code === THREAD_ALREADY_CREATED) return message;
      throw error;
    }
  }
}
