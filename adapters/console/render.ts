import type { ChatMessage } from '../../commands/chat.js';

const TONE: Record<NonNullable<ChatMessage['tone']>, string> = { info: '·', ok: '✓', warn: '!', error: '✗' };

/** Renders a neutral message as terminal text, indented under its thread. */
export function renderForConsole(message: ChatMessage, indent = ''): string {
  const lines: string[] = [];
  const icon = message.tone ? `${TONE[message.tone]} ` : '';
  if (message.title) lines.push(`${icon}${message.title}`);
  const text = message.text.replace(/\*([^*\n]+)\*/g, '$1');
  text.split('\n').forEach((line, i) => lines.push(!message.title && i === 0 ? `${icon}${line}` : line));
  for (const field of message.fields ?? []) lines.push(`${field.label}: ${field.value}`);
  if (message.code) {
    const code = message.code.split('\n');
    const shown = code.slice(-15);
    if (code.length > shown.length) lines.push(`  … ${code.length - shown.length} earlier lines`);
    lines.push(...shown.map((l) => `  | ${l}`));
  }
  const approval = message.buttons?.find((b) => b.action === 'approve');
  if (approval) lines.push(`→ type y to approve or n to deny (${approval.value})`);
  for (const button of message.buttons?.filter((b) => b.action === 'command') ?? [])
    lines.push(`→ ${button.label}: /heal ${button.value}`);
  for (const link of message.links ?? []) lines.push(`${link.label}: ${link.url}`);
  if (message.mentions?.length) lines.push(`cc ${message.mentions.join(' ')}`);
  return lines.map((l) => `${indent}${l}`).join('\n');
}
