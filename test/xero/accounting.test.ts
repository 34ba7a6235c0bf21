import { Organisation as XeroOrganisation, User } from 'xero-node';
import { connectionDate, mapOrganisation, mapRole, mapUser } from '../../src/xero/accounting';
import type { Connection } from '../../src/xero/identity';

const CONNECTION: Connection = {
  id: 'conn-1',
  tenantId: 'FE79F7DD-0000-4000-8000-000000000002',
  tenantType: 'ORGANISATION',
  tenantName: 'Demo Company (NZ)',
  createdDateUtc: '2019-12-07T18:46:19.5165400',
};

describe('Mapping xero-node models into the directory model', () => {
  it.each([
    [User.OrganisationRoleEnum.READONLY, 'READONLY'],
    [User.OrganisationRoleEnum.FINANCIALADVISER, 'FINANCIALADVISER'],
    [User.OrganisationRoleEnum.CASHBOOKCLIENT, 'CASHBOOKCLIENT'],
    [User.OrganisationRoleEnum.REMOVED, 'REMOVED'],
    [undefined, 'UNKNOWN'],
  ])('maps role %s to %s', (role, code) => {
    expect(mapRole(role)).toBe(code);
  });

  it('maps a role Xero adds later to UNKNOWN: still a membership, never dropped', () => {
    expect(mapRole('PAYROLLADMIN' as unknown as User.OrganisationRoleEnum)).toBe('UNKNOWN');
  });

  it('maps a user with its dates as ISO strings', () => {
    const user = Object.assign(new User(), {
      userID: '3C37EF1D-CD49-4589-9787-3C418ED8B6AC',
      emailAddress: 'Test@Email.com',
      firstName: 'Test',
      lastName: 'Xero',
      updatedDateUTC: new Date(1508523261613),
      isSubscriber: false,
      organisationRole: User.OrganisationRoleEnum.FINANCIALADVISER,
    });
    expect(mapUser(user, 'org-1')).toEqual({
      organisationId: 'org-1',
      xeroUserId: '3c37ef1d-cd49-4589-9787-3c418ed8b6ac',
      email: 'Test@Email.com',
      firstName: 'Test',
      lastName: 'Xero',
      role: 'FINANCIALADVISER',
      isSubscriber: false,
      updatedAt: '2017-10-20T18:14:21.613Z',
    });
  });

  it('refuses a user without UserID rather than inventing one', () => {
    expect(() => mapUser(new User(), 'org-1')).toThrow(expect.objectContaining({ code: 'XERO_BAD_RESPONSE' }));
  });

  it('reads /connections dates: seven fractional digits, no zone letter, UTC', () => {
    expect(connectionDate('2019-12-07T18:46:19.5165400')).toBe('2019-12-07T18:46:19.516Z');
    expect(connectionDate('2019-12-07T18:46:19Z')).toBe('2019-12-07T18:46:19.000Z');
    expect(connectionDate('garbage')).toBeUndefined();
  });

  it('maps an organisation, keyed by the tenant id, with the edition compared through the SDK enum', () => {
    const org = Object.assign(new XeroOrganisation(), {
      organisationID: 'fe79f7dd-0000-4000-8000-000000000002',
      name: 'Demo Company (NZ)',
      shortCode: '!mBdtL',
      edition: XeroOrganisation.EditionEnum.PARTNER,
      _class: XeroOrganisation.ClassEnum.PREMIUM,
      countryCode: 'NZ',
      organisationStatus: 'ACTIVE',
      isDemoCompany: true,
    });
    expect(mapOrganisation(org as XeroOrganisation, CONNECTION)).toEqual({
      id: 'fe79f7dd-0000-4000-8000-000000000002',
      name: 'Demo Company (NZ)',
      shortCode: '!mBdtL',
      countryCode: 'NZ',
      class: 'PREMIUM',
      status: 'ACTIVE',
      isDemoCompany: true,
      edition: 'PARTNER',
      createdAt: '2019-12-07T18:46:19.516Z',
      connectionId: 'conn-1',
      tenantType: 'ORGANISATION',
    });
  });

  it('falls back to the connection name and BUSINESS edition when Xero omits them', () => {
    expect(mapOrganisation(new XeroOrganisation(), CONNECTION)).toMatchObject({ name: 'Demo Company (NZ)', edition: 'BUSINESS' });
  });
});
