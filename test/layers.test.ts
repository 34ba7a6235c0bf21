/**
 * The import direction of src/ is kept by `npm run lint` (eslint.config.mjs, docs/architecture.md "Layout and
 * imports"): an import against it fails lint. Each case lints a planted file through ESLint's Node API, with the
 * repository's own config, in a child process (ESLint loads its config as an ES module, which Jest's module
 * system cannot).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const LAYER_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax']);

interface Case {
  readonly file: string;
  readonly imports: string;
}

/** The layer rules' messages for `import … from '<imports>'` (and `import('<imports>')`) in a file at `file`. */
function lintPlanted(cases: readonly Case[]): string[][] {
  const script = `
    const { ESLint } = require('eslint');
    const cases = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
    (async () => {
      const eslint = new ESLint({ cwd: ${JSON.stringify(ROOT)} });
      const out = [];
      for (const c of cases) {
        const code = "import * as planted from '" + c.imports + "';\\nexport const later = () => import('" + c.imports + "');\\nexport { planted };\\n";
        const [result] = await eslint.lintText(code, { filePath: require('node:path').join(${JSON.stringify(ROOT)}, c.file) });
        out.push(result.messages.map((m) => ({ rule: m.ruleId, message: m.message })));
      }
      process.stdout.write(JSON.stringify(out));
    })().catch((err) => { console.error(err); process.exit(1); });`;
  const output = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, input: JSON.stringify(cases), encoding: 'utf8' });
  const results = JSON.parse(output) as { rule: string | null; message: string }[][];
  return results.map((messages) => messages.filter((m) => m.rule !== null && LAYER_RULES.has(m.rule)).map((m) => `${m.rule}: ${m.message}`));
}

const REFUSED: readonly Case[] = [
  { file: 'src/xero/planted.ts', imports: '../http/app' },
  { file: 'src/xero/planted.ts', imports: '../scim/errors' },
  { file: 'src/directory/planted.ts', imports: '../scim/render' },
  { file: 'src/directory/planted.ts', imports: '../config' },
  { file: 'src/scim/planted.ts', imports: '../http/respond' },
  { file: 'src/scim/planted.ts', imports: '../xero/identity' },
  { file: 'src/scim/query/planted.ts', imports: '../../http/app' },
  { file: 'src/ops/planted.ts', imports: '../http/throttle' },
  { file: 'src/ops/planted.ts', imports: '../scim/errors' },
  { file: 'src/http/planted.ts', imports: '../commands/serve' },
  { file: 'src/http/planted.ts', imports: '../sandbox' },
  { file: 'src/sandbox/planted.ts', imports: '../xero/errors' },
  { file: 'src/sandbox/identity/planted.ts', imports: '../../log' },
  { file: 'src/log.ts', imports: './directory/model' },
];

const ALLOWED: readonly Case[] = [
  { file: 'src/http/planted.ts', imports: '../scim/errors' },
  { file: 'src/http/planted.ts', imports: '../ops/metrics' },
  { file: 'src/scim/query/planted.ts', imports: '../render' },
  { file: 'src/scim/planted.ts', imports: '../directory/model' },
  { file: 'src/directory/planted.ts', imports: '../xero/errors' },
  { file: 'src/xero/planted.ts', imports: '../log' },
  { file: 'src/sandbox/identity/planted.ts', imports: '../store' },
  { file: 'src/commands/planted.ts', imports: '../sandbox' },
  { file: 'src/cli.ts', imports: './commands/serve' },
];

/** For each file eslint.config.mjs lets break the direction (PENDING), the layer rule's messages without that leave. */
function lintPending(): Record<string, string[]> {
  const script = `
    const { ESLint } = require('eslint');
    const path = require('node:path');
    (async () => {
      const { PENDING, fileRule } = await import(path.join(${JSON.stringify(ROOT)}, 'eslint.config.mjs'));
      const out = {};
      for (const file of Object.keys(PENDING)) {
        const eslint = new ESLint({ cwd: ${JSON.stringify(ROOT)}, overrideConfig: [fileRule(file)] });
        const [result] = await eslint.lintFiles([file]);
        out[file] = result.messages.filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax').map((m) => m.message);
      }
      process.stdout.write(JSON.stringify(out));
    })().catch((err) => { console.error(err); process.exit(1); });`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' })) as Record<string, string[]>;
}

describe('the import direction of src/ (eslint.config.mjs)', () => {
  let refused: string[][];
  let allowed: string[][];

  beforeAll(() => {
    const results = lintPlanted([...REFUSED, ...ALLOWED]);
    refused = results.slice(0, REFUSED.length);
    allowed = results.slice(REFUSED.length);
  });

  it.each(REFUSED.map((c, i) => [c.file, c.imports, i] as const))('refuses %s importing %s, statically and with import()', (_file, _imports, i) => {
    expect(refused[i]).toEqual([
      expect.stringMatching(/^no-restricted-imports: .*may import only .*Layout and imports/),
      expect.stringMatching(/^no-restricted-syntax: .*may import only .*Layout and imports/),
    ]);
  });

  it.each(ALLOWED.map((c, i) => [c.file, c.imports, i] as const))('lets %s import %s', (_file, _imports, i) => {
    expect(allowed[i]).toEqual([]);
  });

  it('lets a file break the direction only while it does (every PENDING entry is still needed)', () => {
    const unneeded = Object.entries(lintPending())
      .filter(([, messages]) => messages.length === 0)
      .map(([file]) => file);
    expect(unneeded).toEqual([]);
  });
});
