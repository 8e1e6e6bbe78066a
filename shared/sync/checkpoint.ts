import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../errors';
import type { DocStore } from '../store/port';

/** Doc of the tenant's checkpoint signing key: created on first use, never leaves the tenant store. */
const KEY_KIND = 'syncSecret';
const KEY_ID = 'checkpoint';

/**
 * What a download checkpoint says (SPEC §6). The server's device state is the authority; the
 * checkpoint names which page of which sync epoch the device applied, and is bound to its tenant,
 * user and device. Checkpoints of version 1 (an earlier server) are read as stale: the device starts
 * over.
 */
export const checkpointPayloadSchema = z
  .object({
    v: z.literal(2),
    org: z.string(),
    user: z.string(),
    device: z.string(),
    /** Random id of the device's sync state, new on every download started without a checkpoint. */
    epoch: z.string(),
    /** Page sequence number within the epoch. */
    seq: z.number().int().nonnegative(),
  })
  .strict();
export type CheckpointPayload = z.infer<typeof checkpointPayloadSchema>;

/** A checkpoint an earlier server version signed: valid, but of no state this server keeps. */
const legacyPayloadSchema = z.object({
  v: z.literal(1),
  org: z.string(),
  user: z.string(),
  device: z.string(),
});

/** The tenant's checkpoint key, created (32 random bytes) on first use. */
export async function loadCheckpointKey(store: DocStore): Promise<Buffer> {
  const existing = await store.getDoc<{ key: string }>(KEY_KIND, KEY_ID);
  if (existing !== undefined) return Buffer.from(existing.value.key, 'base64');
  try {
    const created = await store.putDoc(
      KEY_KIND,
      KEY_ID,
      { key: randomBytes(32).toString('base64') },
      {
        ifNoneMatch: '*',
      },
    );
    return Buffer.from(created.value.key, 'base64');
  } catch (error) {
    // Another request created it first: use theirs.
    if (!(error instanceof AppError && error.code === 'Conflict')) throw error;
    const raced = await store.getDoc<{ key: string }>(KEY_KIND, KEY_ID);
    if (raced === undefined) throw error;
    return Buffer.from(raced.value.key, 'base64');
  }
}

function mac(key: Buffer, body: string): Buffer {
  return createHmac('sha256', key).update(body).digest();
}

/** Encodes and signs (HMAC-SHA256) a checkpoint: `base64url(json).base64url(mac)`. */
export function signCheckpoint(key: Buffer, payload: CheckpointPayload): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${mac(key, body).toString('base64url')}`;
}

function invalid(message: string): AppError {
  return new AppError('ValidationFailed', message, {
    details: [{ path: 'checkpoint', code: 'CheckpointInvalid', message }],
  });
}

/**
 * Verifies a checkpoint's signature and that it belongs to this tenant, user and device.
 *
 * @throws AppError `ValidationFailed` (detail code `CheckpointInvalid`) for a forged, altered,
 * malformed or foreign checkpoint.
 */
export function verifyCheckpoint(
  key: Buffer,
  checkpoint: string,
  expected: { org: string; user: string; device: string },
): CheckpointPayload {
  const [body, signature, extra] = checkpoint.split('.');
  if (body === undefined || signature === undefined || extra !== undefined) {
    throw invalid('The checkpoint is malformed.');
  }
  const given = Buffer.from(signature, 'base64url');
  const wanted = mac(key, body);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    throw invalid('The checkpoint was not issued by this service for this tenant, or was altered.');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch (error) {
    throw new AppError('ValidationFailed', 'The checkpoint is malformed.', {
      details: [{ path: 'checkpoint', code: 'CheckpointInvalid', message: 'not JSON' }],
      cause: error,
    });
  }
  const payload = checkpointPayloadSchema.safeParse(parsed);
  const legacy = payload.success ? undefined : legacyPayloadSchema.safeParse(parsed);
  if (!payload.success && legacy?.success !== true) throw invalid('The checkpoint is malformed.');
  const p = payload.success ? payload.data : legacy!.data!;
  if (p.org !== expected.org || p.user !== expected.user || p.device !== expected.device) {
    throw invalid('The checkpoint belongs to another tenant, user or device.');
  }
  // A checkpoint of version 1 names no state of this version: epoch '' matches no device state.
  return payload.success
    ? payload.data
    : { v: 2, org: p.org, user: p.user, device: p.device, epoch: '', seq: 0 };
}
