import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { buildDemoDirectory, DEMO_ENTRA_TENANT_ID, DEMO_ORG } from '../../local/demo/demo-directory';
import { describeInBrowser, launchChromium, type LaunchedBrowser } from '../support/chromium';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

const repoRoot = join(__dirname, '..', '..');

/** A directory name with markup: the picker must show it as text. */
const MARKUP_NAME = '<img src=x onerror="alert(1)"><b>Wendy</b> Seller';

/**
 * The admin page's directory pickers in headless Chromium against the local host (as
 * admin-page.test.ts runs it): a lookup condition of the custom filter builder gets its user from
 * the picker, by keyboard, and the profile is published with it; the app screen lists the apps; an
 * operator sees a tenant's usage after a device's sync.
 */
describeInBrowser('the admin page’s directory pickers in Chromium', () => {
  let f: HostFixture;
  let launched: LaunchedBrowser;
  let page: Page;
  let admin: string;
  const dialogs: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    execFileSync(process.execPath, ['scripts/build.mjs', '--console', '--if-stale'], {
      cwd: repoRoot,
      stdio: 'pipe',
    });
    f = await startHostFixture({ DEMO_ROWS: '100' });
    const token = await f.request('POST', '/api/console/development-token', {
      body: { org: DEMO_ORG, user: 'alice' },
    });
    admin = String(token.body.token);
    const directory = buildDemoDirectory(f.host.settings.DEMO_SEED);
    const put = await f.request('PUT', `/api/admin/${DEMO_ORG}/directory`, {
      token: admin,
      body: {
        ...directory,
        users: directory.users.map((u) => (u.userName === 'wendy' ? { ...u, fullName: MARKUP_NAME } : u)),
      },
    });
    expect(put.status).toBe(200);
    launched = await launchChromium();
    page = await launched.browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    await launched?.close();
    await f?.close();
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]);
    expect(dialogs).toEqual([]);
  });

  it('picks a user for a lookup condition of the custom filter by keyboard, and publishes it', async () => {
    await page.goto(`${f.host.url}/api/console`);
    await page.getByLabel('Tenant (org)').fill(DEMO_ORG);
    await page.getByLabel('Directory user').fill('alice');
    await page.getByRole('button', { name: 'Sign in as tenant admin' }).click();
    await page.getByRole('link', { name: 'Field Sellers' }).click();

    const item = page.locator('fieldset[data-item="0"]');
    await item.getByLabel('Custom filter').check();
    await item.getByLabel('Attribute').selectOption('ownerid');
    expect(await item.getByLabel('Operator').inputValue()).toBe('eq');
    const picker = item.getByRole('combobox', { name: /^Value/ });
    // The owner points at users and teams: both are searched.
    expect(await picker.locator('xpath=..').innerText()).toContain('search users, teams');

    // Arrow keys move through the matches; Escape closes the list without picking.
    await picker.fill('sales team');
    const options = item.getByRole('listbox').getByRole('option');
    await options.filter({ hasText: 'West Sales Team' }).waitFor();
    expect(await options.allInnerTexts()).toEqual([
      expect.stringContaining('East Sales Team'),
      expect.stringContaining('West Sales Team'),
    ]);
    await picker.press('ArrowDown');
    const west = options.filter({ hasText: 'West Sales Team' });
    expect(await west.getAttribute('aria-selected')).toBe('true');
    expect(await picker.getAttribute('aria-activedescendant')).toBe(await west.getAttribute('id'));
    await picker.press('Escape');
    expect(await picker.getAttribute('aria-expanded')).toBe('false');
    expect(await item.locator('.picked').count()).toBe(0);

    // A name with markup is shown as text.
    await picker.fill('wendy');
    await options.filter({ hasText: 'Wendy' }).waitFor();
    expect(await options.first().innerText()).toContain(MARKUP_NAME);
    expect(await page.locator('main img, main b').count()).toBe(0);

    await picker.fill('dave');
    const dave = options.filter({ hasText: 'Dave Seller' });
    await dave.waitFor();
    expect(await options.count()).toBe(1);
    await picker.press('Enter');
    const picked = item.locator('.picked li[data-id="user-004"]');
    await picked.waitFor();
    expect(await picked.innerText()).toContain('Dave Seller (dave, user-004)');
    expect(await picker.inputValue()).toBe('');

    await page.getByRole('button', { name: 'Publish', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Published version 2' }).waitFor();
    const published = await f.request('GET', `/api/admin/${DEMO_ORG}/profiles/field-sellers`, {
      token: admin,
    });
    expect(published.body).toMatchObject({ publishedVersion: 2, changedSincePublish: false });
    expect(published.body.items[0].customFilter).toEqual({
      type: 'and',
      conditions: [{ attribute: 'ownerid', operator: 'eq', value: 'user-004' }],
      filters: [],
    });

    // Opened again, the condition shows the user's name, looked up by id.
    await page.reload();
    await page
      .locator('fieldset[data-item="0"] .picked li[data-id="user-004"]')
      .filter({ hasText: 'Dave Seller (dave, user-004)' })
      .waitFor();
  }, 60_000);

  it('chooses an app from the list instead of typing its id', async () => {
    const put = await f.request('PUT', `/api/admin/${DEMO_ORG}/apps/inspections`, {
      token: admin,
      body: { name: 'Inspections', offlineEnabled: false, profiles: [] },
    });
    expect(put.status).toBe(201);
    await page.getByRole('link', { name: 'Apps and settings' }).click();
    const apps = page.locator('select[name="app"]');
    await apps.locator('option', { hasText: 'Inspections' }).waitFor({ state: 'attached' });
    expect(await apps.locator('option').allInnerTexts()).toEqual([
      expect.stringContaining('(field-sales)'),
      'Inspections (inspections), offline off',
      'New app…',
    ]);
    await apps.selectOption('inspections');
    const name = page.locator('input[name="app-name"]');
    expect(await name.inputValue()).toBe('Inspections');
    await name.fill('Site Inspections');
    await page.getByRole('button', { name: 'Save app' }).click();
    await page.getByRole('status').filter({ hasText: 'App inspections saved.' }).waitFor();
    const saved = await f.request('GET', `/api/admin/${DEMO_ORG}/apps/inspections`, { token: admin });
    expect(saved.body).toMatchObject({ name: 'Site Inspections', offlineEnabled: false });
  }, 60_000);

  it("shows an operator a tenant's usage: the device that synced, its rows, today's syncs", async () => {
    const dave = buildDemoDirectory(f.host.settings.DEMO_SEED).users.find((u) => u.userName === 'dave')!;
    const token = await f.token({ oid: dave.entraObjectId, tid: DEMO_ENTRA_TENANT_ID });
    let checkpoint: string | undefined;
    let rows = 0;
    for (let more = true, pages = 0; more; pages++) {
      expect(pages).toBeLessThan(50);
      const res = await f.request('POST', `/api/sync/${DEMO_ORG}/download`, {
        token,
        body: { app: 'field-sales', deviceId: 'usage-page-1', pageSize: 100, checkpoint },
      });
      expect(res.status).toBe(200);
      rows += (res.body.changes as { op: string }[]).filter((c) => c.op === 'upsert').length;
      checkpoint = res.body.checkpoint as string;
      more = res.body.more as boolean;
    }
    expect(rows).toBeGreaterThan(0);

    const operatorPage = await launched.browser.newPage({ viewport: { width: 1280, height: 900 } });
    operatorPage.on('pageerror', (error) => pageErrors.push(error.message));
    await operatorPage.goto(`${f.host.url}/api/console`);
    await operatorPage.getByRole('button', { name: 'Sign in as operator' }).click();
    await operatorPage.getByRole('button', { name: `Usage of ${DEMO_ORG}` }).click();
    const figures = operatorPage.getByLabel(`Usage figures of ${DEMO_ORG}`);
    await figures.waitFor();
    expect(await figures.locator('[data-figure="active"]').innerText()).toBe('1 / 1 / 1');
    expect(await figures.locator('[data-figure="rows"]').innerText()).toBe(
      `${rows.toLocaleString('en')} / ${rows.toLocaleString('en')}`,
    );
    const days = operatorPage.getByRole('table', { name: `Syncs per day of ${DEMO_ORG}` });
    const today = new Date().toISOString().slice(0, 10);
    expect(await days.locator('tbody tr').count()).toBe(7);
    expect(await days.locator('tbody tr').last().innerText()).toBe(`${today}\t1`);
    await operatorPage.close();
  }, 60_000);
});
