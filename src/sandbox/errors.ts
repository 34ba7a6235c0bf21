import { randomUUID } from 'node:crypto';
import type { Response } from 'express';
import type { CallCounters } from './counters';
import type { Fault } from './faults';

/**
 * Xero's problem body for 401/403 (docs/xero.md, "Errors"):
 * `{"Type":null,"Title":…,"Status":…,"Detail":…,"Instance":…,"Extensions":{}}`.
 */
export function sendProblem(res: Response, status: 401 | 403 | 500 | 503, detail: string): void {
  const titles = { 401: 'Unauthorized', 403: 'Forbidden', 500: 'Internal Server Error', 503: 'Service Unavailable' };
  res.status(status).json({ Type: null, Title: titles[status], Status: status, Detail: detail, Instance: randomUUID(), Extensions: {} });
}

/** Xero answers unknown resources with a text/html sentence, not JSON. */
export const NOT_FOUND_TEXT = "The resource you're looking for cannot be found";
export function sendNotFound(res: Response): void {
  res.status(404).type('text/html').send(NOT_FOUND_TEXT);
}

/** 400 in Xero's accounting shape, e.g. `{"ErrorNumber":16,"Type":"QueryParseException","Message":"…"}`. */
export function sendValidation(res: Response, errorNumber: number, type: string, message: string): void {
  res.status(400).json({ ErrorNumber: errorNumber, Type: type, Message: message });
}

/** 429 has an empty body; the headers carry everything (docs/xero.md, "Rate limits"). */
export function sendTooManyRequests(res: Response, problem: string, retryAfterSeconds: number): void {
  res.status(429).set({ 'Retry-After': String(retryAfterSeconds), 'X-Rate-Limit-Problem': problem }).end();
}

/** Requests held open by a `timeout` fault; closed when the sandbox stops, or after ten minutes at the latest. */
export class HeldRequests {
  private readonly held = new Set<Response>();

  hold(res: Response): void {
    this.held.add(res);
    const timer = setTimeout(() => this.drop(res), 10 * 60_000);
    timer.unref();
    res.on('close', () => {
      clearTimeout(timer);
      this.held.delete(res);
    });
  }

  releaseAll(): void {
    for (const res of this.held) this.drop(res);
  }

  private drop(res: Response): void {
    this.held.delete(res);
    res.socket?.destroy();
  }
}

/** Answers (or withholds the answer to) a call that a fault struck. */
export function sendFault(res: Response, fault: Fault, counters: CallCounters, held: HeldRequests, tenantId?: string): void {
  switch (fault.kind) {
    case 500:
    case 503:
      sendProblem(res, fault.kind, fault.kind === 503 ? 'The Xero API is temporarily unavailable' : 'An unexpected error occurred');
      return;
    case '429-minute':
      sendTooManyRequests(res, 'minute', fault.retryAfterSeconds);
      return;
    case '429-day':
      sendTooManyRequests(res, 'day', fault.retryAfterSeconds);
      return;
    case 'timeout':
      counters.answered('timeout', tenantId);
      held.hold(res);
      return;
    case 'drop':
    case 'lose-token-response':
      counters.answered('dropped', tenantId);
      res.socket?.destroy();
      return;
    case 'empty':
      // Answered by the route itself, which knows the shape of its empty answer.
      throw new Error("an 'empty' fault is answered by its route");
  }
}
