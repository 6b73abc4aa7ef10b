import type { types } from '@slack/bolt';
import type { ChatButton, ChatMessage } from '../../commands/chat.js';
import type { Redactor } from '../../src/redact.js';

/**
 * Slack's documented limits (https://docs.slack.dev/reference/block-kit/blocks): 3000 characters
 * per section text, 2000 per field, 10 fields per section, 50 blocks per message, 40000 for the
 * top-level text. Texts are cut a little short of the limit so redaction or escaping never
 * pushes them over.
 */
export const SLACK_LIMITS = {
  sectionText: 3000,
  fieldText: 2000,
  fieldsPerSection: 10,
  blocks: 50,
  text: 40_000,
  buttonText: 75,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
} as const;

/** The action ids healbot's approval buttons carry; the adapter listens for exactly these. */
export const APPROVE_ACTION_ID = 'healbot_approve';
export const DENY_ACTION_ID = 'healbot_deny';
export const APPROVAL_BLOCK_ID = 'healbot_approval';
/** Link buttons open their URL in the browser; Slack still reports the click, which the adapter acknowledges. */
export const LINK_ACTION_PREFIX = 'healbot_link_';
/** A command button runs its value as `/heal <value>` for the user who clicked; action ids in a block must differ. */
export const COMMAND_ACTION_PREFIX = 'healbot_command_';
export const LINKS_BLOCK_ID = 'healbot_links';
/** Slack's limit on a button's URL. */
const BUTTON_URL_MAX = 3000;

/** A Block Kit block as healbot writes it (a structural subset of @slack/types' KnownBlock). */
export type SlackBlock =
  | { type: 'section'; text: SlackText; block_id?: string }
  | { type: 'section'; fields: SlackText[]; block_id?: string }
  | { type: 'context'; elements: SlackText[]; block_id?: string }
  | { type: 'actions'; block_id: string; elements: SlackButton[] }
  | { type: string; block_id?: string; [key: string]: unknown };

export interface SlackText {
  type: 'mrkdwn' | 'plain_text';
  text: string;
  emoji?: boolean;
}

export interface SlackButton {
  type: 'button';
  action_id: string;
  text: SlackText;
  value: string;
  style?: 'primary' | 'danger';
  confirm?: { title: SlackText; text: SlackText; confirm: SlackText; deny: SlackText; style?: 'primary' | 'danger' };
}

export interface RenderedMessage {
  /** Notification fallback and screen-reader text. */
  text: string;
  blocks: SlackBlock[];
}

const TONE_EMOJI: Record<NonNullable<ChatMessage['tone']>, string> = {
  info: ':mag:',
  ok: ':white_check_mark:',
  warn: ':warning:',
  error: ':rotating_light:',
};

/**
 * Escapes `&`, `<` and `>` as Slack requires. Nothing passes through: `<!channel>`, `<!here>`,
 * `<!subteam^…>` or `<@U…>` in text healbot did not write arrive as text, not as a ping.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The people healbot itself may mention on Slack: configured approvers and groups, and users it verified. */
export interface SlackPeople {
  users: ReadonlySet<string>;
  groups: ReadonlySet<string>;
}

const NOBODY: SlackPeople = { users: new Set(), groups: new Set() };

/**
 * Turns references to healbot's own people back into mentions in escaped text: `<@U1>` or a
 * bare `U1` of a known user becomes `<@U1>`, a known group id `<!subteam^S1>`. Any other user
 * reference is shown as `@U…` and pings nobody.
 */
export function linkMentions(escaped: string, people: SlackPeople): string {
  const user = (id: string) => (people.users.has(id) ? `<@${id}>` : `@${id}`);
  return escaped
    .replace(/&lt;@([UW][A-Z0-9]+)(?:\|[^&<>]*)?&gt;/g, (_m, id: string) => user(id))
    .replace(/(?<![\w@^])([UWS][A-Z0-9]{2,})\b/g, (m, id: string) =>
      people.users.has(id) ? `<@${id}>` : people.groups.has(id) ? `<!subteam^${id}>` : m,
    );
}

/** Cuts `text` to `max` characters, never inside an `&amp;` entity, marking the cut with an ellipsis. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, Math.max(0, max - 1)).replace(/&[a-z]{0,4}$/, '');
  return `${cut}…`;
}

/**
 * Fits preformatted lines into one section: whole lines from the top while they fit, then
 * `… N more lines`. A single overlong line is cut.
 */
export function renderCode(code: string, max: number = SLACK_LIMITS.sectionText): string {
  const lines = code.replace(/\n+$/, '').split('\n').map(escapeMrkdwn);
  const fence = '```';
  const noteRoom = 40;
  const budget = max - fence.length * 2 - 2 - noteRoom;
  const kept: string[] = [];
  let used = 0;
  for (const line of lines) {
    const cost = line.length + 1;
    if (used + cost > budget) {
      if (kept.length === 0) kept.push(truncateText(line, budget));
      break;
    }
    kept.push(line);
    used += cost;
  }
  const omitted = lines.length - kept.length;
  const note = omitted > 0 ? `\n_… ${omitted} more line${omitted === 1 ? '' : 's'}_` : '';
  return `${fence}\n${kept.join('\n')}\n${fence}${note}`;
}

function plainText(text: string, max: number): SlackText {
  return { type: 'plain_text', text: truncateText(text, max), emoji: true };
}

