/** The node:http floor in a process of its own: loads the corpus, listens on a plain `http.createServer`, says ready. */
import { childInput, failStartup, serveParent } from '../ipc';
import { readCorpus } from '../corpus';
import { createHttpFloorHandler } from './http-floor';
import { heapAfterGc, listenLoopback } from './listen';

interface Input {
  corpusDir: string;
  token: string;
}

async function main(): Promise<void> {
  const input = childInput<Input>();
  const started = Date.now();
  const handler = createHttpFloorHandler({ corpus: readCorpus(input.corpusDir), tokens: [input.token] });
  const loadMs = Date.now() - started;
  const url = await listenLoopback(handler);
  serveParent({ heap: () => heapAfterGc() }).ready({ url, loadMs, heap: heapAfterGc() });
}

main().catch(failStartup);
