/** The Express floor in a process of its own: loads the corpus, listens, says ready. */
import { expressServerClasses } from '../../src/http/express-server';
import { childInput, failStartup, serveParent } from '../ipc';
import { readCorpus } from '../corpus';
import { createFloorApp } from './floor';
import { heapAfterGc, listenLoopback } from './listen';

interface Input {
  corpusDir: string;
  token: string;
  /** `prototypes`: requests built with Express's prototypes, as xero-scim's listener does (bench/ablation.ts only). */
  listener?: 'plain' | 'prototypes';
  /** Send the head fields xero-scim's answers carry (`FloorOptions.sameHead`, bench/ablation.ts only). */
  sameHead?: boolean;
}

async function main(): Promise<void> {
  const input = childInput<Input>();
  const started = Date.now();
  const app = createFloorApp({ corpus: readCorpus(input.corpusDir), tokens: [input.token], ...(input.sameHead ? { sameHead: true } : {}) });
  const loadMs = Date.now() - started;
  const url = await listenLoopback(app, input.listener === 'prototypes' ? expressServerClasses(app) : {});
  serveParent({ heap: () => heapAfterGc() }).ready({ url, loadMs, heap: heapAfterGc() });
}

main().catch(failStartup);
