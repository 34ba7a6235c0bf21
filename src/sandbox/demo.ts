import type { OrganisationRole, SandboxData, SandboxOrganisation, SandboxUser } from './data';
import { uuidV5 } from './ids';

/**
 * The hand-written demo data set: three organisations of different kinds and a dozen people who read well in a
 * demo. Edge cases on purpose: Priya Shah advises all three organisations and her e-mail is stored in a different
 * letter case in the NZ one; Daniel Okafor was REMOVED; names with macrons, diacritics and an apostrophe.
 */

const day = 86_400_000;
const EPOCH = Date.UTC(2025, 0, 6, 9, 30, 0);

interface Membership {
  person: string;
  email: string;
  firstName: string;
  lastName: string;
  role: OrganisationRole;
  isSubscriber?: boolean;
  /** Days after 6 January 2025 the membership last changed. */
  changed: number;
}

function organisation(
  key: string,
  fields: Omit<SandboxOrganisation, 'organisationId' | 'users'>,
  members: Membership[],
): SandboxOrganisation {
  const organisationId = uuidV5(`demo/organisation/${key}`);
  const users: SandboxUser[] = members.map((m) => ({
    userId: uuidV5(`demo/user/${key}/${m.person}`),
    email: m.email,
    firstName: m.firstName,
    lastName: m.lastName,
    role: m.role,
    isSubscriber: m.isSubscriber ?? false,
    updatedAt: EPOCH + m.changed * day + m.person.length * 61_000,
  }));
  return { organisationId, ...fields, users };
}

const priya = { person: 'priya', firstName: 'Priya', lastName: 'Shah', email: 'priya.shah@harbourhale.co.uk' };
const oliver = { person: 'oliver', firstName: 'Oliver', lastName: 'Bennett', email: 'oliver.bennett@harbourhale.co.uk' };
const soren = { person: 'soren', firstName: 'Søren', lastName: 'Kristensen', email: 'soren@ledgerwise.dk' };

export function demoData(): SandboxData {
  return {
    organisations: [
      organisation(
        'kowhai',
        {
          name: 'Kōwhai Joinery',
          legalName: 'Kōwhai Joinery Limited',
          shortCode: '!kWh7p',
          organisationType: 'COMPANY',
          countryCode: 'NZ',
          baseCurrency: 'NZD',
          version: 'NZ',
          edition: 'BUSINESS',
          class: 'STANDARD',
          status: 'ACTIVE',
          isDemoCompany: false,
          timezone: 'NEWZEALANDSTANDARDTIME',
          createdAt: Date.UTC(2016, 2, 14, 22, 5, 11),
          tenantType: 'ORGANISATION',
        },
        [
          { person: 'aroha', firstName: 'Aroha', lastName: 'Ngātai', email: 'aroha@kowhaijoinery.co.nz', role: 'STANDARD', isSubscriber: true, changed: 3 },
          { person: 'tama', firstName: 'Tama', lastName: 'Wiremu', email: 'tama@kowhaijoinery.co.nz', role: 'INVOICEONLY', changed: 10 },
          { person: 'hemi', firstName: 'Hemi', lastName: 'Parata', email: 'hemi@kowhaijoinery.co.nz', role: 'READONLY', changed: 12 },
          { ...priya, email: 'Priya.Shah@HarbourHale.co.uk', role: 'FINANCIALADVISER', changed: 20 },
          { ...soren, role: 'STANDARD', changed: 31 },
        ],
      ),
      organisation(
        'harbourhale',
        {
          name: 'Harbour & Hale Advisory',
          legalName: 'Harbour & Hale Advisory LLP',
          shortCode: '!hH4xq',
          organisationType: 'ACCOUNTING_PRACTICE',
          countryCode: 'GB',
          baseCurrency: 'GBP',
          version: 'UK',
          edition: 'PARTNER',
          class: 'PREMIUM',
          status: 'ACTIVE',
          isDemoCompany: false,
          timezone: 'GMTSTANDARDTIME',
          createdAt: Date.UTC(2014, 8, 1, 8, 0, 0),
          tenantType: 'PRACTICE',
        },
        [
          { ...priya, role: 'FINANCIALADVISER', isSubscriber: true, changed: 1 },
          { ...oliver, role: 'STANDARD', changed: 4 },
          { person: 'zoe', firstName: 'Zoë', lastName: 'Ó Súilleabháin', email: 'zoe.osullivan@harbourhale.co.uk', role: 'STANDARD', changed: 8 },
          { person: 'gareth', firstName: 'Gareth', lastName: 'Jones', email: 'gareth@jonesplumbing.co.uk', role: 'MANAGEDCLIENT', changed: 15 },
          { person: 'fiona', firstName: 'Fiona', lastName: 'MacLeod', email: 'fiona@macleodcrafts.co.uk', role: 'CASHBOOKCLIENT', changed: 16 },
          { person: 'daniel', firstName: 'Daniel', lastName: 'Okafor', email: 'daniel.okafor@harbourhale.co.uk', role: 'REMOVED', changed: 40 },
        ],
      ),
      organisation(
        'scar',
        {
          name: 'Southern Cross Animal Rescue',
          legalName: 'Southern Cross Animal Rescue Incorporated',
          shortCode: '!sC9rz',
          organisationType: 'CHARITY',
          countryCode: 'AU',
          baseCurrency: 'AUD',
          version: 'AU',
          edition: 'BUSINESS',
          class: 'STARTER',
          status: 'ACTIVE',
          isDemoCompany: false,
          timezone: 'AUSEASTERNSTANDARDTIME',
          createdAt: Date.UTC(2019, 10, 23, 1, 42, 37),
          tenantType: 'ORGANISATION',
        },
        [
          { person: 'charlotte', firstName: 'Charlotte', lastName: 'Nguyen', email: 'charlotte@scar.org.au', role: 'STANDARD', isSubscriber: true, changed: 2 },
          { person: 'jack', firstName: 'Jack', lastName: "O'Brien", email: 'jack.obrien@scar.org.au', role: 'INVOICEONLY', changed: 9 },
          { person: 'mia', firstName: 'Mia', lastName: 'Rossi', email: 'mia@scar.org.au', role: 'READONLY', changed: 13 },
          { ...priya, role: 'FINANCIALADVISER', changed: 21 },
          { ...oliver, role: 'READONLY', changed: 22 },
          { ...soren, role: 'STANDARD', changed: 33 },
        ],
      ),
    ],
  };
}
