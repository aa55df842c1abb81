import { fstatSync, write, writeSync } from 'node:fs';
import { pino } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { logLinesDropped } from './metrics.js';

/**
 * The logger: pino underneath, one JSON object a line on stderr (or
 * human-readable with LOG_FORMAT=pretty). Callers keep the small
 * `logger.info(msg, extra?)` interface; pino's is not leaked.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFormat = 'json' | 'pretty';

export interface Logger {
  debug(msg: string, extra?: Record<string, unknown>): void;
  info(msg: string, extra?: Record<string, unknown>): void;
  warn(msg: string, extra?: Record<string, unknown>): void;
  error(msg: string, extra?: Record<string, unknown>): void;
  /** One request's access-log line: the line `info('request', {…its fields, …extras})` writes. */
  access(line: AccessLine): void;
}

/** What the access log says of one request (http/server.ts). */
export interface AccessLine {
  method: string;
  route: string;
  status: number;
  durationMs: number;
  ip: string;
  requestId: string;
  /** Fields the route added (a bulk batch's id and count). */
  extras?: Record<string, unknown>;
}

/** Log lines held in memory while stderr is not taking them; past this, new lines are dropped (and counted). */
export const DEFAULT_LOG_BUFFER_BYTES = 8 * 1024 * 1024;
/** How long the exit handler may spend writing out what is still held: shutdown is bounded whatever stderr does. */
const EXIT_FLUSH_MS = 1000;
/** How long a line may wait for the lines after it, to share their write. */
const BATCH_MS = 5;
/** A full pipe (EAGAIN) is tried again after this. */
const FULL_RETRY_MS = 25;

const newlines = (chunks: Buffer[]) => chunks.reduce((n, chunk) => {
  for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) n++;
  return n;
}, 0);

/**
 * Lines to stderr without a write(2) per line on the event loop: a
 * synchronous write per access line cost a tenth of a set-URL POST's CPU.
 * Lines go out in batches, at most one write every BATCH_MS: a write through
 * libuv costs ~20 µs of the event loop, and one per line was 5-10% of a
 * redemption's CPU at thousands of requests a second.
 *
 * Whatever the reader of stderr does, the process stays in charge:
 * - stderr is made non-blocking (a pipe or socket: asking Node for
 *   process.stderr does that), so no write ever waits for a reader;
 * - a reader that stalls (EAGAIN) gets the held lines again every 25 ms, and
 *   past `maxBytes` held new lines are dropped and counted
 *   (promoset_log_lines_dropped_total{reason="buffer_full"});
 * - a reader that is gone (EPIPE, or any other error) ends logging: what is
 *   held is dropped and counted, nothing is retried;
 * - at exit, what is still held is written out for at most EXIT_FLUSH_MS.
 *   (sonic-boom's flushSync, used here before, slept and retried on every
 *   write error, so a server whose stderr reader had gone never exited.)
 * Only a kill -9 loses the last lines otherwise.
 */
class StderrWriter {
  private queue: Buffer[] = [];
  /** Bytes queued or in flight. */
  private held = 0;
  private inFlight: Buffer | undefined;
  private gone = false;
  private retry: NodeJS.Timeout | undefined;
  private batch: NodeJS.Timeout | undefined;

  constructor(private readonly fd: number, public maxBytes: number) {
    try {
      const stat = fstatSync(fd);
      if (fd === 2 && (stat.isFIFO() || stat.isSocket())) {
        // A reader gone makes process.stderr's own writes (the CLI's notices) fail with EPIPE: not a crash.
        process.stderr.on('error', () => {});
      }
    } catch {
      this.gone = true; // no stderr at all
    }
    process.once('exit', () => this.flushAtExit());
  }

  write(line: Buffer): void {
    if (this.gone) {
      logLinesDropped.inc({ reason: 'destination_gone' });
      return;
    }
    if (this.held + line.length > this.maxBytes) {
      logLinesDropped.inc({ reason: 'buffer_full' });
      return;
    }
    this.queue.push(line);
    this.held += line.length;
    this.schedule();
  }

