/**
 * A recursive-descent parser for the RFC 7644 §3.4.2.2 filter grammar (Figure 1), precedence
 * `not` > `and` > `or`, plus the `attr[filter].sub` form RFC 7644 §3.5.2 defines for paths, which Entra sends
 * in filters (`emails[type eq "work"].value eq "…"`).
 *
 * Written by hand rather than with `scim2-parse-filter` because that package matches keywords case-sensitively
 * in places, reports no positions, and rewrites `emails[type eq "work"].value eq "x"` into two independent
 * conditions (which can be met by two different e-mails). Every token is consumed once and nothing backtracks,
 * so parsing is linear in the input.
 */
import { invalidFilter, ScimError } from '../errors';
import { COMPARE_OPS, type AttributePath, type CompareOp, type CompareValue, type Filter } from './ast';

/** Longer filters are refused before tokenising: no client needs them and they cost memory. */
export const MAX_FILTER_LENGTH = 8192;
/** Parentheses, `not (` and `[` nest at most this deep, so recursion cannot exhaust the stack. */
export const MAX_FILTER_DEPTH = 64;

/** Parses a filter; syntax errors throw `invalidFilter` naming the 1-based position. */
export function parseFilter(text: string): Filter {
  if (typeof text !== 'string') throw invalidFilter('The filter must be a string.');
  if (text.length > MAX_FILTER_LENGTH) {
    throw invalidFilter(`The filter is ${text.length} characters long; at most ${MAX_FILTER_LENGTH} are accepted.`);
  }
  const parser = new Parser(tokenize(text));
  if (parser.peek().kind === 'end') throw invalidFilter('The filter is empty.');
  const filter = parser.parseOr(false);
  parser.expectEnd();
  return filter;
}

/**
 * Parses an attribute path on its own (`sortBy`, RFC 7644 §3.4.2.3, or an `attributes` entry, §3.4.2.5):
 * `[schema ":"] attribute ["." subAttribute]`.
 */
export function parseAttributePath(text: string): AttributePath {
  const path = readAttributePath(text.trim());
  if (!path) throw invalidFilter(`"${text}" is not an attribute path.`);
  return path;
}

type TokenKind = '(' | ')' | '[' | ']' | 'string' | 'word' | 'end';

interface Token {
  readonly kind: TokenKind;
  /** For `string`, the decoded value; otherwise the text as written. */
  readonly text: string;
  /** 0-based offset of the token's first character. */
  readonly start: number;
  readonly spaceBefore: boolean;
}

const PUNCTUATION: ReadonlySet<string> = new Set(['(', ')', '[', ']']);
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r';

function syntaxError(position: number, message: string): ScimError {
  return invalidFilter(`Filter syntax error at position ${position + 1}: ${message}`);
}

/**
 * Splits the filter into punctuation, JSON strings and words (anything else up to a space, bracket,
 * parenthesis or quote). What a word means (attribute path, operator, literal) depends on where it stands,
 * so the parser decides.
 */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let spaceBefore = false;
  while (i < text.length) {
    const c = text.charAt(i);
    if (isSpace(c)) {
      spaceBefore = true;
      i++;
      continue;
    }
    const start = i;
    if (PUNCTUATION.has(c)) {
      tokens.push({ kind: c as TokenKind, text: c, start, spaceBefore });
      i++;
    } else if (c === '"') {
      i++;
      while (i < text.length && text.charAt(i) !== '"') i += text.charAt(i) === '\\' ? 2 : 1;
      if (i >= text.length) throw syntaxError(start, 'the string starting here has no closing quote.');
      i++;
      tokens.push({ kind: 'string', text: decodeString(text.slice(start, i), start), start, spaceBefore });
    } else {
      while (i < text.length) {
        const d = text.charAt(i);
        if (isSpace(d) || PUNCTUATION.has(d) || d === '"') break;
        i++;
      }
      tokens.push({ kind: 'word', text: text.slice(start, i), start, spaceBefore });
    }
    spaceBefore = false;
  }
  tokens.push({ kind: 'end', text: '', start: text.length, spaceBefore });
  return tokens;
}

