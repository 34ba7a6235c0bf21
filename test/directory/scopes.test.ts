import { customConnectionScopes } from '../../src/directory/credentials';

describe('Scopes of a custom connection (docs/xero.md, "Scopes")', () => {
  it('asks for accounting.settings.read, never offline_access, even given the web-app scopes', () => {
    expect(customConnectionScopes(undefined)).toBe('accounting.settings.read');
    expect(customConnectionScopes('offline_access accounting.settings.read')).toBe('accounting.settings.read');
    expect(customConnectionScopes('offline_access')).toBe('accounting.settings.read');
    expect(customConnectionScopes('accounting.settings')).toBe('accounting.settings');
  });
});
