import { ScimError } from '../../../src/scim/errors';

/** Runs `action` and returns the ScimError it threw, failing unless it is a 400 invalidFilter (RFC 7644 §3.12). */
export function invalidFilterFrom(action: () => unknown): ScimError {
  let thrown: unknown;
  try {
    action();
  } catch (error) {
    thrown = error;
  }
  if (!(thrown instanceof ScimError)) {
    throw new Error(`expected a ScimError, got ${thrown === undefined ? 'no error' : String(thrown)}`);
  }
  expect({ status: thrown.status, scimType: thrown.scimType }).toEqual({ status: 400, scimType: 'invalidFilter' });
  return thrown;
}
