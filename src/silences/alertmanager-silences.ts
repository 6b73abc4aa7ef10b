import type { Silencer } from '../engine/silences.js';

/** An Alertmanager answer that was not a success, with its status and body. */
export class AlertmanagerError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AlertmanagerError';
  }
}

/** Silences through Alertmanager's v2 API: `POST /api/v2/silences` and `DELETE /api/v2/silence/{id}`, each with a deadline. */
export class AlertmanagerSilences implements Silencer {
  private readonly base: string;

  constructor(
    url: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.base = url.replace(/\/+$/, '');
  }

  private async call(method: string, path: string, body?: unknown): Promise<string> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    if (!res.ok)
      throw new AlertmanagerError(
        res.status,
        `Alertmanager answered ${res.status} to ${method} ${path}: ${text.slice(0, 200).trim()}`,
      );
    return text;
  }

  async create(silence: {
    matchers: Record<string, string>;
    endsAt: Date;
    createdBy: string;
    comment: string;
  }): Promise<string> {
    const matchers = Object.entries(silence.matchers).map(([name, value]) => ({
      name,
      value,
      isRegex: false,
      isEqual: true,
    }));
    const text = await this.call('POST', '/api/v2/silences', {
      matchers,
      startsAt: new Date().toISOString(),
      endsAt: silence.endsAt.toISOString(),
      createdBy: silence.createdBy,
      comment: silence.comment,
    });
    const id = (JSON.parse(text) as { silenceID?: string }).silenceID;
    if (!id) throw new AlertmanagerError(200, 'Alertmanager created a silence but returned no silenceID');
    return id;
  }

  async expire(id: string): Promise<void> {
    await this.call('DELETE', `/api/v2/silence/${encodeURIComponent(id)}`);
  }
}
