import type { Redactor } from '../redact.js';

export interface GitHubTarget {
  /** owner/name */
  repo: string;
  token: string;
  apiUrl: string;
}

/** A GitHub API answer that was not a success, with GitHub's own message. */
export class GitHubRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'GitHubRequestError';
  }
}

/** The client_payload of the `error-detected` repository_dispatch a fix workflow receives. */
export interface ErrorDispatchPayload {
  error_message: string;
  file: string | null;
  line: number | null;
  trace_id: string | null;
  service: string;
  incident: string;
}

/** The web address for an API base: api.github.com → github.com, https://HOST/api/v3 → https://HOST. */
export function webUrlFor(apiUrl: string): string {
  const base = apiUrl.replace(/\/+$/, '');
  if (/^https:\/\/api\.github\.com$/.test(base)) return 'https://github.com';
  return base.replace(/\/api\/v3$/, '');
}

/**
 * The three GitHub calls the error routes make: a repository_dispatch, an issue and a comment.
 * Every call has a deadline; titles and bodies are redacted before they leave.
 */
export class GitHubRoutes {
  constructor(
    private readonly target: GitHubTarget,
    private readonly redact: Redactor,
    private readonly timeoutMs = 15_000,
  ) {}

  private async request(method: string, path: string, body: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.target.apiUrl.replace(/\/+$/, '')}/repos/${this.target.repo}${path}`, {
      method,
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${this.target.token}`,
        'content-type': 'application/json',
        'user-agent': 'healbot',
        'x-github-api-version': '2022-11-28',
      },
      body: this.redact(JSON.stringify(body)),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      // GitHub answers JSON; a proxy in the way may not.
    }
    if (!res.ok)
      throw new GitHubRequestError(
        res.status,
        `GitHub answered ${res.status} to ${method} ${path}: ${typeof json.message === 'string' ? json.message : text.slice(0, 200)}`,
      );
    return json;
  }

  /** `POST /repos/{repo}/dispatches` (204); resolves with where the started workflow runs show up. */
  async dispatch(payload: ErrorDispatchPayload): Promise<string> {
    await this.request('POST', '/dispatches', { event_type: 'error-detected', client_payload: payload });
    return `${webUrlFor(this.target.apiUrl)}/${this.target.repo}/actions?query=event%3Arepository_dispatch`;
  }

  async openIssue(issue: { title: string; body: string; labels: string[] }): Promise<{ number: number; url: string }> {
    const json = await this.request('POST', '/issues', issue);
    return { number: Number(json.number), url: String(json.html_url ?? '') };
  }

  async comment(issue: number, body: string): Promise<string> {
    const json = await this.request('POST', `/issues/${issue}/comments`, { body });
    return String(json.html_url ?? '');
  }
}
