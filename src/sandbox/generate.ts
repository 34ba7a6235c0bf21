import type { OrganisationRole, SandboxData, SandboxOrganisation, SandboxUser } from './data';
import { mixedUuid } from './ids';
import { pick, seededRandom, seedToUint32 } from './random';

/** How `generateData` shapes a data set. Every share is a fraction in [0, 1]. */
export interface GenerateOptions {
  /** Same seed, same options → the same data, ids included. Default 1. */
  seed?: number | string;
  /** Default 10. */
  organisations?: number;
  /** Memberships (Xero users) per organisation. Default 20. */
  usersPerOrganisation?: number;
  /** People who belong to 2–4 organisations each. Default: a tenth of the memberships divided by three. */
  sharedPeople?: number;
  /** Share of organisations that are Partner-edition accounting practices (with MANAGEDCLIENT/CASHBOOKCLIENT users). Default 0.1. */
  partnerShare?: number;
  /** Share of shared people whose e-mail is stored in different letter case in one of their organisations. Default 0.25. */
  caseVariantShare?: number;
  /** Share of memberships with role REMOVED. Default 0.02. */
  removedShare?: number;
  /** Share of memberships with role UNKNOWN. Default 0.01. */
  unknownShare?: number;
  /** Share of people with non-ASCII names. Default 0.1. */
  nonAsciiShare?: number;
}

const ASCII_FIRST = ['Olivia', 'Liam', 'Emma', 'Noah', 'Ava', 'James', 'Isla', 'Jack', 'Mia', 'Leo', 'Grace', 'Ethan', 'Ruby', 'Lucas', 'Chloe', 'Henry', 'Sophie', 'Oscar', 'Amelia', 'Samuel', 'Priya', 'Wei', 'Aroha', 'Tane', 'Fatima', 'Kwame', 'Hannah', 'Daniel', 'Zara', 'Mateo'];
const ASCII_LAST = ['Smith', 'Brown', 'Wilson', 'Taylor', 'Williams', 'Jones', 'Walker', 'Thompson', 'Anderson', 'Clarke', 'Patel', 'Singh', 'Chen', 'Nguyen', 'Kim', 'Murphy', "O'Connor", 'MacDonald', 'Hughes', 'Evans', 'Roberts', 'Parata', 'Tipene', 'Mensah', 'Garcia', 'Rossi', 'Muller', 'Johansson', 'Kowalski', 'Novak'];
const NON_ASCII_FIRST = ['Zoë', 'José', 'Søren', 'Łukasz', 'Anaïs', 'Björn', 'Chloé', 'Māui', 'Ngaio', 'Siân', 'Dvořák', 'Iñaki', 'Ōtautahi', 'Renée', '美玲', 'Αλέξης'];
const NON_ASCII_LAST = ['Ó Súilleabháin', 'Müller', 'Ngātai', 'Wójcik', 'Gómez', 'Åkesson', 'Lefèvre', 'Kūkahi', 'Þórsson', 'Nuñez', '王', 'Παπαδόπουλος'];
const NAME_A = ['Kauri', 'Tui', 'Harbour', 'Summit', 'Coastal', 'Redwood', 'Silver', 'Fern', 'Granite', 'Meadow', 'Pacific', 'Northern', 'Blue', 'Kōwhai', 'Wattle', 'Thistle'];
const NAME_B = ['Builders', 'Bakery', 'Design', 'Logistics', 'Dental', 'Farms', 'Studio', 'Motors', 'Trading', 'Events', 'Plumbing', 'Software', 'Cafe', 'Landscaping', 'Optometry', 'Freight'];
const TYPES = ['COMPANY', 'COMPANY', 'COMPANY', 'SOLETRADER', 'PARTNERSHIP', 'CHARITY', 'CLUBSOCIETY', 'TRUST'];
const CLASSES = ['STARTER', 'STANDARD', 'STANDARD', 'PREMIUM', 'ULTRA'];
const COUNTRIES = [
  { countryCode: 'NZ', version: 'NZ', baseCurrency: 'NZD', timezone: 'NEWZEALANDSTANDARDTIME', legal: 'Limited' },
  { countryCode: 'AU', version: 'AU', baseCurrency: 'AUD', timezone: 'AUSEASTERNSTANDARDTIME', legal: 'Pty Ltd' },
  { countryCode: 'GB', version: 'UK', baseCurrency: 'GBP', timezone: 'GMTSTANDARDTIME', legal: 'Ltd' },
  { countryCode: 'US', version: 'US', baseCurrency: 'USD', timezone: 'EASTERNSTANDARDTIME', legal: 'LLC' },
  { countryCode: 'ZA', version: 'GLOBAL', baseCurrency: 'ZAR', timezone: 'SOUTHAFRICASTANDARDTIME', legal: '(Pty) Ltd' },
];
const BUSINESS_ROLES: readonly OrganisationRole[] = ['STANDARD', 'STANDARD', 'STANDARD', 'READONLY', 'READONLY', 'INVOICEONLY', 'FINANCIALADVISER'];
const PARTNER_ROLES: readonly OrganisationRole[] = ['STANDARD', 'STANDARD', 'FINANCIALADVISER', 'READONLY', 'MANAGEDCLIENT', 'MANAGEDCLIENT', 'CASHBOOKCLIENT'];
const SHORT_CODE = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

