/**
 * Request and response classes for Node's HTTP server whose instances already have an Express app's prototypes, on
 * the V8 versions where that pays.
 *
 * Express 5 gives every request and response its app's prototypes on arrival (`Object.setPrototypeOf(req,
 * app.request)` in express/lib/application.js `handle`). V8 before 13 (Node 20 and 22) does not optimise that: the
 * objects get maps of their own and their garbage is promoted to the old generation, so throughput falls and the heap
 * grows under load. Built this way, `setPrototypeOf` finds the prototype already in place and changes nothing. V8 13
 * (Node 24) is the other way round: the swap costs little, and objects a constructor initialises through `call` are
 * the slow ones, so there Node's own classes serve. Figures for both: BENCHMARKS.md, "Requests born with the app's
 * prototypes".
 */
import http from 'node:http';
import type { Express } from 'express';

export interface ExpressServerClasses {
  readonly IncomingMessage: typeof http.IncomingMessage;
  readonly ServerResponse: typeof http.ServerResponse;
}

/** The first V8 major version that runs Express's prototype swap faster than these classes. */
const SWAP_FAST_FROM_V8 = 13;

/**
 * `http.createServer({ ...expressServerClasses(app) }, …)`: requests and responses are born as `app`'s where the V8
 * running (`v8Version`, default this process's) punishes the swap. For a listener that is not an Express app (no
 * `request`/`response` prototypes), and on V8 13 and later, Node's own classes.
 */
export function expressServerClasses(
  app: Partial<Pick<Express, 'request' | 'response'>> | object,
  v8Version: string = process.versions.v8,
): Partial<ExpressServerClasses> {
  const { request, response } = app as Partial<Pick<Express, 'request' | 'response'>>;
  if (typeof request !== 'object' || request === null || typeof response !== 'object' || response === null) return {};
  if (Number.parseInt(v8Version, 10) >= SWAP_FAST_FROM_V8) return {};
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
