import type { Config } from './schema.js';

const SECRET_FIELD = /token|secret|password|passwd|credentials?|api[_-]?key|private[_-]?key/i;
const SECRET_PARAM = /token|secret|password|passwd|pwd|key|sig|signature|auth/i;

function urlSecrets(text: string): string[] {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return [];
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return [];
  }
  const found: string[] = [];
  if (url.password) found.push(text, decodeURIComponent(url.password), url.password);
  else if (url.username && url.protocol.startsWith('http')) found.push(text, decodeURIComponent(url.username));
  for (const [name, value] of url.searchParams) if (SECRET_PARAM.test(name) && value) found.push(value, text);
  return found;
}

/**
 * Every secret in the configuration, by value: tokens and secrets by field name, HTTP probe
 * headers, passwords and credentials in any URL (and the URL itself), secret query parameters,
 * and the heartbeat URL, which is itself the credential of a dead-man's switch.
 */
export function configSecrets(config: Config): string[] {
  const secrets: string[] = [];
  if (config.heartbeat) secrets.push(config.heartbeat.url);
  const walk = (value: unknown, key: string, depth: number) => {
    if (depth > 32) return;
    if (typeof value === 'string') {
      if (SECRET_FIELD.test(key)) secrets.push(value);
      secrets.push(...urlSecrets(value));
      return;
    }
    if (Array.isArray(value)) value.forEach((item) => walk(item, key, depth + 1));
    else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, key === 'headers' ? 'secret' : k, depth + 1);
    }
  };
  walk(config, '', 0);
  return [...new Set(secrets.filter((s) => s.length >= 4))];
}
