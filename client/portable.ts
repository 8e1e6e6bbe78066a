/**
 * What the SDK needs from its platform, read from web-standard globals only (no Node.js module), so
 * the main entry runs unchanged in browsers, React Native, Node.js and workers.
 */

interface CryptoLike {
  randomUUID?: () => string;
}

/**
 * A new random UUID from Web Crypto (`globalThis.crypto.randomUUID`: browsers in secure contexts,
 * Node.js 19+, Deno, Bun). React Native has none by default: install a polyfill (e.g. `expo-crypto`'s
 * `randomUUID` or `react-native-get-random-values` with `uuid`) or pass `randomId` to the client.
 */
export function webRandomUUID(): string {
  const crypto = (globalThis as { crypto?: CryptoLike }).crypto;
  if (typeof crypto?.randomUUID !== 'function') {
    throw new Error(
      'No crypto.randomUUID on this platform: pass randomId to createSyncClient (e.g. expo-crypto randomUUID).',
    );
  }
  return crypto.randomUUID();
}

/** Waits `ms` with the platform's timer. */
export const timerSleep = (ms: number): Promise<void> =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));
