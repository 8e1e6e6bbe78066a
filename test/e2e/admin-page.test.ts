import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { DEMO_ORG } from '../../local/demo/demo-directory';
import { describeInBrowser, launchChromium, type LaunchedBrowser } from '../support/chromium';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';
import { gatedSourceFor, PageGate } from '../support/provisioning-page-gate';

const repoRoot = join(__dirname, '..', '..');

/*
 * The page's globals as the functions run in the page below use them: this file is compiled without
 * the DOM's types. (Strings evaluated in the page are refused by its policy: no 'unsafe-eval'.)
 */
interface PageElement {
  textContent: string | null;
  outerHTML: string;
  tagName: string;
  closest(selector: string): PageElement | null;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { right: number };
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
  documentElement: { scrollWidth: number };
};

/**
 * The admin page (admin-ui/, served at /api/console) in headless Chromium against the local host:
 * development sign-in, a publish violation shown at its field, publish, the preview, provisioning
 * watched while step 5 advances (stop, retry, provisioned), and API text with markup shown as text.
 * With `ADMIN_SCREENSHOTS=<folder>` it saves the README's screenshots there.
 */
describeInBrowser('the admin page in Chromium', () => {
  let f: HostFixture;
  let launched: LaunchedBrowser;
  let page: Page;
  const gate = new PageGate();
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  const screenshots = process.env.ADMIN_SCREENSHOTS;

  /** The visible part of the page (scrolled to `at` first), for the README. */
  async function shoot(name: string, at?: string): Promise<void> {
    if (screenshots === undefined) return;
    mkdirSync(screenshots, { recursive: true });
    if (at !== undefined) await page.locator(at).first().scrollIntoViewIfNeeded();
    await page.screenshot({
      path: join(screenshots, `${name}.jpg`),
      type: 'jpeg',
      quality: 50,
    });
  }

  beforeAll(async () => {
    // The page as `npm run build` makes it (only when a source changed since its last build).
    execFileSync(process.execPath, ['scripts/build.mjs', '--console', '--if-stale'], {
      cwd: repoRoot,
      stdio: 'pipe',
    });
    f = await startHostFixture({ DEMO_ROWS: '600' }, { host: { sourceFor: gatedSourceFor(gate, 20) } });
    launched = await launchChromium();
    page = await launched.browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, 120_000);

  afterAll(async () => {
    gate.openAll();
    await launched?.close();
    await f?.close();
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]);
    expect(dialogs).toEqual([]);
  });

  const text = (selector: string) => page.locator(selector).first().innerText();
  /** Waits until the provisioning screen shows `state`. */
  const stateIs = (state: string, timeout?: number) =>
    page.waitForFunction(
      (wanted) => document.querySelector('[data-testid="provisioning-state"]')?.textContent === wanted,
      state,
      timeout === undefined ? {} : { timeout },
    );

  it('signs in with the local host’s development sign-in and lists the profiles', async () => {
    await page.goto(`${f.host.url}/api/console`);
    await page.getByLabel('Tenant (org)').fill(DEMO_ORG);
    await page.getByLabel('Directory user').fill('alice');
    await shoot('sign-in');
    await page.getByRole('button', { name: 'Sign in as tenant admin' }).click();
    await page.getByRole('link', { name: 'Field Sellers' }).waitFor();
    expect(await text('header')).toContain('tenant contoso');
    await shoot('profiles');
  });

  it('shows a publish violation at its field, refuses to publish, then publishes once fixed', async () => {
    await page.getByRole('link', { name: 'Field Sellers' }).click();
    const interval = page.locator('input[name="items[0].syncIntervalMinutes"]');
    await interval.fill('2');
    await page.getByRole('button', { name: 'Save draft' }).click();
    const atField = page.locator('[data-path="items[0].syncIntervalMinutes"]');
    await atField.waitFor();
    expect(await atField.innerText()).toContain('SyncIntervalOutOfRange');
    expect(await interval.getAttribute('aria-invalid')).toBe('true');
    await shoot('profile-violation', '[data-path="items[0].syncIntervalMinutes"]');

    await page.getByRole('button', { name: 'Publish', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'ProfileInvalid' }).waitFor();
    expect(await atField.innerText()).toContain('SyncIntervalOutOfRange');

    await interval.fill('30');
    await page.getByRole('button', { name: 'Publish', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Published version 2' }).waitFor();
    expect(await page.locator('[data-path="items[0].syncIntervalMinutes"]').count()).toBe(0);
    const published = await f.request('GET', `/api/admin/${DEMO_ORG}/profiles/field-sellers`, {
      token: await adminToken(),
    });
    expect(published.body).toMatchObject({ publishedVersion: 2, changedSincePublish: false });
    expect(published.body.items[0].syncIntervalMinutes).toBe(30);
  });

  it("previews each user's download of the draft, as the preview route answers it", async () => {
    await page.getByRole('button', { name: 'Preview downloads' }).click();
    const dave = page.locator('tr[data-user="user-004"]');
    await dave.waitFor();
    const api = await f.request('POST', `/api/admin/${DEMO_ORG}/profiles/field-sellers/preview`, {
      token: await adminToken(),
      body: { users: ['user-004'] },
    });
    const cells = await dave.locator('td').allInnerTexts();
    expect(cells[0]).toBe(String(api.body.users[0].rows));
    expect(cells[2]).toBe('within');
    expect(await page.locator('table.preview tbody tr').count()).toBe(17);
    await shoot('preview', 'table.preview');
  });

  it('shows API text with markup as text, never as HTML', async () => {
    const name = '<img src=x onerror="alert(1)"><b>bold</b> & co';
    const created = await f.request('POST', `/api/admin/${DEMO_ORG}/profiles`, {
      token: await adminToken(),
      body: { id: 'markup', name },
    });
    expect(created.status).toBe(201);
    await page.goto(`${f.host.url}/api/console#/profiles`);
    const link = page.getByRole('link', { name });
    await link.waitFor();
    expect(await link.innerText()).toBe(name);
    expect(await page.locator('main img, main b').count()).toBe(0);
    await link.click();
    await page.getByRole('heading', { name: `Profile: ${name}` }).waitFor();
    expect(await page.locator('main img, main b').count()).toBe(0);
  });

  it('provisions the demo tenant: step 5’s percent advances on the page, stop, retry, provisioned', async () => {
    await page.getByRole('link', { name: 'Provisioning' }).click();
    const state = page.getByTestId('provisioning-state');
    await stateIs('provisioned');
    // Only what the lifecycle allows is offered.
    expect(await page.getByRole('button', { name: 'Provision', exact: true }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Stop' }).isDisabled()).toBe(true);

    await page.getByRole('button', { name: 'Deprovision' }).click();
    await stateIs('deprovisioned');

    gate.close();
    await page.getByRole('button', { name: 'Provision', exact: true }).click();
    // The page refreshes itself: step 5 appears running with a percent, and the percent rises.
    await page.locator('tr[data-step="5"].step-running').waitFor();
    gate.allow(3);
    await page.getByTestId('overall-percent').waitFor();
    const first = parseFloat(await page.getByTestId('overall-percent').innerText());
    gate.allow(6);
    await page.waitForFunction(
      (before) =>
        parseFloat(document.querySelector('[data-testid="overall-percent"]')?.textContent ?? '0') > before,
      first,
    );
    expect(await state.innerText()).toBe('provisioning');
    await shoot('provisioning');

    await page.getByRole('button', { name: 'Stop' }).click();
    gate.allow(1000);
    await stateIs('stopped');
    expect(await page.locator('tr[data-step="5"]').innerText()).toContain('stopped');

    gate.openAll();
    await page.getByRole('button', { name: 'Retry' }).click();
    await stateIs('provisioned', 60_000);
    expect(await page.getByTestId('overall-percent').innerText()).toBe('100.0%');
  }, 90_000);

  it('fits a phone’s width: nothing wider than the screen', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${f.host.url}/api/console#/profiles/field-sellers`);
    await page.getByRole('button', { name: 'Save draft' }).waitFor();
    const wider = await page.evaluate(() =>
      [...document.querySelectorAll('body *')]
        .filter((el) => el.getBoundingClientRect().right > 375.5)
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(wider).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    // Every control has a label: inside a <label>, named by aria-label, or a button with text.
    const unlabeled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea, button')]
        .filter(
          (el) =>
            el.closest('label') === null &&
            el.getAttribute('aria-label') === null &&
            !(el.tagName === 'BUTTON' && (el.textContent ?? '').trim() !== ''),
        )
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(unlabeled).toEqual([]);
    await shoot('profile-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${f.host.url}/api/console#/provisioning`);
    await page.getByTestId('provisioning-state').waitFor();
  });

  it('shows the 409 reason when the server refuses an action', async () => {
    // A second page acts behind the first one's back: the first still offers Deprovision, and after
    // the other deprovisioned, its Deprovision gets the server's reason.
    await f.request('POST', `/api/admin/${DEMO_ORG}/provisioning`, {
      token: await adminToken(),
      body: { action: 'deprovision' },
    });
    await page.getByRole('button', { name: 'Deprovision' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toMatch(/^Conflict: /);
  });

  let admin: string | undefined;
  async function adminToken(): Promise<string> {
    if (admin === undefined) {
      const res = await f.request('POST', '/api/console/development-token', {
        body: { org: DEMO_ORG, user: 'alice' },
      });
      admin = String(res.body.token);
    }
    return admin;
  }
});