/** RFC 7644 §3.4.2.2: string values are JSON strings (RFC 7159 §7), escapes included. */
function decodeString(literal: string, start: number): string {
  try {
    return JSON.parse(literal) as string;
  } catch {
    throw syntaxError(start, `${literal} is not a valid JSON string (check its escapes and control characters).`);
  }
}

/** RFC 7644 §3.10 / RFC 7643 §2.1: ATTRNAME = ALPHA *(nameChar); `$ref` is the one reserved name allowed. */
const ATTRNAME = /^(?:[A-Za-z][A-Za-z0-9_-]*|\$ref)$/;
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** `urn:…:User:name.givenName`: the schema URN is everything before the last colon. */
function readAttributePath(word: string): AttributePath | undefined {
  const colon = word.lastIndexOf(':');
  const schema = colon >= 0 ? word.slice(0, colon) : undefined;
  if (schema === '') return undefined;
  const rest = word.slice(colon + 1);
  const dot = rest.indexOf('.');
  const attribute = dot >= 0 ? rest.slice(0, dot) : rest;
  const subAttribute = dot >= 0 ? rest.slice(dot + 1) : undefined;
  if (!ATTRNAME.test(attribute)) return undefined;
  if (subAttribute !== undefined && !ATTRNAME.test(subAttribute)) return undefined;
  const path: AttributePath = { attribute };
  if (schema !== undefined) path.schema = schema;
  if (subAttribute !== undefined) path.subAttribute = subAttribute;
  return path;
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the filter';
    case 'string':
      return `the string ${JSON.stringify(shorten(token.text))}`;
    default:
      return `"${shorten(token.text)}"`;
  }
}

/** Details echo the client's text; a long token is cut so the error body stays small. */
const shorten = (text: string) => (text.length > 40 ? `${text.slice(0, 40)}…` : text);

const isKeyword = (token: Token, keyword: string) => token.kind === 'word' && token.text.toLowerCase() === keyword;

