import { adminConfigRoutes } from '../../../../functions/http/routes/admin-config-routes';
import { findProfileForAppUser } from '../../../../shared/admin/app-config';
import { loadDirectory } from '../../../../shared/admin/directory-store';
import { loadEntities } from '../../../../shared/admin/entity-config';
import { findProfileForUser, loadPublishedProfile } from '../../../../shared/admin/profile-service';
import { createAdminRouteHarness, type AdminRouteHarness } from '../../../support/admin-route-harness';
import { testEntities } from '../../../support/offline-config-fixtures';

const ORG = 'contoso';
const oid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

const directory = {
  businessUnits: [{ id: 'root', name: 'Contoso', parentId: null }],
  users: [1, 2, 3].map((n) => ({
    id: `u${n}`,
    entraObjectId: oid(n),
    userName: `user${n}`,
    fullName: `User ${n}`,
    businessUnitId: 'root',
  })),
  teams: [],
  roles: [],
};

/** A profile that keeps every rule over the test entities. */
const salesItems = [
  { entity: 'account', rule: 'other', mine: true, team: true },
  {
    entity: 'contact',
    rule: 'other',
    mine: true,
    associations: [{ relationship: 'contact_customer_accounts' }],
  },
];

let h: AdminRouteHarness;
const call = (
  name: string,
  input: Omit<Parameters<AdminRouteHarness['call']>[2], 'org'> & { org?: string } = {},
) => h.call(adminConfigRoutes, name, { org: ORG, ...input });

/** Declares the test entities, enables those the tests use, publishes, and loads the directory. */
async function configureTenant(org = ORG): Promise<void> {
  for (const metadata of testEntities()) {
    const answer = await h.call(adminConfigRoutes, 'entityDeclare', {
      org,
      params: { entity: metadata.logicalName },
      body: metadata,
    });
    expect(answer.status).toBe(200);
  }
  for (const entity of ['contact', 'note', 'territory']) {
    await h.call(adminConfigRoutes, 'entityOfflineSet', {
      org,
      params: { entity },
      body: { enabled: true, orgFilter: [] },
    });
  }
  expect((await h.call(adminConfigRoutes, 'customizationsPublish', { org })).status).toBe(200);
  expect((await h.call(adminConfigRoutes, 'directoryReplace', { org, body: directory })).status).toBe(200);
}

beforeEach(async () => {
  h = await createAdminRouteHarness();
  await h.addTenant(ORG);
});
afterEach(async () => {
  await h.close();
});

describe('function names', () => {
  it('are unique and never start with "admin" (Azure Functions rejects them)', () => {
    const names = adminConfigRoutes.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => n.toLowerCase().startsWith('admin'))).toEqual([]);
  });
});

