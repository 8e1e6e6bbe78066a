import { ConfigError, loadSettings } from '../../shared/config';

describe('loadSettings', () => {
  it('applies defaults for an environment that sets only the audience', () => {
    const s = loadSettings({ AUTH_AUDIENCE: 'api://x' });
    expect(s.STORE_KIND).toBe('sqlite');
    expect(s.DATA_DIR).toBe('.data');
    expect(s.AUTH_LOCAL_ENABLED).toBe(false);
    expect(s.MAX_BODY_BYTES).toBe(4 * 1024 * 1024);
  });

  it('parses flags and numbers from strings', () => {
    const s = loadSettings({
      AUTH_ENTRA_ENABLED: 'false',
      AUTH_LOCAL_ENABLED: 'true',
      MAX_BODY_BYTES: '1024',
      DEMO_ROWS: '200000',
    });
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
    expect(() => loadSettings({ STORE_KIND: 'cosmos', AUTH_AUDIENCE: 'api://x' })).toThrow(/COSMOS_ENDPOINT/);
  });

  it('fails to start with Entra tokens enabled (the default) and no audience, naming AUTH_AUDIENCE', () => {
    for (const env of [{}, { AUTH_ENTRA_ENABLED: 'true' }, { AUTH_AUDIENCE: ' , ' }]) {
      expect(() => loadSettings(env)).toThrow(ConfigError);
      expect(() => loadSettings(env)).toThrow(/AUTH_AUDIENCE: required when AUTH_ENTRA_ENABLED is true/);
    }
    // Without Entra tokens (the local host) no audience is needed.
    expect(loadSettings({ AUTH_ENTRA_ENABLED: 'false' }).AUTH_AUDIENCE).toEqual([]);
  });

  it('reads AUTH_AUDIENCE as a comma-separated list', () => {
    const clientId = '6e5d4c3b-2a19-4f08-9e7d-6c5b4a392817';
    expect(loadSettings({ AUTH_AUDIENCE: `${clientId}, api://${clientId} ,` }).AUTH_AUDIENCE).toEqual([
      clientId,
      `api://${clientId}`,
    ]);
  });
});
