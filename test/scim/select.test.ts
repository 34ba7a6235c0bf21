/**
 * RFC 7644 §3.4.2.5 attribute selection against each attribute's RFC 7643 §2.2 `returned` characteristic,
 * on a schema that uses all four values (the served schemas use only `always` and `default`).
 */
import { attribute, type ResourceSchema } from '../../src/scim/attributes';
import { compileSelection, excludesOnlyMembers } from '../../src/scim/select';

const EXT = 'urn:example:ext:1.0:Thing';
const schema: ResourceSchema = {
  core: {
    id: 'urn:example:core:1.0:Thing',
    name: 'Thing',
    description: '',
    attributes: [
      attribute('id', 'string', '', { returned: 'always', caseExact: true }),
      attribute('plain', 'string', ''),
      attribute('secret', 'string', '', { returned: 'never' }),
      attribute('onRequest', 'string', '', { returned: 'request' }),
      attribute('parts', 'complex', '', {
        multiValued: true,
        subAttributes: [attribute('value', 'string', ''), attribute('kind', 'string', ''), attribute('key', 'string', '', { returned: 'always' })],
      }),
    ],
  },
  extensions: [{ id: EXT, name: 'Ext', description: '', attributes: [attribute('extra', 'string', ''), attribute('more', 'string', '')] }],
};

const resource = {
  schemas: ['urn:example:core:1.0:Thing', EXT],
  id: '1',
  plain: 'p',
  secret: 's',
  onRequest: 'r',
  parts: [
    { value: 'a', kind: 'x', key: 'k1' },
    { value: 'b', kind: 'y', key: 'k2' },
  ],
  [EXT]: { extra: 'e', more: 'm' },
};

describe('RFC 7644 §3.4.2.5 attributes / excludedAttributes with `returned`', () => {
  it.each<[string, { attributes?: string[]; excludedAttributes?: string[] }, Record<string, unknown>]>([
    ['attributes: only asked, plus returned "always"', { attributes: ['plain'] }, { id: '1', plain: 'p' }],
    ['attributes: names are case-insensitive', { attributes: ['PLAIN'] }, { id: '1', plain: 'p' }],
    ['attributes: "request" attributes when asked', { attributes: ['onRequest'] }, { id: '1', onRequest: 'r' }],
    ['attributes: "never" attributes even when asked', { attributes: ['secret'] }, { id: '1' }],
    ['attributes: a sub-attribute keeps "always" sub-attributes', { attributes: ['parts.kind'] }, { id: '1', parts: [{ kind: 'x', key: 'k1' }, { kind: 'y', key: 'k2' }] }],
    ['attributes: an extension attribute by its URN', { attributes: [`${EXT}:extra`] }, { id: '1', [EXT]: { extra: 'e' } }],
    ['attributes: an extension attribute without its URN', { attributes: ['more'] }, { id: '1', [EXT]: { more: 'm' } }],
    ['attributes: unknown names are ignored', { attributes: ['nothing', 'plain'] }, { id: '1', plain: 'p' }],
    [
      'excludedAttributes: defaults minus excluded; never "request" or "never"',
      { excludedAttributes: ['plain', 'id'] },
      { id: '1', parts: resource.parts, [EXT]: { extra: 'e', more: 'm' } },
    ],
    [
      'excludedAttributes: a sub-attribute, but not an "always" one',
      { excludedAttributes: ['parts.value', 'parts.key', EXT] },
      { id: '1', plain: 'p', parts: [{ kind: 'x', key: 'k1' }, { kind: 'y', key: 'k2' }] },
    ],
  ])('%s', (_name, selection, expected) => {
    const project = compileSelection(schema, selection)!;
    expect(project(resource)).toEqual({ schemas: resource.schemas, ...expected });
  });

  it('without a selection, the pre-rendered default representation applies', () => {
    expect(compileSelection(schema, {})).toBeUndefined();
  });

  it.each<[{ attributes?: string[]; excludedAttributes?: string[] }, boolean]>([
    [{ excludedAttributes: ['members'] }, true],
    [{ excludedAttributes: ['MEMBERS'] }, true],
    [{ excludedAttributes: ['urn:ietf:params:scim:schemas:core:2.0:Group:members'] }, true],
    [{ excludedAttributes: ['members', 'displayName'] }, false],
    [{ attributes: ['members'] }, false],
  ])('recognises the cheap Group case %j → %s', (selection, cheap) => {
    expect(excludesOnlyMembers(selection)).toBe(cheap);
  });
});
