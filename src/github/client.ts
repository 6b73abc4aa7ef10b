/**
 * healbot's one GitHub REST client: the token, the API base URL (github.com or GHES), the API
 * version header, a deadline on every call, `Link` pagination, the job-log redirect, GitHub's
 * rate limits (a `retry-after` is honoured when it fits inside the deadline), and errors as one
 * human line naming the call and GitHub's answer, never the token.
 */

/** A GitHub answer that was not a success, with its status (0: no answer) and GitHub's own message. */
export class GitHubApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Seconds GitHub asked to wait (rate limits), when it said. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'GitHubApiError';
  }

  /** Whether the same call may succeed later: no answer, a server error or a rate limit; never a refusal of the call itself. */
  get transient(): boolean {
    return this.status === 0 || this.status >= 500 || this.status === 429 || this.retryAfter !== undefined;
  }
}

export interface GitHubClientOptions {
  token: string;
  /** https://api.github.com or https://HOST/api/v3. */
  apiUrl: string;
  /** Deadline of each call, retries included. @defaultValue 15000 */
  timeoutMs?: number;
  /** Longest rate-limit wait healbot accepts inside one call; 0 leaves every rate limit to the caller. @defaultValue 10000 */
  maxRetryWaitMs?: number;
  /** Applied to every string of a request body before it leaves (secrets out of issues and dispatches). */
  redact?: (text: string) => string;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

/** The `rel="next"` URL of a `Link` header. */
export function nextLink(link: string | null): string | undefined {
  return link ? /<([^>]+)>;\s*rel="next"/.exec(link)?.[1] : undefined;
}

/**
 * How long a rate-limited call should wait, in seconds: `retry-after`, or until
 * `x-ratelimit-reset` when the primary limit is spent, or the minute GitHub's documentation asks
 * for when it says neither.
 */
function waitSeconds(res: Response): number {
  const retryAfter = Number(res.headers.get('retry-after'));
  if (res.headers.has('retry-after') && Number.isFinite(retryAfter)) return Math.max(retryAfter, 1);
  if (res.headers.get('x-ratelimit-remaining') === '0') {
    const reset = Number(res.headers.get('x-ratelimit-reset'));
    if (reset > 0) return Math.max(Math.ceil(reset - Date.now() / 1000), 1);
  }
  return 60;
}

function redactStrings(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((item) => redactStrings(item, redact));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactStrings(item, redact)]));
  return value;
}

/** The GitHub REST API for one token and API base; the CI runtime, escalation and the error routes each hold one. */
export class GitHubClient {
  private readonly base: string;

  constructor(private readonly options: GitHubClientOptions) {
    this.base = options.apiUrl.replace(/\/+$/, '');
  }

  private headers(): Record<string, string> {
    return {
      accept: 'application/vnd.github+json',
      authorization: `Bearer ${this.options.token}`,
      'user-agent': 'healbot',
      'x-github-api-version': '2022-11-28',
    };
  }

  private signalFor(signal?: AbortSignal): AbortSignal {
    const deadline = AbortSignal.timeout(this.options.timeoutMs ?? 15_000);
    return signal ? AbortSignal.any([deadline, signal]) : deadline;
  }

  /** `message` as one line without the token (the runtime quotes a header value it refuses in its message). */
  private fail(status: number, message: string, retryAfter?: number): GitHubApiError {
    const { token } = this.options;
    const scrubbed = token ? message.split(token).join('[REDACTED]') : message;
    return new GitHubApiError(status, scrubbed.split('\n')[0], retryAfter);
  }

  private noAnswer(method: string, url: string, signal: AbortSignal, error: unknown): GitHubApiError {
    const { message, cause } = error as Error & { cause?: Error };
    const reason = signal.aborted
      ? `no answer within ${(this.options.timeoutMs ?? 15_000) / 1000} s`
      : (cause?.message ?? message);
    return this.fail(0, `GitHub did not answer ${method} ${new URL(url).pathname}: ${reason}`);
  }

