/**
 * The request tallies render exactly what prom-client's own Counter and Histogram render for the same requests,
 * and reset with their registry.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { RequestTallies } from '../../src/ops/request-tallies';

const OPTIONS = {
  counterName: 'test_http_requests_total',
  counterHelp: 'HTTP requests answered.',
  histogramName: 'test_http_request_duration_seconds',
  histogramHelp: 'Time to answer.',
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
};

function both() {
  const reference = new Registry();
  const counter = new Counter({ name: OPTIONS.counterName, help: OPTIONS.counterHelp, labelNames: ['method', 'route', 'status'], registers: [reference] });
  const histogram = new Histogram({
    name: OPTIONS.histogramName,
    help: OPTIONS.histogramHelp,
    labelNames: ['method', 'route'],
    buckets: OPTIONS.buckets,
    registers: [reference],
  });
  const registry = new Registry();
  const tallies = new RequestTallies(OPTIONS);
  tallies.registerOn(registry);
  const observe = (method: string, route: string, status: number, seconds: number) => {
    counter.inc({ method, route, status: String(status) });
    histogram.observe({ method, route }, seconds);
    tallies.observe(method, route, status, seconds);
  };
  return { reference, registry, observe };
}

describe('request tallies', () => {
  it('render as prom-client renders the same observations', async () => {
    const { reference, registry, observe } = both();
    // Every bucket's edge, values between, above the last bound, several routes, methods and statuses.
    const durations = [0, 0.0005, 0.0007, 0.001, 0.003, 0.005, 0.02, 0.05, 0.2, 0.5, 0.9, 1, 2.5, 3, 60];
    durations.forEach((seconds, i) => {
      observe('GET', '/scim/v2/Users/:id', i % 3 === 0 ? 404 : 200, seconds);
      observe(i % 2 ? 'HEAD' : 'GET', '/scim/v2/Users', 200, seconds / 2);
      if (i % 4 === 0) observe('POST', 'unmatched', 401, seconds);
    });
    expect(await registry.metrics()).toBe(await reference.metrics());
  });

  it('render nothing before the first request, and start again when the registry resets', async () => {
    const { reference, registry, observe } = both();
    expect(await registry.metrics()).toBe(await reference.metrics());
    observe('GET', '/healthz', 200, 0.001);
    registry.resetMetrics();
    reference.resetMetrics();
    observe('GET', '/readyz', 503, 0.002);
    expect(await registry.metrics()).toBe(await reference.metrics());
  });
});
