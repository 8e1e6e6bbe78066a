import { SpanKind, type Attributes } from '@opentelemetry/api';
import type { DocStore, ReadMeter, Store, TenantStore } from '../store/port';
import { ATTR, inSpan, SPAN } from './telemetry';

/**
 * The store with one span per call (`store.<method>`, a client span naming the adapter, the tenant
 * and the document kind or entity; never an id or a value). Wrapped once in the composition root, so
 * every flow's store calls nest under its span whichever adapter serves them.
 */

const DOC_METHODS = ['getDoc', 'getDocIfChanged', 'putDoc', 'deleteDoc', 'listDocs', 'listDocEtags'] as const;
const RECORD_METHODS = [
  'applyRecordWrites',
  'getRecord',
  'getRecords',
  'scanRecords',
  'countRecords',
  'findRecords',
  'prepareLookups',
  'readChanges',
  'headCursor',
  'settleChanges',
] as const;

type DocMethod = (typeof DOC_METHODS)[number];
type StoreMethod = DocMethod | (typeof RECORD_METHODS)[number];
// Every method of the port is traced: a method added to TenantStore and not listed fails to compile.
const everyMethodListed: Exclude<keyof TenantStore, StoreMethod | 'org' | 'metered'> extends never
  ? true
  : never = true;
void everyMethodListed;

type AnyMethod = (...args: unknown[]) => Promise<unknown>;

/** Wraps each named method of `inner` in its span; the first argument names a kind or an entity. */
function traceMethods(
  inner: object,
  methods: readonly StoreMethod[],
  base: Attributes,
  target: Record<string, unknown>,
): void {
  const source = inner as Record<string, AnyMethod>;
  for (const method of methods) {
    const name = `${SPAN.storePrefix}${method}`;
    const subject = (DOC_METHODS as readonly string[]).includes(method)
      ? 'offline_sync.doc.kind'
      : ATTR.entity;
    target[method] = (...args: unknown[]) => {
      const attributes: Attributes = { ...base, 'db.operation.name': method };
      const first = args[0];
      if (typeof first === 'string') attributes[subject] = first;
      else if (Array.isArray(first)) attributes[ATTR.rows] = first.length;
      return inSpan(name, attributes, () => source[method]!.apply(inner, args), SpanKind.CLIENT);
    };
  }
}

function traceDocStore(inner: DocStore, base: Attributes): DocStore {
  const traced: Record<string, unknown> = {};
  traceMethods(inner, DOC_METHODS, base, traced);
  return traced as unknown as DocStore;
}

function traceTenantStore(inner: TenantStore, system: string): TenantStore {
  const traced: Record<string, unknown> = {
    org: inner.org,
    metered: (meter: ReadMeter) => traceTenantStore(inner.metered(meter), system),
  };
  traceMethods(
    inner,
    [...DOC_METHODS, ...RECORD_METHODS],
    { 'db.system.name': system, [ATTR.org]: inner.org },
    traced,
  );
  return traced as unknown as TenantStore;
}

/** `store` with its calls traced; a tenant's handle stays the same object as long as the adapter's does. */
export function traceStore(store: Store): Store {
  const system = store.kind;
  // Per-process caches are kept per tenant handle (WeakMaps): one traced handle per adapter handle.
  const handles = new WeakMap<TenantStore, TenantStore>();
  return {
    kind: store.kind,
    control: traceDocStore(store.control, { 'db.system.name': system, 'db.namespace': 'control' }),
    tenant(org) {
      const inner = store.tenant(org);
      let traced = handles.get(inner);
      if (traced === undefined) {
        traced = traceTenantStore(inner, system);
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
