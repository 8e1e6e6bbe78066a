import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { prepareSyncLookups } from '../sync/lookup-specs';
import type { AppServices } from '../app-services';
import { AppError } from '../errors';
import { defaultOfflineEntities, type EntityMetadata } from '../model/entity';
import type { Tenant } from '../model/tenant';
import { getTenant, setTenantState } from '../tenants/tenant-registry';
import {
  planDownload,
  priorityEntitiesDone,
  recordEntityProgress,
  resumeDownload,
} from './download-progress';
import {
  applySourcePage,
  checkPublishedProfiles,
  hasDirectory,
  loadEntityConfigurations,
  loadOfflineEntities,
  replicationReadOf,
  saveDeltaToken,
  saveSourceDirectory,
  saveSourceMetadata,
  syncEntityMessage,
} from './provisioning-dependencies';
import { withMessage, type ProvisioningStatus, type StatusMessage } from './provisioning-status';

/**
 * The steps of provisioning (SPEC §8) and deprovisioning, each a thin function over the ports.
 * Each is idempotent: run again after a crash it finds its earlier work done (the database exists,
 * rows already stored are `stale`, messages carry deterministic ids) and duplicates nothing.
 */

/** What a step sees: the services, the tenant, and its run's status document. */
export interface StepContext {
  services: AppServices;
  tenant: Tenant;
  runId: string;
  /**
   * Changes this run's status document and returns it, or undefined when a newer run replaced this
   * one (the step must then end at once). The returned status carries the stop flag.
   */
  update: (
    change: (status: ProvisioningStatus) => ProvisioningStatus,
  ) => Promise<ProvisioningStatus | undefined>;
}

/**
 * How a step ended: done (with a summary); stopped cleanly because a stop was requested; or one
 * chunk done (`continued`: the step saved where it stands and is called again, as a new activity).
 */
export type StepOutcome =
  | { outcome: 'succeeded'; summary: string }
  | { outcome: 'stopped' }
  | { outcome: 'continued'; summary: string };

export type StepFunction = (ctx: StepContext) => Promise<StepOutcome>;

/** Directory and security entities: downloaded first, so devices can be authorized early. */
export const DIRECTORY_ENTITIES: ReadonlySet<string> = new Set([
  'systemuser',
  'team',
  'businessunit',
  'role',
  'teammembership',
  'systemuserroles',
  'teamroles',
]);

/**
 * Rows step 5 writes per store call, with a yield to the event loop between calls: a SQLite write of
 * 100 rows holds the local host for a few tens of ms, not the few hundred a whole page would.
 */
const WRITES_PER_CALL = 100;

const succeeded = (summary: string): StepOutcome => ({ outcome: 'succeeded', summary });

/** Step 1: the registration is complete and the source answers. */
export const validateAndReachSource: StepFunction = async ({ services, tenant }) => {
  if (tenant.source.kind === 'local') {
    // The local source is the tenant store itself: reachable once step 2 has created it.
    const exists = await services.store.tenantDatabaseExists(tenant.org);
    if (!exists) return succeeded('Local source: the tenant database is created in step 2.');
    const metadata = await services.sourceFor(tenant).readMetadata();
    return succeeded(`Local source reachable: ${metadata.length} entities declared.`);
  }
  // One small read proves the URL, the credential and the application user's access.
  const metadata = await services.sourceFor(tenant).readMetadata(['systemuser']);
  if (metadata.length === 0) {
    throw new AppError(
      'SourceUnavailable',
      `The source at ${tenant.source.url} returned no metadata for systemuser.`,
    );
  }
  return succeeded(`Source reachable at ${tenant.source.url}.`);
};

/** Step 2: the tenant's own database (does nothing if it exists). */
export const createTenantDatabase: StepFunction = async ({ services, tenant }) => {
  await services.store.createTenantDatabase(tenant.org);
  return succeeded('Tenant database ready.');
};

