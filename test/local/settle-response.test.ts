import { Readable } from 'node:stream';
import { settleResponse } from '../../local/http-server';

describe('settleResponse', () => {
  it('takes a byte body as it is, with its status and headers', async () => {
    const body = Buffer.from('{"a":1}');
    const settled = await settleResponse({
      status: 201,
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(settled.status).toBe(201);
    expect(settled.headers.get('content-type')).toBe('application/json');
    expect(settled.bytes.equals(body)).toBe(true);
  });

  it('keeps only the view of a byte array that shares a larger buffer', async () => {
    const whole = Buffer.from('xx{"b":2}yy');
    const settled = await settleResponse({ body: whole.subarray(2, 9) });
    expect(settled.bytes.toString()).toBe('{"b":2}');
    expect(settled.status).toBe(200);
  });

  it('answers no body with no bytes', async () => {
    const settled = await settleResponse({ status: 204, headers: { 'x-trace-id': 't' } });
    expect(settled.status).toBe(204);
    expect(settled.bytes.length).toBe(0);
    expect(settled.headers.get('x-trace-id')).toBe('t');
  });

  it('reads other bodies as the Functions host would (a string gets its text content type)', async () => {
    const settled = await settleResponse({ body: 'plain text' });
    expect(settled.bytes.toString()).toBe('plain text');
    expect(settled.headers.get('content-type')).toMatch(/^text\/plain/);
  });

  it('reads a stream body whole', async () => {
    const settled = await settleResponse({
      body: Readable.toWeb(Readable.from([Buffer.from('ab'), Buffer.from('cd')])) as never,
    });
    expect(settled.bytes.toString()).toBe('abcd');
  });

  it('serializes a JSON body', async () => {
    const settled = await settleResponse({ jsonBody: { c: 3 } });
    expect(JSON.parse(settled.bytes.toString())).toEqual({ c: 3 });
    expect(settled.headers.get('content-type')).toMatch(/^application\/json/);
  });
});