describe('entities and customizations', () => {
  it('gives new entities their default offline settings and publishes with a new metadata version', async () => {
    for (const metadata of testEntities()) {
      await call('entityDeclare', { params: { entity: metadata.logicalName }, body: metadata });
    }
    const listed = await call('entitiesList');
    expect(listed.body.metadataVersion.version).toBe(0);
    const account = listed.body.entities.find((e: { logicalName: string }) => e.logicalName === 'account');
    expect(account.offline).toEqual({
      enabled: true,
      orgFilter: [{ attribute: 'modifiedon', operator: 'last-x-days', value: 10 }],
      required: false,
    });
    expect(account.published).toBe(false);
    const territory = listed.body.entities.find(
      (e: { logicalName: string }) => e.logicalName === 'territory',
    );
    expect(territory.offline.enabled).toBe(false);

    expect((await call('customizationsPublish')).body.version).toBe(1);
    expect((await loadEntities(h.store.tenant(ORG))).map((e) => e.metadata.logicalName)).toEqual(
      testEntities()
        .map((e) => e.logicalName)
        .sort(),
    );
    expect((await call('customizationsPublish')).body.version).toBe(2);
    const after = await call('entitiesList');
    expect(after.body.entities.every((e: { changedSincePublish: boolean }) => !e.changedSincePublish)).toBe(
      true,
    );
  });

  it('refuses metadata whose primary attributes are missing, and a body naming another entity', async () => {
    const [account] = testEntities();
    const bad = await call('entityDeclare', {
      params: { entity: 'account' },
      body: { ...account, primaryNameAttribute: 'title' },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([
      expect.objectContaining({ path: 'primaryNameAttribute', code: 'AttributeNotFound' }),
    ]);
    expect((await call('entityDeclare', { params: { entity: 'contact' }, body: account })).status).toBe(400);
  });

  it('refuses a publish whose relationships name undeclared entities, publishing nothing', async () => {
    const account = testEntities()[0]!;
    await call('entityDeclare', { params: { entity: 'account' }, body: account });
    const answer = await call('customizationsPublish');
    expect(answer.status).toBe(422);
    expect(answer.body.error.details.map((d: { code: string }) => d.code)).toContain('EntityNotFound');
    expect(await loadEntities(h.store.tenant(ORG))).toEqual([]);
    expect((await call('entitiesList')).body.metadataVersion.version).toBe(0);
  });

  it('validates org filters: at most 3 valid conditions; unknown entities are 404', async () => {
    await configureTenant();
    const tooMany = await call('entityOfflineSet', {
      params: { entity: 'account' },
      body: {
        enabled: true,
        orgFilter: [
          { attribute: 'modifiedon', operator: 'last-x-days', value: 10 },
          { attribute: 'name', operator: 'not-null' },
          { attribute: 'revenue', operator: 'gt', value: 'lots' },
        ],
      },
    });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.error.details).toEqual([
      expect.objectContaining({ path: 'orgFilter[2].value', code: 'ValueInvalid' }),
    ]);
    // A fourth condition is refused by the schema itself.
    const four = Array.from({ length: 4 }, () => ({ attribute: 'name', operator: 'not-null' }));
    expect(
      (
        await call('entityOfflineSet', {
          params: { entity: 'account' },
          body: { enabled: true, orgFilter: four },
        })
      ).status,
    ).toBe(400);
    expect(
      (await call('entityOfflineSet', { params: { entity: 'ghost' }, body: { enabled: true } })).status,
    ).toBe(404);
    const ok = await call('entityOfflineSet', {
      params: { entity: 'account' },
      body: { enabled: true, orgFilter: [{ attribute: 'modifiedon', operator: 'last-x-days', value: 30 }] },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.changedSincePublish).toBe(true);
  });

  it('refuses declaring metadata and the directory for a dataverse tenant', async () => {
    await h.addTenant('fabrikam', { kind: 'dataverse', url: 'https://fabrikam.crm.dynamics.com' });
    const [account] = testEntities();
    expect(
      (await call('entityDeclare', { org: 'fabrikam', params: { entity: 'account' }, body: account })).status,
    ).toBe(409);
    expect((await call('directoryReplace', { org: 'fabrikam', body: directory })).status).toBe(409);
  });
});

describe('directory', () => {
  it('replaces the directory whole and bumps its version', async () => {
    expect((await call('directoryReplace', { body: directory })).body.version).toBe(1);
    const smaller = { ...directory, users: directory.users.slice(0, 1) };
    expect((await call('directoryReplace', { body: smaller })).body.version).toBe(2);
    expect((await loadDirectory(h.store.tenant(ORG))).users.map((u) => u.id)).toEqual(['u1']);
  });

  it('refuses an invalid directory with every violation and changes nothing', async () => {
    await call('directoryReplace', { body: directory });
    const broken = {
      ...directory,
      businessUnits: [...directory.businessUnits, { id: 'x', name: 'X', parentId: null }],
      users: [
        ...directory.users,
        { ...directory.users[0]!, id: 'u9', entraObjectId: oid(9), managerId: 'ghost' },
      ],
    };
    const answer = await call('directoryReplace', { body: broken });
    expect(answer.status).toBe(422);
    expect(answer.body.error.details.map((d: { path: string }) => d.path)).toEqual([
      'businessUnits',
      'users[3].managerId',
    ]);
    expect((await loadDirectory(h.store.tenant(ORG))).users.map((u) => u.id)).toEqual(['u1', 'u2', 'u3']);
  });
});

describe('profiles', () => {
  beforeEach(async () => {
    await configureTenant();
  });

  async function createSales(users: string[] = ['u1']): Promise<void> {
    expect((await call('profileCreate', { body: { id: 'sales', name: 'Sales' } })).status).toBe(201);
    const put = await call('profileReplace', {
      params: { id: 'sales' },
      body: { name: 'Sales', items: salesItems, users },
    });
    expect(put.status).toBe(200);
  }

  it('creates, edits and publishes a profile; devices see only published versions', async () => {
    await createSales();
    expect(await loadPublishedProfile(h.store.tenant(ORG), 'sales')).toBeUndefined();
    const published = await call('profilePublish', { params: { id: 'sales' } });
    expect(published.status).toBe(200);
    expect(published.body.version).toBe(1);

    // An edit after publishing stays in the draft.
    await call('profileReplace', {
      params: { id: 'sales' },
      body: { name: 'Sales', items: [...salesItems, { entity: 'note', rule: 'related' }], users: ['u1'] },
    });
    const live = await loadPublishedProfile(h.store.tenant(ORG), 'sales');
    expect(live?.version).toBe(1);
    expect(live?.items.map((i) => i.entity)).toEqual(['account', 'contact']);
    const draft = await call('profileGet', { params: { id: 'sales' } });
    expect(draft.body.publishedVersion).toBe(1);
    expect(draft.body.changedSincePublish).toBe(true);
    expect(draft.body.violations.map((v: { code: string }) => v.code)).toEqual(['NoAssociationTargetsItem']);
    expect((await findProfileForUser(h.store.tenant(ORG), 'u1'))?.id).toBe('sales');
  });

  it('answers every violation at once on publish and publishes nothing', async () => {
    await call('profileCreate', { body: { id: 'broken', name: 'Broken' } });
    await call('profileReplace', {
      params: { id: 'broken' },
      body: {
        name: 'Broken',
        items: [
          { entity: 'transactioncurrency', rule: 'other', mine: true },
          { entity: 'account', rule: 'all', businessUnit: true, syncIntervalMinutes: 2 },
          { entity: 'note', rule: 'related' },
        ],
        users: ['ghost'],
      },
    });
    const answer = await call('profilePublish', { params: { id: 'broken' } });
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe('ProfileInvalid');
    expect(
      answer.body.error.details.map((d: { path: string; code: string }) => `${d.path}:${d.code}`),
    ).toEqual([
      'items[0].rule:RuleNotAllowed',
      'items[1].syncIntervalMinutes:SyncIntervalOutOfRange',
      'items[1].businessUnit:FilterNotAllowedWithRule',
      'items[2].rule:NoAssociationTargetsItem',
      'users[0]:UserNotFound',
    ]);
    expect(await loadPublishedProfile(h.store.tenant(ORG), 'broken')).toBeUndefined();
  });

  it('keeps a user in at most one profile, naming the other profile', async () => {
    await createSales(['u1']);
    await call('profileCreate', { body: { id: 'service', name: 'Field service' } });
    const add = await call('profileUsersChange', { params: { id: 'service' }, body: { add: ['u1'] } });
    expect(add.status).toBe(409);
    expect(add.body.error.code).toBe('UserInAnotherProfile');
    expect(add.body.error.message).toContain("'Sales'");
    const put = await call('profileReplace', {
      params: { id: 'service' },
      body: { name: 'Field service', users: ['u1'] },
    });
    expect(put.status).toBe(409);

    // Once removed from Sales (and Sales never published it), the user may move.
    await call('profileUsersChange', { params: { id: 'sales' }, body: { remove: ['u1'] } });
    const moved = await call('profileUsersChange', {
      params: { id: 'service' },
      body: { add: ['u1', 'u2'] },
    });
    expect(moved.status).toBe(200);
    expect(moved.body.users).toEqual(['u1', 'u2']);
  });

  it('refuses adding users that are not in the directory', async () => {
    await createSales([]);
    const answer = await call('profileUsersChange', {
      params: { id: 'sales' },
      body: { add: ['u2', 'ghost'] },
    });
    expect(answer.status).toBe(422);
    expect(answer.body.error.details).toEqual([
      expect.objectContaining({ path: 'add[1]', code: 'UserNotFound' }),
    ]);
  });

  it('refuses a stale If-Match, a duplicate id or name, and unknown profiles', async () => {
    await createSales();
    const current = await call('profileGet', { params: { id: 'sales' } });
    await call('profileReplace', { params: { id: 'sales' }, body: { name: 'Sales', items: salesItems } });
    const stale = await call('profileReplace', {
      params: { id: 'sales' },
      body: { name: 'Sales 2' },
      headers: { 'if-match': `"${current.body.etag as string}"` },
    });
    expect(stale.status).toBe(412);
    expect((await call('profileCreate', { body: { id: 'sales', name: 'Other' } })).status).toBe(409);
    expect((await call('profileCreate', { body: { name: 'sales' } })).status).toBe(409);
    expect((await call('profileGet', { params: { id: 'nope' } })).status).toBe(404);
    expect((await call('profilePublish', { params: { id: 'nope' } })).status).toBe(404);
  });

  it('deletes a profile with its versions, but not while an app uses it', async () => {
    await createSales();
    await call('profilePublish', { params: { id: 'sales' } });
    await call('appPut', {
      params: { appId: 'field-app' },
      body: { name: 'Field', offlineEnabled: true, profiles: ['sales'] },
    });
    expect((await call('profileDelete', { params: { id: 'sales' } })).status).toBe(409);
    await call('appPut', {
      params: { appId: 'field-app' },
      body: { name: 'Field', offlineEnabled: false, profiles: [] },
    });
    expect((await call('profileDelete', { params: { id: 'sales' } })).status).toBe(204);
    expect((await call('profilesList')).body.profiles).toEqual([]);
    expect(await loadPublishedProfile(h.store.tenant(ORG), 'sales')).toBeUndefined();
  });
});

describe('settings', () => {
  it('answers defaults, accepts partial updates, and refuses a soft limit above the hard limit', async () => {
    expect((await call('settingsGet')).body).toEqual({
      conflictDetection: false,
      syncIntervalSeconds: 900,
      softRowLimit: 10_000,
      hardRowLimit: 50_000,
      maxRelationshipsPerItem: 10,
      maxOneToManyPerItem: 3,
      dataversePostImageName: null,
    });
    const updated = await call('settingsUpdate', {
      body: { conflictDetection: true, syncIntervalSeconds: 300 },
    });
    expect(updated.body).toMatchObject({
      conflictDetection: true,
      syncIntervalSeconds: 300,
      softRowLimit: 10_000,
    });
    const bad = await call('settingsUpdate', { body: { softRowLimit: 60_000 } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details).toEqual([expect.objectContaining({ path: 'softRowLimit' })]);
    expect((await call('settingsUpdate', { body: { syncIntervalSeconds: 299 } })).status).toBe(400);
    expect((await call('settingsUpdate', { body: { syncIntervalSeconds: 86_401 } })).status).toBe(400);
    expect((await call('settingsGet')).body.softRowLimit).toBe(10_000);
  });

  it('names the Dataverse post image to use, and clears it with null', async () => {
    const named = await call('settingsUpdate', { body: { dataversePostImageName: 'OfflineSync' } });
    expect(named.status).toBe(200);
    expect((await call('settingsGet')).body.dataversePostImageName).toBe('OfflineSync');
    expect((await call('settingsUpdate', { body: { dataversePostImageName: 'a\u202Eb' } })).status).toBe(400);
    await call('settingsUpdate', { body: { dataversePostImageName: null } });
    expect((await call('settingsGet')).body.dataversePostImageName).toBeNull();
  });
});

describe('apps', () => {
  beforeEach(async () => {
    await configureTenant();
    await call('profileCreate', { body: { id: 'sales', name: 'Sales' } });
    await call('profileReplace', {
      params: { id: 'sales' },
      body: { name: 'Sales', items: salesItems, users: ['u1'] },
    });
  });

  it('needs at least one existing, published profile when offline-enabled', async () => {
    const none = await call('appPut', {
      params: { appId: 'field' },
      body: { name: 'Field', offlineEnabled: true, profiles: [] },
    });
    expect(none.status).toBe(422);
    expect(none.body.error.details).toEqual([
      expect.objectContaining({ path: 'profiles', code: 'ProfileRequired' }),
    ]);
    const unpublished = await call('appPut', {
      params: { appId: 'field' },
      body: { name: 'Field', offlineEnabled: true, profiles: ['sales', 'ghost'] },
    });
    expect(unpublished.body.error.details.map((d: { path: string }) => d.path)).toEqual([
      'profiles[0]',
      'profiles[1]',
    ]);
    expect((await call('appGet', { params: { appId: 'field' } })).status).toBe(404);

    await call('profilePublish', { params: { id: 'sales' } });
    const ok = await call('appPut', {
      params: { appId: 'field' },
      body: { name: 'Field', offlineEnabled: true, profiles: ['sales'] },
    });
    expect(ok.status).toBe(201);
    expect((await call('appGet', { params: { appId: 'field' } })).body).toMatchObject({
      name: 'Field',
      profiles: ['sales'],
    });
    expect((await findProfileForAppUser(h.store.tenant(ORG), 'field', 'u1')).id).toBe('sales');
    await expect(findProfileForAppUser(h.store.tenant(ORG), 'field', 'u2')).rejects.toMatchObject({
      code: 'NoProfile',
    });
  });
});

describe('export and import', () => {
  beforeEach(async () => {
    await configureTenant();
    await call('profileCreate', { body: { id: 'sales', name: 'Sales', description: 'Reps' } });
    await call('profileReplace', {
      params: { id: 'sales' },
      body: { name: 'Sales', description: 'Reps', items: salesItems, users: ['u1'] },
    });
    await call('profilePublish', { params: { id: 'sales' } });
    await h.addTenant('fabrikam');
    await configureTenant('fabrikam');
  });

  it('exports profiles without users, with the entity settings they use', async () => {
    const doc = (await call('configurationExport')).body;
    expect(doc.formatVersion).toBe(1);
    expect(doc.profiles).toEqual([
      expect.objectContaining({ id: 'sales', name: 'Sales', description: 'Reps' }),
    ]);
    expect(doc.profiles[0].users).toBeUndefined();
    expect(doc.entities.map((e: { entity: string }) => e.entity)).toEqual(['account', 'contact']);
  });

  it('imports into another tenant unpublished, and a second import changes nothing', async () => {
    const doc = (await call('configurationExport')).body;
    doc.entities[0].offline.orgFilter = [{ attribute: 'modifiedon', operator: 'last-x-days', value: 30 }];
    const first = await call('configurationImport', { org: 'fabrikam', body: doc });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      profiles: [{ id: 'sales', name: 'Sales', outcome: 'created' }],
      entities: [
        { entity: 'account', outcome: 'updated' },
        { entity: 'contact', outcome: 'unchanged' },
      ],
    });
    const imported = await call('profileGet', { org: 'fabrikam', params: { id: 'sales' } });
    expect(imported.body).toMatchObject({ publishedVersion: 0, users: [], items: doc.profiles[0].items });
    expect(await loadPublishedProfile(h.store.tenant('fabrikam'), 'sales')).toBeUndefined();

    const second = await call('configurationImport', { org: 'fabrikam', body: doc });
    expect(second.body.profiles).toEqual([{ id: 'sales', name: 'Sales', outcome: 'unchanged' }]);
    expect(second.body.entities.map((e: { outcome: string }) => e.outcome)).toEqual([
      'unchanged',
      'unchanged',
    ]);
    expect((await call('profileGet', { org: 'fabrikam', params: { id: 'sales' } })).body.etag).toBe(
      imported.body.etag,
    );
    // The imported profile publishes cleanly in its new tenant once entities are published.
    await call('customizationsPublish', { org: 'fabrikam' });
    expect((await call('profilePublish', { org: 'fabrikam', params: { id: 'sales' } })).status).toBe(200);
  });

  it('validates the whole document first and changes nothing on any error', async () => {
    const doc = (await call('configurationExport')).body;
    doc.entities[0].offline.orgFilter = [{ attribute: 'nosuch', operator: 'null' }];
    doc.entities.push({ entity: 'ghost', offline: { enabled: true, orgFilter: [], required: false } });
    doc.profiles.push({
      id: 'other',
      name: 'Other',
      description: '',
      items: [{ entity: 'note', rule: 'all', associations: [] }],
    });
    const answer = await call('configurationImport', { org: 'fabrikam', body: doc });
    expect(answer.status).toBe(422);
    expect(
      answer.body.error.details.map((d: { path: string; code: string }) => `${d.path}:${d.code}`),
    ).toEqual([
      'entities[0].offline.orgFilter[0].attribute:AttributeNotFound',
      'entities[2].entity:EntityNotFound',
      'profiles[1].items[0].rule:RuleNotAllowed',
    ]);
    expect((await call('profilesList', { org: 'fabrikam' })).body.profiles).toEqual([]);
    const account = (await call('entitiesList', { org: 'fabrikam' })).body.entities.find(
      (e: { logicalName: string }) => e.logicalName === 'account',
    );
    expect(account.offline.orgFilter).toEqual([
      { attribute: 'modifiedon', operator: 'last-x-days', value: 10 },
    ]);
    // A document of another format version is refused by the schema.
    expect(
      (await call('configurationImport', { org: 'fabrikam', body: { ...doc, formatVersion: 2 } })).status,
    ).toBe(400);
  });
});
