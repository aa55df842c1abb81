import { z } from 'zod';
import { isValidTimeZone } from './domain/dates.js';
import { isIpOrCidr } from './domain/set.js';

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
const LOG_FORMATS = ['json', 'pretty'] as const;

/** A per-minute limit per client: a whole number, 0 for off. */
const perMinute = (fallback: number) =>
  z.coerce.number({ error: 'must be a number' }).int({ error: 'must be a whole number' }).min(0, { error: 'must be 0 (off) or more' }).max(1_000_000, { error: 'must be at most 1000000' }).default(fallback);

/** true/false or 1/0, off unless set. */
const onOff = () =>
  z
    .string()
    .default('false')
    .refine((v) => ['true', 'false', '1', '0'].includes(v.toLowerCase()), { error: 'must be true or false' })
    .transform((v) => ['true', '1'].includes(v.toLowerCase()));
const optionalSecret = (what: string) => z.string().trim().min(1, { error: `${what} must not be empty` }).optional();

/** Every environment variable promoset reads, with its default (DESIGN.md, "Configuration"). */
const envSchema = z.object({
  PORT: z.coerce.number({ error: 'must be a port number' }).int({ error: 'must be a whole number' }).min(0).max(65535, { error: 'must be at most 65535' }).default(3000),
  DATABASE_URL: z.string().trim().min(1).default('./data/promoset.db'),
  PUBLIC_URL: z.url({ error: 'must be an absolute URL like https://promo.example.com' }).optional(),
  URL_SECRET: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  SLACK_BOT_TOKEN: optionalSecret('SLACK_BOT_TOKEN'),
  SLACK_SIGNING_SECRET: optionalSecret('SLACK_SIGNING_SECRET'),
  SLACK_APP_TOKEN: optionalSecret('SLACK_APP_TOKEN'),
  SLACK_API_URL: z.url({ error: 'must be an absolute URL like https://slack.com/api/' }).optional(),
  PROMO_ADMINS: z
    .string()
    .optional()
    .transform((v) => (v ?? '').split(/[\s,]+/).filter(Boolean))
    .refine((ids) => ids.every((id) => /^[UW][A-Z0-9]{2,}$/.test(id)), { error: 'must be Slack user ids (like U012ABCDEF), separated by commas' }),
  ADMIN_API_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  WHMCS_API_IDENTIFIER: optionalSecret('WHMCS_API_IDENTIFIER'),
  WHMCS_API_SECRET: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  TRUST_PROXY: z
    .string()
    .optional()
    .transform((v) => (v ?? '').split(/[\s,]+/).filter(Boolean))
    .refine((list) => list.every(isIpOrCidr), { error: 'must be a comma-separated list of IPs or CIDR ranges' }),
  PROMO_TIMEZONE: z.string().default('UTC').refine(isValidTimeZone, { error: 'must be an IANA time zone like Europe/Berlin' }),
  PROMO_DIGEST_HOUR: z.coerce.number({ error: 'must be an hour from 0 to 23' }).int({ error: 'must be a whole hour from 0 to 23' }).min(0, { error: 'must be an hour from 0 to 23' }).max(23, { error: 'must be an hour from 0 to 23' }).default(9),
  RATE_LIMIT_PER_MINUTE: perMinute(600),
  REDEMPTION_RATE_LIMIT_PER_MINUTE: perMinute(3000),
  AUTH_FAILURES_PER_MINUTE: perMinute(30),
  WHMCS_DATABASE_URL: z
    .string()
    .trim()
    .refine(isMysqlUrl, { error: 'must be a URL like mysql://user:password@host:3306/whmcs (or mariadb://…)' })
    .optional(),
  WHMCS_REQUIRED: onOff(),
  WHMCS_PENDING_TIMEOUT_SECONDS: z.coerce.number({ error: 'must be a number of seconds' }).int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' }).default(120),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: onOff(),
  WEBHOOK_RETRY_BASE_SECONDS: z.coerce.number({ error: 'must be a number of seconds' }).positive({ error: 'must be more than 0' }).max(3600, { error: 'must be at most 3600' }).default(10),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  LOG_FORMAT: z.enum(LOG_FORMATS, { error: `must be one of ${LOG_FORMATS.join(', ')}` }).default('json'),
  LOG_BUFFER_BYTES: z.coerce.number({ error: 'must be a number of bytes' }).int({ error: 'must be a whole number' }).min(4096, { error: 'must be at least 4096' }).default(8 * 1024 * 1024),
  METRICS_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  /** Shared with the promoset WHMCS addon; unset, POST /whmcs/hooks answers 404. */
  WHMCS_HOOK_SECRET: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
});

function isMysqlUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'mysql:' || url.protocol === 'mariadb:') && url.hostname !== '' && url.pathname.length > 1;
  } catch {
    return false;
  }
}

export type Config = Omit<z.output<typeof envSchema>, 'PUBLIC_URL'> & { PUBLIC_URL: string };

export class ConfigError extends Error {}

/** Parse the environment; a bad value throws one line naming the variable and the problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "unset", as in most shells' `FOO= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`Invalid configuration: ${String(issue.path[0])} ${issue.message}.`);
  }
  const config = parsed.data;
  return { ...config, PUBLIC_URL: (config.PUBLIC_URL ?? `http://localhost:${config.PORT}`).replace(/\/+$/, '') };
}