  /** The next write, BATCH_MS from now: the lines queued meanwhile go out with it. */
  private schedule(): void {
    if (this.inFlight !== undefined || this.retry !== undefined || this.batch !== undefined) return;
    this.batch = setTimeout(() => {
      this.batch = undefined;
      this.next();
    }, BATCH_MS);
    this.batch.unref();
  }

  private next(): void {
    this.retry = undefined;
    if (this.queue.length === 0 || this.gone) return;
    const chunk = this.queue.length === 1 ? this.queue[0] : Buffer.concat(this.queue);
    this.queue = [];
    this.inFlight = chunk;
    write(this.fd, chunk, 0, chunk.length, null, (error, written) => {
      if (this.inFlight !== chunk) return; // the exit handler has taken over
      this.inFlight = undefined;
      if (error?.code === 'EAGAIN') {
        // The reader is not keeping up: hold the lines (bounded by maxBytes) and try again shortly.
        this.queue.unshift(chunk);
        this.retry = setTimeout(() => this.next(), FULL_RETRY_MS);
        this.retry.unref();
        return;
      }
      if (error) {
        this.abandon([chunk, ...this.queue]);
        return;
      }
      this.held -= written;
      if (written < chunk.length) this.queue.unshift(chunk.subarray(written));
      if (this.queue.length > 0) this.schedule();
    });
  }

  /** The destination is gone (EPIPE, EBADF…): drop what is held, and every line from now on. */
  private abandon(chunks: Buffer[]): void {
    this.gone = true;
    this.queue = [];
    this.held = 0;
    const lines = newlines(chunks);
    if (lines > 0) logLinesDropped.inc({ reason: 'destination_gone' }, lines);
  }

  /** At exit: write out what is held (a write in flight again: at least once), for at most EXIT_FLUSH_MS. */
  private flushAtExit(): void {
    if (this.gone) return;
    if (this.retry) clearTimeout(this.retry);
    if (this.batch) clearTimeout(this.batch);
    const chunks = this.inFlight ? [this.inFlight, ...this.queue] : this.queue;
    this.inFlight = undefined;
    this.queue = [];
    let pending = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    const deadline = Date.now() + EXIT_FLUSH_MS;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while (pending.length > 0) {
      try {
        pending = pending.subarray(writeSync(this.fd, pending));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() >= deadline) {
          this.abandon([pending]);
          return;
        }
        Atomics.wait(pause, 0, 0, 10);
      }
    }
  }
}

/** One writer per process (one exit handler), however many loggers are made. */
let stderrWriter: StderrWriter | undefined;

function stderrLines(maxBytes: number): (line: string) => void {
  stderrWriter ??= new StderrWriter(2, maxBytes);
  stderrWriter.maxBytes = maxBytes;
  const writer = stderrWriter;
  // Lines go in as Buffers: measuring a growing string on every line cost 4% of a set-URL POST's CPU.
  return (line) => writer.write(Buffer.from(line));
}

/**
 * Field names that hold secrets, wherever they appear in a log line (top level
 * or one object down): redactSecrets (our pino `log` formatter, not pino's own
 * `redact`) replaces their values. Nothing in promoset logs these on purpose;
 * this is the net under that promise.
 */
const SECRET_KEYS = [
  'authorization', 'cookie', 'token', 'api_key', 'apiKey', 'secret', 'password', 'identifier', 'signingSecret', 'signing_secret',
  'URL_SECRET', 'ADMIN_API_TOKEN', 'METRICS_TOKEN', 'WHMCS_API_IDENTIFIER', 'WHMCS_API_SECRET', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_APP_TOKEN',
];
const SECRET_KEY_SET = new Set(SECRET_KEYS);
const CENSOR = '[redacted]';