  /** One call; `path` starts with `/repos/…` or is a full URL on the API host (a `Link`). */
  private async send(
    method: string,
    path: string,
    init: { body?: unknown; signal: AbortSignal; redirect?: 'follow' | 'manual' },
  ): Promise<Response> {
    const url = path.startsWith('http') ? path : `${this.base}${path}`;
    const { redact } = this.options;
    const body =
      init.body === undefined ? undefined : JSON.stringify(redact ? redactStrings(init.body, redact) : init.body);
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: { ...this.headers(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body,
          signal: init.signal,
          redirect: init.redirect ?? 'follow',
        });
      } catch (error) {
        throw this.noAnswer(method, url, init.signal, error);
      }
      if (res.ok || res.status === 302) return res;
      const text = await res.text().catch(() => '');
      let message = text.slice(0, 200);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // GitHub answers JSON; a proxy in the way may not.
      }
      const wait =
        res.status === 429 || (res.status === 403 && /rate limit/i.test(message)) ? waitSeconds(res) : undefined;
      if (wait !== undefined && attempt < 2 && wait * 1000 <= (this.options.maxRetryWaitMs ?? 10_000)) {
        await sleep(wait * 1000, init.signal).catch(() => undefined);
        if (!init.signal.aborted) continue;
      }
      const hint =
        res.status === 401
          ? ' (check github.token)'
          : res.status === 404
            ? ' (check the repo name and that the token can read it)'
            : res.status === 403 && wait === undefined
              ? ' (the token lacks a permission: actions read/write, issues write)'
              : '';
      throw this.fail(
        res.status,
        `GitHub answered ${res.status} to ${method} ${new URL(url).pathname}: ${message.split('\n')[0]}${hint}`,
        wait,
      );
    }
  }

  /** A success's JSON body (`{}` when empty, as a 204 is). */
  private async body<T>(res: Response, method: string, signal: AbortSignal): Promise<T> {
    const text = await res.text().catch((error: unknown) => {
      throw this.noAnswer(method, res.url, signal, error);
    });
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw this.fail(
        res.status,
        `GitHub answered ${res.status} to ${method} ${new URL(res.url).pathname} with something other than JSON: ${text.slice(0, 80)}`,
      );
    }
  }

  async json<T>(method: string, path: string, options: { body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
    const signal = this.signalFor(options.signal);
    return this.body<T>(await this.send(method, path, { body: options.body, signal }), method, signal);
  }

  /** Follows `Link: rel="next"` up to `maxPages`, collecting `key` of each page (or the page itself when it is an array). */
  async paginate<T>(
    path: string,
    key: string | undefined,
    options: { maxPages?: number; signal?: AbortSignal } = {},
  ): Promise<T[]> {
    const signal = this.signalFor(options.signal);
    const items: T[] = [];
    let next: string | undefined = path;
    for (let page = 0; next && page < (options.maxPages ?? 5); page++) {
      const res = await this.send('GET', next, { signal });
      const body = await this.body<Record<string, T[]> | T[]>(res, 'GET', signal);
      items.push(...(Array.isArray(body) ? body : (body[key ?? ''] ?? [])));
      next = nextLink(res.headers.get('link'));
    }
    return items;
  }

  /**
   * A job's log text. GitHub answers 302 with a short-lived storage URL; it is fetched without
   * the token, which must not leave for another host.
   */
  async jobLog(repo: string, jobId: number, signal?: AbortSignal): Promise<string> {
    const deadline = this.signalFor(signal);
    const res = await this.send('GET', `/repos/${repo}/actions/jobs/${jobId}/logs`, {
      signal: deadline,
      redirect: 'manual',
    });
    const location = res.headers.get('location');
    if (res.status !== 302 || !location) return res.text();
    const blob = await fetch(location, { signal: deadline }).catch((error: Error) => {
      throw new GitHubApiError(0, `could not download the log of job ${jobId}: ${error.message}`);
    });
    if (!blob.ok)
      throw new GitHubApiError(
        blob.status,
        `the log of job ${jobId} could not be downloaded (${blob.status}); its link may have expired`,
      );
    return headAndTail(blob);
  }
}

const LOG_HEAD_BYTES = 256 * 1024;
const LOG_TAIL_BYTES = 1024 * 1024;

/**
 * A log's first and last lines only: a job log can run to hundreds of megabytes, and what
 * healbot reads is the setup at its start (restored cache keys) and the failure at its end.
 */
async function headAndTail(res: Response): Promise<string> {
  if (!res.body) return '';
  const decoder = new TextDecoder();
  let head = '';
  let tail = '';
  let skipped = false;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const text = decoder.decode(chunk, { stream: true });
    if (head.length < LOG_HEAD_BYTES) {
      head += text;
      continue;
    }
    tail += text;
    if (tail.length > 2 * LOG_TAIL_BYTES) {
      tail = tail.slice(-LOG_TAIL_BYTES);
      skipped = true;
    }
  }
  tail += decoder.decode();
  if (tail.length > LOG_TAIL_BYTES) {
    tail = tail.slice(-LOG_TAIL_BYTES);
    skipped = true;
  }
  // Each cut falls inside a line: drop the partial ones.
  return skipped ? `${head.slice(0, head.lastIndexOf('\n'))}\n${tail.slice(tail.indexOf('\n') + 1)}` : head + tail;
}
