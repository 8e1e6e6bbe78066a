import type { AccessToken, TokenCredential } from '@azure/identity';
import { ManualClock } from '../../../../shared/clock';
import { dataverseScope, dataverseTokenProvider } from '../../../../shared/sources/dataverse/token-provider';

function fakeCredential(clock: ManualClock): TokenCredential & { scopes: string[] } {
  const scopes: string[] = [];
  let n = 0;
  return {
    scopes,
    async getToken(scope: string | string[]): Promise<AccessToken> {
      scopes.push(String(scope));
      n++;
      return { token: `token-${n}`, expiresOnTimestamp: clock.now().getTime() + 60 * 60 * 1000 };
    },
  };
}

describe('dataverseTokenProvider', () => {
  it('asks for the environment .default scope, whatever path the URL has', () => {
    expect(dataverseScope('https://contoso.crm.dynamics.com/api/data/v9.2/')).toBe(
      'https://contoso.crm.dynamics.com/.default',
    );
  });

  it('reuses a token until five minutes before it expires', async () => {
    const clock = new ManualClock();
    const credential = fakeCredential(clock);
    const getToken = dataverseTokenProvider({ url: 'https://contoso.crm.dynamics.com', credential, clock });
    expect(await getToken()).toBe('token-1');
    clock.advance(54 * 60 * 1000);
    expect(await getToken()).toBe('token-1');
    clock.advance(2 * 60 * 1000);
    expect(await getToken()).toBe('token-2');
    expect(credential.scopes).toEqual(Array(2).fill('https://contoso.crm.dynamics.com/.default'));
  });

  it('reports a credential failure as SourceUnavailable', async () => {
    const credential: TokenCredential = {
      getToken: () => Promise.reject(new Error('AADSTS7000215: Invalid client secret')),
    };
    const getToken = dataverseTokenProvider({ url: 'https://contoso.crm.dynamics.com', credential });
    await expect(getToken()).rejects.toMatchObject({ code: 'SourceUnavailable' });
  });

  it('needs the tenant id for a client secret, and reads the secret only then', async () => {
    const getSecret = jest.fn(async () => 'secret');
    const getToken = dataverseTokenProvider({
      url: 'https://contoso.crm.dynamics.com',
      clientId: 'app',
      getSecret,
    });
    await expect(getToken()).rejects.toMatchObject({ code: 'SourceUnavailable' });
    expect(getSecret).not.toHaveBeenCalled();
  });
});
