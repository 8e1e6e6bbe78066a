import type { AccessToken, TokenCredential } from '@azure/identity';
import { lazyCredential } from '../../shared/azure-credential';

describe('lazyCredential', () => {
  it('builds the credential at its first token, once, and passes scopes and options through', async () => {
    const asked: (string | string[])[] = [];
    let built = 0;
    const credential = lazyCredential(async () => {
      built += 1;
      const inner: TokenCredential = {
        async getToken(scopes): Promise<AccessToken> {
          asked.push(scopes);
          return { token: `t${asked.length}`, expiresOnTimestamp: 1 };
        },
      };
      return inner;
    });
    expect(built).toBe(0);
    const [first, second] = await Promise.all([
      credential.getToken('https://a/.default'),
      credential.getToken(['https://b/.default']),
    ]);
    expect(built).toBe(1);
    expect([first?.token, second?.token].sort()).toEqual(['t1', 't2']);
    expect(asked).toEqual(['https://a/.default', ['https://b/.default']]);
  });

  it('fails every token with the error that building the credential raised', async () => {
    const credential = lazyCredential(() => Promise.reject(new Error('no identity here')));
    await expect(credential.getToken('s')).rejects.toThrow('no identity here');
    await expect(credential.getToken('s')).rejects.toThrow('no identity here');
  });
});
