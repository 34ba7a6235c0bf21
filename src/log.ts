/**
 * Structured JSON logs (pino). Secrets are removed by key wherever they appear, and e-mail addresses are
 * masked unless `LOG_EMAILS` is set: logs leave the process, so they must not carry credentials or personal data.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Keys that hold a credential wherever they appear: none of them is a word an error or a count uses.
 * (`code` is not among them: errors carry `code: 'XERO_INVALID_CLIENT'` or `'EACCES'`, which an operator needs.)
 */
const SECRET_KEYS = [
  'authorization',
  'Authorization',
  'cookie',
  'password',
  'secret',
  'clientSecret',
  'client_secret',
  'token',
  'tokens',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'id_token',
  'code_verifier',
];

/** Where an OAuth authorization code travels (a callback's query, a token request's form): redacted by path. */
const AUTHORIZATION_CODE_PATHS = ['query.code', 'form.code', 'body.code', 'params.code'];

/** Key paths pino removes: the key itself and up to three levels down (`err.config.headers.authorization` etc.). */
const REDACT_PATHS = [...SECRET_KEYS, ...AUTHORIZATION_CODE_PATHS].flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

/**
 * An address, written plainly (`ann@example.com`) or percent-encoded in a path (`ann%40example.com`). The local
 * part is what an address may hold and a path or a filter does not use around it, so `/Users/ann@example.com`
 * masks `ann` only; a local part starts after a separator or after a percent escape (`%22ann%40…` in a filter).
 */
const EMAIL = /(?<=^|[^A-Za-z0-9._+%-]|%[0-9A-Fa-f]{2})(?:[A-Za-z0-9._+-]|%2[Bb])+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])/g;

/** `ann.lee@example.com` → `a***@example.com`: enough to tell two people apart in an incident, not to mail them. */
export function maskEmails(text: string): string {
  return text.replace(EMAIL, (email) => {
    const at = email.search(/@|%40/i);
    return `${email[0]}***${email.slice(at)}`;
  });
}

export interface LoggerOptions {
  level?: string;
  /** Include e-mail addresses as they are (off by default). */
  logEmails?: boolean;
  /** Where lines go; default stdout. Tests pass a stream to capture every line. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const logEmails = options.logEmails ?? false;
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'xero-scim' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => (logEmails ? object : (maskDeep(object) as Record<string, unknown>)),
      },
      hooks: logEmails
        ? {}
        : {
            logMethod(args, method) {
              method.apply(
                this,
                args.map((a) => (typeof a === 'string' ? maskEmails(a) : a)) as Parameters<typeof method>,
              );
            },
          },
      serializers: logEmails ? {} : { err: serializeError },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}

function serializeError(err: unknown): unknown {
  // pino's serialised error is not a plain object; a JSON round trip makes it one to mask.
  return maskDeep(JSON.parse(JSON.stringify(pino.stdSerializers.err(err as Error))));
}

function maskDeep(value: unknown): unknown {
  if (typeof value === 'string') return maskEmails(value);
  if (Array.isArray(value)) return value.map(maskDeep);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskDeep(v)]));
  }
  return value;
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
