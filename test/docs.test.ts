/**
 * The repository's knowledge stays inside it: every document a file cites exists here, with the section it names,
 * and nothing cites the notes the project started from, which are not part of it (docs/architecture.md,
 * "Comments and docs").
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const SKIP = new Set(['node_modules', 'dist', 'coverage', '.git', '.state', 'test-artifacts', 'results']);
const TEXT = /\.(ts|js|mjs|cjs|json|md|ya?ml|txt)$|^Dockerfile$/;

function files(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIP.has(entry.name)) return [];
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return files(full);
    return TEXT.test(entry.name) ? [full] : [];
  });
}

const rel = (file: string): string => path.relative(ROOT, file);
const all = files().filter((file) => !rel(file).startsWith('package-lock'));

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function headings(file: string): Set<string> {
  const found = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const match = !fenced && /^#{1,6}\s+(.*?)\s*$/.exec(line);
    if (match) found.add((match[1] ?? '').replace(/`/g, ''));
  }
  return found;
}

describe('documents cited in the repository', () => {
  it('names none of the notes that live outside it', () => {
    const outside = ['XERO', 'STYLE', 'SCIM-CLIENTS'].map((name) => `${name}.md`);
    const offenders = all.flatMap((file) => {
      const text = readFileSync(file, 'utf8');
      return outside.filter((name) => text.includes(name)).map((name) => `${rel(file)}: ${name}`);
    });
    expect(offenders).toEqual([]);
  });

  it('cites only docs/ pages that exist, and sections those pages and the top-level documents have', () => {
    const broken: string[] = [];
    // `docs/xero.md`, `docs/xero.md, "Rate limits"`, `docs/xero.md, "Errors" and "Rate limits"`, `docs/xero.md#dates`,
    // and the same for BENCHMARKS.md, RELIABILITY.md and README.md at the root.
    const citation = /(?:docs\/([\w-]+\.md)|\b(BENCHMARKS\.md|RELIABILITY\.md|README\.md))(?:#([\w-]+)|,\s*((?:"[^"\n]+"(?:\s+and\s+)?)+))?/g;
    for (const file of all) {
      const text = readFileSync(file, 'utf8');
      for (const [cited, page, topLevel, anchor, sections] of text.matchAll(citation)) {
        const target = page ? path.join(ROOT, 'docs', page) : path.join(ROOT, topLevel ?? '');
        if (!existsSync(target)) {
          broken.push(`${rel(file)}: ${cited} (no such page)`);
          continue;
        }
        const names = headings(target);
        if (anchor && ![...names].some((name) => slug(name) === anchor)) {
          broken.push(`${rel(file)}: ${cited} (no such section)`);
        }
        for (const [, section] of (sections ?? '').matchAll(/"([^"]+)"/g)) {
          if (!names.has(section ?? '')) broken.push(`${rel(file)}: ${cited} (no section "${section}")`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('links from the Markdown documents only to files and sections that exist', () => {
    const broken: string[] = [];
    for (const file of all.filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(file, 'utf8');
      for (const [, target = ''] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target)) continue;
        const [where, anchor] = target.split('#');
        const resolved = where ? path.resolve(path.dirname(file), where) : file;
        if (!existsSync(resolved)) broken.push(`${rel(file)}: ${target}`);
        else if (anchor && resolved.endsWith('.md') && ![...headings(resolved)].some((name) => slug(name) === anchor)) {
          broken.push(`${rel(file)}: ${target} (no such section)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
