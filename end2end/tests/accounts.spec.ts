// The account flows, run twice: hydrated, and with JavaScript disabled (plain SSR forms).
import { Browser, BrowserContext, expect, Page, test } from '@playwright/test';
import { expectAccessible, ready, Server } from './server';

const PASSWORD = 'correct horse battery';

for (const js of [true, false]) {
  test.describe(js ? 'with JavaScript' : 'without JavaScript', () => {
    test.describe.configure({ mode: 'serial' });
    let server: Server;
    let admin: BrowserContext;
    let inviteLink = '';

    const newContext = (browser: Browser) => browser.newContext({ javaScriptEnabled: js, baseURL: server.base });
    const open = async (page: Page, url: string) => {
      await page.goto(url);
      await ready(page, js);
    };
    const signIn = async (page: Page, email: string, password: string) => {
      await open(page, '/signin');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    };
    const createInvite = async (page: Page) => {
      await open(page, '/admin');
      await page.getByRole('button', { name: 'Create invitation' }).click();
      // Hydrated: the new link shows at once. Without JS: the reloaded list holds it.
      const link = page.getByRole('textbox', { name: /invitation link/i }).first();
      await expect(link).toHaveValue(/\/invite\//);
      return await link.inputValue();
    };

    test.beforeAll(async () => {
      server = await Server.start();
    });
    test.afterAll(async () => {
      await admin?.close();
      await server?.stop();
    });

    test('the setup link creates the first admin', async ({ browser }) => {
      admin = await newContext(browser);
      const page = await admin.newPage();
      await open(page, server.setupLink());
      await expect(page.getByRole('heading', { name: 'Set up Switchboard' })).toBeVisible();
      if (js) await expectAccessible(page);
      await page.getByLabel('Your name').fill('Ada Admin');
      await page.getByLabel('Email').fill('ada@example.com');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Create admin account' }).click();
      await expect(page).toHaveURL(/\/inbox$/);
      await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' })).toBeVisible();
      if (js) await expectAccessible(page);
    });

    test('the admin invites someone who joins in a fresh browser', async ({ browser }) => {
      const page = await admin.newPage();
      inviteLink = await createInvite(page);
      await expect(page.getByText('Pending').first()).toBeVisible();
      if (js) await expectAccessible(page);

      const invitee = await newContext(browser);
      const p = await invitee.newPage();
      await open(p, inviteLink);
      await expect(p.getByRole('heading', { name: 'Join Switchboard' })).toBeVisible();
      if (js) await expectAccessible(p);
      await p.getByLabel('Your name').fill('Bea User');
      await p.getByLabel('Email').fill('bea@example.com');
      await p.getByLabel('Password').fill(PASSWORD);
      await p.getByRole('button', { name: 'Create account' }).click();
      await expect(p).toHaveURL(/\/inbox$/);
      const nav = p.getByRole('navigation', { name: 'Main' });
      for (const name of ['Inbox', 'Calls', 'Numbers', 'Contacts', 'Settings']) {
        await expect(nav.getByRole('link', { name })).toBeVisible();
      }
      await expect(nav.getByRole('link', { name: 'Admin' })).toHaveCount(0);
      await expect(p.getByText('Bea User')).toBeVisible();
      await open(p, '/settings');
      await expect(p.getByText('This device')).toBeVisible();
      if (js) await expectAccessible(p);
      await invitee.close();

      await open(page, '/admin');
      await expect(page.getByText('accepted by bea@example.com')).toBeVisible();
    });

    test('a used invitation is refused', async ({ browser }) => {
      const ctx = await newContext(browser);
      const p = await ctx.newPage();
      await open(p, inviteLink);
      await expect(p.getByRole('status')).toContainText('already been used');
      await expect(p.getByRole('button', { name: 'Create account' })).toHaveCount(0);
      await ctx.close();
    });

    test('an expired invitation is refused', async ({ browser }) => {
      const page = await admin.newPage();
      const link = await createInvite(page);
      server.sql('UPDATE invitations SET expires_at = 1 WHERE accepted_at IS NULL');
      const ctx = await newContext(browser);
      const p = await ctx.newPage();
      await open(p, link);
      await expect(p.getByRole('status')).toContainText('expired');
      await ctx.close();
    });

    test('a wrong password gets a clear message', async ({ browser }) => {
      const ctx = await newContext(browser);
      const p = await ctx.newPage();
      await signIn(p, 'bea@example.com', 'not the password');
      await expect(p.getByRole('alert')).toHaveText('Email or password is incorrect.');
      if (js) await expectAccessible(p);
      if (!js) {
        // The error rides in the address (`__err`) it redirected to. A browser that runs
        // JavaScript (a form posted before the page was interactive) decodes it too, and
        // must render the same error to hydrate the page.
        const hydrated = await browser.newContext({ baseURL: server.base });
        const h = await hydrated.newPage();
        await h.goto(p.url());
        await ready(h, true);
        await expect(h.getByRole('alert')).toHaveText('Email or password is incorrect.');
        await hydrated.close();
      }
      await ctx.close();
    });

    test('signing in and out', async ({ browser }) => {
      const ctx = await newContext(browser);
      const p = await ctx.newPage();
      await signIn(p, 'bea@example.com', PASSWORD);
      await expect(p).toHaveURL(/\/inbox$/);
      await ready(p, js);
      await p.getByRole('button', { name: 'Sign out' }).click();
      await expect(p).toHaveURL(/\/signin$/);
      await open(p, '/inbox');
      await expect(p).toHaveURL(/\/signin$/);
      await ctx.close();
    });
  });
}
