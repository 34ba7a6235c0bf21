/**
 * Structured JSON logs (pino). Secrets are removed by key wherever they appear, and e-mail addresses are
 * masked unless `LOG_EMAILS` is set: logs leave the process, so they must not carry credentials or personal data.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

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
  'code',
  'code_verifier',
];

/** Key paths pino removes: the key itself and one or two levels down (`err.config.headers.authorization` etc.). */
const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

const EMAIL = /[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+\.[A-Za-z]{2,}/g;

/** `ann.lee@example.com` → `a***@example.com`: enough to tell two people apart in an incident, not to mail them. */
export function maskEmails(text: string): string {
  return text.replace(EMAIL, (email) => `${email[0]}***${email.slice(email.indexOf('@'))}`);
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
