import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { checkAckPayload } from './block-kit-limits.js';
import type { FakeSlack } from './fake-slack.js';
import { stateFromView } from './slack-harness.js';

/** An ack the app sent back over the socket: `{"envelope_id":…,"payload":…}`. */
export interface Ack {
  envelope_id: string;
  payload: Record<string, any>;
}

export interface SocketCommand {
  envelopeId: string;
  responseUrl: string;
  triggerId: string;
}

const TEAM = { id: 'T0FAKE', domain: 'fake' };
const APP_ID = 'A0PROMO';

/**
 * A local stand-in for Slack's Socket Mode: `apps.connections.open` on the
 * fake Web API hands out a ws://127.0.0.1 URL; each connection gets a
 * `hello`, then the envelopes a test sends, shaped as Slack sends them
 * (slash_commands, interactive, events_api); the app's acks are recorded.
 */
export class FakeSocketMode {
  /** Every ack received, in order. */
  readonly acks: Ack[] = [];
  /** How many connections said hello (1 after start, 2 after one reconnect). */
  connections = 0;
  private server: WebSocketServer;
  private socket: WebSocket | undefined;
  private ticket = 0;
  private ackWaiters = new Map<string, (ack: Ack) => void>();
  private url = '';

  constructor(private readonly web: FakeSlack) {
    this.server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    this.server.on('connection', (socket) => {
      this.socket = socket;
      this.connections += 1;
      socket.on('message', (data) => this.onMessage(String(data)));
      socket.send(JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: 'applink-fake', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: APP_ID },
      }));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => (this.server.address() ? resolve() : this.server.once('listening', () => resolve())));
    this.url = `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/link/`;
    this.web.answerWith('apps.connections.open', () => ({ ok: true, url: `${this.url}?ticket=${++this.ticket}&app_id=${APP_ID}` }));
    return this;
  }

  async stop(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Resolves once `n` connections have said hello and the latest is open. */
  async waitForConnection(n = 1, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(this.connections >= n && this.socket?.readyState === 1)) {
      if (Date.now() > deadline) throw new Error(`fake Socket Mode: ${this.connections} connection(s), waited for ${n}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Send one envelope on the current connection; returns its envelope_id. */
  send(type: 'slash_commands' | 'interactive' | 'events_api', payload: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
    if (!this.socket || this.socket.readyState !== 1) throw new Error('fake Socket Mode: the app is not connected');
    const envelopeId = randomUUID();
    this.socket.send(JSON.stringify({ envelope_id: envelopeId, payload, type, accepts_response_payload: type !== 'events_api', ...extra }));
    return envelopeId;
  }

  /** The app's ack of an envelope (waits for it). */
  ack(envelopeId: string, timeoutMs = 60_000): Promise<Ack> {
    const found = this.acks.find((a) => a.envelope_id === envelopeId);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ackWaiters.delete(envelopeId);
        reject(new Error(`fake Socket Mode: no ack for envelope ${envelopeId}`));
      }, timeoutMs);
      this.ackWaiters.set(envelopeId, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
    });
  }

  /** `/promo <text>` as a slash_commands envelope. */
  command(text: string, { user = 'UADMIN001', channel = 'C0PROMOS' } = {}): SocketCommand {
    const responseUrl = this.web.responseUrl();
    const triggerId = `trigger-${randomUUID()}`;
    const envelopeId = this.send('slash_commands', {
      token: 'legacy-verification-token', team_id: TEAM.id, team_domain: TEAM.domain, channel_id: channel, channel_name: 'promos',
      user_id: user, user_name: `name-${user}`, command: '/promo', text, api_app_id: APP_ID, is_enterprise_install: 'false',
      response_url: responseUrl, trigger_id: triggerId,
    });
    return { envelopeId, responseUrl, triggerId };
  }

  /** A view_submission of `view` (as views.open showed it, with its id) with the initial values, changed by `changes`. */
  submit(view: any, changes: Record<string, unknown> = {}, { user = 'UADMIN001' } = {}): string {
    return this.send('interactive', {
      type: 'view_submission', team: TEAM, user: { id: user, username: `name-${user}`, team_id: TEAM.id }, api_app_id: APP_ID,
      token: 'legacy-verification-token', trigger_id: `trigger-${randomUUID()}`,
      view: { ...view, team_id: TEAM.id, app_id: APP_ID, bot_id: 'B0BOT', hash: '1.hash', state: { values: stateFromView(view, changes) } },
      response_urls: [], is_enterprise_install: false,
    });
  }

  /** A block_actions press of a button. */
  press(actionId: string, value: string, { user = 'UADMIN001', channel = 'C0PROMOS' } = {}): SocketCommand {
    const responseUrl = this.web.responseUrl();
    const triggerId = `trigger-${randomUUID()}`;
    const envelopeId = this.send('interactive', {
      type: 'block_actions', team: TEAM, user: { id: user, username: `name-${user}`, team_id: TEAM.id }, api_app_id: APP_ID,
      token: 'legacy-verification-token', container: { type: 'message', message_ts: '1700000000.000001', channel_id: channel, is_ephemeral: true },
      trigger_id: triggerId, channel: { id: channel, name: 'promos' }, response_url: responseUrl,
      actions: [{ type: 'button', action_id: actionId, block_id: 'set_actions', value, action_ts: `${Date.now() / 1000}` }],
    });
    return { envelopeId, responseUrl, triggerId };
  }

  /** An events_api envelope carrying the full event_callback payload. */
  event(event: Record<string, unknown>, eventId = `Ev${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`): string {
    return this.send('events_api', {
      token: 'legacy-verification-token', team_id: TEAM.id, api_app_id: APP_ID, event, type: 'event_callback', event_id: eventId,
      event_time: Math.floor(Date.now() / 1000), authorizations: [{ enterprise_id: null, team_id: TEAM.id, user_id: 'U0BOT', is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false, event_context: `4-${eventId}`,
    }, { retry_attempt: 0, retry_reason: '' });
  }

  /** What Slack does when it recycles a connection: a `disconnect` message, then the socket closes. */
  disconnect(reason = 'refresh_requested'): void {
    const socket = this.socket;
    if (!socket) return;
    socket.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-fake' } }));
    // Slack closes its end shortly after; the client may also close first.
    setTimeout(() => socket.close(1000), 100).unref();
  }

  private onMessage(text: string): void {
    let message: Ack;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof message?.envelope_id !== 'string') return;
    const ack = { envelope_id: message.envelope_id, payload: message.payload ?? {} };
    // A view or message in an ack is held to the same limits; the per-test guard reports it through the Web API fake.
    const problems = checkAckPayload(ack.payload);
    if (problems.length > 0) this.web.violations.push({ method: 'socket_mode_ack', problems });
    this.acks.push(ack);
    this.ackWaiters.get(ack.envelope_id)?.(ack);
    this.ackWaiters.delete(ack.envelope_id);
  }
}

export async function startFakeSocketMode(web: FakeSlack): Promise<FakeSocketMode> {
  return new FakeSocketMode(web).start();
}