const CREATED_FROM = Date.UTC(2012, 0, 1);
const CREATED_TO = Date.UTC(2024, 11, 31);
const UPDATED_FROM = Date.UTC(2020, 0, 1);
const UPDATED_TO = Date.UTC(2025, 5, 30);

interface Person {
  index: number;
  firstName: string;
  lastName: string;
  email: string;
  /** The organisation (index) where this person's e-mail is stored in different letter case, if any. */
  caseVariantIn?: number;
}

export function generateData(options: GenerateOptions = {}): SandboxData {
  const seed = options.seed ?? 1;
  const orgCount = wholeNumber('organisations', options.organisations ?? 10);
  const perOrg = wholeNumber('usersPerOrganisation', options.usersPerOrganisation ?? 20);
  const memberships = orgCount * perOrg;
  const sharedCount = wholeNumber('sharedPeople', options.sharedPeople ?? Math.max(orgCount >= 2 && perOrg >= 1 ? 1 : 0, Math.floor(memberships / 30)));
  const partnerShare = share('partnerShare', options.partnerShare ?? 0.1);
  const caseVariantShare = share('caseVariantShare', options.caseVariantShare ?? 0.25);
  const removedShare = share('removedShare', options.removedShare ?? 0.02);
  const unknownShare = share('unknownShare', options.unknownShare ?? 0.01);
  const nonAsciiShare = share('nonAsciiShare', options.nonAsciiShare ?? 0.1);
  const random = seededRandom(`${seed}`);
  const seedBits = seedToUint32(`${seed}`);

  let personCount = 0;
  const newPerson = (): Person => {
    const index = personCount++;
    const nonAscii = random() < nonAsciiShare;
    const firstName = pick(random, nonAscii ? NON_ASCII_FIRST : ASCII_FIRST);
    const lastName = pick(random, nonAscii && random() < 0.5 ? NON_ASCII_LAST : ASCII_LAST);
    return { index, firstName, lastName, email: `${mailbox(firstName)}.${mailbox(lastName)}.${index}@example.com` };
  };

  // Slots: members[org] lists the people of each organisation, shared people first.
  const members: Person[][] = Array.from({ length: orgCount }, () => []);
  for (let s = 0; s < sharedCount && orgCount >= 2; s++) {
    const person = newPerson();
    const wanted = Math.min(orgCount, 2 + Math.floor(random() * 3));
    const chosen: number[] = [];
    for (let attempt = 0; chosen.length < wanted && attempt < wanted * 4; attempt++) {
      const org = Math.floor(random() * orgCount);
      if (!chosen.includes(org) && members[org]!.length < perOrg) chosen.push(org);
    }
    if (chosen.length < 2) {
      personCount--;
      break; // organisations are full of shared people already
    }
    // At least one case variant whenever there are shared people, so the edge case always exists.
    if (s === 0 || random() < caseVariantShare) person.caseVariantIn = chosen[1];
    for (const org of chosen) members[org]!.push(person);
  }
  for (const list of members) while (list.length < perOrg) list.push(newPerson());

  const organisations: SandboxOrganisation[] = members.map((people, i) => {
    const partner = isPartner(i, orgCount, partnerShare);
    const country = pick(random, COUNTRIES);
    const a = pick(random, NAME_A);
    const b = partner ? 'Accountants' : pick(random, NAME_B);
    const createdAt = CREATED_FROM + Math.floor(random() * (CREATED_TO - CREATED_FROM));
    const organisationId = mixedUuid(seedBits, 1, i);
    const name = `${a} ${b} ${i + 1}`;
    const users = people.map((person, slot): SandboxUser => {
      const roll = random();
      let role: OrganisationRole;
      if (roll < removedShare) role = 'REMOVED';
      else if (roll < removedShare + unknownShare) role = 'UNKNOWN';
      else role = pick(random, partner ? PARTNER_ROLES : BUSINESS_ROLES);
      const isSubscriber = slot === 0;
      if (isSubscriber && (role === 'REMOVED' || role === 'UNKNOWN' || role === 'MANAGEDCLIENT' || role === 'CASHBOOKCLIENT')) {
        role = 'STANDARD';
      }
      const from = Math.max(createdAt, UPDATED_FROM);
      return {
        userId: mixedUuid(seedBits, 2, i, slot),
        email: person.caseVariantIn === i ? shout(person.email) : person.email,
        firstName: person.firstName,
        lastName: person.lastName,
        role,
        isSubscriber,
        updatedAt: from + Math.floor(random() * (UPDATED_TO - from)),
      };
    });
    return {
      organisationId,
      name,
      legalName: `${a} ${b} ${i + 1} ${country.legal}`,
      shortCode: `!${Array.from({ length: 5 }, () => SHORT_CODE.charAt(Math.floor(random() * SHORT_CODE.length))).join('')}`,
      organisationType: partner ? 'ACCOUNTING_PRACTICE' : pick(random, TYPES),
      countryCode: country.countryCode,
      baseCurrency: country.baseCurrency,
      version: country.version,
      edition: partner ? 'PARTNER' : 'BUSINESS',
      class: pick(random, CLASSES),
      status: 'ACTIVE',
      isDemoCompany: false,
      timezone: country.timezone,
      createdAt,
      tenantType: partner ? 'PRACTICE' : 'ORGANISATION',
      users,
    };
  });
  guaranteeRole(organisations, 'REMOVED', removedShare);
  guaranteeRole(organisations, 'UNKNOWN', unknownShare);
  const practices = organisations.filter((org) => org.edition === 'PARTNER');
  guaranteeRole(practices, 'MANAGEDCLIENT', 1);
  guaranteeRole(practices, 'CASHBOOKCLIENT', 1);
  return { organisations };
}

