/**
 * Two tiers, one suite: `npm test` runs both projects, `npm run test:unit` only the first.
 * - unit: pure and in-process suites (the app through supertest, the sandbox on a loopback port).
 * - integration: suites that start processes or a browser, run the reliability campaigns, check the deployment
 *   files or the OpenAPI contract route by route, or sync hundreds of organisations.
 */
const INTEGRATION_FOLDERS = ['reliability', 'e2e', 'deploy', 'contract', 'bench'];
const INTEGRATION_FILES = ['directory/scale.sandbox.test.ts', 'ops/live-heap.test.ts'];

const shared = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  setupFilesAfterEnv: ['<rootDir>/test/support/packed-records.ts'],
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 30000,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: [
        '/node_modules/',
        ...INTEGRATION_FOLDERS.map((folder) => `<rootDir>/test/${folder}/`),
        ...INTEGRATION_FILES.map((file) => `<rootDir>/test/${file.replace(/\./g, '\\.')}$`),
      ],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: [
        ...INTEGRATION_FOLDERS.map((folder) => `<rootDir>/test/${folder}/**/*.test.ts`),
        ...INTEGRATION_FILES.map((file) => `<rootDir>/test/${file}`),
      ],
    },
  ],
};
