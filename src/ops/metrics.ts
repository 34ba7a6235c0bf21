/**
 * Prometheus metrics. One registry per server (not prom-client's global one) so tests and several servers in
 * one process do not share counters. Gauges that describe the directory are computed at scrape time from
 * `Directory.status()` and the current snapshot, so they can never drift from what the SCIM side serves.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CREDENTIAL_STATES, type Directory, type DirectoryStatus, SUSPICION_REASONS, type SuspicionReason } from '../directory/model';
import type { ReplicationStatus } from '../directory/replication';
import { liveHeap, observeCollections } from './live-heap';
import { RequestTallies } from './request-tallies';

export interface MetricsOptions {
  directory: Directory;
  clock?: { now(): number };
  /** Process metrics (CPU, memory, event loop); off in tests that build many registries. */
  processMetrics?: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  /** `xero_scim_http_requests_total` and `xero_scim_http_request_duration_seconds`, observed on every request. */
  private readonly requests: RequestTallies;
  private readonly syncs: Counter<'outcome'>;
  private readonly syncDuration: Histogram<'outcome'>;
  private readonly xeroCalls: Counter<'endpoint' | 'status'>;
  private readonly suspicions: Counter<'reason'>;
  private readonly directory: Directory;
  /** The directory's status for the scrape under way: every gauge reads this one, computed once per scrape. */
  private scrapeStatus: DirectoryStatus | undefined;

  constructor(options: MetricsOptions) {
    const { directory } = options;
    this.directory = directory;
    const status = (): DirectoryStatus => this.scrapeStatus ?? directory.status();
    const ageSeconds = (iso: string): number => Math.max(0, (now() - Date.parse(iso)) / 1000);
    const now = options.clock ? () => options.clock!.now() : () => Date.now();
    const registers = [this.registry];
    if (options.processMetrics) {
      collectDefaultMetrics({ register: this.registry, prefix: 'xero_scim_' });
      // prom-client's histogram of collections counts only one collection of each batch Node reports (see
      // `live-heap.ts`): the same metric, counting each. Observing starts now, so the first scrape after a full
      // collection also has `xero_scim_heap_live_bytes`.
      this.registry.removeSingleMetric('xero_scim_nodejs_gc_duration_seconds');
      observeCollections(
        new Histogram({
          name: 'xero_scim_nodejs_gc_duration_seconds',
          help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
          labelNames: ['kind'],
          buckets: [0.001, 0.01, 0.1, 1, 2, 5],
          registers,
        }),
      );
      new Gauge({
        name: 'xero_scim_heap_live_bytes',
        help: 'JavaScript heap in use just after the last full garbage collection: what the process holds, without the garbage RSS also counts. A climb across days is a leak.',
        registers,
        collect() {
          const { bytes } = liveHeap();
          this.reset();
          if (bytes !== undefined) this.set(bytes);
        },
      });
    }

    this.requests = new RequestTallies({
      counterName: 'xero_scim_http_requests_total',
      counterHelp: 'HTTP requests answered, by route template and status.',
      histogramName: 'xero_scim_http_request_duration_seconds',
      histogramHelp: 'Time to answer an HTTP request, by route template.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    });
    this.requests.registerOn(this.registry);
    this.syncs = new Counter({
      name: 'xero_scim_syncs_total',
      help: 'Syncs from Xero, by outcome (ok, partial, failed).',
      labelNames: ['outcome'],
      registers,
    });
    this.syncDuration = new Histogram({
      name: 'xero_scim_sync_duration_seconds',
      help: 'Wall time of a sync from Xero.',
      labelNames: ['outcome'],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.xeroCalls = new Counter({
      name: 'xero_scim_xero_calls_total',
      help: 'Calls made to Xero, by endpoint and HTTP status (0 = no response).',
      labelNames: ['endpoint', 'status'],
      registers,
    });

    this.suspicions = new Counter({
      name: 'xero_scim_suspicions_total',
      help: "Removals Xero's answers asked for that the guard held back, by reason (disconnected, suspect-disconnect, suspect-empty), counted when raised.",
      labelNames: ['reason'],
      registers,
    });
    for (const reason of SUSPICION_REASONS) this.suspicions.inc({ reason }, 0);

    const snapshotGauge = (name: string, help: string, read: () => number | undefined) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const value = read();
          this.reset();
          if (value !== undefined) this.set(value);
        },
      });
    snapshotGauge('xero_scim_users', 'People in the current snapshot.', () => directory.current()?.people.length);
    snapshotGauge('xero_scim_groups', 'Organisations in the current snapshot.', () => directory.current()?.organisations.length);
    snapshotGauge('xero_scim_roles', 'Roles in the current snapshot.', () => directory.current()?.roles.length);
    snapshotGauge('xero_scim_snapshot_age_seconds', 'Age of the snapshot being served.', () => {
      const snapshot = directory.current();
      return snapshot ? ageSeconds(snapshot.builtAt) : undefined;
    });
    snapshotGauge('xero_scim_ready', '1 when a snapshot with at least one organisation is held and served (readiness); Xero health has its own gauges.', () =>
      status().ready ? 1 : 0,
    );
    snapshotGauge('xero_scim_last_successful_sync_age_seconds', 'Seconds since the last sync that was not a failure (ok or partial).', () => {
      const at = status().lastSuccessfulSyncAt;
      return at ? ageSeconds(at) : undefined;
    });
    snapshotGauge('xero_scim_state_persisted', '1 when the last write to STATE_DIR succeeded (with REDIS_URL: the last publish to Redis), 0 when it failed.', () => {
      const persistence = status().persistence;
      return persistence ? (persistence.ok ? 1 : 0) : undefined;
    });
    // Replicas (REDIS_URL), labelled with this replica's id: absent in a single process.
    const replicaGauge = (name: string, help: string, read: (r: ReplicationStatus) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['replica'],
        registers,
        collect() {
          const replication = status().replication;
          const value = replication ? read(replication) : undefined;
          this.reset();
          if (replication && value !== undefined) this.set({ replica: replication.replicaId }, value);
        },
      });
    replicaGauge('xero_scim_redis_up', '1 while the shared Redis answers, 0 while it is down or not reached yet (replicas keep serving what they hold).', (r) =>
      r.store.state === 'up' ? 1 : 0,
    );
    replicaGauge('xero_scim_leader', '1 on the replica that holds the lease (syncs from Xero and publishes), 0 on the others.', (r) => (r.role === 'leader' ? 1 : 0));
    replicaGauge('xero_scim_published_sequence', 'The newest published directory state this replica holds (equal on every replica once they agree).', (r) => r.sequence);
    new Gauge({
      name: 'xero_scim_credentials',
      help: 'Xero credentials by state, 1 for the current one (valid, unknown, invalid_grant, invalid_client, unauthorized, not_configured).',
      labelNames: ['state'],
      registers,
      collect() {
        const current = status().credentials?.state;
        this.reset();
        if (current) for (const state of CREDENTIAL_STATES) this.set({ state }, state === current ? 1 : 0);
      },
    });
    new Gauge({
      name: 'xero_scim_tenant_current',
      help: 'Per organisation: 1 when its last fetch succeeded, 0 when stale or missing.',
      labelNames: ['tenant'],
      registers,
      collect() {
        this.reset();
        for (const t of status().tenants) this.set({ tenant: t.organisationId }, t.state === 'current' ? 1 : 0);
      },
    });

    new Gauge({
      name: 'xero_scim_tenants',
      help: 'Organisations by sync state (current, stale, missing).',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = { current: 0, stale: 0, missing: 0 };
        for (const t of status().tenants) counts[t.state] += 1;
        this.reset();
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'xero_scim_suspect_organisations',
      help: "Organisations serving their last good data because Xero's answer would remove them, by reason.",
      labelNames: ['reason'],
      registers,
      collect() {
        const counts = new Map<string, number>(SUSPICION_REASONS.map((r) => [r, 0]));
        for (const t of status().tenants) if (t.suspicion) counts.set(t.suspicion.reason, counts.get(t.suspicion.reason)! + 1);
        this.reset();
        for (const [reason, n] of counts) this.set({ reason }, n);
      },
    });
    new Gauge({
      name: 'xero_scim_suspicion_age_seconds',
      help: 'Seconds since Xero first answered the removal each suspect organisation is held back from.',
      labelNames: ['tenant', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const t of status().tenants) {
          if (t.suspicion) this.set({ tenant: t.organisationId, reason: t.suspicion.reason }, ageSeconds(t.suspicion.since));
        }
      },
    });
    new Gauge({
      name: 'xero_scim_tenant_last_success_age_seconds',
      help: 'Seconds since each organisation was last fetched successfully.',
      labelNames: ['tenant'],
      registers,
      collect() {
        this.reset();
        for (const t of status().tenants) {
          if (t.lastSuccessAt) this.set({ tenant: t.organisationId }, ageSeconds(t.lastSuccessAt));
        }
      },
    });
    new Gauge({
      name: 'xero_scim_rate_budget_remaining',
      help: "Xero calls remaining per organisation, as Xero's last response headers reported (window = minute|day).",
      labelNames: ['tenant', 'window'],
      registers,
      collect() {
        this.reset();
        for (const t of status().tenants) {
          const budget = t.rateBudget;
          if (budget?.minuteRemaining !== undefined) this.set({ tenant: t.organisationId, window: 'minute' }, budget.minuteRemaining);
          if (budget?.dayRemaining !== undefined) this.set({ tenant: t.organisationId, window: 'day' }, budget.dayRemaining);
        }
      },
    });
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.observe(method, route, status, seconds);
  }

  observeSync(outcome: 'ok' | 'partial' | 'failed', seconds: number): void {
    this.syncs.inc({ outcome });
    this.syncDuration.observe({ outcome }, seconds);
  }

  /** Suspicions a sync raised (`SyncReport.suspicionsRaised`). */
  observeSuspicions(raised: readonly SuspicionReason[]): void {
    for (const reason of raised) this.suspicions.inc({ reason });
  }

  observeXeroCall(endpoint: string, status: number): void {
    this.xeroCalls.inc({ endpoint, status: String(status) });
  }

  async render(): Promise<string> {
    this.scrapeStatus = this.directory.status();
    try {
      return await this.registry.metrics();
    } finally {
      this.scrapeStatus = undefined;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