/** Spreads Partner organisations evenly; with a non-zero share and two or more organisations there is always one. */
function isPartner(i: number, count: number, partnerShare: number): boolean {
  if (partnerShare <= 0) return false;
  const partners = Math.max(count >= 2 ? 1 : 0, Math.floor(count * partnerShare));
  if (partners === 0) return false;
  return Math.floor((i * partners) / count) !== Math.floor(((i + 1) * partners) / count);
}

/** Small data sets may roll no REMOVED/UNKNOWN at all; the edge case must still be there for tests to meet. */
function guaranteeRole(organisations: SandboxOrganisation[], role: OrganisationRole, rate: number): void {
  if (rate <= 0 || organisations.some((org) => org.users.some((user) => user.role === role))) return;
  const ordinary = (u: SandboxUser): boolean => !u.isSubscriber && (u.role === 'STANDARD' || u.role === 'READONLY' || u.role === 'INVOICEONLY');
  for (const org of organisations) {
    const user = org.users.slice().reverse().find(ordinary);
    if (user) {
      user.role = role;
      return;
    }
  }
}

/** An e-mail local part from a name: diacritics folded, anything else non-alphanumeric dropped. */
function mailbox(name: string): string {
  const folded = name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ø/gi, 'o')
    .replace(/ł/gi, 'l')
    .replace(/þ/gi, 'th')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
  return folded || 'user';
}

/** The same address in different letter case: `Zoe.Muller.12@EXAMPLE.com`. */
function shout(email: string): string {
  const [local = '', domain = ''] = email.split('@');
  const local2 = local
    .split('.')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('.');
  return `${local2}@${domain.toUpperCase()}`;
}

function wholeNumber(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`generateData: ${name} must be a whole number ≥ 0, got ${value}`);
  return value;
}

function share(name: string, value: number): number {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`generateData: ${name} must be between 0 and 1, got ${value}`);
  return value;
}
