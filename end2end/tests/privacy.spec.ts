// Privacy controls in the browser: Settings → Account activity (a failed sign-in, the
// sign-in, a number bought, each with address and device) and Data kept (one's own shorter
// period); Admin → Audit log (everyone's entries) and Retention (the instance's period,
// which the user's Settings then states); two-factor sign-in with an authenticator app
// (the test computes the app's codes from the key the page shows).
import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import { BrowserContext, expect, test } from '@playwright/test';
import { buyNumber, expectAccessible, open, ready, Server, signIn } from './server';

const PASSWORD = 'correct horse battery';

test.describe.configure({ mode: 'serial' });
let server: Server;
let ada: BrowserContext;

test.beforeAll(async ({ browser }) => {
  server = await Server.start();
  server.createAdmin('ada@example.com', PASSWORD);
  ada = await browser.newContext({ baseURL: server.base });
});
// Each open page holds a live connection, and a browser opens six per host over HTTP/1.1:
// pages left open would starve the next page's requests.
test.afterEach(async () => {
  for (const p of ada.pages()) await p.close();
});
test.afterAll(async () => {
  await ada?.close();
  await server?.stop();
});

test('Account activity lists a failed sign-in, the sign-in and a purchase', async () => {
  const page = await ada.newPage();
  await page.goto('/signin');
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill('not my password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByRole('alert')).toHaveText('Email or password is incorrect.');
  await signIn(page, 'ada@example.com', PASSWORD);
  const number = await buyNumber(page, '212');
  await open(page, '/settings');
  const activity = page.locator('[data-account-activity]');
  const entries = activity.getByRole('list', { name: 'Audit entries' });
  await expect(entries.getByRole('listitem')).toHaveCount(3);
  await expect(entries.getByRole('listitem').nth(0)).toContainText('Number bought');
  await expect(entries.getByRole('listitem').nth(1)).toContainText('Signed in');
  await expect(entries.getByRole('listitem').nth(1)).toContainText('IP 127.0.0.1');
  await expect(entries.getByRole('listitem').nth(2)).toContainText('Sign-in failed — wrong password');
  await expect(entries.getByRole('listitem').nth(2)).toContainText('someone not signed in');
  expect(number).toBeTruthy();
  await expectAccessible(page);
});

test('Data kept says 90 days; a shorter own period is saved and stated', async () => {
  const page = await ada.newPage();
  await open(page, '/settings');
  const kept = page.locator('[data-data-kept]');
  await expect(kept.locator('[data-kept]')).toContainText('deleted 90 days after they happen (set by your admin)');
  // Longer than the instance's is refused by the form (and by the server: a fast test).
  await expect(kept.getByLabel('Keep mine for')).toHaveAttribute('max', '90');
  await kept.getByLabel('Keep mine for').fill('30');
  await kept.getByRole('button', { name: 'Save' }).click();
  await expect(kept.getByRole('status')).toHaveText('Saved.');
  await expect(kept.locator('[data-kept]')).toContainText('deleted 30 days after they happen (your choice; this Switchboard keeps 90 days)');
  await open(page, '/settings');
  await expect(page.locator('[data-data-kept]').getByLabel('Keep mine for')).toHaveValue('30');
});

test('Admin sees the audit log and sets the retention period', async () => {
  const page = await ada.newPage();
  await open(page, '/admin');
  const log = page.locator('[data-audit-log]');
  await expect(log.getByRole('list', { name: 'Audit entries' })).toContainText('Retention changed — own period: 30 days');
  await expect(log.getByRole('list', { name: 'Audit entries' })).toContainText('Sign-in failed');
  const retention = page.locator('[data-retention]');
  await expect(retention.getByLabel('Keep for')).toHaveValue('90');
  await retention.getByLabel('Keep for').fill('7');
  await retention.getByRole('button', { name: 'Save' }).click();
  await expect(retention.getByRole('status')).toHaveText('Saved: texts and calls are kept 7 days.');
  await expectAccessible(page);
  await open(page, '/settings');
  await expect(page.locator('[data-data-kept] [data-kept]')).toContainText('deleted 7 days after they happen');
});

/** An authenticator app's code (RFC 6238: HMAC-SHA1, 30 s, 6 digits) `steps` from now. */
function totp(base32: string, steps = 0): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + steps));
  const hash = createHmac('sha1', key).update(counter).digest();
  const offset = hash[hash.length - 1] & 0x0f;
  return ((hash.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).toString().padStart(6, '0');
}

