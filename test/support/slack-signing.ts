import { createHmac } from 'node:crypto';

/**
 * Requests as Slack sends them: signed with v0 HMAC-SHA256 of
 * `v0:{timestamp}:{body}` under the signing secret. Slash commands and
 * interactive payloads are forms with exactly this content type (Bolt
 * compares it exactly); events are JSON.
 */
export const FORM = 'application/x-www-form-urlencoded';

export function slackSignature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface SignedRequest {
  body: string;
  headers: Record<string, string>;
}

export interface SignOptions {
  /** Unix seconds; default now. */
  timestamp?: number;
  /** Extra headers, e.g. X-Slack-Retry-Num. */
  headers?: Record<string, string>;
}

export function signed(secret: string, body: string, contentType: string, options: SignOptions = {}): SignedRequest {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    body,
    headers: {
      'content-type': contentType,
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': slackSignature(secret, timestamp, body),
      ...options.headers,
    },
  };
}

export function slashCommandBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export function interactiveBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export function signSlashCommand(secret: string, fields: Record<string, string>, options?: SignOptions): SignedRequest {
  return signed(secret, slashCommandBody(fields), FORM, options);
}

export function signInteractive(secret: string, payload: unknown, options?: SignOptions): SignedRequest {
  return signed(secret, interactiveBody(payload), FORM, options);
}

export function signEvent(secret: string, envelope: unknown, options?: SignOptions): SignedRequest {
  return signed(secret, JSON.stringify(envelope), 'application/json', options);
}

export async function send(url: string, request: SignedRequest): Promise<Response> {
  return fetch(url, { method: 'POST', headers: request.headers, body: request.body });
}
