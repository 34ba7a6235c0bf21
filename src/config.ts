/**
 * Configuration: one table of documented options, each with its environment variable (and aliases), its
 * command-line flag and its default, parsed with zod at start-up. A bad value stops start-up with a
 * `ConfigError` naming the variable. `--help` prints this table, so no option exists that help does not list.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

interface OptionSpec<T> {
  /** Environment variable. */
  readonly env: string;
  /** Other environment variables accepted for the same option (first match wins after `env`). */
  readonly aliases?: readonly string[];
  /** Command-line flag, e.g. `--port`. */
  readonly flag: string;
  readonly description: string;
  /** Default as the user would write it; undefined = no default. */
  readonly default?: string;
  /** Never echo the value (help shows only whether it is set). */
  readonly secret?: boolean;
  /** Commands this option applies to (for `--help` of each command). */
  readonly commands: readonly Command[];
  readonly parse: z.ZodType<T>;
}

export type Command = 'serve' | 'sync' | 'sandbox' | 'auth' | 'confirm-disconnect';

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** A whole number from `min` to `max` when set; empty means unset. */
const optionalInteger = (min: number, max: number) =>
  z
    .string()
    .trim()
    .transform((v) => v || undefined)
    .pipe(integer(min, max).optional());

const boolean = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' }))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const url = z
  .string()
  .trim()
  .pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }))
  .transform((v) => v.replace(/\/+$/, ''));

/** An http(s) URL when set, checked like every other URL; empty means unset. */
const optionalUrl = z
  .string()
  .trim()
  .transform((v) => v || undefined)
  .pipe(url.optional());

const list = z
  .string()
  .transform((v) =>
    v
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter(Boolean),
  );

const optionalText = z.string().transform((v) => v.trim() || undefined);

const share = z
  .string()
  .trim()
  .regex(/^(\d+(\.\d*)?|\.\d+)$/, 'must be a number from 0 to 1, e.g. 0.5')
  .transform(Number)
  .pipe(z.number().min(0, 'must be from 0 to 1').max(1, 'must be from 0 to 1'));

const ALL: readonly Command[] = ['serve', 'sync', 'auth'];
const XERO: readonly Command[] = ['serve', 'sync', 'auth'];
const SYNC: readonly Command[] = ['serve', 'sync'];
const SERVE: readonly Command[] = ['serve'];

function option<T>(spec: OptionSpec<T>): OptionSpec<T> {
  return spec;
}

