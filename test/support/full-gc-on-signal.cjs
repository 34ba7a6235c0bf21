/**
 * Preloaded into a server a test starts (`node --expose-gc --require <this file> …`): SIGUSR2 runs a full garbage
 * collection. A test that reads the heap a full collection leaves (`xero_scim_heap_live_bytes`) can then have one when
 * it needs it, instead of waiting for V8, which runs one only as often as the server's garbage asks.
 */
process.on('SIGUSR2', () => globalThis.gc());
