import type { Clock } from './options';
import { isOrganisationRole, type OrganisationRole, type SandboxData, type SandboxOrganisation, type SandboxUser } from './data';
import { uuidV5 } from './ids';

/** A mistake in an admin call (unknown organisation, bad role, …): answered 4xx by the admin API, thrown by `data`. */
export class SandboxAdminError extends Error {
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'SandboxAdminError';
  }
}

export interface NewUser {
  email: string;
  firstName: string;
  lastName: string;
  role: OrganisationRole;
  isSubscriber?: boolean;
}

export type NewOrganisation = Partial<Omit<SandboxOrganisation, 'users' | 'organisationId'>> & {
  name: string;
  organisationId?: string;
};

/** The organisations and users the accounting API serves; every mutation stamps `UpdatedDateUTC` from the clock. */
export class SandboxStore {
  private readonly byId = new Map<string, SandboxOrganisation>();
  private added = 0;

  constructor(
    data: SandboxData,
    private readonly clock: Clock,
  ) {
    for (const org of data.organisations) this.byId.set(org.organisationId.toLowerCase(), org);
  }

  organisations(): SandboxOrganisation[] {
    return [...this.byId.values()];
  }

  /** Tenant ids are GUIDs: compared without regard to letter case. */
  find(organisationId: string): SandboxOrganisation | undefined {
    return this.byId.get(organisationId.toLowerCase());
  }

  get(organisationId: string): SandboxOrganisation {
    const org = this.find(organisationId);
    if (!org) throw new SandboxAdminError(404, `no organisation ${organisationId}`);
    return org;
  }

  user(organisationId: string, userId: string): SandboxUser {
    const user = this.get(organisationId).users.find((u) => u.userId.toLowerCase() === userId.toLowerCase());
    if (!user) throw new SandboxAdminError(404, `no user ${userId} in organisation ${organisationId}`);
    return user;
  }

  addUser(organisationId: string, input: NewUser): SandboxUser {
    const org = this.get(organisationId);
    if (!isOrganisationRole(input.role)) throw new SandboxAdminError(400, `unknown OrganisationRole ${String(input.role)}`);
    if (org.edition !== 'PARTNER' && (input.role === 'MANAGEDCLIENT' || input.role === 'CASHBOOKCLIENT')) {
      throw new SandboxAdminError(400, `${input.role} exists only in Partner-edition organisations`);
    }
    if (org.users.some((u) => u.email.toLowerCase() === input.email.toLowerCase() && u.role !== 'REMOVED')) {
      throw new SandboxAdminError(409, `${input.email} is already a user of ${org.name}`);
    }
    const user: SandboxUser = {
      userId: uuidV5(`added/user/${this.added++}/${org.organisationId}/${input.email}/${this.clock.now()}`),
      email: input.email,
      firstName: input.firstName,
      lastName: input.lastName,
      role: input.role,
      isSubscriber: input.isSubscriber ?? false,
      updatedAt: this.clock.now(),
    };
    org.users.push(user);
    return { ...user };
  }

  /** Takes the user out entirely, as when someone is deleted from an organisation (If-Modified-Since cannot see it). */
  removeUser(organisationId: string, userId: string): void {
    const org = this.get(organisationId);
    const user = this.user(organisationId, userId);
    org.users = org.users.filter((u) => u !== user);
  }

  setRole(organisationId: string, userId: string, role: OrganisationRole): SandboxUser {
    if (!isOrganisationRole(role)) throw new SandboxAdminError(400, `unknown OrganisationRole ${String(role)}`);
    const org = this.get(organisationId);
    if (org.edition !== 'PARTNER' && (role === 'MANAGEDCLIENT' || role === 'CASHBOOKCLIENT')) {
      throw new SandboxAdminError(400, `${role} exists only in Partner-edition organisations`);
    }
    const user = this.user(organisationId, userId);
    user.role = role;
    user.updatedAt = this.clock.now();
    return { ...user };
  }

  addOrganisation(input: NewOrganisation): SandboxOrganisation {
    const organisationId = input.organisationId ?? uuidV5(`added/organisation/${this.added++}/${input.name}/${this.clock.now()}`);
    if (this.find(organisationId)) throw new SandboxAdminError(409, `organisation ${organisationId} exists already`);
    const edition = input.edition ?? 'BUSINESS';
    const org: SandboxOrganisation = {
      organisationId,
      name: input.name,
      legalName: input.legalName ?? input.name,
      shortCode: input.shortCode ?? `!${organisationId.slice(0, 5)}`,
      organisationType: input.organisationType ?? (edition === 'PARTNER' ? 'ACCOUNTING_PRACTICE' : 'COMPANY'),
      countryCode: input.countryCode ?? 'NZ',
      baseCurrency: input.baseCurrency ?? 'NZD',
      version: input.version ?? 'NZ',
      edition,
      class: input.class ?? 'STANDARD',
      status: input.status ?? 'ACTIVE',
      isDemoCompany: input.isDemoCompany ?? false,
      timezone: input.timezone ?? 'NEWZEALANDSTANDARDTIME',
      createdAt: input.createdAt ?? this.clock.now(),
      tenantType: input.tenantType ?? (edition === 'PARTNER' ? 'PRACTICE' : 'ORGANISATION'),
      users: [],
    };
    this.byId.set(organisationId.toLowerCase(), org);
    return { ...org, users: [] };
  }
}