export const OPTIONS = {
  xeroClientId: option({
    env: 'XERO_CLIENT_ID',
    aliases: ['BATON_XERO_CLIENT_ID'],
    flag: '--xero-client-id',
    description: "Client ID of the Xero app (custom connection or web app).",
    commands: XERO,
    parse: optionalText,
  }),
  xeroClientSecret: option({
    env: 'XERO_CLIENT_SECRET',
    aliases: ['BATON_XERO_CLIENT_SECRET'],
    flag: '--xero-client-secret',
    description: 'Client secret of the Xero app.',
    secret: true,
    commands: XERO,
    parse: optionalText,
  }),
  xeroRefreshToken: option({
    env: 'XERO_REFRESH_TOKEN',
    aliases: ['BATON_REFRESH_TOKEN'],
    flag: '--xero-refresh-token',
    description: 'First refresh token of a web app (from `xero-scim auth`); a newer one in STATE_DIR wins.',
    secret: true,
    commands: SYNC,
    parse: optionalText,
  }),
  xeroAccessToken: option({
    env: 'XERO_ACCESS_TOKEN',
    aliases: ['BATON_TOKEN'],
    flag: '--xero-access-token',
    description: 'A fixed access token, for debugging (it expires after 30 minutes and is not refreshed).',
    secret: true,
    commands: SYNC,
    parse: optionalText,
  }),
  xeroTenantIds: option({
    env: 'XERO_TENANT_IDS',
    flag: '--xero-tenant-ids',
    description: 'Comma-separated allow-list of organisation (tenant) ids; default: every connected organisation.',
    default: '',
    commands: SYNC,
    parse: list,
  }),
  xeroDisconnectConfirmations: option({
    env: 'XERO_DISCONNECT_CONFIRMATIONS',
    flag: '--xero-disconnect-confirmations',
    description:
      'Syncs in a row an organisation must stay out of /connections (or answer no Users) before it is removed; 1 = at once.',
    default: '3',
    commands: SYNC,
    parse: integer(1, 1000),
  }),
  xeroMaxDisconnectShare: option({
    env: 'XERO_MAX_DISCONNECT_SHARE',
    flag: '--xero-max-disconnect-share',
    description:
      'When at least two organisations and more than this share (or all) go at once, none goes until `xero-scim confirm-disconnect`.',
    default: '0.5',
    commands: SYNC,
    parse: share,
  }),
  xeroApiUrl: option({
    env: 'XERO_API_URL',
    flag: '--xero-api-url',
    description: 'Base URL of the Xero API (`/connections` and `/api.xro/2.0` hang off it).',
    default: 'https://api.xero.com',
    commands: XERO,
    parse: url,
  }),
  xeroIdentityUrl: option({
    env: 'XERO_IDENTITY_URL',
    flag: '--xero-identity-url',
    description: 'Base URL of Xero Identity (`/connect/token`, `/connect/revocation`).',
    default: 'https://identity.xero.com',
    commands: XERO,
    parse: url,
  }),
  xeroLoginUrl: option({
    env: 'XERO_LOGIN_URL',
    flag: '--xero-login-url',
    description: 'Base URL of the Xero consent page (`/identity/connect/authorize`).',
    default: 'https://login.xero.com',
    commands: ['auth'],
    parse: url,
  }),
  xeroRedirectUri: option({
    env: 'XERO_REDIRECT_URI',
    flag: '--xero-redirect-uri',
    description: "Redirect URI registered for the Xero web app; `auth` listens on it for the consent callback.",
    default: 'https://localhost:8080',
    commands: ['auth'],
    // Kept exactly as written: Xero compares redirect URIs character for character.
    parse: z.string().trim().pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
  }),
  xeroScopes: option({
    env: 'XERO_SCOPES',
    flag: '--xero-scopes',
    description:
      'Space-separated scopes; default accounting.settings.read (plus offline_access for web apps). Never accounting.transactions.',
    commands: XERO,
    parse: optionalText,
  }),
  xeroTimeoutMs: option({
    env: 'XERO_TIMEOUT_MS',
    flag: '--xero-timeout-ms',
    description: 'Timeout of every Xero call, in milliseconds.',
    default: '30000',
    commands: XERO,
    parse: integer(100, 600_000),
  }),
  xeroDailyLimit: option({
    env: 'XERO_DAILY_LIMIT',
    flag: '--xero-daily-limit',
    description: "Calls a day per organisation to stay under (Xero's limit is 5,000; smaller plans have fewer).",
    default: '5000',
    commands: SYNC,
    parse: integer(1, 1_000_000),
  }),
  xeroConcurrency: option({
    env: 'XERO_CONCURRENCY',
    flag: '--xero-concurrency',
    description: 'Organisations synced at the same time.',
    default: '50',
    commands: SYNC,
    parse: integer(1, 1000),
  }),
  stateDir: option({
    env: 'STATE_DIR',
    flag: '--state-dir',
    description: 'Where tokens and the last snapshot are kept (mount a volume here in a container).',
    default: '.state',
    commands: ['serve', 'sync', 'auth', 'confirm-disconnect'],
    parse: z.string().trim().min(1, 'must be a directory path').transform((v) => path.resolve(v)),
  }),
  redisUrl: option({
    env: 'REDIS_URL',
    flag: '--redis-url',
    description: 'redis:// or rediss:// (TLS) URL of a shared Redis 7 or Valkey: replicas then share one token chain and one directory instead of STATE_DIR.',
    secret: true,
    commands: ['serve', 'auth', 'confirm-disconnect'],
    parse: z
      .string()
      .trim()
      .transform((v) => v || undefined)
      .pipe(
        z
          .string()
          // The value may hold a password: the message never repeats it.
          .refine((v) => /^rediss?:\/\/[^\s/?#]+(\/\d{0,2})?$/i.test(v) && URL.canParse(v), { error: 'must be redis://[user:password@]host[:port][/db] or rediss://… (TLS)' })
          .optional(),
      ),
  }),
  redisPassword: option({
    env: 'REDIS_PASSWORD',
    flag: '--redis-password',
    description: "Redis password, when REDIS_URL does not carry one (e.g. from the Redis chart's Secret).",
    secret: true,
    commands: ['serve', 'auth', 'confirm-disconnect'],
    parse: optionalText,
  }),
  redisKeyPrefix: option({
    env: 'REDIS_KEY_PREFIX',
    flag: '--redis-key-prefix',
    description: 'Prefix of every Redis key this deployment uses (two deployments may share one Redis with different prefixes).',
    default: 'xero-scim:',
    commands: ['serve', 'auth', 'confirm-disconnect'],
    parse: z.string().trim().regex(/^[A-Za-z0-9:_.{}-]{1,64}$/, 'must be 1 to 64 letters, digits or : _ . - { }'),
  }),
  leaderLeaseSeconds: option({
    env: 'LEADER_LEASE_SECONDS',
    flag: '--leader-lease-seconds',
    description: 'With REDIS_URL: how long the syncing replica\'s lease lasts unrenewed; another replica takes over within it.',
    default: '15',
    commands: SERVE,
    parse: integer(3, 300),
  }),
  syncMode: option({
    env: 'SYNC_MODE',
    flag: '--sync-mode',
    description: 'cached: sync in the background and serve the last snapshot; live: fetch on read (rate-limited).',
    default: 'cached',
    commands: SERVE,
    parse: z.enum(['cached', 'live'], { error: 'must be cached or live' }),
  }),
  syncIntervalSeconds: option({
    env: 'SYNC_INTERVAL_SECONDS',
    flag: '--sync-interval-seconds',
    description: 'Seconds between background syncs of users (cached mode); jittered by up to 10%.',
    default: '300',
    commands: SERVE,
    parse: integer(5, 86_400),
  }),
  organisationRefreshSeconds: option({
    env: 'ORGANISATION_REFRESH_SECONDS',
    flag: '--organisation-refresh-seconds',
    description: 'Seconds between refreshes of organisation details (name, edition, …), which rarely change.',
    default: '86400',
    commands: SYNC,
    parse: integer(60, 30 * 86_400),
  }),
  liveMinFreshnessSeconds: option({
    env: 'LIVE_MIN_FRESHNESS_SECONDS',
    flag: '--live-min-freshness-seconds',
    description: 'Live mode: a snapshot younger than this is served without calling Xero.',
    default: '30',
    commands: SERVE,
    parse: integer(1, 3600),
  }),
  host: option({
    env: 'HOST',
    flag: '--host',
    description: 'Address to listen on.',
    default: '0.0.0.0',
    commands: SERVE,
    parse: z.string().trim().min(1, 'must be a host name or address'),
  }),
  port: option({
    env: 'PORT',
    flag: '--port',
    description: 'Port to listen on (0 picks a free one).',
    default: '8080',
    commands: SERVE,
    parse: integer(0, 65_535),
  }),
  scimBearerToken: option({
    env: 'SCIM_BEARER_TOKEN',
    flag: '--scim-bearer-token',
    description: 'Bearer token(s) SCIM clients must send; comma-separated to rotate without downtime.',
    secret: true,
    commands: SERVE,
    parse: list,
  }),
  scimBearerTokenFile: option({
    env: 'SCIM_BEARER_TOKEN_FILE',
    flag: '--scim-bearer-token-file',
    description: 'File holding the bearer token(s), one a line (e.g. a mounted Kubernetes Secret).',
    commands: SERVE,
    parse: optionalText,
  }),
  scimBasicAuth: option({
    env: 'SCIM_BASIC_AUTH',
    flag: '--scim-basic-auth',
    description: 'Also accept HTTP Basic with a bearer token as the password, for tools that only speak Basic.',
    default: 'false',
    commands: SERVE,
    parse: boolean,
  }),
  scimCursorSecret: option({
    env: 'SCIM_CURSOR_SECRET',
    flag: '--scim-cursor-secret',
    description: 'Secret RFC 9865 paging cursors are signed with; give replicas the same one. Default: derived from XERO_CLIENT_SECRET.',
    secret: true,
    commands: SERVE,
    parse: optionalText,
  }),
  scimMaxResults: option({
    env: 'SCIM_MAX_RESULTS',
    flag: '--scim-max-results',
    description: 'Largest page a list or filter returns (advertised as filter.maxResults).',
    default: '1000',
    commands: SERVE,
    parse: integer(1, 100_000),
  }),
  scimRenderCacheMb: option({
    env: 'SCIM_RENDER_CACHE_MB',
    flag: '--scim-render-cache-mb',
    description:
      'MiB of serialised resources kept for the reads pollers repeat, each from its second read; beyond it, what was read longest ago is rendered again when asked. Default: an eighth of the JavaScript heap limit, at most 256.',
    commands: SERVE,
    parse: optionalInteger(0, 65_536),
  }),
  publicUrl: option({
    env: 'PUBLIC_URL',
    flag: '--public-url',
    description: 'External base URL for meta.location (e.g. https://scim.example.com); default: from the request.',
    commands: SERVE,
    parse: optionalUrl,
  }),
  trustProxy: option({
    env: 'TRUST_PROXY',
    flag: '--trust-proxy',
    description: 'Honour X-Forwarded-Proto/-Host/-For (set when behind an ingress or load balancer).',
    default: 'false',
    commands: SERVE,
    parse: boolean,
  }),
  statusPagePublic: option({
    env: 'STATUS_PAGE_PUBLIC',
    flag: '--status-page-public',
    description: 'Serve the status page at / without authentication (it shows no personal data).',
    default: 'false',
    commands: SERVE,
    parse: boolean,
  }),
  logLevel: option({
    env: 'LOG_LEVEL',
    flag: '--log-level',
    description: 'fatal, error, warn, info, debug, trace or silent.',
    default: 'info',
    commands: ALL,
    parse: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    }),
  }),
  logEmails: option({
    env: 'LOG_EMAILS',
    flag: '--log-emails',
    description: 'Include e-mail addresses in logs (off by default: they are personal data).',
    default: 'false',
    commands: ALL,
    parse: boolean,
  }),
} as const;

