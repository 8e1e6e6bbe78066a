import { ProxyTracer, SpanKind, trace } from '@opentelemetry/api';
import { newReadMeter, type ReadMeter, type Store, type TenantStore } from '../../../shared/store/port';
import { ATTR, tracer } from '../../../shared/telemetry/telemetry';
import { traceStore } from '../../../shared/telemetry/trace-store';
import { captureTelemetry, type TelemetryCapture } from '../../support/telemetry-capture';

/**
 * The store's tracing wrapper on the hot path: with no tracer provider a call goes straight to the
 * adapter (no tracer looked up, no span object made); with one, each call within a recorded flow is
 * its `store.<method>` span, the metered handle of a request included.
 */

/** An adapter stand-in that answers each call with what it was called with, and its meter. */
function fakeTenant(org: string, meter?: ReadMeter): TenantStore {
  const answer =
    (method: string) =>
    (...args: unknown[]): Promise<unknown> =>
      Promise.resolve({ method, args, meter });
  const docs = ['getDoc', 'getDocIfChanged', 'putDoc', 'deleteDoc', 'listDocs', 'listDocEtags'];
  const records = ['applyRecordWrites', 'getRecord', 'getRecords', 'scanRecords', 'countRecords'];
  const more = ['findRecords', 'prepareLookups', 'readChanges', 'headCursor', 'settleChanges'];
  const handle: Record<string, unknown> = {
    org,
    metered: (next: ReadMeter) => fakeTenant(org, next),
  };
  for (const method of [...docs, ...records, ...more]) handle[method] = answer(method);
  return handle as unknown as TenantStore;
}

function fakeStore(): Store {
  const tenants = new Map<string, TenantStore>();
  return {
    kind: 'sqlite',
    control: fakeTenant('control'),
    tenant(org) {
      let handle = tenants.get(org);
      if (handle === undefined) tenants.set(org, (handle = fakeTenant(org)));
      return handle;
    },
    createTenantDatabase: () => Promise.resolve(),
    dropTenantDatabase: () => Promise.resolve(),
    tenantDatabaseExists: () => Promise.resolve(true),
    close: () => Promise.resolve(),
  };
}

/** Store calls of every kind, through the tenant handle, a metered one and the control store. */
async function someCalls(store: Store): Promise<unknown[]> {
  const tenant = store.tenant('acme');
  const metered = tenant.metered(newReadMeter());
  return Promise.all([
    tenant.getDoc('syncDevice', 'k1'),
    tenant.applyRecordWrites([]),
    metered.getRecord('account', 'a1'),
    metered.headCursor(),
    store.control.listDocs('tenant'),
  ]);
}

describe('traceStore', () => {
  afterEach(() => jest.restoreAllMocks());

  it('with no tracer provider calls through: no tracer looked up, no span made, same answers', async () => {
    const getTracer = jest.spyOn(trace, 'getTracer');
    const startSpan = jest.spyOn(ProxyTracer.prototype, 'startSpan');
    const startActiveSpan = jest.spyOn(ProxyTracer.prototype, 'startActiveSpan');
    const traced = traceStore(fakeStore());
    const answers = await someCalls(traced);
    expect(answers).toEqual(await someCalls(fakeStore()));
    expect(answers[2]).toMatchObject({ method: 'getRecord', args: ['account', 'a1'], meter: newReadMeter() });
    expect(getTracer).not.toHaveBeenCalled();
    expect(startSpan).not.toHaveBeenCalled();
    expect(startActiveSpan).not.toHaveBeenCalled();
    // The test's own counters work: a span started through the core's tracer is counted.
    tracer().startSpan('probe').end();
    expect(startSpan).toHaveBeenCalledTimes(1);
  });

  it('keeps one traced handle per tenant handle; its org and metered views are the adapter’s', () => {
    const traced = traceStore(fakeStore());
    expect(traced.tenant('acme')).toBe(traced.tenant('acme'));
    expect(traced.tenant('acme').org).toBe('acme');
    expect(traced.tenant('acme').metered(newReadMeter()).org).toBe('acme');
  });

  describe('with the in-memory exporter', () => {
    let capture: TelemetryCapture;
    beforeEach(() => {
      capture = captureTelemetry();
    });
    afterEach(() => capture.stop());

    it('makes a client span per store call within a recorded flow, metered handles included', async () => {
      const traced = traceStore(fakeStore());
      await tracer().startActiveSpan('flow', async (flow) => {
        await someCalls(traced);
        flow.end();
      });
      const flow = capture.spans().find((s) => s.name === 'flow')!;
      const calls = capture.spans().filter((s) => s.name.startsWith('store.'));
      expect(calls.map((s) => s.name).sort()).toEqual([
        'store.applyRecordWrites',
        'store.getDoc',
        'store.getRecord',
        'store.headCursor',
        'store.listDocs',
      ]);
      expect(calls.every((s) => s.kind === SpanKind.CLIENT)).toBe(true);
      expect(calls.every((s) => s.parentSpanContext?.spanId === flow.spanContext().spanId)).toBe(true);
      const named = (name: string) => calls.find((s) => s.name === name)!.attributes;
      expect(named('store.getDoc')).toEqual({
        'db.system.name': 'sqlite',
        [ATTR.org]: 'acme',
        'db.operation.name': 'getDoc',
        'offline_sync.doc.kind': 'syncDevice',
      });
      expect(named('store.getRecord')).toMatchObject({ [ATTR.org]: 'acme', [ATTR.entity]: 'account' });
      expect(named('store.applyRecordWrites')).toMatchObject({ [ATTR.rows]: 0 });
      expect(named('store.listDocs')).toMatchObject({ 'db.namespace': 'control' });
    });

    it('makes none for a call outside any flow (it would be a trace of one span)', async () => {
      await someCalls(traceStore(fakeStore()));
      expect(capture.spans()).toEqual([]);
    });

    it('marks a failed call’s span with the error’s type and throws the error on', async () => {
      const inner = fakeStore();
      const failing = inner.tenant('acme');
      const error = new TypeError('boom');
      (failing as unknown as Record<string, unknown>).getDoc = () => Promise.reject(error);
      const traced = traceStore(inner);
      await tracer().startActiveSpan('flow', async (flow) => {
        await expect(traced.tenant('acme').getDoc('syncDevice', 'k')).rejects.toBe(error);
        flow.end();
      });
      const span = capture.spans().find((s) => s.name === 'store.getDoc')!;
      expect(span.attributes[ATTR.errorType]).toBe('TypeError');
    });
  });
});
