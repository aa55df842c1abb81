import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkPayload } from './block-kit-limits.js';
import { waitFor } from './wait-for.js';

/** Every fake still running, so the per-test guard (block-kit-guard.ts) can fail a test whose payloads broke a limit. */
export const liveFakes = new Set<FakeSlack>();

/*
 * Methods answered with plain `{ok:true}` and recorded like every other call:
 * functions.completeSuccess (body.outputs) and functions.completeError (body.error),
 * which end a workflow step.
 */

/** One request the fake received: a Web API method, the upload POST, or a response_url reply. */
export interface RecordedCall {
  /** "chat.postMessage", …, "upload" for the file bytes, "response_url" for respond(). */
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** Parsed form or JSON body; JSON-encoded form values (view, blocks, files) are decoded. */
  body: Record<string, any>;
  /** For "upload": the uploaded file's text, and its bytes (a PNG is not text). */
  file?: { name: string; text: string; bytes: Buffer };
  /** What the fake answered. */
  response?: Record<string, any>;
  /** When it arrived (Date.now()). */
  at?: number;
}

/**
 * A local stand-in for the Slack Web API: records every call and answers
 * plausibly, so tests can assert what promoset asked Slack to do without
 * reaching slack.com. Point SLACK_API_URL at `apiUrl`.
 */
