// Passkeys in Chromium with its virtual authenticator (CDP WebAuthn domain: a platform
// authenticator that keeps discoverable keys and verifies its user): add one in Settings
// (recovery codes come with the first), sign in with it alone, use it as the step after the
// password, remove it with the password.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { CDPSession, expect, Page, test } from '@playwright/test';
import { expectAccessible, open, ready, Server, signIn } from './server';

const PASSWORD = 'correct horse battery';

test.describe.configure({ mode: 'serial' });
let server: Server;

test.beforeAll(async () => {
  // Reached as localhost: browsers refuse passkeys for bare IP addresses.
  server = await Server.start({ named: true });
  server.createAdmin('ada@example.com', PASSWORD);
});
test.afterAll(async () => {
  await server?.stop();
});

/** A virtual authenticator in `page`'s tab, as a phone's or laptop's built-in one. */
async function authenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

async function signOut(page: Page) {
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await expect(page).toHaveURL(/\/signin$/);
  await ready(page, true);
}

test('add a passkey, sign in with it alone, then as the step after the password; remove it', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.base });
  const page = await context.newPage();
  await authenticator(page);
  await signIn(page, 'ada@example.com', PASSWORD);

  await open(page, '/settings');
  const card = page.locator('[data-passkeys]');
  await expect(card.getByRole('list', { name: 'Passkeys' })).toContainText('No passkeys yet.');
  await card.getByLabel('Name this passkey').fill('Work laptop');
  await card.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(card.getByRole('status')).toHaveText('Added “Work laptop”.');
  await expect(card.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem')).toHaveCount(10);
  await expect(card.getByRole('list', { name: 'Passkeys' })).toContainText('Work laptop');
  await expect(card.getByRole('list', { name: 'Passkeys' })).toContainText('not used yet');
  await expectAccessible(page);
  // Two-factor sign-in is on now.
  await open(page, '/settings');
  await expect(page.locator('[data-two-factor]')).toContainText('On: signing in takes your password and your passkey');

  // Signed out, the passkey alone signs in: no email, no password.
  await signOut(page);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page).toHaveURL(/\/inbox$/);
  await ready(page, true);

  // The password alone no longer does: the code page offers the passkey.
  await signOut(page);
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/\/signin\/code$/);
  await ready(page, true);
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Use a passkey' }).click();
  await expect(page).toHaveURL(/\/inbox$/);

  await open(page, '/settings');
  await expect(page.locator('[data-account-activity]')).toContainText('Signed in — with a passkey (no password)');
  await expect(page.locator('[data-account-activity]')).toContainText('Passkey added — Work laptop');
  const list = page.locator('[data-passkeys]').getByRole('list', { name: 'Passkeys' });
  await expect(list).toContainText('last used');
  await page.getByRole('button', { name: 'Remove Work laptop' }).click();
  await page.getByLabel('Your password, to remove “Work laptop”').fill(PASSWORD);
  await page.getByRole('button', { name: 'Remove passkey' }).click();
  await expect(page.locator('[data-passkeys]').getByRole('status')).toHaveText('Removed “Work laptop”.');
  await expect(list).toContainText('No passkeys yet.');
  await open(page, '/settings');
  await expect(page.locator('[data-two-factor]')).toContainText('Off: your password alone signs you in.');
  await context.close();
});

test('a passkey the site does not know is refused on the sign-in page', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.base });
  const page = await context.newPage();
  const { cdp, authenticatorId } = await authenticator(page);
  // A discoverable key for this site that was never registered here (or was removed since).
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'der' });
  await cdp.send('WebAuthn.addCredential', {
    authenticatorId,
    credential: {
      credentialId: randomBytes(16).toString('base64'),
      isResidentCredential: true,
      rpId: 'localhost',
      privateKey: key.toString('base64'),
      userHandle: randomBytes(16).toString('base64'),
      signCount: 0,
    },
  });
  await open(page, '/signin');
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page.locator('[data-passkey-sign-in]').getByRole('status')).toHaveText(
    'This passkey is not registered here (it may have been removed). Sign in with your password.',
  );
  await expect(page).toHaveURL(/\/signin$/);
  await context.close();
});
