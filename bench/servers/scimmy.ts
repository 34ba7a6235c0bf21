/**
 * The SCIMMY reference: `scimmy` + `scimmy-routers` serving the same users and groups, read-only, the way SCIMMY's
 * documentation shows (https://scimmyjs.github.io): resources declared with an `egress` handler that returns the
 * matching records (by id, or through `resource.filter.match`), SCIMMY shaping, paging and rendering every answer.
 *
 * One thing it needs to be correct on this data, outside SCIMMY's own code: scimmy-routers casts
 * `startIndex`/`count` to numbers by assigning into `req.query`; Express 5 re-parses `req.query` on every read, so
 * the cast is lost and SCIMMY pages from 1 with 20 items whatever is asked. A middleware in front makes `req.query` a
 * plain, writable object once per request (what Express 4 had).
 * xero-scim's Xero extensions are declared to SCIMMY from xero-scim's own schema declarations, so they are served;
 * SCIMMY accepts only `urn:ietf:params:scim:schemas:` ids, so they are renamed into that namespace (see
 * `SCIMMY_IDS`) in its copy of the data: the same content under a slightly different key.
 */
import express, { type Express, type Request } from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';
import { scimAuth } from '../../src/http/auth';
import type { AttributeDefinition, SchemaDefinition } from '../../src/scim/attributes';
import { XERO_ORGANISATION_SCHEMA, XERO_ORGANISATION_SCHEMA_ID, XERO_USER_SCHEMA, XERO_USER_SCHEMA_ID } from '../../src/scim/schemas';
import type { Corpus } from '../corpus';

export interface ScimmyOptions {
  readonly corpus: Corpus;
  readonly tokens: readonly string[];
  /** Base for `meta.location` (SCIMMY requires http(s)); the path `/scim/v2` is appended by the router. */
  readonly publicUrl: string;
}

type Resource = Record<string, unknown> & { id: string };

/** xero-scim's extension ids and the ids SCIMMY serves them under. */
export const SCIMMY_IDS: Readonly<Record<string, string>> = {
  [XERO_USER_SCHEMA_ID]: 'urn:ietf:params:scim:schemas:extension:xero-scim:1.0:User',
  [XERO_ORGANISATION_SCHEMA_ID]: 'urn:ietf:params:scim:schemas:extension:xero-scim:1.0:Organisation',
};

interface EgressResource {
  id?: string;
  filter?: { match(values: Resource[]): Resource[] };
}

function scimmyAttribute(definition: AttributeDefinition): InstanceType<typeof SCIMMY.Types.Attribute> {
  const config = {
    multiValued: definition.multiValued,
    description: definition.description,
    required: definition.required,
    caseExact: definition.caseExact,
    returned: definition.returned === 'default' ? true : definition.returned,
    uniqueness: definition.uniqueness,
    ...(definition.canonicalValues ? { canonicalValues: [...definition.canonicalValues] } : {}),
    ...(definition.referenceTypes ? { referenceTypes: [...definition.referenceTypes] } : {}),
  };
  const Attribute = SCIMMY.Types.Attribute as unknown as new (type: string, name: string, config: unknown, sub?: unknown[]) => InstanceType<typeof SCIMMY.Types.Attribute>;
  return new Attribute(definition.type, definition.name, config, (definition.subAttributes ?? []).map(scimmyAttribute));
}

function scimmySchema(definition: SchemaDefinition): InstanceType<typeof SCIMMY.Types.SchemaDefinition> {
  const Definition = SCIMMY.Types.SchemaDefinition as unknown as new (name: string, id: string, description: string, attributes: unknown[]) => InstanceType<typeof SCIMMY.Types.SchemaDefinition>;
  return new Definition(definition.name, SCIMMY_IDS[definition.id] ?? definition.id, definition.description, definition.attributes.map(scimmyAttribute));
}

/** The resource as SCIMMY accepts it (see the module comment); key order is kept. */
function forScimmy(resource: Resource): Resource {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) {
    if (key === 'schemas') out.schemas = (value as string[]).map((id) => SCIMMY_IDS[id] ?? id);
    else out[SCIMMY_IDS[key] ?? key] = value;
  }
  return out as Resource;
}

let declared: { users: Resource[]; usersById: Map<string, Resource>; groups: Resource[]; groupsById: Map<string, Resource> } | undefined;

/** SCIMMY keeps its declarations in module state: one reference server per process. */
export function createScimmyApp(options: ScimmyOptions): Express {
  const users = options.corpus.users.map((text) => forScimmy(JSON.parse(text) as Resource));
  const groups = options.corpus.groups.map((text) => forScimmy(JSON.parse(text) as Resource));
  const data = { users, usersById: new Map(users.map((u) => [u.id, u])), groups, groupsById: new Map(groups.map((g) => [g.id, g])) };

  if (!declared) {
    const egress =
      (all: () => Resource[], byId: () => Map<string, Resource>) =>
      (resource: EgressResource): Resource | Resource[] => {
        if (resource.id !== undefined) {
          const found = byId().get(resource.id);
          if (!found) throw new SCIMMY.Types.Error(404, null as unknown as string, `Resource ${resource.id} not found`);
          return found;
        }
        return resource.filter ? resource.filter.match(all()) : all();
      };
    const Resources = SCIMMY.Resources as unknown as { declare(resource: unknown, config: unknown): unknown; User: unknown; Group: unknown };
    Resources.declare(Resources.User, {
      egress: egress(() => declared!.users, () => declared!.usersById),
      extensions: [{ schema: scimmySchema(XERO_USER_SCHEMA), required: false }],
    });
    Resources.declare(Resources.Group, {
      egress: egress(() => declared!.groups, () => declared!.groupsById),
      extensions: [{ schema: scimmySchema(XERO_ORGANISATION_SCHEMA), required: false }],
    });
  }
  declared = data;

  const auth = scimAuth({ tokens: options.tokens });
  const app = express();
  app.disable('x-powered-by');
  app.use((req, _res, next) => {
    Object.defineProperty(req, 'query', { value: { ...req.query }, writable: true, enumerable: true, configurable: true });
    next();
  });
  app.use(
    '/scim/v2',
    new SCIMMYRouters({
      type: 'bearer',
      docUri: 'https://datatracker.ietf.org/doc/html/rfc6750',
      // The same check as xero-scim and the floor: SHA-256 digests compared in constant time.
      handler: (req: Request) =>
        new Promise<string>((resolve, reject) => {
          auth(req, {} as never, (error?: unknown) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve('bench')));
        }),
      baseUri: () => options.publicUrl,
    }) as unknown as express.Router,
  );
  return app;
}