function renderButton(button: ChatButton, index: number, redact: Redactor): SlackButton {
  const rendered: SlackButton = {
    type: 'button',
    action_id:
      button.action === 'approve'
        ? APPROVE_ACTION_ID
        : button.action === 'deny'
          ? DENY_ACTION_ID
          : `${COMMAND_ACTION_PREFIX}${index}`,
    text: plainText(redact(button.label), SLACK_LIMITS.buttonText),
    value: button.value,
    ...(button.style ? { style: button.style } : {}),
  };
  if (button.confirm) {
    rendered.confirm = {
      title: plainText(redact(button.confirm.title), SLACK_LIMITS.confirmTitle),
      text: { type: 'mrkdwn', text: truncateText(escapeMrkdwn(redact(button.confirm.text)), SLACK_LIMITS.confirmText) },
      confirm: plainText(redact(button.confirm.confirm), SLACK_LIMITS.confirmButton),
      deny: plainText(redact(button.confirm.deny), SLACK_LIMITS.confirmButton),
      style: button.style,
    };
  }
  return rendered;
}

/**
 * Renders a neutral ChatMessage as Block Kit: a headline section (tone, title, text, mentions),
 * field sections, the code block cut to fit, and the Approve/Deny actions. Every text passes
 * through `redact` before escaping and truncation, so a cut never leaves half a secret behind.
 */
export function renderMessage(message: ChatMessage, redact: Redactor, people: SlackPeople = NOBODY): RenderedMessage {
  const blocks: SlackBlock[] = [];
  const mrkdwn = (text: string) => linkMentions(escapeMrkdwn(redact(text)), people);
  // Mentions are healbot's own (the configured on-call): the one part that may ping as written.
  const mentions = (message.mentions ?? []).map(redact).join(' ');
  const headline = [
    message.title ? `${message.tone ? `${TONE_EMOJI[message.tone]} ` : ''}*${mrkdwn(message.title)}*` : '',
    mrkdwn(message.text),
    mentions ? `cc ${mentions}` : '',
  ]
    .filter(Boolean)
    .join('\n');
  if (headline)
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncateText(headline, SLACK_LIMITS.sectionText) } });

  const fields = (message.fields ?? []).map(
    (f): SlackText => ({
      type: 'mrkdwn',
      text: truncateText(`*${mrkdwn(f.label)}*\n${mrkdwn(f.value)}`, SLACK_LIMITS.fieldText),
    }),
  );
  for (let i = 0; i < fields.length; i += SLACK_LIMITS.fieldsPerSection) {
    blocks.push({ type: 'section', fields: fields.slice(i, i + SLACK_LIMITS.fieldsPerSection) });
  }

  if (message.code && message.code.trim()) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: renderCode(redact(message.code)) } });
  }

  const links = (message.links ?? []).filter((l) => l.url.length <= BUTTON_URL_MAX).slice(0, 5);
  if (links.length > 0) {
    blocks.push({
      type: 'actions',
      block_id: LINKS_BLOCK_ID,
      elements: links.map((l, i) => ({
        type: 'button',
        action_id: `${LINK_ACTION_PREFIX}${i}`,
        text: plainText(redact(l.label), SLACK_LIMITS.buttonText),
        url: redact(l.url),
      })),
    });
  }
  const actions = message.buttons && message.buttons.length > 0 ? message.buttons : undefined;
  // The actions block goes last and must survive the block limit: it is what the approver needs.
  const room = SLACK_LIMITS.blocks - (actions ? 1 : 0);
  const kept = blocks.slice(0, room);
  if (actions)
    kept.push({
      type: 'actions',
      block_id: APPROVAL_BLOCK_ID,
      elements: actions.map((b, i) => renderButton(b, i, redact)),
    });

  const fallbackParts = [message.title ? mrkdwn(message.title) : '', mrkdwn(message.text), mentions].filter(Boolean);
  const text = truncateText(fallbackParts.join(' — '), SLACK_LIMITS.text) || ' ';
  return { text, blocks: kept };
}

/**
 * The approval message after a decision: the buttons go (unless more approvals are needed) and a
 * context line says who decided and when. `<!date>` shows the time in each reader's own zone.
 */
export function renderDecided(
  original: readonly SlackBlock[] | undefined,
  decision: { outcome: 'approved' | 'denied' | 'expired'; by: string; at: Date; waitingFor?: number },
): { text: string; blocks: SlackBlock[] } {
  const waiting = decision.outcome === 'approved' && (decision.waitingFor ?? 0) > 0;
  const kept = (original ?? []).filter((block) => waiting || block.type !== 'actions');
  const hhmm = `${String(decision.at.getUTCHours()).padStart(2, '0')}:${String(decision.at.getUTCMinutes()).padStart(2, '0')}`;
  const epoch = Math.floor(decision.at.getTime() / 1000);
  const verb = { approved: 'Approved', denied: 'Denied', expired: 'Expired' }[decision.outcome];
  const emoji = { approved: ':white_check_mark:', denied: ':no_entry:', expired: ':hourglass:' }[decision.outcome];
  const more = waiting
    ? ` (waiting for ${decision.waitingFor} more approval${decision.waitingFor === 1 ? '' : 's'})`
    : '';
  const who = decision.outcome === 'expired' ? ', nothing was done; noticed' : ` by ${decision.by}`;
  const line = `${emoji} ${verb}${who} at <!date^${epoch}^{time}|${hhmm} UTC>${more}`;
  const blocks = [
    ...kept.slice(0, SLACK_LIMITS.blocks - 1),
    { type: 'context', elements: [{ type: 'mrkdwn', text: line }] } as SlackBlock,
  ];
  return { text: `${verb}${who} at ${hhmm} UTC${more}`, blocks };
}

/**
 * Hands healbot's blocks to the Web API client. SlackBlock is a structural subset of Block Kit
 * that also admits blocks echoed back from Slack payloads, hence the one cast here.
 */
export function asKnownBlocks(blocks: readonly SlackBlock[]): types.KnownBlock[] {
  return blocks as unknown as types.KnownBlock[];
}
