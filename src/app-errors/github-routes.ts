import { GitHubClient } from '../github/client.js';
import type { Redactor } from '../redact.js';

export interface GitHubTarget {
  /** owner/name */
  repo: string;
  token: string;
  apiUrl: string;
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
  private readonly client: GitHubClient;

  constructor(
    private readonly target: GitHubTarget,
    redact: Redactor,
    timeoutMs = 15_000,
  ) {
    this.client = new GitHubClient({ token: target.token, apiUrl: target.apiUrl, timeoutMs, redact });
  }

  private request(method: string, path: string, body: unknown): Promise<Record<string, unknown>> {
    return this.client.json(method, `/repos/${this.target.repo}${path}`, { body });
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