export class FakeSlack {
  readonly calls: RecordedCall[] = [];
  private server: Server;
  private counter = 0;
  private failures = new Map<string, string>();
  private httpFailures = new Map<string, { status: number; left: number; retryAfter?: number }>();
  private answers = new Map<string, (body: Record<string, any>) => Record<string, unknown>>();
  /**
   * Block Kit limit breaches seen in views.*, chat.* and response_url payloads
   * (answered `invalid_blocks`, as Slack would). The guard fails the test
   * that caused them; a test that breaches on purpose takes them first.
   */
  readonly violations: { method: string; problems: string[] }[] = [];
  /** While set, every Web API method answers `{ok:false, error: refusal}` (a revoked or mistyped token). */
  private refusal: string | undefined;
  private port = 0;
  /** What files.getUploadURLExternal was told of each file id (name, announced length, alt text). */
  readonly uploads = new Map<string, { filename: string; length: number; alt_text?: string }>();
  url = '';
  /** The workspace's user groups (usergroups.list, usergroups.users.list); tests change members and then send subteam_members_changed. */
  readonly groups = new Map<string, { handle: string; users: string[] }>();
  /** users.info answers for these; any other id is an ordinary member, unless listed in `missingUsers`. */
  readonly users = new Map<string, { is_admin?: boolean; is_owner?: boolean; deleted?: boolean }>();
  /** users.info answers user_not_found for these ids. */
  readonly missingUsers = new Set<string>();

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void this.handle(req, Buffer.concat(chunks)).then(({ status, body, headers }) => {
          const text = typeof body === 'string' ? body : JSON.stringify(body);
          res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', ...headers });
          res.end(text);
        });
      });
    });
  }

  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  /** A response_url for a slash command or interactive payload, answered and recorded by the fake. */
  responseUrl(): string {
    return `${this.url}/respond/${++this.counter}`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${this.port}`;
    liveFakes.add(this);
    return this;
  }

  async stop(): Promise<void> {
    liveFakes.delete(this);
    await this.down();
  }

  /** Slack is down: nothing listens at `apiUrl` (connections are refused) until `up()`. */
  async down(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Slack is back, at the same URL. */
  async up(): Promise<void> {
    await this.start();
  }

  /** Refuse the bot token on every Web API method (`invalid_auth` by default) until `acceptToken()`. */
  refuseToken(error = 'invalid_auth'): void {
    this.refusal = error;
  }

  acceptToken(): void {
    this.refusal = undefined;
  }

  /** Make the next call of `method` answer `{ok:false, error}`. */
  failNext(method: string, error: string): void {
    this.failures.set(method, error);
  }

  /** Answer the next `times` calls of `method` with HTTP `status` (a Slack outage, a proxy error). */
  failHttp(method: string, status: number, times = 1): void {
    this.httpFailures.set(method, { status, left: times });
  }

  /** Answer the next `times` calls of `method` with 429 and `Retry-After: seconds`, as Slack does past a method's tier. */
  rateLimit(method: string, seconds: number, times = 1): void {
    this.httpFailures.set(method, { status: 429, left: times, retryAfter: seconds });
  }

  /** Answer every call of `method` with `answer(body)` instead of the built-in reply. */
  answerWith(method: string, answer: (body: Record<string, any>) => Record<string, unknown>): void {
    this.answers.set(method, answer);
  }

  /** The breaches recorded so far, cleared: for tests that send a breach on purpose (and for the guard). */
  takeViolations(): { method: string; problems: string[] }[] {
    return this.violations.splice(0, this.violations.length);
  }

  /** The bytes uploaded for a file id (the POST to its upload URL), once they arrived. */
  uploadedBytes(fileId: string): Buffer | undefined {
    return this.calls.find((c) => c.method === 'upload' && c.path === `/upload/${fileId}`)?.file?.bytes;
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Wait until a call of `method` matching `where` has arrived (the app works after ack, so calls come later). */
  async waitFor(method: string, where: (call: RecordedCall) => boolean = () => true, timeoutMs = 60_000): Promise<RecordedCall> {
    const found = await waitFor(() => this.calls.find((c) => c.method === method && where(c)), (call) => call !== undefined, `a ${method} call at the fake Slack (calls so far: ${this.calls.map((c) => c.method).join(', ') || 'none'})`, { timeoutMs, intervalMs: 20 });
    return found!;
  }

  private async handle(req: IncomingMessage, raw: Buffer): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    const path = (req.url ?? '/').split('?')[0];
    const contentType = String(req.headers['content-type'] ?? '');
    if (path.startsWith('/upload/')) {
      const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': contentType } }).formData().catch(() => undefined);
      let file: RecordedCall['file'];
      for (const [, value] of form?.entries() ?? []) {
        if (typeof value !== 'string') {
          const bytes = Buffer.from(await value.arrayBuffer());
          file = { name: value.name, text: bytes.toString('utf8'), bytes };
        }
      }
      file ??= { name: '', text: raw.toString('utf8'), bytes: raw };
      this.calls.push({ at: Date.now(), method: 'upload', path, headers: req.headers, body: {}, file });
      return { status: 200, body: `OK - ${raw.length}` };
    }
    const body = parseBody(contentType, raw.toString('utf8'));
    if (path.startsWith('/respond/')) {
      const problems = this.check('response_url', body);
      this.calls.push({ at: Date.now(), method: 'response_url', path, headers: req.headers, body, response: problems ? { ok: false, error: 'invalid_blocks' } : { ok: true } });
      return problems ? { status: 400, body: 'invalid_blocks' } : { status: 200, body: 'ok' };
    }
    const method = path.replace(/^\/api\//, '');
    const httpFailure = this.httpFailures.get(method);
    if (httpFailure && httpFailure.left > 0) {
      httpFailure.left -= 1;
      this.calls.push({ at: Date.now(), method, path, headers: req.headers, body, response: { http_status: httpFailure.status } });
      if (httpFailure.retryAfter !== undefined) return { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'retry-after': String(httpFailure.retryAfter) } };
      return { status: httpFailure.status, body: 'Service Unavailable' };
    }
    const failure = this.failures.get(method);
    this.failures.delete(method);
    const refused = failure ?? this.refusal;
    const problems = this.check(method, body);
    const custom = this.answers.get(method);
    const response = refused
      ? { ok: false, error: refused }
      : problems
        ? { ok: false, error: method.startsWith('views.') ? 'invalid_arguments' : 'invalid_blocks', response_metadata: { messages: problems.map((p) => `[ERROR] ${p}`) } }
        : custom
          ? custom(body)
          : this.answer(method, body);
    this.calls.push({ at: Date.now(), method, path, headers: req.headers, body, response });
    return { status: 200, body: response };
  }

  /** Record a Block Kit breach; the problems when there is one. */
  private check(method: string, body: Record<string, any>): string[] | undefined {
    const problems = checkPayload(method, body);
    if (!problems || problems.length === 0) return undefined;
    this.violations.push({ method, problems });
    return problems;
  }

  private answer(method: string, body: Record<string, any>): Record<string, unknown> {
    const n = ++this.counter;
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://fake.slack.com/', team: 'Fake', user: 'promoset', team_id: 'T0FAKE', user_id: 'U0BOT', bot_id: 'B0BOT' };
      case 'views.open':
      case 'views.push':
      case 'views.update':
        return { ok: true, view: { ...(body.view ?? {}), id: `V${String(n).padStart(8, '0')}`, hash: `${n}.hash`, state: { values: {} } } };
      case 'views.publish':
        return { ok: true, view: { ...(body.view ?? {}), id: `V${n}` } };
      case 'chat.postMessage':
        return { ok: true, channel: body.channel, ts: `1700000000.${String(n).padStart(6, '0')}`, message: { text: body.text } };
      case 'chat.postEphemeral':
        return { ok: true, message_ts: `1700000000.${String(n).padStart(6, '0')}` };
      case 'chat.update':
        return { ok: true, channel: body.channel, ts: body.ts, text: body.text };
      case 'chat.getPermalink':
        return { ok: true, channel: body.channel, permalink: `https://fake.slack.com/archives/${body.channel}/p${String(body.message_ts ?? '').replace('.', '')}` };
      case 'conversations.open':
        return { ok: true, channel: { id: `D${String(body.users ?? 'X').replace(/^U/, '')}` } };
      case 'users.info': {
        if (this.missingUsers.has(body.user)) return { ok: false, error: 'user_not_found' };
        const flags = this.users.get(body.user) ?? {};
        return { ok: true, user: { id: body.user, name: `user-${body.user}`, tz: 'UTC', is_admin: false, is_owner: false, deleted: false, ...flags } };
      }
      case 'usergroups.list':
        return { ok: true, usergroups: [...this.groups].map(([id, g]) => ({ id, handle: g.handle, name: g.handle, user_count: g.users.length })) };
      case 'usergroups.users.list': {
        const group = this.groups.get(body.usergroup);
        return group ? { ok: true, users: [...group.users] } : { ok: false, error: 'no_such_subteam' };
      }
      case 'files.getUploadURLExternal': {
        // Real file ids are F and 8 or more upper-case letters and digits.
        const id = `F${String(n).padStart(8, '0')}`;
        this.uploads.set(id, { filename: body.filename, length: Number(body.length), alt_text: body.alt_text });
        return { ok: true, upload_url: `${this.url}/upload/${id}`, file_id: id };
      }
      case 'files.completeUploadExternal': {
        const files = (body.files ?? []) as { id: string; title?: string }[];
        return { ok: true, files: files.map((f) => ({ id: f.id, title: f.title, name: f.title })) };
      }
      default:
        return { ok: true };
    }
  }
}

function parseBody(contentType: string, text: string): Record<string, any> {
  if (contentType.startsWith('application/json')) {
    try {
      return JSON.parse(text);
    } catch {
      return { _raw: text };
    }
  }
  const out: Record<string, any> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    out[key] = /^[[{]/.test(value) ? tryJson(value) : value;
  }
  return out;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function startFakeSlack(): Promise<FakeSlack> {
  return new FakeSlack().start();
}
