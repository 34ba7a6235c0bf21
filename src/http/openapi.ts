/**
 * `GET /openapi.yaml`: the OpenAPI 3.1 description of every route (openapi/scim.yaml), unauthenticated, so an
 * integrator can read what the server answers before holding a token.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Router } from 'express';
import { PACKAGE_ROOT } from '../version';

/** One folder above both `src/` and `dist/`; the image copies `openapi/` next to `dist/`. */
const DOCUMENT_PATH = path.join(PACKAGE_ROOT, 'openapi', 'scim.yaml');

/**
 * Read once when the app is built: a server shipped without its contract is a packaging mistake that should stop
 * start-up, not surface as a 500 when someone first asks for the document.
 */
export function createOpenApiRouter(): Router {
  const document = readFileSync(DOCUMENT_PATH, 'utf8');
  const router = Router();
  router.get('/openapi.yaml', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').type('application/yaml').send(document);
  });
  return router;
}
