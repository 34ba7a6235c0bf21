/** The SCIMMY reference in a process of its own: loads the corpus, listens, says ready. */
import { childInput, failStartup, serveParent } from '../ipc';
import { readCorpus } from '../corpus';
import { heapAfterGc, listenLoopback } from './listen';
import { createScimmyApp } from './scimmy';

interface Input {
  corpusDir: string;
  token: string;
  publicUrl: string;
}

async function main(): Promise<void> {
  const input = childInput<Input>();
  const started = Date.now();
  const app = createScimmyApp({ corpus: readCorpus(input.corpusDir), tokens: [input.token], publicUrl: input.publicUrl });
  const loadMs = Date.now() - started;
  const url = await listenLoopback(app);
  serveParent({ heap: () => heapAfterGc() }).ready({ url, loadMs, heap: heapAfterGc() });
}

main().catch(failStartup);
