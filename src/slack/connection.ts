import { LogLevel, webApi, type AuthorizeResult, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '../log.js';

/** What /readyz reports for Slack (besides `off`, when no credentials are set). */
export type SlackState = 'ok' | 'unreachable' | 'refused';

/** auth.test answers that mean "this token will not do", as opposed to "Slack is not answering". */
const REFUSALS = new Set([
  'invalid_auth',
  'not_authed',
  'token_revoked',
  'token_expired',
  'account_inactive',
  'not_allowed_token_type',
  'team_access_not_granted',
  'ekm_access_denied',
]);

/** Re-checks after a failure back off from the first to the last, then stay there. */
const RECHECK_FIRST_MS = 2_000;
const RECHECK_MAX_MS = 60_000;
/** /readyz may ask for a fresh check when the last failed one is at least this old. */
const READYZ_RECHECK_MS = 5_000;
const CHECK_TIMEOUT_MS = 10_000;

export interface SlackVerdict {
  state: SlackState;
  /** One short reason: "ECONNREFUSED", "invalid_auth", "HTTP 503". */
  reason?: string;
}

/** The innermost error code (ECONNREFUSED, ENOTFOUND, …): fetch wraps it in `cause`, the Web API client in `original`. */
function networkCode(error: unknown): string | undefined {
  let current = error as { code?: unknown; cause?: unknown; original?: unknown } | undefined;
  let found: string | undefined;
  for (let depth = 0; current && depth < 5; depth++) {
    if (typeof current.code === 'string' && !current.code.startsWith('slack_')) found = current.code;
    current = (current.original ?? current.cause) as typeof current;
  }
  return found;
}

/** Sort a Web API failure into "unreachable" or "refused", with its short reason. */
export function classifySlackError(error: unknown): SlackVerdict {
  const e = error as { code?: string; data?: { error?: string }; statusCode?: number; message?: string } | null;
  switch (e?.code) {
    case webApi.ErrorCode.PlatformError: {
      const reason = e.data?.error ?? 'unknown_error';
      return { state: REFUSALS.has(reason) ? 'refused' : 'unreachable', reason };
    }
    case webApi.ErrorCode.HTTPError:
      return { state: 'unreachable', reason: `HTTP ${e.statusCode}` };
    case webApi.ErrorCode.RateLimitedError:
      return { state: 'unreachable', reason: 'ratelimited' };
    default:
      return { state: 'unreachable', reason: networkCode(error) ?? e?.message ?? String(error) };
  }
}

/** What a person sees after a slash command while Slack refuses us or cannot be reached. */
export const SLACK_UNAVAILABLE_TEXT =
  "promoset can't use Slack right now (Slack is unreachable from promoset, or refuses its token), so this command was not run. Please tell whoever runs promoset: its log says what to check. Set URLs and the HTTP API keep working.";

/** The one log line for a Slack that does not work: what is wrong, and what to check. */
export function describeSlackProblem(verdict: SlackVerdict, apiUrl: string): string {
  const retry = `the HTTP API runs without Slack; retrying in the background (at most every ${RECHECK_MAX_MS / 1000} s, and on each Slack request)`;
  if (verdict.state === 'refused') {
    return `Slack refused SLACK_BOT_TOKEN (${verdict.reason}): check the token (the app's Bot User OAuth Token, xoxb-…, under OAuth & Permissions; reinstall the app if it was revoked); ${retry}.`;
  }
  return `Slack is unreachable at ${apiUrl} (${verdict.reason}): check SLACK_API_URL, the network, a proxy or firewall, and status.slack.com; ${retry}.`;
}

export interface SlackConnectionOptions {
  token: string;
  /** Base URL of the Web API, with its trailing slash. */
  apiUrl: string;
  logger: Logger;
}

/** The check client's own logging: silent, since every failure becomes our one line (and a retry would repeat it). */
const quiet: BoltLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

/**
 * Whether Slack accepts our bot token, found out by auth.test without ever
 * failing start-up: Bolt's own start-up auth.test rejects unhandled and takes
 * the whole process (set URLs included) down. This is Bolt's `authorize`
 * instead: it answers from the last good auth.test, and while Slack is down
 * or refuses the token it checks again in the background (with backoff) and
 * on every authentic Slack request, so Slack works again without a restart.
 * It logs one line when the state changes, not one per retry.
 */
export class SlackConnection {
  private verdict: SlackVerdict | undefined;
  private identity: { botUserId?: string; botId?: string; teamId?: string } | undefined;
  private checking: Promise<SlackVerdict> | undefined;
  private lastCheckAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private readonly client: webApi.WebClient;

  constructor(private readonly options: SlackConnectionOptions) {
    this.client = new webApi.WebClient(undefined, {
      slackApiUrl: options.apiUrl,
      logger: quiet,
      // This class does its own retrying, in the background.
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: CHECK_TIMEOUT_MS,
    });
  }

  /** The first check, in the background: start-up never waits for Slack. */
  start(): void {
    void this.check();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** The last known state; the first check's result while it is still running. */
  async state(): Promise<SlackState> {
    if (this.verdict === undefined) return (await this.check()).state;
    if (this.verdict.state !== 'ok' && Date.now() - this.lastCheckAt >= READYZ_RECHECK_MS) return (await this.check()).state;
    return this.verdict.state;
  }

  /**
   * Bolt's `authorize`: our one token, with the bot's ids from auth.test
   * (Bolt's ignoreSelf needs them). While Slack does not work it still
   * answers, with `slackProblem` set, so that unavailableGuard can tell the
   * person why nothing happens (a slash command's answer needs no token).
   */
  readonly authorize = async (): Promise<AuthorizeResult> => {
    const verdict = this.verdict?.state === 'ok' ? this.verdict : await this.check();
    if (verdict.state !== 'ok') return { botToken: this.options.token, slackProblem: describeSlackProblem(verdict, this.options.apiUrl) };
    return { botToken: this.options.token, ...this.identity };
  };

  /**
   * The `fetch` for the bot's Web API clients (Bolt's clientOptions): every
   * call a listener or background job makes is watched, so a token revoked
   * or a Slack gone down after start-up is noticed (said once, re-checked in
   * the background) without waiting for the next check.
   */
  readonly fetch: webApi.FetchFunction = async (url, init) => {
    const isApiCall = String(url).startsWith(this.options.apiUrl);
    let response: Awaited<ReturnType<webApi.FetchFunction>>;
    try {
      response = await fetch(url, init as RequestInit);
    } catch (error) {
      if (isApiCall) this.observe({ state: 'unreachable', reason: networkCode(error) ?? (error instanceof Error ? error.message : String(error)) });
      throw error;
    }
    if (isApiCall && (response.headers.get('content-type') ?? '').includes('json')) {
      const body = (await (response as Response).clone().json().catch(() => undefined)) as { ok?: boolean; error?: string } | undefined;
      if (body?.ok === false && body.error && REFUSALS.has(body.error)) this.observe({ state: 'refused', reason: body.error });
      else if (body?.ok === true && this.verdict?.state !== 'ok') void this.check();
    }
    return response;
  };

  /** A listener's call says Slack stopped working: say so once and start re-checking. */
  private observe(verdict: SlackVerdict): void {
    if (this.verdict?.state !== 'ok') return;
    this.settle(verdict);
    this.scheduleRecheck();
  }

  /** auth.test now; concurrent callers share one call. */
  check(): Promise<SlackVerdict> {
    this.checking ??= this.runCheck().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private async runCheck(): Promise<SlackVerdict> {
    let verdict: SlackVerdict;
    try {
      const result = await this.client.auth.test({ token: this.options.token });
      this.identity = { botUserId: result.user_id, botId: result.bot_id, teamId: result.team_id };
      verdict = { state: 'ok' };
    } catch (error) {
      verdict = classifySlackError(error);
    }
    this.lastCheckAt = Date.now();
    this.settle(verdict);
    if (verdict.state === 'ok') {
      this.failures = 0;
      clearTimeout(this.timer);
      this.timer = undefined;
    } else {
      // Debug only: the error line above is said once; this shows the re-checks go on.
      this.options.logger.debug('Slack check failed; checking again later', { state: verdict.state, reason: verdict.reason, failures: this.failures + 1 });
      this.scheduleRecheck();
    }
    return verdict;
  }

  private settle(verdict: SlackVerdict): void {
    const before = this.verdict;
    this.verdict = verdict;
    if (before?.state === verdict.state && before.reason === verdict.reason) return;
    if (verdict.state === 'ok') {
      if (before !== undefined) this.options.logger.info('Slack is reachable again and accepts SLACK_BOT_TOKEN: Slack commands work again.');
      return;
    }
    this.options.logger.error(describeSlackProblem(verdict, this.options.apiUrl));
  }

  private scheduleRecheck(): void {
    if (this.stopped || this.timer !== undefined) return;
    const delay = Math.min(RECHECK_MAX_MS, RECHECK_FIRST_MS * 2 ** this.failures++);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.check();
    }, delay);
    // A pending re-check must not keep a stopping process alive.
    this.timer.unref();
  }
}
