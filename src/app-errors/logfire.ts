import { z } from 'zod';
import { AppErrorPayloadError, textFingerprint, type AppError } from './app-error.js';

/**
 * Logfire alerts post to a webhook in Slack's incoming-webhook format (`text`, optional
 * `blocks`): the alert's name, a link to the alert run, and the rows its SQL query matched
 * (e.g. `SELECT service_name, trace_id, exception_type, exception_message FROM records WHERE
 * is_exception`). healbot reads those columns back out of the text.
 */
const slackText = z.looseObject({ text: z.string().nullish() });
const block = z.looseObject({
  type: z.string(),
  text: slackText.nullish(),
  fields: z.array(slackText).nullish(),
  elements: z.array(z.unknown()).nullish(),
});
const logfireSchema = z.looseObject({
  text: z.string().min(1, 'must hold the alert text'),
  blocks: z.array(block).nullish(),
});

/** Columns of Logfire's `records` table healbot understands, by the names a query selects them as. */
const COLUMNS = [
  'service_name',
  'trace_id',
  'exception_type',
  'exception_message',
  'message',
  'span_name',
  'code_filepath',
  'code_lineno',
  'otel_status_message',
  'project_name',
] as const;
type Row = Partial<Record<(typeof COLUMNS)[number], string>>;

const normalise = (key: string) => key.trim().replace(/[*`]/g, '').replace(/\./g, '_').toLowerCase();
const isColumn = (key: string): key is (typeof COLUMNS)[number] => (COLUMNS as readonly string[]).includes(key);

function blockTexts(blocks: z.infer<typeof block>[]): string[] {
  const texts: string[] = [];
  for (const b of blocks) {
    if (b.text?.text) texts.push(b.text.text);
    for (const f of b.fields ?? []) if (f.text) texts.push(f.text);
    for (const e of b.elements ?? []) {
      const t = (e as { text?: unknown }).text;
      if (typeof t === 'string') texts.push(t);
    }
  }
  return texts;
}

/** Rows from a pipe table (`| service_name | trace_id |`) or from `key: value` lines, one row per blank-line group. */
export function rowsIn(text: string): Row[] {
  const lines = text
    .replace(/```/g, '\n')
    .split('\n')
    .map((l) => l.trim());
  const table = lines.filter((l) => l.startsWith('|') && l.endsWith('|'));
  if (table.length >= 2) {
    const cells = (l: string) =>
      l
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim());
    const header = cells(table[0]).map(normalise);
    return table
      .slice(1)
      .filter((l) => !/^\|[\s:|-]+\|$/.test(l))
      .map(
        (l) =>
          Object.fromEntries(
            cells(l).flatMap((value, i) => (isColumn(header[i]) && value ? [[header[i], value]] : [])),
          ) as Row,
      )
      .filter((r) => Object.keys(r).length > 0);
  }
  const rows: Row[] = [];
  let row: Row = {};
  for (const line of [...lines, '']) {
    const pair = /^[*_`]*([A-Za-z_.]+)[*_`]*\s*[:=]\s*[`]?(.*?)[`]?$/.exec(line);
    const key = pair ? normalise(pair[1]) : undefined;
    if (key && isColumn(key) && pair![2]) {
      if (row[key] !== undefined) rows.push(row), (row = {});
      row[key] = pair![2];
    } else if (line === '' && Object.keys(row).length > 0) {
      rows.push(row);
      row = {};
    }
  }
  return rows;
}

const LINK = /<?(https:\/\/[^\s|>]*logfire[^\s|>]*)/i;

/**
 * One Logfire alert delivery → one application error per matched row (or one for the alert
 * when its query selected no columns healbot knows).
 */
export function parseLogfire(body: unknown): AppError[] {
  const parsed = logfireSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppErrorPayloadError(
      `not a Logfire alert webhook (Slack format): ${issue.path.map(String).join('.') || 'body'}: ${issue.message}`,
    );
  }
  const texts = [parsed.data.text, ...blockTexts(parsed.data.blocks ?? [])];
  const all = texts.join('\n');
  const link = LINK.exec(all)?.[1];
  const alertName =
    /alert[^"“]*["“]([^"”]+)["”]/i.exec(parsed.data.text)?.[1] ?? parsed.data.text.split('\n')[0].slice(0, 200);
  const rows = texts.flatMap(rowsIn);
  const base = (row: Row, index: number): AppError => {
    const message = row.exception_message ?? row.otel_status_message ?? row.message ?? parsed.data.text;
    const line = row.code_lineno !== undefined && /^\d+$/.test(row.code_lineno) ? Number(row.code_lineno) : undefined;
    return {
      source: 'logfire',
      id: row.trace_id ? `trace:${row.trace_id}` : `alert:${textFingerprint(all)}:${index}`,
      fingerprint: textFingerprint(
        row.service_name,
        row.exception_type,
        message.replace(/\d+/g, '#'),
        row.code_filepath,
      ),
      service: row.service_name,
      project: row.project_name,
      title: row.exception_type ? `${row.exception_type}: ${message}` : message,
      type: row.exception_type,
      message,
      file: row.code_filepath,
      line,
      traceId: row.trace_id,
      link,
      labels: Object.fromEntries(
        Object.entries({ alert: alertName, service_name: row.service_name, span_name: row.span_name }).filter(
          (e): e is [string, string] => Boolean(e[1]),
        ),
      ),
    };
  };
  return rows.length > 0 ? rows.map(base) : [base({}, 0)];
}
