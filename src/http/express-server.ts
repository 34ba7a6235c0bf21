/**
 * Request and response classes for Node's HTTP server whose instances already have an Express app's prototypes.
 *
 * Express 5 gives every request and response its app's prototypes on arrival (`Object.setPrototypeOf(req,
 * app.request)` in express/lib/application.js `handle`). V8 punishes changing a live object's prototype: before V8 13
 * (Node 20 and 22) the objects get maps of their own and their garbage is promoted to the old generation, so
 * throughput falls and the heap grows under load; on V8 13 (Node 24) the two swaps still cost several microseconds a
 * request. Born from these classes, a request and a response already have the prototypes Express sets, so its
 * `setPrototypeOf` changes nothing.
 *
 * They are subclasses (`class … extends http.IncomingMessage`), so V8 builds their instances as it builds Node's own:
 * an object made by Node's constructor called on an object of another class (`IncomingMessage.call(this)`) is slow
 * on V8 13, and one made by `Reflect.construct` is slow before it. A subclass's prototype cannot be the app's, so it
 * inherits from the app's, and becomes the app's (`app.request`, `app.response`): what Express sets is then what the
 * classes give. Figures: BENCHMARKS.md, "Requests born with the app's prototypes".
 */
import http from 'node:http';
import type { Express } from 'express';

export interface ExpressServerClasses {
  readonly IncomingMessage: typeof http.IncomingMessage;
  readonly ServerResponse: typeof http.ServerResponse;
}

/** The classes made for each app, so an app listened on twice keeps one pair (its prototypes can change only once). */
const made = new WeakMap<object, ExpressServerClasses>();

/**
 * `http.createServer({ ...expressServerClasses(app) }, …)`: requests and responses are born as `app`'s. The app's
 * `request` and `response` become the classes' prototypes, which inherit everything the app's had. For a listener
 * that is not an Express app (no `request`/`response` prototypes), Node's own classes.
 */
export function expressServerClasses(app: Partial<Pick<Express, 'request' | 'response'>> | object): Partial<ExpressServerClasses> {
  const known = made.get(app);
  if (known) return known;
  const prototypes = app as Partial<Pick<Express, 'request' | 'response'>>;
  const { request, response } = prototypes;
  if (typeof request !== 'object' || request === null || typeof response !== 'object' || response === null) return {};
  class Request extends http.IncomingMessage {}
  class Response extends http.ServerResponse {}
  Object.setPrototypeOf(Request.prototype, request);
  Object.setPrototypeOf(Response.prototype, response);
  prototypes.request = Request.prototype as Express['request'];
  prototypes.response = Response.prototype as Express['response'];
  const classes: ExpressServerClasses = { IncomingMessage: Request, ServerResponse: Response as unknown as typeof http.ServerResponse };
  made.set(app, classes);
  return classes;
}
