import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import {
  issueLocalToken,
  LOCAL_AUDIENCE,
  LOCAL_ISSUER,
  loadOrCreateLocalSigningKey,
} from '../../../shared/auth/local-signing-key';
import { createTokenVerifier, ENTRA_V1_ISSUER_AUTHORITY } from '../../../shared/auth/token-verifier';
import { AppError } from '../../../shared/errors';

const TID = '3f2b6a9e-1c4d-4e8f-9a0b-1c2d3e4f5a6b';
const OTHER_TID = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const CLIENT_ID = '6e5d4c3b-2a19-4f08-9e7d-6c5b4a392817';
/** What a deployment sets: v2.0 tokens carry the client id, v1.0 tokens the application ID URI. */
const AUDIENCES = [CLIENT_ID, `api://${CLIENT_ID}`];
const COMMON_KEYS_PATH = '/common/discovery/v2.0/keys';

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('createTokenVerifier: Entra tokens', () => {
  let server: Server;
  let authority: string;
  let privateKey: KeyLike;
  /** Paths the stand-in for login.microsoftonline.com was asked for. */
  let requested: string[] = [];
  /** When set, the key endpoint answers this status instead of the key set. */
  let failWith: number | undefined;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    // A stand-in for login.microsoftonline.com: serves the common signing keys, nothing per tenant.
    server = createServer((req, res) => {
      requested.push(req.url ?? '');
      if (failWith !== undefined) {
        res.writeHead(failWith).end();
      } else if (req.url === COMMON_KEYS_PATH) {
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
  beforeEach(() => {
    requested = [];
    failWith = undefined;
  });

  const v2Issuer = (tid: string) => `${authority}/${tid}/v2.0`;
  const v1Issuer = (tid: string) => `${ENTRA_V1_ISSUER_AUTHORITY}/${tid}/`;

  const entraToken = (
    overrides: { iss?: string; aud?: string; exp?: number; tid?: string; kid?: string } = {},
  ) => {
    const tid = overrides.tid ?? TID;
    return new SignJWT({ oid: 'user-oid', tid, roles: ['OfflineSync.Admin'] })
      .setProtectedHeader({ alg: 'RS256', kid: overrides.kid ?? 'k1' })
      .setIssuer(overrides.iss ?? v2Issuer(tid))
      .setAudience(overrides.aud ?? CLIENT_ID)
      .setExpirationTime(overrides.exp ?? Math.floor(Date.now() / 1000) + 600)
      .sign(privateKey);
  };
  const verifier = () => createTokenVerifier({ audiences: AUDIENCES, entraAuthority: authority });

  it('accepts a v2.0 token (issuer <authority>/<tid>/v2.0, audience the client id)', async () => {
    const v = verifier();
    const principal = await v.verify(await entraToken());
    expect(principal).toEqual({
      objectId: 'user-oid',
      tenantId: TID,
      roles: ['OfflineSync.Admin'],
      issuer: 'entra',
    });
    await v.verify(await entraToken());
    expect(requested).toEqual([COMMON_KEYS_PATH]); // fetched once, then cached
  });

  it('accepts a v1.0 token (issuer https://sts.windows.net/<tid>/, audience api://<client id>)', async () => {
    const principal = await verifier().verify(
      await entraToken({ iss: v1Issuer(TID), aud: `api://${CLIENT_ID}` }),
    );
    expect(principal.tenantId).toBe(TID);
    expect(principal.issuer).toBe('entra');
  });

  it.each([
    ['a v2.0 issuer of another tenant than its tid', () => ({ iss: v2Issuer(OTHER_TID) })],
    ['a v1.0 issuer of another tenant than its tid', () => ({ iss: v1Issuer(OTHER_TID) })],
    ['a v1.0 issuer without the trailing slash', () => ({ iss: `${ENTRA_V1_ISSUER_AUTHORITY}/${TID}` })],
    ['another issuer', () => ({ iss: 'https://evil.example/v2.0' })],
    ['another audience', () => ({ aud: 'api://someone-else' })],
    ['an expired token', () => ({ exp: Math.floor(Date.now() / 1000) - 3600 })],
    ['a key id the key set does not hold', () => ({ kid: 'unknown' })],
  ])('refuses %s with 401', async (_name, overrides) => {
    const error = await refusal(verifier().verify(await entraToken(overrides())));
    expect(error.code).toBe('Unauthorized');
  });

  it('refuses an Entra-looking token signed with HS256 (Entra signs RS256 only) with 401', async () => {
    const forged = await new SignJWT({ oid: 'x', tid: TID, roles: ['OfflineSync.Admin'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setIssuer(v2Issuer(TID))
      .setAudience(CLIENT_ID)
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode('a secret anyone can choose'));
    expect((await refusal(verifier().verify(forged))).code).toBe('Unauthorized');
    expect(requested).toEqual([]); // refused before any key is looked up
  });

  it('keeps one key set whatever tids unverified tokens name (memory stays bounded)', async () => {
    const v = verifier();
    // Tokens of 50 made-up tenants, signed by a key the set does not hold: every one is refused,
    // and the endpoint is asked for the one common key set (refetched at most once per cooldown).
    const { privateKey: strangerKey } = await generateKeyPair('RS256');
    for (let i = 0; i < 50; i++) {
      const tid = `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`;
      const token = await new SignJWT({ oid: 'x', tid })
        .setProtectedHeader({ alg: 'RS256', kid: `kid-${i}` })
        .setIssuer(v2Issuer(tid))
        .setAudience(CLIENT_ID)
        .setExpirationTime('10m')
        .sign(strangerKey);
      expect((await refusal(v.verify(token))).code).toBe('Unauthorized');
    }
    expect(new Set(requested)).toEqual(new Set([COMMON_KEYS_PATH]));
    expect(requested.length).toBeLessThanOrEqual(2);
    // A real tenant's token still verifies with the same set.
    await expect(v.verify(await entraToken())).resolves.toMatchObject({ tenantId: TID });
  });

  it('answers 503 when the key endpoint fails, and verifies the token once it answers again', async () => {
    failWith = 500;
    const v = verifier();
    const token = await entraToken();
    const outage = await refusal(v.verify(token));
    expect(outage.code).toBe('Unavailable');
    expect(outage.retryAfterSeconds).toBeGreaterThan(0);
    failWith = undefined;
    await expect(v.verify(token)).resolves.toMatchObject({ tenantId: TID });
  });

  it('answers 503 when the key endpoint cannot be reached', async () => {
    // A port nothing listens on: bind one, note it, close it.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const v = createTokenVerifier({ audiences: AUDIENCES, entraAuthority: `http://127.0.0.1:${port}` });
    expect((await refusal(v.verify(await entraToken()))).code).toBe('Unavailable');
  });

  it('needs an audience to accept Entra tokens', () => {
    expect(() => createTokenVerifier({ audiences: [], entraAuthority: authority })).toThrow(/AUTH_AUDIENCE/);
  });

  it('refuses Entra tokens when only local tokens are enabled, and local ones when only Entra is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'verifier-'));
    try {
      const key = await loadOrCreateLocalSigningKey(dir);
      const local = await issueLocalToken(key, { oid: 'u', tid: TID, roles: [] });
      const localOnly = createTokenVerifier({ localKey: key });
      expect((await localOnly.verify(local)).issuer).toBe('local');
      expect((await refusal(localOnly.verify(await entraToken()))).code).toBe('Unauthorized');
      expect((await refusal(verifier().verify(local))).code).toBe('Unauthorized');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('createTokenVerifier: local development tokens', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'verifier-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses an HS256 token whose secret is the local public key with 401, not 503', async () => {
    const key = await loadOrCreateLocalSigningKey(dir);
    const secret = new TextEncoder().encode(JSON.stringify(await exportJWK(key.publicKey)));
    const forged = await new SignJWT({ oid: 'x', tid: TID, roles: ['OfflineSync.Admin'] })
      .setProtectedHeader({ alg: 'HS256', kid: key.kid })
      .setIssuer(LOCAL_ISSUER)
      .setAudience(LOCAL_AUDIENCE)
      .setExpirationTime('10m')
      .sign(secret);
    const error = await refusal(createTokenVerifier({ localKey: key }).verify(forged));
    expect(error.code).toBe('Unauthorized');
  });

  it('refuses a local token of another audience', async () => {
    const key = await loadOrCreateLocalSigningKey(dir);
    const token = await issueLocalToken(key, { oid: 'u', tid: TID, roles: [] }, { audience: 'api://other' });
    expect((await refusal(createTokenVerifier({ localKey: key }).verify(token))).code).toBe('Unauthorized');
  });

  it('keeps the local key across loads of the same data folder, and differs between folders', async () => {
    const other = mkdtempSync(join(tmpdir(), 'verifier-'));
    try {
      const first = await loadOrCreateLocalSigningKey(dir);
      const again = await loadOrCreateLocalSigningKey(dir);
      expect(again.kid).toBe(first.kid);
      const token = await issueLocalToken(first, { oid: 'u', tid: TID, roles: [] });
      await expect(createTokenVerifier({ localKey: again }).verify(token)).resolves.toBeDefined();
      const otherFolder = await loadOrCreateLocalSigningKey(other);
      const error = await refusal(createTokenVerifier({ localKey: otherFolder }).verify(token));
      expect(error.code).toBe('Unauthorized');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('reuses a verified token only until it expires', async () => {
    const key = await loadOrCreateLocalSigningKey(dir);
    const issuedAt = new Date();
    const token = await issueLocalToken(
      key,
      { oid: 'u', tid: TID, roles: [] },
      { expiresInSeconds: 600, now: issuedAt },
    );
    const verifier = createTokenVerifier({ localKey: key, clockToleranceSeconds: 60 });
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
  });
});
