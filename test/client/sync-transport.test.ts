import { z } from 'zod';
import { createSyncTransport, parseRetryAfter, SyncClientError } from '../../client';

const okSchema = z.object({ ok: z.boolean() });

/** A fetch answering from a script of responses (or thrown errors), recording each call. */
function scriptedFetch(script: Array<Response | Error>) {
  const calls: Array<{ url: string; authorization: string | undefined; acceptEncoding: string | undefined }> =
    [];
  const fake: typeof fetch = async (input, init) => {
    const headers = (init?.headers ?? {}) as Record<string, string>;
    calls.push({
      url: input as string,
      authorization: headers.authorization,
      acceptEncoding: headers['accept-encoding'],
    });
    const next = script.shift();
    if (next === undefined) throw new Error('script exhausted');
    if (next instanceof Error) throw next;
    return next;
  };
  return { fake, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('sync transport', () => {
  it('honours Retry-After on 429 and backs off on 503 and network errors', async () => {
    const { fake, calls } = scriptedFetch([
      json(429, { error: { code: 'Throttled', message: 'slow down' } }, { 'retry-after': '3' }),
      json(503, { error: { code: 'TenantNotProvisioned', message: 'later' } }),
      new TypeError('fetch failed'),
      json(200, { ok: true }),
    ]);
    const sleeps: number[] = [];
    const transport = createSyncTransport({
      baseUrl: 'http://sync.example/',
      org: 'contoso',
      getToken: () => 'secret-token',
      fetch: fake,
      sleep: async (ms) => void sleeps.push(ms),
      retry: { baseDelayMs: 100 },
    });
    await expect(transport.request('GET', 'metadata?app=a', okSchema)).resolves.toEqual({ ok: true });
    expect(calls).toHaveLength(4);
    expect(calls[0]!.url).toBe('http://sync.example/api/sync/contoso/metadata?app=a');
    expect(sleeps[0]).toBe(3000);
    expect(sleeps).toHaveLength(3);
    // Exponential backoff with jitter in the upper half.
    expect(sleeps[1]).toBeGreaterThanOrEqual(100);
    expect(sleeps[1]).toBeLessThanOrEqual(200);
    expect(sleeps[2]).toBeGreaterThanOrEqual(200);
    expect(sleeps[2]).toBeLessThanOrEqual(400);
  });

  it('asks getToken for every request and retries once on 401 with a fresh token', async () => {
    const { fake, calls } = scriptedFetch([
      json(401, { error: { code: 'Unauthorized', message: 'expired' } }),
      json(200, { ok: true }),
    ]);
    let n = 0;
    const transport = createSyncTransport({
      baseUrl: 'http://sync.example',
      org: 'contoso',
      getToken: async () => `token-${++n}`,
      fetch: fake,
      sleep: async () => undefined,
    });
    await transport.request('POST', 'download', okSchema, { app: 'a' });
    expect(calls.map((c) => c.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
  });

  it("gives up after the last attempt with the server's error code, never showing the token", async () => {
    const { fake } = scriptedFetch([
      json(503, { error: { code: 'TenantNotProvisioned', message: 'not yet' } }),
      json(503, { error: { code: 'TenantNotProvisioned', message: 'not yet' } }),
      json(403, { error: { code: 'Forbidden', message: 'no' } }),
    ]);
    const transport = createSyncTransport({
      baseUrl: 'http://sync.example',
      org: 'contoso',
      getToken: () => 'secret-token',
      fetch: fake,
      sleep: async () => undefined,
      retry: { maxAttempts: 2 },
    });
    const error = await transport.request('GET', 'metadata?app=a', okSchema).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncClientError);
    expect(error).toMatchObject({ code: 'TenantNotProvisioned', status: 503 });
    expect(JSON.stringify(error) + String(error)).not.toContain('secret-token');
    // A 403 is not retried.
    await expect(transport.request('GET', 'metadata?app=a', okSchema)).rejects.toMatchObject({
      code: 'Forbidden',
    });
  });

  it('refuses an answer that does not match the schema', async () => {
    const { fake } = scriptedFetch([json(200, { nope: 1 })]);
    const transport = createSyncTransport({
      baseUrl: 'http://x',
      org: 'o',
      getToken: () => 't',
      fetch: fake,
    });
    await expect(transport.request('GET', 'metadata?app=a', okSchema)).rejects.toMatchObject({
      code: 'BadResponse',
    });
  });

  it('shows a caller the headers before reading the body: a body that is not JSON is BadResponse, one cut off is Network', async () => {
    const cut = new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"ok":'));
          controller.error(new TypeError('terminated'));
        },
      }),
      { headers: { 'x-next': 'n3' } },
    );
    const { fake } = scriptedFetch([
      json(200, { ok: true }, { 'x-next': 'n1' }),
      new Response('<html>', { headers: { 'x-next': 'n2' } }),
      cut,
      json(503, { error: { code: 'Unavailable', message: 'busy' } }, { 'x-next': 'never' }),
    ]);
    const transport = createSyncTransport({
      baseUrl: 'http://x',
      org: 'o',
      getToken: () => 't',
      fetch: fake,
      retry: { maxAttempts: 1 },
    });
    const seen: (string | null)[] = [];
    const onHeaders = (headers: Headers) => seen.push(headers.get('x-next'));
    await expect(transport.request('POST', 'download', okSchema, {}, { onHeaders })).resolves.toEqual({
      ok: true,
    });
    await expect(transport.request('POST', 'download', okSchema, {}, { onHeaders })).rejects.toMatchObject({
      code: 'BadResponse',
    });
    await expect(transport.request('POST', 'download', okSchema, {}, { onHeaders })).rejects.toMatchObject({
      code: 'Network',
    });
    await expect(transport.request('POST', 'download', okSchema, {}, { onHeaders })).rejects.toMatchObject({
      code: 'Unavailable',
    });
    // Every successful answer's headers, whatever its body; none of a failed answer.
    expect(seen).toEqual(['n1', 'n2', 'n3']);
  });

  it('asks for brotli on Node.js, whose fetch would ask only for gzip; an app may say otherwise', async () => {
    const { fake, calls } = scriptedFetch([json(200, { ok: true }), json(200, { ok: true })]);
    const options = { baseUrl: 'http://sync.example', org: 'contoso', getToken: () => 't', fetch: fake };
    await createSyncTransport(options).request('GET', 'metadata?app=a', okSchema);
    await createSyncTransport({ ...options, acceptEncoding: 'gzip' }).request(
      'GET',
      'metadata?app=a',
      okSchema,
    );
    expect(calls.map((c) => c.acceptEncoding)).toEqual(['br, gzip', 'gzip']);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});
