import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A request listener one transport hands to the HTTP server for a path it owns
 * (Slack's /slack/events in HTTP mode). main.ts passes it from one to the
 * other, so neither transport imports the other.
 */
export interface Mount {
  path: string;
  listener: (req: IncomingMessage, res: ServerResponse) => void;
}