class Parser {
  private index = 0;
  private depth = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index++;
    return token;
  }

  private expect(kind: TokenKind, what: string): Token {
    const token = this.peek();
    if (token.kind !== kind) throw syntaxError(token.start, `expected ${what}, found ${describe(token)}.`);
    return this.next();
  }

  expectEnd(): void {
    const token = this.peek();
    if (token.kind === 'end') return;
    const hint = token.kind === ')' ? 'a ")" without a matching "(".' : `expected "and", "or" or the end of the filter, found ${describe(token)}.`;
    throw syntaxError(token.start, hint);
  }

  /** `inBrackets`: inside `attr[...]`, where another `[` is not allowed (RFC 7644 Figure 1 `valFilter`). */
  parseOr(inBrackets: boolean): Filter {
    let left = this.parseAnd(inBrackets);
    while (isKeyword(this.peek(), 'or')) {
      this.next();
      left = { op: 'or', left, right: this.parseAnd(inBrackets) };
    }
    return left;
  }

  private parseAnd(inBrackets: boolean): Filter {
    let left = this.parseUnary(inBrackets);
    while (isKeyword(this.peek(), 'and')) {
      this.next();
      left = { op: 'and', left, right: this.parseUnary(inBrackets) };
    }
    return left;
  }

  private parseUnary(inBrackets: boolean): Filter {
    const token = this.peek();
    if (token.kind === '(') {
      this.next();
      const filter = this.nested(() => this.parseOr(inBrackets), token);
      this.expect(')', `")" to close the "(" at position ${token.start + 1}`);
      return filter;
    }
    if (isKeyword(token, 'not')) {
      const following = this.peek(1);
      if (following.kind === '(') {
        this.next();
        const open = this.next();
        const filter = this.nested(() => this.parseOr(inBrackets), open);
        this.expect(')', `")" to close the "(" at position ${open.start + 1}`);
        return { op: 'not', filter };
      }
      // RFC 7644 Figure 1 wants `not (…)`; like SCIMMY we also take `not userName eq "x"`, negating the one
      // expression that follows. An attribute called "not" stays one: `not eq "x"`, `not[...]`.
      if (following.kind === 'word' && !isOperatorWord(following)) {
        this.next();
        return { op: 'not', filter: this.nested(() => this.parseUnary(inBrackets), token) };
      }
      if (following.kind !== '[' && following.kind !== 'word') {
        throw syntaxError(token.start, `"not" must be followed by a filter, found ${describe(following)}.`);
      }
    }
    return this.parseAttributeExpression(inBrackets);
  }

  private nested<T>(parse: () => T, opening: Token): T {
    if (++this.depth > MAX_FILTER_DEPTH) {
      throw syntaxError(opening.start, `the filter nests deeper than ${MAX_FILTER_DEPTH} levels.`);
    }
    const result = parse();
    this.depth--;
    return result;
  }

  private parseAttributeExpression(inBrackets: boolean): Filter {
    const token = this.peek();
    if (token.kind !== 'word') {
      throw syntaxError(token.start, `expected an attribute name, "not" or "(", found ${describe(token)}.`);
    }
    const path = readAttributePath(token.text);
    if (!path) {
      throw syntaxError(token.start, `${describe(token)} is not an attribute path ([schema:]name[.subAttribute]).`);
    }
    this.next();

    if (this.peek().kind !== '[') return this.parseComparison(path, token, undefined);

    const open = this.next();
    if (inBrackets) throw syntaxError(open.start, 'a value filter "[...]" cannot contain another "[".');
    if (path.subAttribute !== undefined) {
      throw syntaxError(open.start, `"[" must follow a multi-valued attribute, not the sub-attribute "${token.text}".`);
    }
    const inner = this.nested(() => this.parseOr(true), open);
    const close = this.expect(']', `"]" to close the "[" at position ${open.start + 1}`);

    const after = this.peek();
    if (after.kind === 'word' && after.text.startsWith('.') && !after.spaceBefore) {
      const subAttribute = after.text.slice(1);
      if (!ATTRNAME.test(subAttribute)) {
        throw syntaxError(after.start, `${describe(after)} is not a sub-attribute name.`);
      }
      this.next();
      return this.parseComparison({ ...path, subAttribute }, after, inner);
    }
    if (after.kind === 'word' && after.text.startsWith('.')) {
      throw syntaxError(after.start, `no space is allowed between "]" at position ${close.start + 1} and the sub-attribute.`);
    }
    return { op: 'valuePath', path, filter: inner };
  }

  private parseComparison(path: AttributePath, pathToken: Token, where: Filter | undefined): Filter {
    const opToken = this.peek();
    const op = opToken.kind === 'word' ? opToken.text.toLowerCase() : '';
    if (op === 'pr') {
      this.next();
      return where ? { op: 'pr', path, where } : { op: 'pr', path };
    }
    if (!isCompareOp(op)) {
      throw syntaxError(
        opToken.start,
        `expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after ${describe(pathToken)}, found ${describe(opToken)}.`,
      );
    }
    this.next();
    const value = this.parseValue(opToken);
    return where ? { op, path, value, where } : { op, path, value };
  }

  /** RFC 7644 Figure 1: compValue = false / null / true / number / string (ABNF literals are case-insensitive). */
  private parseValue(opToken: Token): CompareValue {
    const token = this.next();
    if (token.kind === 'string') return token.text;
    if (token.kind === 'word') {
      const word = token.text.toLowerCase();
      if (word === 'true') return true;
      if (word === 'false') return false;
      if (word === 'null') return null;
      if (NUMBER.test(token.text)) {
        const number = Number(token.text);
        if (Number.isFinite(number)) return number;
        throw syntaxError(token.start, `the number ${token.text} is out of range.`);
      }
    }
    throw syntaxError(
      token.start,
      `expected a value (a "quoted string", a number, true, false or null) after "${opToken.text}", found ${describe(token)}.`,
    );
  }
}

function isCompareOp(word: string): word is CompareOp {
  return (COMPARE_OPS as readonly string[]).includes(word);
}

function isOperatorWord(token: Token): boolean {
  if (token.kind !== 'word') return false;
  const word = token.text.toLowerCase();
  return word === 'pr' || isCompareOp(word);
}
