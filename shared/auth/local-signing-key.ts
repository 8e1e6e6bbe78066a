import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type KeyLike } from 'jose';

/** Issuer of the local host's development tokens. */
export const LOCAL_ISSUER = 'urn:offline-sync:local';
/**
 * Audience of the local host's development tokens, whatever `AUTH_AUDIENCE` says: local tokens are
 * never Entra tokens, so they need no deployment's audience (and tokens printed before keep working).
 */
export const LOCAL_AUDIENCE = 'api://offline-sync';
/** The one algorithm of development tokens: the verifier accepts no other (no HS256 with the public key). */
export const LOCAL_TOKEN_ALGORITHM = 'ES256';
const ALGORITHM = LOCAL_TOKEN_ALGORITHM;
const FILE_NAME = 'local-signing-key.json';

export interface LocalSigningKey {
  privateKey: KeyLike | Uint8Array;
  publicKey: KeyLike | Uint8Array;
  kid: string;
}

/**
 * The local host's signing key: generated once per data folder and kept there (mode 0600), so tokens
 * printed by `npm run token` stay valid across restarts and are accepted by that data folder only.
 */
export async function loadOrCreateLocalSigningKey(dataDir: string): Promise<LocalSigningKey> {
  const path = join(dataDir, FILE_NAME);
  if (!existsSync(path)) {
    mkdirSync(dataDir, { recursive: true });
    const { privateKey } = await generateKeyPair(ALGORITHM, { extractable: true });
    const jwk = await exportJWK(privateKey);
    const kid = `local-${Date.now().toString(36)}`;
    try {
      // 'wx': never overwrite a key another process created first.
      writeFileSync(path, JSON.stringify({ ...jwk, kid, alg: ALGORITHM }), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const jwk = JSON.parse(readFileSync(path, 'utf8')) as JWK & { kid: string };
  const { d: _private, ...publicJwk } = jwk;
  return {
    privateKey: await importJWK(jwk, ALGORITHM),
    publicKey: await importJWK(publicJwk, ALGORITHM),
    kid: jwk.kid,
  };
}

export interface LocalTokenClaims {
  /** Entra object id of the user (or of the operator). */
  oid: string;
  /** Entra tenant id. */
  tid: string;
  roles: string[];
  name?: string;
}

/**
 * Signs a development token that the local host (and only a host with this key) accepts. `audience`
 * defaults to {@link LOCAL_AUDIENCE}, the only one the verifier accepts (tests sign others to see them refused).
 */
export async function issueLocalToken(
  key: LocalSigningKey,
  claims: LocalTokenClaims,
  options: { audience?: string; expiresInSeconds?: number; now?: Date } = {},
): Promise<string> {
  const issuedAt = Math.floor((options.now ?? new Date()).getTime() / 1000);
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: ALGORITHM, kid: key.kid, typ: 'JWT' })
    .setIssuer(LOCAL_ISSUER)
    .setAudience(options.audience ?? LOCAL_AUDIENCE)
    .setSubject(claims.oid)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + (options.expiresInSeconds ?? 12 * 3600))
    .sign(key.privateKey);
}
