import type { SandboxUser } from './data';

/** A `where`/`order` the sandbox cannot read; answered 400 `QueryParseException` as Xero does. */
export class QueryParseError extends Error {
  override name = 'QueryParseError';
}

type Field = 'UserID' | 'EmailAddress' | 'FirstName' | 'LastName' | 'IsSubscriber' | 'OrganisationRole' | 'UpdatedDateUTC';
const FIELDS: Record<string, Field> = Object.fromEntries(
  (['UserID', 'EmailAddress', 'FirstName', 'LastName', 'IsSubscriber', 'OrganisationRole', 'UpdatedDateUTC'] as const).map((f) => [f.toLowerCase(), f]),
);

function value(user: SandboxUser, field: Field): string | boolean | number {
  switch (field) {
    case 'UserID':
      return user.userId;
    case 'EmailAddress':
      return user.email;
    case 'FirstName':
      return user.firstName;
    case 'LastName':
      return user.lastName;
    case 'IsSubscriber':
      return user.isSubscriber;
    case 'OrganisationRole':
      return user.role;
    case 'UpdatedDateUTC':
      return user.updatedAt;
  }
}

function field(name: string): Field {
  const found = FIELDS[name.toLowerCase()];
  if (!found) throw new QueryParseError(`No property or field '${name}' exists in type 'User'`);
  return found;
}

const CLAUSE = /^\s*\(?\s*([A-Za-z]+)\s*(==|!=)\s*(true|false|"((?:[^"\\]|\\.)*)"|Guid\("([0-9a-fA-F-]{36})"\))\s*\)?\s*$/;

/**
 * The `where` forms Xero documents for Users: `IsSubscriber==true`, `OrganisationRole=="STANDARD"`,
 * `EmailAddress=="a@b.c"`, `UserID==Guid("…")`, joined by `&&` or `AND`. String comparison ignores letter case.
 */
export function parseWhere(where: string): (user: SandboxUser) => boolean {
  if (where.trim() === '') return () => true;
  const tests = where.split(/&&|\s+AND\s+/i).map((clause) => {
    const match = CLAUSE.exec(clause);
    if (!match) throw new QueryParseError(`Unsupported where clause: ${clause.trim()}`);
    const [, name = '', op, literal = '', text, guid] = match;
    const f = field(name);
    const expected: string | boolean = guid ?? (text !== undefined ? text.replace(/\\(.)/g, '$1') : literal === 'true');
    if (f === 'UpdatedDateUTC') throw new QueryParseError('UpdatedDateUTC comparisons are not supported by the sandbox');
    if (typeof expected === 'boolean' && f !== 'IsSubscriber') throw new QueryParseError(`Operator '${op}' incompatible with operand types for ${f}`);
    if (typeof expected !== 'boolean' && f === 'IsSubscriber') throw new QueryParseError(`Operator '${op}' incompatible with operand types for ${f}`);
    return (user: SandboxUser): boolean => {
      const actual = value(user, f);
      const equal = typeof expected === 'boolean' ? actual === expected : String(actual).toLowerCase() === expected.toLowerCase();
      return op === '==' ? equal : !equal;
    };
  });
  return (user) => tests.every((test) => test(user));
}

/** `order=LastName ASC, FirstName DESC` (ASC by default). */
export function parseOrder(order: string): (a: SandboxUser, b: SandboxUser) => number {
  const keys = order
    .split(',')
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const [name = '', direction = 'ASC', ...rest] = part.trim().split(/\s+/);
      if (rest.length > 0 || !/^(ASC|DESC)$/i.test(direction)) throw new QueryParseError(`Unsupported order clause: ${part.trim()}`);
      return { f: field(name), sign: direction.toUpperCase() === 'DESC' ? -1 : 1 };
    });
  return (a, b) => {
    for (const { f, sign } of keys) {
      const x = value(a, f);
      const y = value(b, f);
      const c = typeof x === 'string' && typeof y === 'string' ? x.localeCompare(y, 'en', { sensitivity: 'base' }) : Number(x) - Number(y);
      if (c !== 0) return c * sign;
    }
    return 0;
  };
}
