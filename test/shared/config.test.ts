import { ConfigError, loadSettings } from '../../shared/config';

describe('loadSettings', () => {
  it('applies defaults for an empty environment', () => {
    const s = loadSettings({});
    expect(s.STORE_KIND).toBe('sqlite');
    expect(s.DATA_DIR).toBe('.data');
    expect(s.AUTH_LOCAL_ENABLED).toBe(false);
    expect(s.MAX_BODY_BYTES).toBe(4 * 1024 * 1024);
  });

  it('parses flags and numbers from strings', () => {
    const s = loadSettings({ AUTH_LOCAL_ENABLED: 'true', MAX_BODY_BYTES: '1024', DEMO_ROWS: '200000' });
    expect(s.AUTH_LOCAL_ENABLED).toBe(true);
    expect(s.MAX_BODY_BYTES).toBe(1024);
    expect(s.DEMO_ROWS).toBe(200000);
  });

  it('names every bad setting', () => {
    let error: unknown;
    try {
      loadSettings({ STORE_KIND: 'cosmos', MAX_BODY_BYTES: '-1', AUTH_LOCAL_ENABLED: 'maybe' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('MAX_BODY_BYTES');
    expect(message).toContain('AUTH_LOCAL_ENABLED');
  });

  it('requires the Cosmos endpoint when the Cosmos store is chosen', () => {
    expect(() => loadSettings({ STORE_KIND: 'cosmos' })).toThrow(/COSMOS_ENDPOINT/);
  });
});
