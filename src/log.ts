import { pino } from 'pino';
import { prettyFactory } from 'pino-pretty';

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
}

/**
 * Lines to stderr without a write(2) per line on the event loop: a
 * synchronous write per access line cost a tenth of a set-URL POST's CPU.
 * Lines written while one write is in flight go out together in the next;
 * what is still buffered is written out synchronously when the process exits
 * (only a kill -9 can lose the last lines). Lines go in as Buffers: in its
 * string mode sonic-boom measures its whole pending text again on every
 * line (Buffer.byteLength of a growing rope), 4% of a set-URL POST's CPU.
 */
function stderrLines(): (line: string) => void {
  const stream = pino.destination({ dest: 2, sync: false, contentMode: 'buffer' });
  process.once('exit', () => {
    try {
      stream.flushSync();
    } catch {
      // stderr is closed: nowhere left to write.
    }
  });
  // sonic-boom's types know only its string mode.
  const write = stream.write.bind(stream) as unknown as (chunk: Buffer) => boolean;
  return (line) => write(Buffer.from(line));
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

export function createLogger(level: LogLevel = 'info', write?: (line: string) => void, format: LogFormat = 'json'): Logger {
  const output = write ?? stderrLines();
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
  const at = (method: 'debug' | 'info' | 'warn' | 'error') => (msg: string, extra?: Record<string, unknown>) => {
    log[method]({ msg, ...extra });
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
