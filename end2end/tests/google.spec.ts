// "Sign in with Google" in Chromium against a local OpenID provider standing in for Google
// (end2end/support/oidc-provider.mjs: discovery, PKCE, client secret, RS256 ID tokens): the
// admin sets the client up; an account opens by its Google email; an email with no account
// or invitation is refused on the sign-in page; an invitee joins with Google; Settings shows
// the link.
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { BrowserContext, expect, Page, test } from '@playwright/test';
import { expectAccessible, open, ready, Server, signIn } from './server';

const PASSWORD = 'correct horse battery';
const CLIENT_ID = 'switchboard-e2e.apps.example';
const CLIENT_SECRET = 'e2e-provider-secret';

test.describe.configure({ mode: 'serial' });
let provider: ChildProcess;
let server: Server;
let ada: BrowserContext;

test.beforeAll(async ({ browser }) => {
  provider = spawn('node', [path.join(__dirname, '../support/oidc-provider.mjs'), '--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const issuer = await new Promise<string>((resolve) => {
    readline.createInterface({ input: provider.stdout! }).once('line', (line) => resolve(line.replace('listening on ', '')));
  });
  server = await Server.start({ env: { SWITCHBOARD_GOOGLE_ISSUER: issuer } });
  server.createAdmin('ada@example.com', PASSWORD);
  ada = await browser.newContext({ baseURL: server.base });
});
test.afterEach(async () => {
  for (const p of ada.pages()) await p.close();
});
test.afterAll(async () => {
  await ada?.close();
  await server?.stop();
  provider?.kill();
});

/** On the provider's page, the person picks the Google account `email`. */
async function chooseAccount(page: Page, email: string) {
  await expect(page.getByRole('heading', { name: 'Choose an account' })).toBeVisible();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Name').fill('Grace Googler');
  await page.getByRole('button', { name: 'Continue' }).click();
}

test('the admin sets up Google sign-in; an account opens by its Google email', async ({ browser }) => {
  const page = await ada.newPage();
  await signIn(page, 'ada@example.com', PASSWORD);
  await open(page, '/admin');
  const card = page.locator('[data-google-sign-in]');
  await expect(card).toContainText('/auth/google/callback');
  await card.getByLabel('Client ID').fill(CLIENT_ID);
  await card.getByLabel('Client secret').fill(CLIENT_SECRET);
  await card.getByRole('button', { name: 'Save' }).click();
  await expect(card.getByRole('status')).toHaveText('Saved: the sign-in page offers "Sign in with Google".');
  await expectAccessible(page);

  const other = await browser.newContext({ baseURL: server.base });
  const p = await other.newPage();
  await open(p, '/signin');
  await p.getByRole('link', { name: 'Sign in with Google' }).click();
  await chooseAccount(p, 'ada@example.com');
  await expect(p).toHaveURL(/\/inbox$/);
  await ready(p, true);
  await open(p, '/settings');
  await expect(p.locator('[data-google]')).toContainText('Linked to ada@example.com');
  await expect(p.locator('[data-account-activity]')).toContainText('Signed in — with Google');
  await other.close();
});

test('an email with no account or invitation is refused; an invitee joins with Google', async ({ browser }) => {
  const stranger = await browser.newContext({ baseURL: server.base });
  const p = await stranger.newPage();
  await open(p, '/signin');
  await p.getByRole('link', { name: 'Sign in with Google' }).click();
  await chooseAccount(p, 'eve@example.com');
  await expect(p).toHaveURL(/\/signin\?google=no_account$/);
  await expect(p.getByRole('alert')).toContainText('There is no account here for that Google account');
  await expectAccessible(p);
  await stranger.close();

  // Ada invites Grace by email; Grace joins from the invitation with Google.
  const admin = await ada.newPage();
  await open(admin, '/admin');
  await admin.getByLabel('Email (optional)').fill('grace@example.com');
  await admin.getByRole('button', { name: 'Create invitation' }).click();
  const newLink = admin.getByRole('textbox', { name: 'New invitation link' });
  await expect(newLink).toHaveValue(/\/invite\//);
  const link = await newLink.inputValue();
  const grace = await browser.newContext({ baseURL: server.base });
  const g = await grace.newPage();
  await open(g, link);
  await g.getByRole('link', { name: 'Join with Google' }).click();
  await chooseAccount(g, 'grace@example.com');
  await expect(g).toHaveURL(/\/inbox$/);
  await ready(g, true);
  await open(g, '/settings');
  await expect(g.locator('[data-google]')).toContainText('Linked to grace@example.com');
  // Her only way in: unlinking waits for a password or a passkey.
  await g.locator('[data-google]').getByRole('button', { name: 'Unlink' }).click();
  await expect(g.locator('[data-google]').getByRole('status')).toContainText('Google is your only way to sign in');
  await grace.close();
});