/** Step 3: metadata and directory into the tenant store (a `local` tenant declared them: verify). */
export const downloadMetadata: StepFunction = async ({ services, tenant }) => {
  const store = services.store.tenant(tenant.org);
  if (tenant.source.kind === 'local') {
    const entities = await loadEntityConfigurations(store);
    if (entities.length === 0) {
      throw new AppError(
        'Unprocessable',
        `No entity metadata is published for '${tenant.org}': declare entities (PUT admin/${tenant.org}/entities/{entity}), publish them (POST admin/${tenant.org}/customizations/publish) and provision again.`,
      );
    }
    if (!(await hasDirectory(store))) {
      throw new AppError(
        'Unprocessable',
        `No directory is declared for '${tenant.org}': PUT admin/${tenant.org}/directory and provision again.`,
      );
    }
    return succeeded(`Metadata verified: ${entities.length} entities and the directory are declared.`);
  }
  const source = services.sourceFor(tenant);
  const configured = (await loadEntityConfigurations(store)).map((e) => e.metadata.logicalName);
  const wanted = [...new Set([...defaultOfflineEntities, ...DIRECTORY_ENTITIES, ...configured])].sort();
  const metadata = await source.readMetadata(wanted);
  // Dataverse entities relate to hundreds of others; the catalog holds only what was read (and what
  // was declared before), and a relationship naming an entity outside it would fail the publish.
  const catalog = new Set([...configured, ...metadata.map((m) => m.logicalName)]);
  await saveSourceMetadata(
    store,
    services.clock,
    metadata.map((m) => relationshipsWithin(m, catalog)),
  );
  await saveSourceDirectory(store, services.clock, await source.readDirectory());
  return succeeded(`Metadata of ${metadata.length} entities and the directory downloaded.`);
};

/** The entity with only the relationships whose every entity (intersect included) is in `catalog`. */
export function relationshipsWithin(metadata: EntityMetadata, catalog: ReadonlySet<string>): EntityMetadata {
  const relationships = metadata.relationships.filter((r) =>
    (r.kind === 'many-to-many'
      ? [r.entity1, r.entity2, r.intersectEntity]
      : [r.referencedEntity, r.referencingEntity]
    ).every((entity) => catalog.has(entity)),
  );
  return relationships.length === metadata.relationships.length ? metadata : { ...metadata, relationships };
}

/** Step 4: the published profiles compile against the metadata. */
export const configureSync: StepFunction = async ({ services, tenant, update }) => {
  const store = services.store.tenant(tenant.org);
  const check = await checkPublishedProfiles(store);
  // Indexes for the look-ups devices will make are built here, before any device syncs.
  await prepareSyncLookups(store);
  const now = services.clock.now();
  for (const warning of check.warnings) await update((s) => withMessage(s, now, warning, 'warning'));
  return succeeded(`${check.publishedProfiles} published profiles compiled.`);
};

/**
 * Step 5: every offline entity, page by page, into the tenant store; directory, security and
 * required entities first, after which the tenant is activated early so devices may start (SPEC §8)
 * while the rest continues. Progress, ETA and each unfinished entity's read position are written
 * after every page; a stop request ends the step after the page in hand. The step runs in chunks:
 * after `REPLICATION_READ_MAX_PAGES` pages or `REPLICATION_READ_MAX_SECONDS` it answers `continued`
 * and is called again (a new activity), so no activity outlasts the function timeout. Each call — the
 * next chunk, a retry, a restart — skips finished entities and goes on at the saved page of the one in
 * hand. Between pages it yields to the event loop, so the local host keeps answering while it runs.
 */
