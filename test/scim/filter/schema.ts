/** A small User resource type for the filter tests, declared like the real one (RFC 7643 §4.1, §3.1 common attributes). */
import { attribute, type ResourceSchema } from '../../../src/scim/attributes';

export const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const XERO_EXTENSION = 'urn:example:ext:2.0:User';
export const AUDIT_EXTENSION = 'urn:example:audit:2.0:User';

const exact = { caseExact: true };
const multi = { multiValued: true };

export const userSchema: ResourceSchema = {
  core: {
    id: CORE_USER,
    name: 'User',
    description: 'User account',
    attributes: [
      attribute('id', 'string', 'Stable identifier', exact),
      attribute('externalId', 'string', 'Client identifier', exact),
      attribute('schemas', 'reference', 'Schema URNs', { ...exact, ...multi }),
      attribute('meta', 'complex', 'Resource metadata', {
        subAttributes: [
          attribute('resourceType', 'string', 'Resource type', exact),
          attribute('created', 'dateTime', 'Created'),
          attribute('lastModified', 'dateTime', 'Last modified'),
          attribute('location', 'reference', 'URI of the resource', exact),
          attribute('version', 'string', 'Version', exact),
        ],
      }),
      attribute('userName', 'string', 'Login name'),
      attribute('name', 'complex', 'Name', {
        subAttributes: [
          attribute('formatted', 'string', 'Full name'),
          attribute('givenName', 'string', 'Given name'),
          attribute('familyName', 'string', 'Family name'),
        ],
      }),
      attribute('displayName', 'string', 'Display name'),
      attribute('active', 'boolean', 'Active'),
      attribute('loginCount', 'integer', 'A number, to test numeric comparison'),
      attribute('emails', 'complex', 'E-mail addresses', {
        ...multi,
        subAttributes: [
          attribute('value', 'string', 'Address'),
          attribute('type', 'string', 'Kind', { canonicalValues: ['work', 'home', 'other'] }),
          attribute('primary', 'boolean', 'Primary'),
        ],
      }),
      attribute('groups', 'complex', 'Groups', {
        ...multi,
        subAttributes: [
          attribute('value', 'string', 'Group id', exact),
          attribute('display', 'string', 'Group name'),
          attribute('$ref', 'reference', 'Group URI', exact),
        ],
      }),
      attribute('roles', 'complex', 'Roles', {
        ...multi,
        subAttributes: [attribute('value', 'string', 'Role id', exact), attribute('display', 'string', 'Role name')],
      }),
      attribute('x509Certificates', 'complex', 'Certificates', {
        ...multi,
        subAttributes: [attribute('value', 'binary', 'DER certificate', exact)],
      }),
    ],
  },
  extensions: [
    {
      id: XERO_EXTENSION,
      name: 'XeroUser',
      description: 'Per-organisation details',
      attributes: [
        attribute('organisations', 'complex', 'Organisations', {
          ...multi,
          subAttributes: [
            attribute('organisationId', 'string', 'Organisation id', exact),
            attribute('role', 'string', 'Role code'),
            attribute('isSubscriber', 'boolean', 'Subscriber'),
            attribute('updatedDateUtc', 'dateTime', 'Updated in Xero'),
          ],
        }),
        attribute('employeeNumber', 'string', 'Also declared by the audit extension'),
      ],
    },
    {
      id: AUDIT_EXTENSION,
      name: 'Audit',
      description: 'Second extension, to make a name ambiguous',
      attributes: [attribute('employeeNumber', 'string', 'Also declared by the Xero extension'), attribute('note', 'string', 'Free text')],
    },
  ],
};
