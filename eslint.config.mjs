import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/**
 * Which way imports point inside src/ (docs/architecture.md, "Layout and imports"). Each layer lists the modules of
 * src/ it may import; every other one is refused. `commands/` and `cli.ts` compose the rest and may import anything.
 */
const MODULES = ['cli', 'commands', 'config', 'directory', 'files', 'http', 'log', 'ops', 'redis', 'runtime', 'sandbox', 'scim', 'version', 'xero'];
export const LAYERS = {
  http: ['scim', 'ops', 'directory', 'log', 'version'],
  ops: ['directory', 'log'],
  scim: ['directory', 'log'],
  directory: ['xero', 'files', 'log'],
  // What replicas share through Redis: stores for the directory's and the token provider's state, the lease.
  redis: ['directory', 'xero', 'log'],
  xero: ['files', 'log'],
  files: [],
  sandbox: [],
  // Single files at the top of src/ import nothing of the server; the lists above say who may import them.
  'config.ts': [],
  'log.ts': [],
  'runtime.ts': [],
  'version.ts': [],
};
/**
 * Imports that break the direction, file by file, each with the modules it may import besides its layer's: none.
 * An entry is a debt to pay, not a way round the rule; test/layers.test.ts fails once an entry is not needed.
 */
export const PENDING = {};

/** ESLint configs that refuse, in files matching `files` at `depth` folders below src/, imports of `refused`. */
export function layerRule(layer, files, depth, allowed) {
  const refused = MODULES.filter((m) => !allowed.includes(m) && `${m}` !== layer.replace(/\.ts$/, ''));
  const up = depth === 0 ? '\\./' : `(\\.\\./){${depth}}`;
  const regex = `^${up}(${refused.join('|')})(\\.[jt]s)?(/.*)?$`;
  const message = `src/${layer}${layer.endsWith('.ts') ? '' : '/'} may import only ${allowed.length ? allowed.join(', ') : 'nothing of the server'} (docs/architecture.md, "Layout and imports").`;
  return {
    files,
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex, message }] }],
      // `import()` too, which no-restricted-imports does not see (esquery regexes cannot hold a slash: \x2F).
      'no-restricted-syntax': ['error', { selector: `ImportExpression[source.value=/${regex.replace(/\//g, '\\x2F')}/]`, message }],
    },
  };
}

const layerConfigs = Object.entries(LAYERS).flatMap(([layer, allowed]) =>
  layer.endsWith('.ts')
    ? [layerRule(layer, [`src/${layer}`], 0, allowed)]
    : [1, 2, 3].map((depth) => layerRule(layer, [`src/${layer}/${'*/'.repeat(depth - 1)}*.ts`], depth, allowed)),
);
/** The layer rule for one file of src/, with `extra` modules allowed besides its layer's. */
export function fileRule(file, extra = []) {
  const layer = file.split('/')[1];
  return layerRule(layer, [file], file.split('/').length - 2, [...LAYERS[layer], ...extra]);
}
const pendingConfigs = Object.entries(PENDING).map(([file, extra]) => fileRule(file, extra));

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  { files: ['**/*.js', '**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  ...layerConfigs,
  ...pendingConfigs,
);