export const downloadData: StepFunction = async (ctx) => {
  const { services, tenant } = ctx;
  const store = services.store.tenant(tenant.org);
  const source = services.sourceFor(tenant);
  const entities = await loadOfflineEntities(store);
  const byName = new Map(entities.map((e) => [e.metadata.logicalName, e]));
  const chunkStartedAt = services.clock.now().getTime();
  const maxPages = services.settings.REPLICATION_READ_MAX_PAGES;
  const maxMs = services.settings.REPLICATION_READ_MAX_SECONDS * 1000;

  const initial = await ctx.update((s) => s);
  if (!initial) return { outcome: 'stopped' };
  const names = entities.map((e) => e.metadata.logicalName).sort();
  const sameEntities =
    initial.progress !== null &&
    initial.progress.entities
      .map((e) => e.entity)
      .sort()
      .join() === names.join();
  let progress =
    sameEntities && initial.progress ? resumeDownload(initial.progress, services.clock.now()) : undefined;
  if (!progress) {
    const planned = [];
    for (const name of names) {
      const entity = byName.get(name)!;
      planned.push({
        entity: name,
        rowsExpected: await source.countRows(entity.metadata),
        priority: DIRECTORY_ENTITIES.has(name) || entity.offline.required,
      });
    }
    progress = planDownload(planned, services.clock.now());
  }

  // Writes progress; answers whether the run must end here (stop requested or superseded).
  const save = async (message?: Omit<StatusMessage, 'at'>): Promise<boolean> => {
    const current = progress!;
    const status = await ctx.update((s) => {
      const next = { ...s, progress: current };
      return message ? withMessage(next, services.clock.now(), message.text, message.level) : next;
    });
    return !status || status.stopRequested;
  };
  const activateEarlyIfReady = async (): Promise<void> => {
    if (progress!.activatedEarlyAt !== null || !priorityEntitiesDone(progress!)) return;
    await setTenantState(services.store, services.clock, tenant.org, 'active');
    progress = { ...progress!, activatedEarlyAt: services.clock.now().toISOString() };
    await save({
      level: 'info',
      text: 'Directory and required entities downloaded: devices may sync while the rest downloads.',
    });
  };

  if (await save()) return { outcome: 'stopped' };
  await activateEarlyIfReady();
  let pages = 0;
  for (const planned of progress.entities) {
    if (planned.done) continue;
    const entity = byName.get(planned.entity)!;
    let rows = planned.resumeAt === undefined ? 0 : planned.rowsDone;
    let deltaToken: string | undefined;
    const read = replicationReadOf(entity.metadata, services.settings);
    for await (const page of source.readChanges(read.metadata, undefined, planned.resumeAt)) {
      const applied = await applySourcePage(store, page, {
        maxRowBytes: services.settings.REPLICATION_MAX_ROW_BYTES,
        now: services.clock.now(),
        chunkSize: WRITES_PER_CALL,
      });
      rows += applied.rows;
      deltaToken = page.deltaToken ?? deltaToken;
      progress = recordEntityProgress(
        progress,
        planned.entity,
        rows,
        false,
        services.clock.now(),
        page.resumeAt,
      );
      const skipped = tooLargeMessage(planned.entity, applied.tooLarge);
      if (await save(skipped)) return { outcome: 'stopped' };
      pages += 1;
      // Other requests (health, status, stop, devices) get their turn between pages.
      await yieldToEventLoop();
      const chunkUsed = pages >= maxPages || services.clock.now().getTime() - chunkStartedAt >= maxMs;
      if (chunkUsed && page.resumeAt !== undefined) {
        return {
          outcome: 'continued',
          summary: `${progress.rowsDone} of about ${progress.rowsExpected} rows downloaded; going on at ${planned.entity}.`,
        };
      }
    }
    // The token goes in before the entity counts as done, so replication never re-reads it whole.
    if (deltaToken !== undefined) await saveDeltaToken(store, planned.entity, deltaToken, read.columns);
    progress = recordEntityProgress(progress, planned.entity, rows, true, services.clock.now());
    if (await save({ level: 'info', text: `${planned.entity}: ${rows} rows downloaded.` })) {
      return { outcome: 'stopped' };
    }
    await activateEarlyIfReady();
    const more = progress.entities.some((e) => !e.done);
    if (more && (pages >= maxPages || services.clock.now().getTime() - chunkStartedAt >= maxMs)) {
      return {
        outcome: 'continued',
        summary: `${progress.rowsDone} of about ${progress.rowsExpected} rows downloaded.`,
      };
    }
  }
  return succeeded(`${progress.rowsDone} rows of ${progress.entities.length} entities downloaded.`);
};

