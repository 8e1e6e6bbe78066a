import {
  createRemoteJWKSet,
  decodeJwt,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { z } from 'zod';
import { AppError } from '../errors';
import {
  LOCAL_AUDIENCE,
  LOCAL_ISSUER,
  LOCAL_TOKEN_ALGORITHM,
  type LocalSigningKey,
} from './local-signing-key';
import type { Principal } from './principal';

/** Claims every accepted token must carry, whichever issuer signed it. */
const claimsSchema = z.object({
  oid: z.string().min(1),
  tid: z.string().min(1),
  roles: z.array(z.string()).default([]),
});

/** Issuer authority of Entra v1.0 access tokens: `https://sts.windows.net/{tid}/` (public cloud). */
export const ENTRA_V1_ISSUER_AUTHORITY = 'https://sts.windows.net';

/** Entra signs access tokens with RS256 only: no other algorithm is ever accepted for them. */
const ENTRA_TOKEN_ALGORITHMS = ['RS256'];

/** Seconds a caller is told to wait when the Entra signing keys cannot be fetched. */
const KEYS_UNAVAILABLE_RETRY_SECONDS = 30;

export interface TokenVerifierOptions {
  /**
   * Audiences Entra tokens may carry (any one of them): the API's client id, `api://{client id}`.
   * Required when `entraAuthority` is set.
   */
  audiences?: readonly string[];
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
  /**
   * Verifies a bearer token (signature, algorithm, issuer, audience, expiry): 401 Unauthorized for
   * any token that fails, 503 Unavailable only when the Entra signing keys cannot be fetched.
   */
  verify(token: string): Promise<Principal>;
}

/**
 * Verifies bearer tokens with `jose`.
 *
 * Entra tokens (RS256) are checked against one key set, the common discovery keys
 * (`<authority>/common/discovery/v2.0/keys`), which sign the tokens of every tenant, v1.0 and v2.0
 * alike: one set, fetched at most once per cooldown, however many tenants' tokens arrive (a key set
 * per `tid` read from an unverified token would let anyone grow memory without bound). The tenant is
 * bound by the issuer, which must name the token's own `tid`: v2.0 `<authority>/<tid>/v2.0` or v1.0
 * `https://sts.windows.net/<tid>/`. The audience must be one of `audiences`. Which tenant may act on
 * which org is decided afterwards, per route, from the `tid` claim. Tokens signed with an
 * application-specific key (apps with a claims-mapping policy) are not accepted.
 *
 * Local development tokens are ES256 only, with the local issuer and audience.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const authority = options.entraAuthority?.replace(/\/+$/, '');
  const audiences = [...(options.audiences ?? [])];
  if (authority !== undefined && audiences.length === 0) {
    throw new Error('Entra tokens need at least one audience (AUTH_AUDIENCE).');
  }
  const clockTolerance = options.clockToleranceSeconds ?? 60;
  const verified = new VerifiedTokenCache(options.verifiedTokenCacheSize ?? VERIFIED_TOKEN_CACHE_SIZE);
  const entraKeys = authority === undefined ? undefined : commonEntraKeys(authority);

  async function verifyWithIssuer(token: string, unverified: JWTPayload): Promise<JWTPayload> {
    if (unverified.iss === LOCAL_ISSUER) {
      if (!options.localKey)
        throw new AppError('Unauthorized', 'Local development tokens are not accepted here.');
      const { payload } = await jwtVerify(token, options.localKey.publicKey, {
        algorithms: [LOCAL_TOKEN_ALGORITHM],
        issuer: LOCAL_ISSUER,
        audience: LOCAL_AUDIENCE,
        clockTolerance,
      });
      return payload;
    }
    if (!entraKeys || authority === undefined)
      throw new AppError('Unauthorized', 'Microsoft Entra ID tokens are not accepted here.');
    const tid = typeof unverified.tid === 'string' ? unverified.tid : '';
    if (!/^[0-9a-f-]{36}$/i.test(tid))
      throw new AppError('Unauthorized', 'The token has no valid tid claim.');
    const { payload } = await jwtVerify(token, entraKeys, {
      algorithms: ENTRA_TOKEN_ALGORITHMS,
      issuer: [`${authority}/${tid}/v2.0`, `${ENTRA_V1_ISSUER_AUTHORITY}/${tid}/`],
      audience: audiences,
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
        // AppErrors are this verifier's own answers (401, or 503 from the key endpoint).
        if (error instanceof AppError) throw error;
        // Anything else failed on the client's token (a JOSE check, or a key of the wrong type for
        // the token's algorithm): never a service outage.
        const reason = error instanceof joseErrors.JOSEError ? error.code : 'invalid token';
        throw new AppError('Unauthorized', `The bearer token was refused: ${reason}.`, { cause: error });
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
 * The common discovery key set of an Entra authority, as a `jose` key resolver. A token naming a key
 * the set does not hold is the token's fault (401, from jose); failing to fetch or read the set is
 * not: that is 503 `Unavailable`.
 */
function commonEntraKeys(authority: string): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(new URL(`${authority}/common/discovery/v2.0/keys`), {
    // An unknown `kid` refetches at most once per 30 s, so forged kids cannot hammer the endpoint.
    cooldownDuration: 30_000,
    cacheMaxAge: 6 * 3600_000,
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (
        error instanceof joseErrors.JWKSNoMatchingKey ||
        error instanceof joseErrors.JWKSMultipleMatchingKeys
      ) {
        throw error;
      }
      throw new AppError('Unavailable', 'The token signing keys could not be read.', {
        cause: error,
        retryAfterSeconds: KEYS_UNAVAILABLE_RETRY_SECONDS,
      });
    }
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
