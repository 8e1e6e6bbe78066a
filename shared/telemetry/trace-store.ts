import { SpanKind, trace, type Attributes } from '@opentelemetry/api';
import type { DocStore, ReadMeter, Store, TenantStore } from '../store/port';
import { ATTR, inSpan, SPAN } from './telemetry';

/**
 * The store with one span per call (`store.<method>`, a client span naming the adapter, the tenant
 * and the document kind or entity; never an id or a value). Wrapped once in the composition root, so
 * every flow's store calls nest under its span whichever adapter serves them.
 *
 * Store calls are the hottest path there is (an idle sync makes a dozen, a first download hundreds),
 * so a call builds attributes and a span only when they can be recorded: when the active span (the
 * request's, the queue message's, the provisioning step's) is recording. With no tracer provider
 * installed, or a request its sampler dropped, a call goes straight through: no attributes, no span
 * object, no tracer looked up. A store call outside any recorded flow (a queue poll, a timer's
 * housekeeping) is not traced either: alone, it would be a root trace of one span.
 */

const DOC_METHODS = ['getDoc', 'getDocIfChanged', 'putDoc', 'deleteDoc', 'listDocs', 'listDocEtags'] as const;
const RECORD_METHODS = [
  'applyRecordWrites',
  'getRecord',
  'getRecords',
  'scanRecords',
  'countRecords',
  'findRecords',
  'findRecordIds',
  'prepareLookups',
  'readChanges',
  'headCursor',
  'settleChanges',
] as const;

type DocMethod = (typeof DOC_METHODS)[number];
type RecordMethod = (typeof RECORD_METHODS)[number];
type StoreMethod = DocMethod | RecordMethod;
// Every method of the port is traced: a method added to TenantStore and not listed fails to compile.
const everyMethodListed: Exclude<keyof TenantStore, StoreMethod | 'org' | 'metered'> extends never
  ? true
  : never = true;
void everyMethodListed;

type AnyMethod = (...args: unknown[]) => Promise<unknown>;

/** Whether a span started now would be recorded: the active span is (no provider: there is none). */
export function storeTracingActive(): boolean {
  return trace.getActiveSpan()?.isRecording() === true;
}

/** What the spans of one handle's calls share: the base attributes, made once per tenant handle. */
interface TraceTarget {
  base: Attributes;
}

/** Calls `method` of `inner`, in its span when spans are recorded; the first argument names a kind or an entity. */
function call(target: TraceTarget, inner: object, method: StoreMethod, args: unknown[]): Promise<unknown> {
  const run = (): Promise<unknown> => (inner as Record<string, AnyMethod>)[method]!.apply(inner, args);
  if (!storeTracingActive()) return run();
  const attributes: Attributes = { ...target.base, 'db.operation.name': method };
  const first = args[0];
  if (typeof first === 'string') {
    attributes[(DOC_METHODS as readonly string[]).includes(method) ? 'offline_sync.doc.kind' : ATTR.entity] =
      first;
  } else if (Array.isArray(first)) attributes[ATTR.rows] = first.length;
  return inSpan(`${SPAN.storePrefix}${method}`, attributes, run, SpanKind.CLIENT);
}

/**
 * A traced store handle: its methods live on the prototype (defined below from the method lists), so
 * a handle costs one small object and no closure per method: a request's metered handle is wrapped
 * per request, and shares its tenant handle's {@link TraceTarget}.
 */
class TracedDocStore {
  constructor(
    readonly inner: DocStore,
    readonly target: TraceTarget,
  ) {}
}

class TracedTenantStore extends TracedDocStore {
  constructor(
    override readonly inner: TenantStore,
    target: TraceTarget,
  ) {
    super(inner, target);
  }

  get org(): string {
    return this.inner.org;
  }

  metered(meter: ReadMeter): TenantStore {
    return new TracedTenantStore(this.inner.metered(meter), this.target) as unknown as TenantStore;
  }
}

function defineTracedMethods(prototype: TracedDocStore, methods: readonly StoreMethod[]): void {
  for (const method of methods) {
    Object.defineProperty(prototype, method, {
      value(this: TracedDocStore, ...args: unknown[]): Promise<unknown> {
        return call(this.target, this.inner, method, args);
      },
      writable: true,
      configurable: true,
    });
  }
}
defineTracedMethods(TracedDocStore.prototype, DOC_METHODS);
defineTracedMethods(TracedTenantStore.prototype, RECORD_METHODS);

/** `store` with its calls traced; a tenant's handle stays the same object as long as the adapter's does. */
export function traceStore(store: Store): Store {
  const system = store.kind;
  // Per-process caches are kept per tenant handle (WeakMaps): one traced handle per adapter handle.
  const handles = new WeakMap<TenantStore, TenantStore>();
  const control = new TracedDocStore(store.control, {
    base: { 'db.system.name': system, 'db.namespace': 'control' },
  }) as unknown as DocStore;
  return {
    kind: store.kind,
    control,
    tenant(org) {
      const inner = store.tenant(org);
      let traced = handles.get(inner);
      if (traced === undefined) {
        const target = { base: { 'db.system.name': system, [ATTR.org]: inner.org } };
        traced = new TracedTenantStore(inner, target) as unknown as TenantStore;
        handles.set(inner, traced);
      }
      return traced;
    },
    createTenantDatabase: (org) => store.createTenantDatabase(org),
    dropTenantDatabase: (org) => store.dropTenantDatabase(org),
    tenantDatabaseExists: (org) => store.tenantDatabaseExists(org),
    close: () => store.close(),
  };
}