/** The warning of a page whose rows were too large to store (undefined when none was). */
function tooLargeMessage(
  entity: string,
  tooLarge: readonly { id: string; bytes: number }[],
): Omit<StatusMessage, 'at'> | undefined {
  if (tooLarge.length === 0) return undefined;
  const named = tooLarge
    .slice(0, 5)
    .map((row) => `${row.id} (${row.bytes.toLocaleString('en-US')} bytes)`)
    .join(', ');
  const more = tooLarge.length > 5 ? ` and ${tooLarge.length - 5} more` : '';
  return {
    level: 'warning',
    text: `${entity}: ${tooLarge.length} row(s) too large to store were skipped: ${named}${more}. See the replication status.`,
  };
}

/** Step 6: one recurring `syncEntity` work item per offline entity (ids make a re-run send nothing new). */
export const startChangeTracking: StepFunction = async ({ services, tenant, runId }) => {
  const entities = await loadOfflineEntities(services.store.tenant(tenant.org));
  const now = services.clock.now();
  for (const entity of entities) {
    const name = entity.metadata.logicalName;
    await services.queue.send(syncEntityMessage(tenant.org, name), {
      messageId: `syncEntity-${tenant.org}-${name}-${runId}`,
      scheduleAt: now,
    });
  }
  return succeeded(`Change tracking scheduled for ${entities.length} entities.`);
};

/** Step 7: devices may sync. */
export const activateTenant: StepFunction = async ({ services, tenant }) => {
  await setTenantState(services.store, services.clock, tenant.org, 'active');
  return succeeded('Tenant active: devices may sync.');
};

/** Deprovision step 1: devices get 503 TenantNotProvisioned from now on. */
export const deactivateTenant: StepFunction = async ({ services, tenant }) => {
  await setTenantState(services.store, services.clock, tenant.org, 'deprovisioning');
  return succeeded('Tenant deactivated: devices get 503 TenantNotProvisioned.');
};

/**
 * Deprovision step 2: the replication handler reschedules a `syncEntity` only for active tenants,
 * so the deactivation ends the recurring work; this step records it (pending messages are dropped
 * by the handler when they arrive).
 */
export const cancelRecurringReplication: StepFunction = async ({ services, tenant }) => {
  // The handler's check is the tenant state: make sure step 1's deactivation holds.
  const current = await getTenant(services.store, tenant.org);
  if (!current) throw new AppError('TenantNotFound', `No tenant '${tenant.org}' is registered.`);
  if (current.state === 'active') {
    throw new AppError('Conflict', `Tenant '${tenant.org}' is active again: replication would go on.`);
  }
  return succeeded('Recurring replication cancelled: scheduled work items end at their next run.');
};

/** Deprovision step 3: the tenant database and everything in it. */
export const deleteTenantDatabase: StepFunction = async ({ services, tenant }) => {
  await services.store.dropTenantDatabase(tenant.org);
  return succeeded('Tenant database deleted.');
};

/** Provisioning steps 1–7, in order. */
export const provisionSteps: readonly StepFunction[] = [
  validateAndReachSource,
  createTenantDatabase,
  downloadMetadata,
  configureSync,
  downloadData,
  startChangeTracking,
  activateTenant,
];

/** Deprovisioning steps 1–3, in order (the run's end marks the tenant deprovisioned). */
export const deprovisionSteps: readonly StepFunction[] = [
  deactivateTenant,
  cancelRecurringReplication,
  deleteTenantDatabase,
];
