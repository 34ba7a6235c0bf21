/**
 * Micro-check, not a test: how much parsing + compiling a filter costs, and how much evaluating it costs per
 * resource. Run: npx tsc --outDir /tmp/filter-micro-check --module commonjs --target es2022 --esModuleInterop \
 *   --resolveJsonModule --skipLibCheck test/scim/filter/micro-check.ts && node /tmp/filter-micro-check/test/scim/filter/micro-check.js
 */
import { compileFilter, parseFilter } from '../../../src/scim/filter';
import users from './fixtures/users.json';
import { userSchema } from './schema';

const filters = [
  'userName eq "alice@example.com"',
  'ActiVe eq true and (meta.lastModified ge "0001-01-03T00:00:00.0000000Z" and meta.LastModified le "2024-03-01T10:00:00.1234567Z")',
  'emails[type eq "work"].value eq "carol@globex.example"',
  'urn:example:ext:2.0:User:organisations[role eq "STANDARD"] or not (groups[value eq "org-acme"])',
];

function microseconds(rounds: number, action: () => void): number {
  for (let i = 0; i < Math.min(rounds, 5000); i++) action();
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) action();
  return Number(process.hrtime.bigint() - start) / 1000 / rounds;
}

const population = Array.from({ length: 100_000 }, (_, i) => {
  const user = users[i % users.length] as (typeof users)[number];
  return { ...user, id: `${user.id}-${i}`, userName: `${i}-${user.userName}` };
});

for (const filter of filters) {
  const parse = microseconds(20_000, () => parseFilter(filter));
  const parseAndCompile = microseconds(20_000, () => compileFilter(parseFilter(filter), userSchema));
  const predicate = compileFilter(parseFilter(filter), userSchema);
  let matched = 0;
  const scan = microseconds(3, () => {
    matched = population.filter((user) => predicate(user)).length;
  });
  console.log(
    `${filter.slice(0, 60).padEnd(60)}  parse ${parse.toFixed(1)} µs  parse+compile ${parseAndCompile.toFixed(1)} µs  ` +
      `scan of 100,000: ${(scan / 1000).toFixed(1)} ms (${((scan / population.length) * 1000).toFixed(0)} ns/resource, ${matched} matched)`,
  );
}