/** The line's fields with every SECRET_KEYS value, at the top level or one object down, replaced; the caller's objects are left as they were. */
function redactSecrets(object: Record<string, unknown>): Record<string, unknown> {
  let out = object;
  for (const key of Object.keys(object)) {
    const value = object[key];
    if (SECRET_KEY_SET.has(key)) {
      if (out === object) out = { ...object };
      out[key] = CENSOR;
    } else if (value !== null && typeof value === 'object') {
      let inner: Record<string, unknown> | undefined;
      for (const innerKey of Object.keys(value)) {
        if (!SECRET_KEY_SET.has(innerKey)) continue;
        inner ??= (Array.isArray(value) ? [...value] : { ...value }) as Record<string, unknown>;
        inner[innerKey] = CENSOR;
      }
      if (inner !== undefined) {
        if (out === object) out = { ...object };
        out[key] = inner;
      }
    }
  }
  return out;
}

/**
 * pino's `"time"` field as its stdTimeFunctions.isoTime writes it, formatted
 * once per millisecond: at 10,000+ access lines a second a Date and its ISO
 * string per line were 1-2% of a set-URL POST's CPU.
 */
let lastMillisecond = -1;
let lastTimeField = '';
function isoTimeOncePerMillisecond(): string {
  const now = Date.now();
  if (now !== lastMillisecond) {
    lastMillisecond = now;
    lastTimeField = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTimeField;
}

export function createLogger(level: LogLevel = 'info', write?: (line: string) => void, format: LogFormat = 'json', bufferBytes = DEFAULT_LOG_BUFFER_BYTES): Logger {
  const output = write ?? stderrLines(bufferBytes);
  // Colours only for a terminal, never into a captured stream.
  const prettify = format === 'pretty' ? prettyFactory({ colorize: write === undefined && process.stderr.isTTY === true, translateTime: 'SYS:HH:MM:ss.l' }) : undefined;
  const destination = { write: (line: string) => output(prettify ? prettify(line) : line) };
  const log = pino(
    {
      level,
      base: undefined,
      timestamp: isoTimeOncePerMillisecond,
      // "level":"info", as before, rather than pino's numbers.
      // Redaction by a key lookup: pino's own, with 36 wildcard paths, cost about 50 µs a line (a fifth of a set-URL POST).
      formatters: { level: (label) => ({ level: label }), log: redactSecrets },
    },
    destination,
  );
  // msg inside the object keeps it right after level and time, where readers (and grep) expect it.
  const at = (method: 'debug' | 'info' | 'warn' | 'error') => {
    const enabled = log.isLevelEnabled(method);
    const head = `{"level":"${method}"`;
    return (msg: string, extra?: Record<string, unknown>) => {
      if (!enabled) return;
      const fields = { msg, ...extra };
      // pino's line, built directly: its serialiser cost ~3 µs an access line (~3% of a redemption's CPU).
      // What JSON.stringify cannot write (a cycle, a BigInt) goes through pino, which can, as does `err` (pino's error serialiser).
      let line: string | undefined;
      if (prettify === undefined && !(extra && 'err' in extra)) {
        try {
          line = `${head}${isoTimeOncePerMillisecond()},${JSON.stringify(redactSecrets(fields)).slice(1)}\n`;
        } catch {
          line = undefined;
        }
      }
      if (line === undefined) log[method](fields);
      else output(line);
    };
  };
  const info = at('info');
  const infoEnabled = log.isLevelEnabled('info');
  /**
   * The line of every request, built by hand: through info() (the fields
   * object, its spread into another, the redaction walk) it cost 4 µs of the
   * event loop a request, and its garbage more (a redemption's throughput
   * rose 14% without it). Its fields are ours and hold no secret; a route's
   * extras, and pretty output, take info()'s way.
   */
  const access = (line: AccessLine) => {
    if (!infoEnabled) return;
    const { method, route, status, durationMs, ip, requestId, extras } = line;
    if (prettify !== undefined || extras !== undefined) {
      info('request', { method, route, status, durationMs, ip, requestId, ...extras });
      return;
    }
    output(
      `{"level":"info"${isoTimeOncePerMillisecond()},"msg":"request","method":${JSON.stringify(method)},"route":${JSON.stringify(route)},"status":${status},` +
        `"durationMs":${durationMs},"ip":${JSON.stringify(ip)},"requestId":${JSON.stringify(requestId)}}\n`,
    );
  };
  return { debug: at('debug'), info, warn: at('warn'), error: at('error'), access };
}
