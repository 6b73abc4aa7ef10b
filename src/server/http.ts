import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A request the server refuses, with the status and the one-line reason the caller sees. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Sends `body` as JSON. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Sends the one-line error every refusal uses: `{ "error": "..." }`. */
export function sendError(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, { error: error.message }, error.headers);
  // A refused client (no token, a body too large) gets no more of the socket: it is closed once
  // the answer is out, even while the client is still trickling its body.
  if (/^close$/i.test(error.headers.connection ?? '')) res.once('finish', () => res.socket?.destroySoon());
}

/**
 * Reads the body up to `limit` bytes. A declared or actual size above it is a 413; the rest of
 * an oversized body is not read, and the connection is closed after the answer so the client
 * cannot keep streaming into a socket nobody reads.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    const tooLarge = () => new HttpError(413, `request body is larger than ${limit} bytes`, { connection: 'close' });
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      req.removeListener('data', onData);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        finish(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => finish());
    req.once('aborted', () => finish(new HttpError(400, 'the request body ended early')));
    req.once('error', (error) => finish(new HttpError(400, `could not read the request body: ${error.message}`)));
  });
}

/** Parses a JSON body; anything else is a 400 with the parser's first line. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return parseJson(await readJsonBytes(req, limit));
}

/** The raw bytes of a body declared as JSON (for senders that sign the exact body), not yet parsed. */
export async function readJsonBytes(req: IncomingMessage, limit: number): Promise<Buffer> {
  const type = req.headers['content-type'] ?? 'application/json';
  if (!/json/i.test(type)) throw new HttpError(415, `expected a JSON body (content-type ${type} is not JSON)`);
  const body = await readBody(req, limit);
  if (body.length === 0) throw new HttpError(400, 'the request body is empty; expected JSON');
  return body;
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `malformed JSON: ${(error as Error).message.split('\n')[0]}`);
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Whether the request carries `Authorization: Bearer <token>`. Compares digests in constant
 * time, so neither the token's content nor its length leaks through timing.
 */
export function hasBearerToken(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return false;
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  const given = match ? match[1].trim() : '';
  return timingSafeEqual(digest(given), digest(token)) && given.length > 0;
}
