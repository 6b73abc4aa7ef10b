import {
  ButtonStyle,
  ComponentType,
  type APIActionRowComponent,
  type APIAllowedMentions,
  type APIButtonComponent,
  type APIEmbed,
  type APIEmbedField,
} from 'discord.js';
import type { ChatButton, ChatMessage } from '../../commands/chat.js';
import type { Redactor } from '../../src/redact.js';

/**
 * Discord's documented message limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
 * Exceeding any of them makes the API answer 400, so every rendered payload stays inside.
 */
export const DISCORD_LIMITS = {
  content: 2000,
  embedTitle: 256,
  embedDescription: 4096,
  embedFields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  embedTotal: 6000,
  buttonLabel: 80,
  buttonsPerRow: 5,
  actionRows: 5,
  customId: 100,
  threadName: 100,
} as const satisfies Record<string, number>;

/** Embed colours per tone (Discord's brand palette). */
const TONE_COLORS = {
  info: 0x5865f2,
  ok: 0x57f287,
  warn: 0xfee75c,
  error: 0xed4245,
} as const satisfies Record<NonNullable<ChatMessage['tone']>, number>;

const CUSTOM_ID_PREFIX = 'healbot';

/** The body of a create/edit message call, in Discord's wire format. */
export interface DiscordMessagePayload {
  content: string;
  embeds: APIEmbed[];
  components: APIActionRowComponent<APIButtonComponent>[];
  allowed_mentions: APIAllowedMentions;
}

/** The `custom_id` of a button: the approval id (or the command text) travels in it, so a click after a restart still resolves. */
export function buttonCustomId(action: ChatButton['action'], value: string): string {
  return `${CUSTOM_ID_PREFIX}:${action}:${value}`;
}

/** Reads a button's `custom_id` back; undefined when it is not one of healbot's. */
export function parseButtonCustomId(customId: string): { action: ChatButton['action']; value: string } | undefined {
  const match = /^healbot:(approve|deny|command):(.+)$/.exec(customId);
  if (!match) return undefined;
  return { action: match[1] as ChatButton['action'], value: match[2] };
}

/** Cuts `text` to `max` characters, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, Math.max(0, max - 1))}…`;
}

/**
 * Wraps preformatted text in a code block of at most `max` characters. Whole lines are kept
 * from the top; the rest is replaced by "… N more lines" so the reader knows what is missing.
 */