type Options = typeof OPTIONS;
export type Config = { readonly [K in keyof Options]: Options[K] extends OptionSpec<infer T> ? T : never };
export type OptionName = keyof Options;

/** Raw values by flag name without the dashes, e.g. `{ port: '9000' }`. */
export type Flags = Readonly<Record<string, string | undefined>>;

/**
 * Reads every option: a command-line flag wins over the environment variable, which wins over its aliases,
 * which win over the default. Throws `ConfigError` naming the variable for the first bad value.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: Flags = {}): Config {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(OPTIONS) as [OptionName, OptionSpec<unknown>][]) {
    const flagName = spec.flag.replace(/^--/, '');
    let source = spec.env;
    let raw = flags[flagName];
    if (raw !== undefined) source = spec.flag;
    else {
      for (const variable of [spec.env, ...(spec.aliases ?? [])]) {
        const value = env[variable];
        if (value !== undefined && value !== '') {
          raw = value;
          source = variable;
          break;
        }
      }
    }
    raw ??= spec.default ?? '';
    const result = spec.parse.safeParse(raw);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new ConfigError(source, issue?.message ?? 'invalid value');
    }
    out[name] = result.data;
  }
  const config = out as Config;
  requireStrongTokens(config.scimBearerToken, 'SCIM_BEARER_TOKEN');
  const fromFile = readTokenFile(config.scimBearerTokenFile);
  requireStrongTokens(fromFile, 'SCIM_BEARER_TOKEN_FILE');
  if (config.scimCursorSecret !== undefined && config.scimCursorSecret.length < MIN_SCIM_TOKEN_LENGTH) {
    throw new ConfigError('SCIM_CURSOR_SECRET', `must be at least ${MIN_SCIM_TOKEN_LENGTH} characters (e.g. \`openssl rand -base64 32\`)`);
  }
  return { ...config, scimBearerToken: [...config.scimBearerToken, ...fromFile] };
}

/** Shorter than this, a bearer token can be guessed; a typo'd placeholder must not become a valid credential. */
export const MIN_SCIM_TOKEN_LENGTH = 16;

