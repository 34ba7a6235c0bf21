/** Per-tenant call counts. `Users` counts `GET /Users`, `User` counts `GET /Users/{UserID}`. */
export interface TenantCounts {
  Users: number;
  User: number;
  Organisation: number;
  /** 429 answers sent for this tenant (real limits and injected faults alike). */
  status429: number;
}

export interface SandboxCounters {
  /** Every call to Xero's endpoints (identity, connections, accounting); the admin API is not counted. */
  total: number;
  /** Keyed `METHOD /path` with ids as placeholders, e.g. `GET /api.xro/2.0/Users/{UserID}`. */
  byEndpoint: Record<string, number>;
  byTenant: Record<string, TenantCounts>;
  /** Keyed by status code; `dropped` and `timeout` for answers never sent. */
  byStatus: Record<string, number>;
  /** 429 answers sent, all endpoints. */
  status429: number;
  /** Token endpoint calls by grant type, and how many answered an error. */
  token: { client_credentials: number; authorization_code: number; refresh_token: number; other: number; errors: number };
}

export type TenantEndpoint = 'Users' | 'User' | 'Organisation';

export class CallCounters {
  private state: SandboxCounters = CallCounters.empty();

  static empty(): SandboxCounters {
    return {
      total: 0,
      byEndpoint: {},
      byTenant: {},
      byStatus: {},
      status429: 0,
      token: { client_credentials: 0, authorization_code: 0, refresh_token: 0, other: 0, errors: 0 },
    };
  }

  call(endpoint: string): void {
    this.state.total += 1;
    this.state.byEndpoint[endpoint] = (this.state.byEndpoint[endpoint] ?? 0) + 1;
  }

  tenantCall(tenantId: string, endpoint: TenantEndpoint): void {
    this.tenant(tenantId)[endpoint] += 1;
  }

  answered(status: number | 'dropped' | 'timeout', tenantId?: string): void {
    const key = String(status);
    this.state.byStatus[key] = (this.state.byStatus[key] ?? 0) + 1;
    if (status === 429) {
      this.state.status429 += 1;
      if (tenantId) this.tenant(tenantId).status429 += 1;
    }
  }

  tokenCall(grantType: string, ok: boolean): void {
    const token = this.state.token;
    if (grantType === 'client_credentials' || grantType === 'authorization_code' || grantType === 'refresh_token') token[grantType] += 1;
    else token.other += 1;
    if (!ok) token.errors += 1;
  }

  snapshot(): SandboxCounters {
    return structuredClone(this.state);
  }

  reset(): void {
    this.state = CallCounters.empty();
  }

  private tenant(tenantId: string): TenantCounts {
    const key = tenantId.toLowerCase();
    let counts = this.state.byTenant[key];
    if (!counts) {
      counts = { Users: 0, User: 0, Organisation: 0, status429: 0 };
      this.state.byTenant[key] = counts;
    }
    return counts;
  }
}
