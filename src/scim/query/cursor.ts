/**
 * RFC 9865 cursors. A cursor names one page of one query over one directory snapshot: the snapshot's version, the
 * offset of the page's first result, the page size, and a digest of the query it belongs to. Served from that
 * snapshot, the page is exactly the one the previous page led to, however many snapshots were published since.
 *
 * A cursor is `base64url(payload) "." base64url(HMAC-SHA-256(key, payload))`: only unreserved characters (RFC 9865
 * §2), opaque to clients, and tamper-evident: any edit fails the HMAC and is refused as `invalidCursor` before the
 * payload is read. The key is derived (HKDF) from a configured secret, so every replica configured with the same
 * secret verifies the others' cursors. It is signed, not encrypted: it carries a content hash, two numbers and a
 * digest, nothing secret, and nothing of the credentials that asked for it.
 */
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { invalidCursor } from '../errors';

export interface CursorPosition {
  /** The `DirectorySnapshot.version` the page is read from. */
  readonly version: string;
  /** 0-based position of the page's first result. */
  readonly offset: number;
  /** The page size the crawl began with (RFC 9865 §2.1: later pages must ask for the same). */
  readonly count: number;
  /** `CursorCodec.scope` of the query: a cursor works only for the query it was issued for. */
  readonly scope: string;
}

/** Bumped if the payload changes, so an older server's cursors are refused rather than misread. */
const FORMAT = 1;
/** Far above any cursor this server issues (about 130 characters), far below a request line's limit. */
const MAX_CURSOR_LENGTH = 512;
const CURSOR_SYNTAX = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/;

export class CursorCodec {
  readonly #key: Buffer;

  /** `secret`: configuration every replica shares (see `cursorSecret` in the app options). */
  constructor(secret: string | Buffer) {
    this.#key = Buffer.from(hkdfSync('sha256', secret, '', 'xero-scim RFC 9865 cursor', 32));
  }

  /** A digest of what makes two queries the same list: the view, the resource type, the filter and the order. */
  static scope(parts: readonly (string | undefined)[]): string {
    return createHash('sha256')
      .update(JSON.stringify(parts.map((p) => p ?? null)))
      .digest('base64url')
      .slice(0, 16);
  }

  encode(position: CursorPosition): string {
    const payload = Buffer.from(JSON.stringify([FORMAT, position.version, position.offset, position.count, position.scope]));
    return `${payload.toString('base64url')}.${this.#sign(payload).toString('base64url')}`;
  }

  /** The position a cursor names; `invalidCursor` for anything this server (or a replica sharing its secret) did not issue. */
  decode(cursor: string): CursorPosition {
    const refused = () => invalidCursor('The cursor is not one this server issued: send an empty cursor for the first page, then each page’s nextCursor or previousCursor.');
    if (cursor.length > MAX_CURSOR_LENGTH || !CURSOR_SYNTAX.test(cursor)) throw refused();
    const [payloadText, signatureText] = cursor.split('.') as [string, string];
    const payload = Buffer.from(payloadText, 'base64url');
    const signature = Buffer.from(signatureText, 'base64url');
    // Only a payload this key signed is ever parsed. Two base64url texts can decode to the same bytes (the last
    // character's spare bits), so the canonical spelling is required too: an edited cursor is refused, always.
    const canonical = payload.toString('base64url') === payloadText && signature.toString('base64url') === signatureText;
    if (!canonical || !timingSafeEqual(signature, this.#sign(payload))) throw refused();
    const [format, version, offset, count, scope] = JSON.parse(payload.toString('utf8')) as unknown[];
    if (format !== FORMAT || typeof version !== 'string' || typeof scope !== 'string' || !isCount(offset) || !isCount(count)) throw refused();
    return { version, offset, count, scope };
  }

  #sign(payload: Buffer): Buffer {
    return createHmac('sha256', this.#key).update(payload).digest();
  }
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
