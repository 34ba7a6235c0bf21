/**
 * Request and response classes for Node's HTTP server whose instances already have an Express app's prototypes.
 *
 * Express 5 gives every request and response its app's prototypes on arrival (`Object.setPrototypeOf(req,
 * app.request)` in express/lib/application.js `handle`), which V8 does not optimise: the objects get maps of their
 * own and their garbage is promoted to the old generation, so throughput falls and the heap grows under load
 * (figures: BENCHMARKS.md, "Requests born with the app's prototypes"). Built this way, `setPrototypeOf` finds the
 * prototype already in place and changes nothing.
 */
import http from 'node:http';
import type { Express } from 'express';

export interface ExpressServerClasses {
  readonly IncomingMessage: typeof http.IncomingMessage;
  readonly ServerResponse: typeof http.ServerResponse;
}

/**
 * `http.createServer({ ...expressServerClasses(app) }, …)`: requests and responses are born as `app`'s. For a
 * listener that is not an Express app (no `request`/`response` prototypes), Node's own classes: nothing to change.
 */
export function expressServerClasses(app: Partial<Pick<Express, 'request' | 'response'>> | object): Partial<ExpressServerClasses> {
  const { request, response } = app as Partial<Pick<Express, 'request' | 'response'>>;
  if (typeof request !== 'object' || request === null || typeof response !== 'object' || response === null) return {};
  // Node's IncomingMessage and ServerResponse are plain constructor functions, so they can initialise an object made
  // with another prototype (`call`). Were a later Node to make them classes, that would throw on every request:
  // Node's own classes then, and the prototype swap back.
  if (isClass(http.IncomingMessage) || isClass(http.ServerResponse)) return {};
  function Request(this: http.IncomingMessage, socket: import('node:net').Socket): void {
    http.IncomingMessage.call(this, socket);
  }
  Request.prototype = request;
  function Response(this: http.ServerResponse, req: http.IncomingMessage, options?: unknown): void {
    (http.ServerResponse as unknown as (this: http.ServerResponse, req: http.IncomingMessage, options?: unknown) => void).call(this, req, options);
  }
  Response.prototype = response;
  return {
    IncomingMessage: Request as unknown as typeof http.IncomingMessage,
    ServerResponse: Response as unknown as typeof http.ServerResponse,
  };
}

const isClass = (constructor: unknown): boolean => Function.prototype.toString.call(constructor).startsWith('class');