function requireStrongTokens(tokens: readonly string[], variable: string): void {
  if (tokens.some((t) => t.length < MIN_SCIM_TOKEN_LENGTH)) {
    throw new ConfigError(variable, `each token must be at least ${MIN_SCIM_TOKEN_LENGTH} characters (e.g. \`openssl rand -base64 32\`)`);
  }
}

function readTokenFile(file: string | undefined): string[] {
  if (!file) return [];
  try {
    return readFileSync(file, 'utf8')
      .split(/[\r\n,]+/)
      .map((s) => s.trim())
      .filter(Boolean);
  } catch (err) {
    throw new ConfigError('SCIM_BEARER_TOKEN_FILE', `cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * The secret RFC 9865 cursors are signed with (the key is derived from it, see `CursorCodec`): SCIM_CURSOR_SECRET,
 * else the Xero client secret, which every replica of one deployment already shares (they serve the same Xero app)
 * and which is rotated rarely, so a crawl's cursors verify on whichever replica answers. Undefined only with a fixed
 * XERO_ACCESS_TOKEN and no client secret (debugging): each process then signs with a random secret of its own.
 */
export function cursorSecretOf(config: Pick<Config, 'scimCursorSecret' | 'xeroClientSecret'>): string | undefined {
  return config.scimCursorSecret ?? config.xeroClientSecret;
}

/** Every environment variable the server reads (the help test checks no other is read anywhere). */
export function environmentVariables(): string[] {
  return Object.values(OPTIONS).flatMap((o) => [o.env, ...(o.aliases ?? [])]);
}

/** A true/false option: its flag may stand alone (`--trust-proxy` means `--trust-proxy true`). */
export function isSwitchOption(spec: { readonly parse: unknown }): boolean {
  return spec.parse === boolean;
}

/** The options section of `--help` for one command: every flag, its variable(s) and default. */
export function formatOptionsHelp(command: Command): string {
  const lines: string[] = [];
  for (const spec of Object.values(OPTIONS) as OptionSpec<unknown>[]) {
    if (!spec.commands.includes(command)) continue;
    const vars = [spec.env, ...(spec.aliases ?? [])].join(', ');
    const def = spec.default !== undefined && spec.default !== '' ? ` (default: ${spec.default})` : '';
    lines.push(`  ${spec.flag} ${isSwitchOption(spec) ? '[true|false]' : '<value>'}`, `      env ${vars}${def}`, `      ${spec.description}`);
  }
  return lines.join('\n');
}
