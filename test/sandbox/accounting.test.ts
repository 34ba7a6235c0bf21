import request from 'supertest';
import { createSandbox } from '../../src/sandbox';
import { customToken, ManualClock, UUID, webToken } from './support';

const clock = new ManualClock(Date.UTC(2026, 0, 15, 9, 0, 0));
const sandbox = createSandbox({ clock });
const [nz, uk, au] = sandbox.data.organisations();
const NOT_FOUND = "The resource you're looking for cannot be found";
let token: string;

beforeAll(async () => {
  token = await webToken(sandbox, [nz!.organisationId, uk!.organisationId]);
});

/** `tenant: null` sends no xero-tenant-id header at all. */
const get = (path: string, tenant: string | null = uk!.organisationId, bearer = token) => {
  const req = request(sandbox.app).get(path).set('Accept', 'application/json').set('Authorization', `Bearer ${bearer}`);
  return tenant === null ? req : req.set('xero-tenant-id', tenant);
};

describe('GET /api.xro/2.0/Users (docs/xero.md, "Wire format")', () => {
  it('answers every user of the organisation in Xero’s envelope with /Date(…)/ dates', async () => {
    const res = await get('/api.xro/2.0/Users');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Object.keys(res.body)).toEqual(['Id', 'Status', 'ProviderName', 'DateTimeUTC', 'Users']);
    expect(res.body.Id).toMatch(UUID);
    expect(res.body).toEqual(expect.objectContaining({ Status: 'OK', ProviderName: 'xero-scim sandbox (web app)', DateTimeUTC: `/Date(${clock.now()})/` }));
    expect(res.body.Users).toHaveLength(6);
    const priya = sandbox.data.users(uk!.organisationId).find((u) => u.firstName === 'Priya')!;
    expect(res.body.Users[0]).toEqual({
      UserID: priya.userId,
      EmailAddress: 'priya.shah@harbourhale.co.uk',
      FirstName: 'Priya',
      LastName: 'Shah',
      UpdatedDateUTC: `/Date(${priya.updatedAt}+0000)/`,
      IsSubscriber: true,
      OrganisationRole: 'FINANCIALADVISER',
    });
    expect(Object.keys(res.body.Users[0])).toEqual(['UserID', 'EmailAddress', 'FirstName', 'LastName', 'UpdatedDateUTC', 'IsSubscriber', 'OrganisationRole']);
    expect(res.body.Users.map((u: { OrganisationRole: string }) => u.OrganisationRole)).toEqual(['FINANCIALADVISER', 'STANDARD', 'STANDARD', 'MANAGEDCLIENT', 'CASHBOOKCLIENT', 'REMOVED']);
  });

  it.each([
    ['IsSubscriber==true', ['Priya']],
    ['OrganisationRole=="STANDARD"', ['Oliver', 'Zoë']],
    ['OrganisationRole=="REMOVED"', ['Daniel']],
    ['IsSubscriber==false && OrganisationRole=="MANAGEDCLIENT"', ['Gareth']],
    ['EmailAddress=="ZOE.OSULLIVAN@harbourhale.co.uk"', ['Zoë']],
  ])('filters with where=%s', async (where, firstNames) => {
    const res = await get(`/api.xro/2.0/Users?where=${encodeURIComponent(where)}`);
    expect(res.status).toBe(200);
    expect(res.body.Users.map((u: { FirstName: string }) => u.FirstName)).toEqual(firstNames);
  });

  it.each([
    ['LastName ASC', ['Bennett', 'Jones', 'MacLeod', 'Ó Súilleabháin', 'Okafor', 'Shah']],
    ['LastName DESC', ['Shah', 'Okafor', 'Ó Súilleabháin', 'MacLeod', 'Jones', 'Bennett']],
    ['FirstName', ['Daniel', 'Fiona', 'Gareth', 'Oliver', 'Priya', 'Zoë']],
  ])('sorts with order=%s', async (order, lastOrFirst) => {
    const res = await get(`/api.xro/2.0/Users?order=${encodeURIComponent(order)}`);
    const key = order.startsWith('FirstName') ? 'FirstName' : 'LastName';
    expect(res.body.Users.map((u: Record<string, string>) => u[key])).toEqual(lastOrFirst);
  });

  it.each([['IsSubscriber==maybe'], ['Shoe=="x"'], ['OrganisationRole=="X" || IsSubscriber==true']])('answers 400 QueryParseException for where=%s', async (where) => {
    const res = await get(`/api.xro/2.0/Users?where=${encodeURIComponent(where)}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ ErrorNumber: 16, Type: 'QueryParseException', Message: expect.any(String) });
  });

  it('answers only users changed after If-Modified-Since, and sees role changes made through the admin API', async () => {
    const before = await get('/api.xro/2.0/Users').set('If-Modified-Since', new Date(clock.now()).toUTCString());
    expect(before.body.Users).toEqual([]);
    const oliver = sandbox.data.users(uk!.organisationId).find((u) => u.firstName === 'Oliver')!;
    const since = new Date(clock.now()).toISOString();
    clock.advance(5);
    sandbox.data.setRole(uk!.organisationId, oliver.userId, 'READONLY');
    const after = await get('/api.xro/2.0/Users').set('If-Modified-Since', since);
    expect(after.body.Users).toEqual([expect.objectContaining({ UserID: oliver.userId, OrganisationRole: 'READONLY', UpdatedDateUTC: `/Date(${clock.now()}+0000)/` })]);
    sandbox.data.setRole(uk!.organisationId, oliver.userId, 'STANDARD');
  });

  it.each([
    ['an HTTP date', (ms: number) => new Date(ms).toUTCString()],
    ['ISO 8601 with a zone, as xero-node sends', (ms: number) => new Date(ms).toISOString()],
    ["Xero's zone-less yyyy-mm-ddThh:mm:ss, read as UTC", (ms: number) => new Date(ms).toISOString().slice(0, 19)],
  ])('reads If-Modified-Since given as %s', async (_case, format) => {
    const users = sandbox.data.users(uk!.organisationId).sort((x, y) => x.updatedAt - y.updatedAt);
    // Whole seconds, so every format can express the instant: users changed strictly after the second-to-last change.
    const boundary = Math.floor(users.at(-2)!.updatedAt / 1000) * 1000;
    const res = await get('/api.xro/2.0/Users').set('If-Modified-Since', format(boundary));
    const expected = users.filter((u) => u.updatedAt > boundary).map((u) => u.userId);
    expect(expected.length).toBeGreaterThanOrEqual(1);
    expect(res.body.Users.map((u: { UserID: string }) => u.UserID)).toEqual(expected);
  });

  it('answers XML when the request does not ask for JSON', async () => {
    const res = await request(sandbox.app).get('/api.xro/2.0/Users?where=IsSubscriber%3D%3Dtrue').set('Authorization', `Bearer ${token}`).set('xero-tenant-id', uk!.organisationId);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/xml; charset=utf-8');
    const priya = sandbox.data.users(uk!.organisationId).find((u) => u.firstName === 'Priya')!;
    expect(res.text).toMatch(
      new RegExp(
        `^<\\?xml version="1.0" encoding="utf-8"\\?>\\n<Response><Id>[0-9a-f-]{36}</Id><Status>OK</Status><ProviderName>xero-scim sandbox \\(web app\\)</ProviderName><DateTimeUTC>2026-01-15T09:00:0\\d.000</DateTimeUTC><Users><User><UserID>${priya.userId}</UserID><EmailAddress>priya.shah@harbourhale.co.uk</EmailAddress><FirstName>Priya</FirstName><LastName>Shah</LastName><UpdatedDateUTC>${new Date(priya.updatedAt).toISOString().slice(0, 23)}</UpdatedDateUTC><IsSubscriber>true</IsSubscriber><OrganisationRole>FINANCIALADVISER</OrganisationRole></User></Users></Response>$`,
      ),
    );
  });
});

describe('GET /api.xro/2.0/Users/{UserID}', () => {
  it('answers the same envelope with one user', async () => {
    const zoe = sandbox.data.users(uk!.organisationId).find((u) => u.firstName === 'Zoë')!;
    const res = await get(`/api.xro/2.0/Users/${zoe.userId.toUpperCase()}`);
    expect(res.status).toBe(200);
    expect(res.body.Users).toEqual([expect.objectContaining({ UserID: zoe.userId, FirstName: 'Zoë', LastName: 'Ó Súilleabháin' })]);
  });

  it('answers 404 text/html for a user of another organisation, and for an unknown path', async () => {
    const aroha = sandbox.data.users(nz!.organisationId)[0]!;
    for (const path of [`/api.xro/2.0/Users/${aroha.userId}`, '/api.xro/2.0/Invoices', '/nothing-here']) {
      const res = await get(path);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.text).toBe(NOT_FOUND);
    }
  });
});

describe('GET /api.xro/2.0/Organisation', () => {
  it('answers a one-element Organisations array; OrganisationID equals the tenant id', async () => {
    const res = await get('/api.xro/2.0/Organisation');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['Id', 'Status', 'ProviderName', 'DateTimeUTC', 'Organisations']);
    expect(res.body.Organisations).toEqual([
      {
        OrganisationID: uk!.organisationId,
        APIKey: '',
        Name: 'Harbour & Hale Advisory',
        LegalName: 'Harbour & Hale Advisory LLP',
        PaysTax: true,
        Version: 'UK',
        OrganisationType: 'ACCOUNTING_PRACTICE',
        BaseCurrency: 'GBP',
        CountryCode: 'GB',
        IsDemoCompany: false,
        OrganisationStatus: 'ACTIVE',
        FinancialYearEndDay: 31,
        FinancialYearEndMonth: 3,
        DefaultSalesTax: 'Tax Exclusive',
        DefaultPurchasesTax: 'Tax Exclusive',
        CreatedDateUTC: `/Date(${Date.UTC(2014, 8, 1, 8, 0, 0)}+0000)/`,
        OrganisationEntityType: 'ACCOUNTING_PRACTICE',
        Timezone: 'GMTSTANDARDTIME',
        ShortCode: '!hH4xq',
        Edition: 'PARTNER',
        Class: 'PREMIUM',
        Addresses: [],
        Phones: [],
        ExternalLinks: [],
        PaymentTerms: {},
      },
    ]);
  });
});

describe('errors, as real Xero sends them (docs/xero.md, "Errors")', () => {
  const problem = (status: number, title: string, detail: string) => ({ Type: null, Title: title, Status: status, Detail: detail, Instance: expect.stringMatching(UUID), Extensions: {} });

  it('401 AuthenticationUnsuccessful without a token or with an unknown one', async () => {
    for (const res of [await request(sandbox.app).get('/api.xro/2.0/Users').set('xero-tenant-id', uk!.organisationId), await get('/api.xro/2.0/Users', uk!.organisationId, 'garbage')]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual(problem(401, 'Unauthorized', 'AuthenticationUnsuccessful'));
    }
  });

  it('401 TokenExpired once the access token has expired, naming the instant', async () => {
    const local = new ManualClock(Date.UTC(2026, 3, 29, 0, 19, 58));
    const s = createSandbox({ clock: local });
    const t = await webToken(s, [s.data.organisations()[0]!.organisationId]);
    local.advance(1800);
    const res = await request(s.app).get('/api.xro/2.0/Users').set('Accept', 'application/json').set('Authorization', `Bearer ${t}`).set('xero-tenant-id', s.data.organisations()[0]!.organisationId);
    expect(res.status).toBe(401);
    expect(res.body).toEqual(problem(401, 'Unauthorized', 'TokenExpired: token expired at 04/29/2026 00:49:58'));
  });

  it('401 AuthorizationUnsuccessful for a token without accounting.settings(.read)', async () => {
    const contactsOnly = await customToken(sandbox, 'accounting.contacts.read');
    const res = await get('/api.xro/2.0/Users', nz!.organisationId, contactsOnly);
    expect(res.status).toBe(401);
    expect(res.body).toEqual(problem(401, 'Unauthorized', 'AuthorizationUnsuccessful'));
  });

  it.each([
    ['missing', null],
    ['empty (allowed only for custom connections)', ''],
    ['not a GUID', 'not-a-guid'],
    ['an organisation the token is not connected to', au!.organisationId],
    ['an unknown organisation', '00000000-0000-4000-8000-000000000000'],
  ])('403 AuthenticationUnsuccessful when xero-tenant-id is %s', async (_case, tenant) => {
    const res = await get('/api.xro/2.0/Users', tenant);
    expect(res.status).toBe(403);
    expect(res.body).toEqual(problem(403, 'Forbidden', 'AuthenticationUnsuccessful'));
  });

  it('403 after the organisation is disconnected', async () => {
    const s = createSandbox();
    const org = s.data.organisations()[2]!.organisationId;
    const t = await webToken(s, [org]);
    expect((await request(s.app).get('/api.xro/2.0/Organisation').set('Authorization', `Bearer ${t}`).set('xero-tenant-id', org)).status).toBe(200);
    s.data.disconnect(org);
    expect((await request(s.app).get('/api.xro/2.0/Organisation').set('Authorization', `Bearer ${t}`).set('xero-tenant-id', org)).status).toBe(403);
  });
});

describe('bad input', () => {
  it('answers a malformed path with 400, never a 500', async () => {
    const res = await get('/api.xro/2.0/Users/%E0%A4%A');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request' });
  });
});

describe('custom connections', () => {
  it('serve their one organisation with an empty xero-tenant-id, and no other', async () => {
    const t = await customToken(sandbox);
    const empty = await get('/api.xro/2.0/Organisation', '', t);
    expect(empty.status).toBe(200);
    expect(empty.body.Organisations[0].OrganisationID).toBe(nz!.organisationId);
    expect(empty.body.ProviderName).toBe('xero-scim sandbox (custom connection)');
    expect((await get('/api.xro/2.0/Organisation', uk!.organisationId, t)).status).toBe(403);
  });
});

describe('GET /connections and DELETE /connections/{id}', () => {
  it('answers a bare array with ISO dates of seven fractional digits', async () => {
    const local = new ManualClock(Date.UTC(2019, 11, 7, 18, 46, 19, 516));
    const s = createSandbox({ clock: local });
    const [a, b] = s.data.organisations();
    const t = await webToken(s, [a!.organisationId, b!.organisationId]);
    const res = await request(s.app).get('/connections').set('Authorization', `Bearer ${t}`);
    expect(res.status).toBe(200);
    expect(res.headers['x-appminlimit-remaining']).toBe('9999');
    expect(res.headers['x-minlimit-remaining']).toBeUndefined();
    expect(res.body).toEqual([
      { id: expect.stringMatching(UUID), authEventId: expect.stringMatching(UUID), tenantId: a!.organisationId, tenantType: 'ORGANISATION', tenantName: 'Kōwhai Joinery', createdDateUtc: '2019-12-07T18:46:19.5160000', updatedDateUtc: '2019-12-07T18:46:19.5160000' },
      { id: expect.stringMatching(UUID), authEventId: res.body[0].authEventId, tenantId: b!.organisationId, tenantType: 'PRACTICE', tenantName: 'Harbour & Hale Advisory', createdDateUtc: '2019-12-07T18:46:19.5160000', updatedDateUtc: '2019-12-07T18:46:19.5160000' },
    ]);
  });

  it('filters by ?authEventId=, and DELETE answers 204 then 404', async () => {
    const s = createSandbox();
    const [a, b] = s.data.organisations();
    const t = await webToken(s, [a!.organisationId]);
    const other = s.data.connect(b!.organisationId);
    const filtered = await request(s.app).get(`/connections?authEventId=${other.authEventId}`).set('Authorization', `Bearer ${t}`);
    expect(filtered.body.map((c: { tenantId: string }) => c.tenantId)).toEqual([b!.organisationId]);
    const deleted = await request(s.app).delete(`/connections/${other.id}`).set('Authorization', `Bearer ${t}`);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    const twice = await request(s.app).delete(`/connections/${other.id}`).set('Authorization', `Bearer ${t}`);
    expect(twice.status).toBe(404);
    const left = await request(s.app).get('/connections').set('Authorization', `Bearer ${t}`);
    expect(left.body.map((c: { tenantId: string }) => c.tenantId)).toEqual([a!.organisationId]);
  });

  it('shows a custom connection exactly one organisation', async () => {
    const t = await customToken(sandbox);
    const res = await request(sandbox.app).get('/connections').set('Authorization', `Bearer ${t}`);
    expect(res.body.map((c: { tenantId: string }) => c.tenantId)).toEqual([nz!.organisationId]);
  });

  it('answers 401 without a token', async () => {
    const res = await request(sandbox.app).get('/connections');
    expect(res.status).toBe(401);
  });
});
