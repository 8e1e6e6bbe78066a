import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import { AppError } from '../errors';
import { LOCAL_ISSUER, type LocalSigningKey } from './local-signing-key';
import type { Principal } from './principal';

/** Claims every accepted token must carry, whichever issuer signed it. */
const claimsSchema = z.object({
  oid: z.string().min(1),
  tid: z.string().min(1),
  roles: z.array(z.string()).default([]),
});

export interface TokenVerifierOptions {
  audience: string;
  /** Accept Microsoft Entra ID tokens from this authority (e.g. https://login.microsoftonline.com). */
  entraAuthority?: string;
  /** Accept the local host's development tokens signed with this key. */
  localKey?: LocalSigningKey;
  /** Allowed clock skew in seconds. */
  clockToleranceSeconds?: number;
  /** Verified tokens remembered until they expire (default {@link VERIFIED_TOKEN_CACHE_SIZE}; 0: none). */
  verifiedTokenCacheSize?: number;
}

/** Verified tokens a verifier remembers by default: a device sends the same token for an hour. */
export const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

export interface TokenVerifier {
  /** Verifies a bearer token (signature, issuer, audience, expiry); 401 Unauthorized otherwise. */
  verify(token: string): Promise<Principal>;
}

/**
 * Verifies bearer tokens with `jose`. Entra tokens are checked against the signing keys of the
 * token's own tenant (`<authority>/<tid>/discovery/v2.0/keys`) and its v2.0 issuer; which tenant
 * may act on which org is decided afterwards, per route, from the `tid` claim.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const jwksByTenant = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  const authority = options.entraAuthority?.replace(/\/+$/, '');
  const clockTolerance = options.clockToleranceSeconds ?? 60;
  const verified = new VerifiedTokenCache(options.verifiedTokenCacheSize ?? VERIFIED_TOKEN_CACHE_SIZE);

  function entraKeys(tid: string): ReturnType<typeof createRemoteJWKSet> {
    let jwks = jwksByTenant.get(tid);
    if (!jwks) {
      jwks = createRemoteJWKSet(new URL(`${authority}/${encodeURIComponent(tid)}/discovery/v2.0/keys`), {
        cooldownDuration: 30_000,
        cacheMaxAge: 6 * 3600_000,
      });
      jwksByTenant.set(tid, jwks);
    }
    return jwks;
  }

  async function verifyWithIssuer(token: string, unverified: JWTPayload): Promise<JWTPayload> {
    if (unverified.iss === LOCAL_ISSUER) {
      if (!options.localKey)
        throw new AppError('Unauthorized', 'Local development tokens are not accepted here.');
      const { payload } = await jwtVerify(token, options.localKey.publicKey, {
        issuer: LOCAL_ISSUER,
        audience: options.audience,
        clockTolerance,
      });
      return payload;
    }
    if (!authority) throw new AppError('Unauthorized', 'Microsoft Entra ID tokens are not accepted here.');
    const tid = typeof unverified.tid === 'string' ? unverified.tid : '';
    if (!/^[0-9a-f-]{36}$/i.test(tid))
      throw new AppError('Unauthorized', 'The token has no valid tid claim.');
    const { payload } = await jwtVerify(token, entraKeys(tid), {
      issuer: `${authority}/${tid}/v2.0`,
      audience: options.audience,
      clockTolerance,
    });
    return payload;
  }

  return {
    async verify(token: string): Promise<Principal> {
      // The same token string verified before and not yet expired: the signature check would repeat
      // itself (it is most of a device request's CPU), so its principal is reused.
      const known = verified.get(token, Date.now());
      if (known !== undefined) return known;
      let unverified: JWTPayload;
      try {
        unverified = decodeJwt(token);
      } catch {
        throw new AppError('Unauthorized', 'The bearer token is not a JWT.');
      }
      let payload: JWTPayload;
      try {
        payload = await verifyWithIssuer(token, unverified);
      } catch (error) {
        if (error instanceof AppError) throw error;
        if (error instanceof joseErrors.JOSEError) {
          throw new AppError('Unauthorized', `The bearer token was refused: ${error.code}.`);
        }
        throw new AppError('Unavailable', 'The token signing keys could not be read.', { cause: error });
      }
      const claims = claimsSchema.safeParse(payload);
      if (!claims.success) throw new AppError('Unauthorized', 'The token lacks the oid or tid claim.');
      const principal: Principal = Object.freeze({
        objectId: claims.data.oid,
        tenantId: claims.data.tid,
        roles: Object.freeze([...claims.data.roles]),
        issuer: payload.iss === LOCAL_ISSUER ? 'local' : 'entra',
      });
      if (typeof payload.exp === 'number') verified.set(token, principal, payload.exp * 1000);
      return principal;
    },
  };
}

/**
 * Tokens that passed verification, by their exact string, each until its `exp` (without the clock
 * tolerance, so a remembered token is never accepted longer than jose would accept it). Least recently
 * used entries go first once `capacity` is reached.
 */
class VerifiedTokenCache {
  private readonly entries = new Map<string, { principal: Principal; expiresAtMs: number }>();

  constructor(private readonly capacity: number) {}

  get(token: string, nowMs: number): Principal | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    this.entries.delete(token);
    if (nowMs >= entry.expiresAtMs) return undefined;
    this.entries.set(token, entry);
    return entry.principal;
  }

  set(token: string, principal: Principal, expiresAtMs: number): void {
    if (this.capacity <= 0) return;
    this.entries.delete(token);
    while (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(token, { principal, expiresAtMs });
  }
}
