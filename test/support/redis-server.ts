/**
 * A real `redis-server` (Debian's package) for the tests that need one: each starts its own on a free loopback port
 * with a temporary directory, and stops it by PID. Missing `redis-server` skips those tests with a message locally
 * and fails them in CI (`CI` set), where `.ci/run` installs the package.
 */
import { spawnSync } from 'node:child_process';
import { REDIS_SERVER } from './redis-process';

export { RedisServer, type RedisServerOptions } from './redis-process';

/** True when `redis-server` can be run here. */
export const redisServerAvailable: boolean = spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * `describe` for suites that need a real Redis: skipped, with a message, when `redis-server` is missing, except in
 * CI, where the suite then fails at once.
 */
export function describeWithRedis(name: string, fn: () => void): void {
  if (redisServerAvailable) return describe(name, fn);
  if (process.env.CI) {
    describe(name, () => {
      it('needs redis-server (CI installs Debian’s redis-server package)', () => {
        throw new Error('redis-server is not installed: .ci/run installs it with apt-get');
      });
    });
    return;
  }
  console.warn(`skipping "${name}": redis-server is not installed (apt-get install redis-server)`);
  describe.skip(name, fn);
}