test('two-factor sign-in: set up with the app, then a sign-in asks for its code', async ({ browser }) => {
  const page = await ada.newPage();
  await open(page, '/settings');
  const card = page.locator('[data-two-factor]');
  await expect(card).toContainText('Off: your password alone signs you in.');
  await card.getByRole('button', { name: 'Set up' }).click();
  await expect(card.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
  const key = (await card.locator('[data-secret]').textContent())!.trim();
  await card.getByLabel('Code from the app').fill('000000');
  await card.getByRole('button', { name: 'Turn on' }).click();
  await expect(card.getByRole('status')).toContainText("doesn't match");
  await card.getByLabel('Code from the app').fill(totp(key));
  await card.getByRole('button', { name: 'Turn on' }).click();
  await expect(card.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem')).toHaveCount(10);
  await expect(card).toContainText('10 recovery codes left');
  await expectAccessible(page);

  const other = await browser.newContext({ baseURL: server.base });
  const p = await other.newPage();
  await open(p, '/signin');
  await p.getByLabel('Email').fill('ada@example.com');
  await p.getByLabel('Password').fill(PASSWORD);
  await p.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(p).toHaveURL(/\/signin\/code$/);
  await expect(p.getByRole('heading', { name: 'Enter your code' })).toBeVisible();
  await expectAccessible(p);
  // The code that turned it on is spent; the app's next one signs in.
  await p.getByLabel('Code from your authenticator app').fill(totp(key, 1));
  await p.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(p).toHaveURL(/\/inbox$/);
  await open(p, '/settings');
  await expect(p.locator('[data-account-activity]')).toContainText('Signed in — with an authenticator code');
  await other.close();
});

test('Export my data downloads a zip of everything', async () => {
  const page = await ada.newPage();
  await open(page, '/settings');
  const card = page.locator('[data-export]');
  const download = page.waitForEvent('download');
  await card.getByRole('button', { name: 'Export my data' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^switchboard-export-\d{4}-\d{2}-\d{2}\.zip$/);
  const bytes = fs.readFileSync((await file.path())!);
  expect(bytes.subarray(0, 2).toString()).toBe('PK');
  expect(bytes.includes(Buffer.from('messages.jsonl'))).toBeTruthy();
  await expect(card.getByRole('status')).toContainText('Your export is downloading');
});

test('Delete my account signs out at once; an admin can cancel within 30 days', async ({ browser }) => {
  // Bea, made from the command line (an admin too: Ada stays, so Bea may go).
  server.createAdmin('bea@example.com', PASSWORD);
  const admin = await ada.newPage();
  const bea = await browser.newContext({ baseURL: server.base });
  const page = await bea.newPage();
  await signIn(page, 'bea@example.com', PASSWORD);
  await open(page, '/settings');
  const card = page.locator('[data-delete-account]');
  await expect(card).toContainText('After 30 days everything is erased');
  await expect(card).toContainText('only anonymous audit entries stay');
  await card.getByLabel('Your password').fill('not my password');
  await card.getByRole('button', { name: 'Delete my account' }).click();
  await expect(card.getByRole('status')).toContainText('password is incorrect');
  await card.getByLabel('Your password').fill(PASSWORD);
  await card.getByRole('button', { name: 'Delete my account' }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await open(page, '/inbox');
  await expect(page).toHaveURL(/\/signin$/);

  await open(admin, '/admin');
  const users = admin.getByRole('list', { name: 'Users' });
  await expect(users).toContainText('deleted: erased');
  await admin.getByRole('button', { name: 'Cancel deletion: bea@example.com' }).click();
  await expect(admin.getByRole('button', { name: 'Delete: bea@example.com' })).toBeVisible();
  await expect(users).not.toContainText('deleted: erased');
  await signIn(page, 'bea@example.com', PASSWORD);
  await bea.close();
});

test('an admin requires two-factor sign-in: a newcomer finds only Settings until it is set up', async ({ browser }) => {
  // Ada set hers up above; now she requires it of everyone.
  const admin = await ada.newPage();
  await open(admin, '/admin');
  const rules = admin.locator('[data-sign-in-rules]');
  await rules.getByLabel('Require two-factor sign-in of everyone').check();
  await rules.getByRole('button', { name: 'Save' }).click();
  await expect(rules.getByRole('status')).toHaveText('Saved: everyone needs two-factor sign-in.');

  server.createAdmin('cy@example.com', PASSWORD);
  const cy = await browser.newContext({ baseURL: server.base });
  const page = await cy.newPage();
  await open(page, '/signin');
  await page.getByLabel('Email').fill('cy@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await page.goto('/inbox');
  await expect(page).toHaveURL(/\/settings$/);
  await ready(page, true);
  // The app's own navigation goes back to Settings too.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).click();
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.getByRole('heading', { name: 'Settings', level: 1 })).toBeVisible();
  const card = page.locator('[data-two-factor]');
  await card.getByRole('button', { name: 'Set up' }).click();
  const key = (await card.locator('[data-secret]').textContent())!.trim();
  await card.getByLabel('Code from the app').fill(totp(key));
  await card.getByRole('button', { name: 'Turn on' }).click();
  await expect(card.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem')).toHaveCount(10);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).click();
  await expect(page).toHaveURL(/\/contacts$/);
  await open(page, '/inbox');
  await expect(page).toHaveURL(/\/inbox$/);
  await cy.close();
});
