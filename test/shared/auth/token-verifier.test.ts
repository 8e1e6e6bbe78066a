import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { issueLocalToken, loadOrCreateLocalSigningKey } from '../../../shared/auth/local-signing-key';
import { createTokenVerifier } from '../../../shared/auth/token-verifier';
import { AppError } from '../../../shared/errors';

const TID = '3f2b6a9e-1c4d-4e8f-9a0b-1c2d3e4f5a6b';
const AUDIENCE = 'api://offline-sync-test';

describe('createTokenVerifier', () => {
  let server: Server;
  let authority: string;
  let privateKey: KeyLike;
  let keyRequests = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    // A stand-in for login.microsoftonline.com: serves the tenant's signing keys.
    server = createServer((req, res) => {
      if (req.url === `/${TID}/discovery/v2.0/keys`) {
        keyRequests++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [jwk] }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    authority = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const entraToken = (
    overrides: { iss?: string; aud?: string; exp?: number; tid?: string; oid?: string } = {},
  ) =>
    new SignJWT({ oid: overrides.oid ?? 'user-oid', tid: overrides.tid ?? TID, roles: ['OfflineSync.Admin'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(overrides.iss ?? `${authority}/${TID}/v2.0`)
      .setAudience(overrides.aud ?? AUDIENCE)
      .setExpirationTime(overrides.exp ?? Math.floor(Date.now() / 1000) + 600)
      .sign(privateKey);

  async function refusal(promise: Promise<unknown>): Promise<AppError> {
    try {
      await promise;
    } catch (error) {
      return error as AppError;
    }
    throw new Error('expected a refusal');
  }

  it('accepts an Entra token signed by the tenant key, with issuer, audience and claims', async () => {
    const verifier = createTokenVerifier({ audience: AUDIENCE, entraAuthority: authority });
    const principal = await verifier.verify(await entraToken());
    expect(principal).toEqual({
      objectId: 'user-oid',
      tenantId: TID,
      roles: ['OfflineSync.Admin'],
      issuer: 'entra',
    });
    await verifier.verify(await entraToken());
    expect(keyRequests).toBe(1); // keys are cached
  });

  it.each([
    ['another issuer', { iss: 'https://evil.example/v2.0' }],
    ['another audience', { aud: 'api://someone-else' }],
    ['an expired token', { exp: Math.floor(Date.now() / 1000) - 3600 }],
  ])('refuses %s with 401', async (_name, overrides) => {
    const verifier = createTokenVerifier({ audience: AUDIENCE, entraAuthority: authority });
    const error = await refusal(verifier.verify(await entraToken(overrides)));
    expect(error).toBeInstanceOf(AppError);
    expect(error.code).toBe('Unauthorized');
  });

  it('refuses a token with a tid whose keys did not sign it', async () => {
    const verifier = createTokenVerifier({ audience: AUDIENCE, entraAuthority: authority });
    const other = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
    const error = await refusal(
      verifier.verify(await entraToken({ tid: other, iss: `${authority}/${other}/v2.0` })),
    );
    expect(error.code).toBe('Unauthorized');
  });

  it('refuses Entra tokens when only local tokens are enabled, and local ones when only Entra is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'verifier-'));
    try {
      const key = await loadOrCreateLocalSigningKey(dir);
      const local = await issueLocalToken(key, { oid: 'u', tid: TID, roles: [] }, { audience: AUDIENCE });
      const localOnly = createTokenVerifier({ audience: AUDIENCE, localKey: key });
      expect((await localOnly.verify(local)).issuer).toBe('local');
      expect((await refusal(localOnly.verify(await entraToken()))).code).toBe('Unauthorized');
      const entraOnly = createTokenVerifier({ audience: AUDIENCE, entraAuthority: authority });
      expect((await refusal(entraOnly.verify(local))).code).toBe('Unauthorized');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the local key across loads of the same data folder, and differs between folders', async () => {
    const a = mkdtempSync(join(tmpdir(), 'verifier-'));
    const b = mkdtempSync(join(tmpdir(), 'verifier-'));
    try {
      const first = await loadOrCreateLocalSigningKey(a);
      const again = await loadOrCreateLocalSigningKey(a);
      expect(again.kid).toBe(first.kid);
      const token = await issueLocalToken(first, { oid: 'u', tid: TID, roles: [] }, { audience: AUDIENCE });
      await expect(
        createTokenVerifier({ audience: AUDIENCE, localKey: again }).verify(token),
      ).resolves.toBeDefined();
      const otherFolder = await loadOrCreateLocalSigningKey(b);
      const error = await refusal(
        createTokenVerifier({ audience: AUDIENCE, localKey: otherFolder }).verify(token),
      );
      expect(error.code).toBe('Unauthorized');
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it('reuses a verified token only until it expires', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'token-cache-'));
    try {
      const key = await loadOrCreateLocalSigningKey(dir);
      const issuedAt = new Date();
      const token = await issueLocalToken(
        key,
        { oid: 'u', tid: TID, roles: [] },
        { audience: AUDIENCE, expiresInSeconds: 600, now: issuedAt },
      );
      const verifier = createTokenVerifier({ audience: AUDIENCE, localKey: key, clockToleranceSeconds: 60 });
      const first = await verifier.verify(token);
      // The second answer is the remembered principal itself.
      expect(await verifier.verify(token)).toBe(first);
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      try {
        // Past exp and the clock tolerance: a remembered token must be refused like any other.
        jest.setSystemTime(issuedAt.getTime() + (600 + 120) * 1000);
        expect((await refusal(verifier.verify(token))).code).toBe('Unauthorized');
      } finally {
        jest.useRealTimers();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
