/**
 * Request and response classes for Node's HTTP server whose instances already have an Express app's prototypes.
 *
 * Express 5 gives every request and response its app's prototypes on arrival (`Object.setPrototypeOf(req,
 * app.request)` in express/lib/application.js `handle`). Changing the prototype of a live object is something V8
 * does not optimise: each request and response gets a map of its own, and the objects they hold outlive the young
 * generation. A bare Express route promoted about 30 % of everything it allocated to the old generation (173 of
 * 571 MB in 5 s under 32 connections) and answered a third of the requests it answers when its requests are built
 * with the right prototypes from the start; the promoted garbage is what made the heap, and the peak RSS, grow under
 * load until a major collection (BENCHMARKS.md). Built this way, Express's `setPrototypeOf` finds the prototype
 * already in place and changes nothing.
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
