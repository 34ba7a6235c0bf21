import v8 from 'node:v8';
import { loadConfig } from '../src/config';
import { silentLogger } from '../src/log';

describe('V8 settings of the server process', () => {
  afterEach(() => jest.restoreAllMocks());

  it('serve turns allocation-site pretenuring off before it builds anything, once', async () => {
    jest.resetModules();
    const flags: string[] = [];
    jest.spyOn(v8, 'setFlagsFromString').mockImplementation((flag: string) => void flags.push(flag));
    const { runServe: freshRunServe } = await import('../src/commands/serve');
    const config = loadConfig({ XERO_CLIENT_ID: 'id', XERO_CLIENT_SECRET: 'secret' });
    // Refused for want of a SCIM token: the flags are set before any check, so before any sync could run.
    await expect(freshRunServe(config, { logger: silentLogger, out: () => undefined })).rejects.toThrow(/SCIM_BEARER_TOKEN/);
    await expect(freshRunServe(config, { logger: silentLogger, out: () => undefined })).rejects.toThrow(/SCIM_BEARER_TOKEN/);
    expect(flags).toEqual(['--no-allocation-site-pretenuring']);
  });

  it('sets only flags this Node’s V8 knows (an unknown one would silently change nothing)', () => {
    const { V8_FLAGS } = jest.requireActual<typeof import('../src/runtime')>('../src/runtime');
    for (const flag of V8_FLAGS) expect(v8Knows(flag)).toBe(true);
  });
});

function v8Knows(flag: string): boolean {
  const { spawnSync } = jest.requireActual<typeof import('node:child_process')>('node:child_process');
  const name = flag.replace(/^--(no-)?/, '');
  const options = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
  return options.includes(`--${name} `) || options.includes(`--${name}\n`);
}
