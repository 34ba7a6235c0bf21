/**
 * A loopback TCP port nothing listens on, for a test that must tell a process which port to use (a redis-server, a
 * consent callback, `serve` started from the README): the kernel picks one, the probe closes, the port is handed on.
 */
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