export function codeBlock(code: string, max: number): string {
  // A literal ``` inside the logs would close the block early.
  const lines = code
    .replace(/```/g, '`\u200b``')
    .split('\n')
    .map((line) => truncate(line, Math.max(20, max - 30)));
  const fence = (body: string) => `\`\`\`\n${body}\n\`\`\``;
  const whole = fence(lines.join('\n'));
  if (whole.length <= max) return whole;
  const more = (omitted: number) => `… ${omitted} more line${omitted === 1 ? '' : 's'}`;
  let kept = 0;
  let length = fence('').length;
  while (kept < lines.length && length + lines[kept].length + 1 + more(lines.length - kept - 1).length <= max) {
    length += lines[kept].length + 1;
    kept += 1;
  }
  return fence([...lines.slice(0, kept), more(lines.length - kept)].join('\n'));
}

/** Discord has no `*bold*`: the neutral format's single asterisks become `**bold**`. */
function toDiscordMarkdown(text: string): string {
  return text.replace(/(^|[^*\w])\*([^*\n]+)\*(?=[^*\w]|$)/g, '$1**$2**');
}

/** Mentions in Discord syntax become an allow-list, so nothing else (no @everyone) can ping. */
export function allowedMentions(mentions: readonly string[] = []): APIAllowedMentions {
  const users: string[] = [];
  const roles: string[] = [];
  for (const mention of mentions) {
    const user = /^<@!?(\d+)>$/.exec(mention);
    const role = /^<@&(\d+)>$/.exec(mention);
    if (user) users.push(user[1]);
    else if (role) roles.push(role[1]);
  }
  return { parse: [], users: [...new Set(users)].slice(0, 100), roles: [...new Set(roles)].slice(0, 100) };
}

/** The people healbot itself may mention on Discord: configured approver users and roles. */
export interface DiscordPeople {
  users: ReadonlySet<string>;
  roles: ReadonlySet<string>;
}

const NOBODY: DiscordPeople = { users: new Set(), roles: new Set() };

/**
 * Writes references to healbot's own people as mentions: a bare configured role id becomes
 * `<@&id>`, a user id `<@id>` ("ask <@&444>", not "ask 444"). Returns the mentions made, for
 * the allow-list; any other mention in the text stays unpingable.
 */
export function linkMentions(text: string, people: DiscordPeople): { text: string; mentions: string[] } {
  const mentions: string[] = [];
  const linked = text.replace(/(?<![\d<@&!#:])(\d{2,21})(?![\d>])/g, (id: string) => {
    const mention = people.roles.has(id) ? `<@&${id}>` : people.users.has(id) ? `<@${id}>` : undefined;
    if (!mention) return id;
    mentions.push(mention);
    return mention;
  });
  return { text: linked, mentions };
}

function renderButtons(buttons: readonly ChatButton[], redact: Redactor): DiscordMessagePayload['components'] {
  const rows: DiscordMessagePayload['components'] = [];
  const all = buttons.slice(0, DISCORD_LIMITS.buttonsPerRow * DISCORD_LIMITS.actionRows);
  for (let i = 0; i < all.length; i += DISCORD_LIMITS.buttonsPerRow) {
    rows.push({
      type: ComponentType.ActionRow,
      components: all.slice(i, i + DISCORD_LIMITS.buttonsPerRow).map((button) => ({
        type: ComponentType.Button,
        style:
          button.action === 'approve'
            ? ButtonStyle.Success
            : button.action === 'deny'
              ? ButtonStyle.Danger
              : ButtonStyle.Secondary,
        label: truncate(redact(button.label), DISCORD_LIMITS.buttonLabel),
        custom_id: truncate(buttonCustomId(button.action, button.value), DISCORD_LIMITS.customId),
      })),
    });
  }
  return rows;
}

/** Discord's limit on a link button's URL. */
const LINK_URL_MAX = 512;

/** Link buttons (runbook, graph, Sentry) open in the browser and send no interaction. */
function renderLinks(
  links: readonly { label: string; url: string }[],
  redact: Redactor,
): DiscordMessagePayload['components'] {
  const usable = links.filter((l) => l.url.length <= LINK_URL_MAX).slice(0, DISCORD_LIMITS.buttonsPerRow);
  if (usable.length === 0) return [];
  return [
    {
      type: ComponentType.ActionRow,
      components: usable.map((l) => ({
        type: ComponentType.Button,
        style: ButtonStyle.Link,
        label: truncate(redact(l.label), DISCORD_LIMITS.buttonLabel),
        url: redact(l.url),
      })),
    },
  ];
}

/** Total characters Discord counts against the 6000 limit of one message's embeds. */
export function embedLength(embed: APIEmbed): number {
  return (
    (embed.title?.length ?? 0) +
    (embed.description?.length ?? 0) +
    (embed.footer?.text.length ?? 0) +
    (embed.author?.name.length ?? 0) +
    (embed.fields ?? []).reduce((sum, f) => sum + f.name.length + f.value.length, 0)
  );
}

function renderEmbed(message: ChatMessage, redact: Redactor): APIEmbed {
  const embed: APIEmbed = {};
  if (message.title) embed.title = truncate(toDiscordMarkdown(redact(message.title)), DISCORD_LIMITS.embedTitle);
  if (message.tone) embed.color = TONE_COLORS[message.tone];

  const fields: APIEmbedField[] = (message.fields ?? []).slice(0, DISCORD_LIMITS.embedFields).map((field) => ({
    name: truncate(redact(field.label), DISCORD_LIMITS.fieldName) || '\u200b',
    value: truncate(toDiscordMarkdown(redact(field.value)), DISCORD_LIMITS.fieldValue) || '\u200b',
    inline: field.value.length <= 40,
  }));
  // Fields beyond what fits in the total are dropped from the end; the text and logs matter more.
  const budget = DISCORD_LIMITS.embedTotal - (embed.title?.length ?? 0);
  const text = toDiscordMarkdown(redact(message.text));
  let fieldChars = fields.reduce((sum, f) => sum + f.name.length + f.value.length, 0);
  while (fields.length > 0 && fieldChars + Math.min(text.length, 1000) > budget) {
    const dropped = fields.pop()!;
    fieldChars -= dropped.name.length + dropped.value.length;
  }
  if (fields.length > 0) embed.fields = fields;

  const descriptionMax = Math.min(DISCORD_LIMITS.embedDescription, budget - fieldChars);
  if (message.code !== undefined && message.code.length > 0) {
    const textPart = truncate(text, Math.floor(descriptionMax / 3));
    const separator = textPart ? '\n' : '';
    embed.description =
      textPart + separator + codeBlock(redact(message.code), descriptionMax - textPart.length - separator.length);
  } else if (text) {
    embed.description = truncate(text, descriptionMax);
  }
  return embed;
}

/**
 * Renders a neutral ChatMessage as a Discord message: an embed (title, description, fields,
 * logs in a code block, colour by tone) and an action row of Approve/Deny buttons. Plain
 * text with nothing else stays plain content. Every string passes through `redact`.
 */
export function renderMessage(
  original: ChatMessage,
  redact: Redactor,
  people: DiscordPeople = NOBODY,
): DiscordMessagePayload {
  const made: string[] = [];
  const link = (text: string) => {
    const linked = linkMentions(redact(text), people);
    made.push(...linked.mentions);
    return linked.text;
  };
  const message: ChatMessage = {
    ...original,
    text: link(original.text),
    fields: original.fields?.map((f) => ({ label: f.label, value: link(f.value) })),
  };
  const mentions = (message.mentions ?? []).join(' ');
  const plain = !message.title && !message.fields?.length && !message.code && !message.tone;
  const payload: DiscordMessagePayload = {
    content: '',
    embeds: [],
    components: [...renderButtons(message.buttons ?? [], redact), ...renderLinks(message.links ?? [], redact)].slice(
      0,
      DISCORD_LIMITS.actionRows,
    ),
    allowed_mentions: allowedMentions([...(message.mentions ?? []), ...made]),
  };
  if (plain) {
    const text = toDiscordMarkdown(redact(message.text));
    payload.content = truncate(mentions ? `${mentions} ${text}` : text, DISCORD_LIMITS.content);
  } else {
    payload.content = truncate(mentions, DISCORD_LIMITS.content);
    payload.embeds = [renderEmbed(message, redact)];
  }
  return payload;
}

/** A thread name from a status message: its title or first line, within Discord's 100 characters. */
export function threadName(status: ChatMessage, redact: Redactor): string {
  const source = status.title ?? status.text.split('\n')[0] ?? 'healbot';
  const name = redact(source)
    .replace(/[*`_~]/g, '')
    .trim();
  return truncate(name || 'healbot incident', DISCORD_LIMITS.threadName);
}

/**
 * The approval message after a decision: the original embeds with a line saying who decided
 * and when (a Discord timestamp, shown in each reader's time zone), buttons removed unless
 * more approvals are still needed.
 */
export function renderDecided(
  original: { content: string; embeds: APIEmbed[] },
  decision: { decision: 'approved' | 'denied'; by: string; at: Date; waitingFor?: number },
  keepButtons: DiscordMessagePayload['components'],
  redact: Redactor,
): DiscordMessagePayload {
  const unix = Math.floor(decision.at.getTime() / 1000);
  const waiting = decision.waitingFor && decision.waitingFor > 0;
  const line = waiting
    ? `👍 Approved by ${decision.by} <t:${unix}:f>, waiting for ${decision.waitingFor} more approval${decision.waitingFor === 1 ? '' : 's'}`
    : `${decision.decision === 'approved' ? '✅ Approved' : '⛔ Denied'} by ${decision.by} <t:${unix}:f>`;
  const embeds =
    original.embeds.length > 0 ? original.embeds.map((e) => ({ ...e })) : [{ description: redact(original.content) }];
  const last = embeds[embeds.length - 1];
  const field: APIEmbedField = { name: waiting ? 'Approval' : 'Decision', value: redact(line) };
  const fields = [...(last.fields ?? []).filter((f) => f.name !== 'Decision' && f.name !== 'Approval')];
  if (fields.length >= DISCORD_LIMITS.embedFields) fields.pop();
  last.fields = [...fields, field];
  if (!waiting) last.color = decision.decision === 'approved' ? TONE_COLORS.ok : TONE_COLORS.error;
  return {
    content: original.embeds.length > 0 ? original.content : '',
    embeds,
    components: waiting ? keepButtons : [],
    allowed_mentions: { parse: [] },
  };
}
