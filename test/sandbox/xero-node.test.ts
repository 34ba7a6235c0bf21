import { AccountingApi, Organisation, User } from 'xero-node';
import { createSandbox } from '../../src/sandbox';
import { webToken } from './support';

/** xero-node rejects with a JSON string, not an Error (docs/xero.md, "xero-node 20.0.0"). */
interface SdkRejection {
  response: { statusCode: number; body: unknown; headers: Record<string, string> };
}

describe('the real xero-node SDK against the sandbox', () => {
  const sandbox = createSandbox();
  const [nz, uk] = sandbox.data.organisations();
  let server: { url: string; close(): Promise<void> };
  let api: AccountingApi;

  beforeAll(async () => {
    server = await sandbox.listen();
    api = new AccountingApi();
    api.basePath = `${server.url}/api.xro/2.0`;
    api.accessToken = await webToken(sandbox, [nz!.organisationId, uk!.organisationId]);
  });
  afterAll(() => server.close());

  it('getUsers parses users into xero-node models with Dates and enum roles', async () => {
    const { response, body } = await api.getUsers(uk!.organisationId);
    expect(response.status).toBe(200);
    const users = body.users!;
    expect(users).toHaveLength(6);
    const priya = users.find((u) => u.firstName === 'Priya')!;
    const expected = sandbox.data.users(uk!.organisationId).find((u) => u.firstName === 'Priya')!;
    expect(priya.userID).toBe(expected.userId);
    expect(priya.emailAddress).toBe('priya.shah@harbourhale.co.uk');
    expect(priya.isSubscriber).toBe(true);
    expect(priya.updatedDateUTC).toBeInstanceOf(Date);
    expect(priya.updatedDateUTC!.getTime()).toBe(expected.updatedAt);
    expect(priya.organisationRole).toBe(User.OrganisationRoleEnum.FINANCIALADVISER);
    expect(users.map((u) => u.organisationRole)).toEqual([
      User.OrganisationRoleEnum.FINANCIALADVISER,
      User.OrganisationRoleEnum.STANDARD,
      User.OrganisationRoleEnum.STANDARD,
      User.OrganisationRoleEnum.MANAGEDCLIENT,
      User.OrganisationRoleEnum.CASHBOOKCLIENT,
      User.OrganisationRoleEnum.REMOVED,
    ]);
  });

  it('getUsers passes If-Modified-Since, where and order through', async () => {
    const standard = await api.getUsers(uk!.organisationId, undefined, 'OrganisationRole=="STANDARD"', 'LastName DESC');
    expect(standard.body.users!.map((u) => u.lastName)).toEqual(['Ó Súilleabháin', 'Bennett']);
    const latest = Math.max(...sandbox.data.users(uk!.organisationId).map((u) => u.updatedAt));
    const none = await api.getUsers(uk!.organisationId, new Date(latest));
    expect(none.body.users).toEqual([]);
  });

  it('getUser answers one user', async () => {
    const zoe = sandbox.data.users(uk!.organisationId).find((u) => u.firstName === 'Zoë')!;
    const { body } = await api.getUser(uk!.organisationId, zoe.userId);
    expect(body.users!.map((u) => [u.firstName, u.lastName, u.organisationRole])).toEqual([['Zoë', 'Ó Súilleabháin', User.OrganisationRoleEnum.STANDARD]]);
  });

  it('getOrganisations parses the organisation, Class into _class', async () => {
    const { body } = await api.getOrganisations(nz!.organisationId);
    const org = body.organisations![0]!;
    expect(org.organisationID).toBe(nz!.organisationId);
    expect(org.name).toBe('Kōwhai Joinery');
    expect(org._class).toBe(Organisation.ClassEnum.STANDARD);
    expect(org.edition).toBe(Organisation.EditionEnum.BUSINESS);
    expect(org.organisationType).toBe(Organisation.OrganisationTypeEnum.COMPANY);
    expect(org.version).toBe(Organisation.VersionEnum.NZ);
    expect(org.createdDateUTC).toBeInstanceOf(Date);
    expect(org.createdDateUTC!.toISOString()).toBe('2016-03-14T22:05:11.000Z');
  });

  it('a 429 rejects with a JSON string carrying statusCode 429 and the retry-after header', async () => {
    sandbox.data.scriptFault({ path: 'Users', tenantId: nz!.organisationId, count: 1, kind: '429-minute', retryAfterSeconds: 42 });
    const rejection: unknown = await api.getUsers(nz!.organisationId).then(
      () => 'resolved',
      (error: unknown) => error,
    );
    expect(typeof rejection).toBe('string');
    const parsed = JSON.parse(rejection as string) as SdkRejection;
    expect(parsed.response.statusCode).toBe(429);
    expect(parsed.response.headers['retry-after']).toBe('42');
    expect(parsed.response.headers['x-rate-limit-problem']).toBe('minute');
  });

  it('a 403 for an unconnected tenant rejects with statusCode 403', async () => {
    const au = sandbox.data.organisations()[2]!;
    const rejection = await api.getOrganisations(au.organisationId).catch((error: unknown) => error);
    expect(JSON.parse(rejection as string).response.statusCode).toBe(403);
  });
});
