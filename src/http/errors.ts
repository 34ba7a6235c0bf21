/**
 * The one place errors become responses: a `ScimError` is rendered as RFC 7644 §3.12 JSON with its headers;
 * body-parser's client errors (bad JSON, too large) become the matching SCIM errors; anything else is logged
 * with the request id and answered as a plain 500 that reveals nothing internal.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { ScimError, invalidSyntax, notFound } from '../scim/errors';
import { SCIM_CONTENT_TYPE, setDeferredHead } from './respond';

/** The error a thrown value should be answered with. */
function toScimError(error: unknown): ScimError | undefined {
  if (error instanceof ScimError) return error;
  if (error === null || typeof error !== 'object') return undefined;
  const { type, status, statusCode, expose } = error as { type?: unknown; status?: unknown; statusCode?: unknown; expose?: unknown };
  const code = typeof status === 'number' ? status : typeof statusCode === 'number' ? statusCode : undefined;
  if (type === 'entity.too.large') return new ScimError(413, 'The request body is too large.');
  if (type === 'entity.parse.failed') return invalidSyntax('The request body is not valid JSON.');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new ScimError(415, 'The request body must be UTF-8 JSON (application/scim+json or application/json).');
  }
  // Client errors raised by Express and body-parser (e.g. a malformed percent-encoding in the path) are safe to
  // report by status, but their messages are not ours, so a fixed detail is sent.
  if (code !== undefined && code >= 400 && code < 500 && expose !== false) {
    return new ScimError(code, `The request could not be processed (HTTP ${code}).`);
  }
  return undefined;
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) return next(error);
    setDeferredHead(res);
    const requestId = String(res.locals.requestId ?? '');
    let scimError = toScimError(error);
    if (!scimError) {
      logger.error({ err: error, requestId, method: req.method, path: req.path }, 'unexpected error answering a request');
      scimError = new ScimError(500, `Internal server error. Quote request id ${requestId} when reporting it.`);
    }
    res.set(scimError.headers);
    res.status(scimError.status).type(SCIM_CONTENT_TYPE).send(JSON.stringify(scimError.toJSON()));
  };
}

/** RFC 7644 §3.12: a SCIM 404 for routes that do not exist. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(notFound(`No such endpoint: ${req.method} ${req.path.slice(0, 200)}.`));
};
