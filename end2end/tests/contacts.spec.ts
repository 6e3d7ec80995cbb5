// Contacts in the browser: a CSV import (preview, columns, progress, bad lines named and
// nothing imported), names replacing numbers in the inbox, the editor, "Add to contacts"
// from a thread, exports; and an opt-out (STOP from the Simulator) that blocks the next
// send with a clear message.
import { BrowserContext, expect, Page, test } from '@playwright/test';
import { buyNumber, expectAccessible, open, ownConnection, Server, signIn } from './server';

const PASSWORD = 'correct horse battery';

test.describe.configure({ mode: 'serial' });
let server: Server;
let ada: BrowserContext;
let adaNumber = '';

test.afterEach(async () => {
  for (const p of ada.pages()) await p.close();
});

test.beforeAll(async ({ browser }) => {
  server = await Server.start();
  server.createAdmin('ada@example.com', PASSWORD);
  ada = await browser.newContext({ baseURL: server.base });
});
test.afterAll(async () => {
  await ada?.close();
  await server?.stop();
});

async function inbound(from: string, body: string) {
  const res = await ada.request.post('/api/simulate_inbound', {
    form: { from, to: adaNumber, body },
    headers: { ...ownConnection, origin: server.base, accept: 'application/json' },
  });
  expect(res.ok(), await res.text()).toBeTruthy();
}

async function pickFile(page: Page, name: string, text: string) {
  await page.getByLabel('CSV file').setInputFiles({ name, mimeType: 'text/csv', buffer: Buffer.from(text) });
}

test('texts arrive from numbers nobody named yet', async () => {
  const page = await ada.newPage();
  await signIn(page, 'ada@example.com', PASSWORD);
  adaNumber = await buyNumber(page, '212');
  await inbound('+12025550199', 'Hi, it is Grace');
  await inbound('+12025550142', 'Hello from Katherine');
  await open(page, '/inbox');
  await expect(page.getByRole('list', { name: 'Conversations' })).toContainText('(202) 555-0199');
});

test('a CSV file with a bad line imports nothing and names the line', async () => {
  const page = await ada.newPage();
  await open(page, '/contacts');
  await pickFile(page, 'bad.csv', 'Name,Phone\nGrace Hopper,202-555-0199\nNobody,12\n');
  await expect(page.getByRole('columnheader', { name: 'Phone' }).getByRole('combobox')).toHaveValue('number');
  await page.getByRole('button', { name: 'Import bad.csv' }).click();
  await expect(page.getByRole('list', { name: 'Problems in the file' })).toContainText('Line 3: “12” is not a phone number.');
  await expect(page.getByText('Nothing was imported')).toBeVisible();
  await expect(page.getByRole('list', { name: 'Contacts' })).toContainText('No contacts yet');
});

test('importing a CSV file puts names in the inbox', async () => {
  const page = await ada.newPage();
  await open(page, '/contacts');
  const file = 'First name,Last name,Mobile,Company,Tags\r\nGrace,Hopper,(202) 555-0199,US Navy,"vip, navy"\r\nKatherine,Johnson,202 555 0142,NASA,\r\n';
  await pickFile(page, 'people.csv', file);
  // The preview shows the first rows and what each column was taken for; the user may change it.
  await expect(page.getByRole('cell', { name: 'Hopper' })).toBeVisible();
  await expect(page.getByRole('columnheader', { name: 'First name' }).getByRole('combobox')).toHaveValue('first_name');
  await page.getByRole('columnheader', { name: 'Tags' }).getByRole('combobox').selectOption('skip');
  await page.getByRole('button', { name: 'Import people.csv' }).click();
  await expect(page.getByText('Imported: 2 new, 0 updated.')).toBeVisible();
  const list = page.getByRole('list', { name: 'Contacts' });
  await expect(list).toContainText('Grace Hopper');
  await expect(list).toContainText('Katherine Johnson');
  await expect(list).not.toContainText('vip');
  await expectAccessible(page);

  await open(page, '/inbox');
  const conversations = page.getByRole('list', { name: 'Conversations' });
  await expect(conversations).toContainText('Grace Hopper');
  await expect(conversations).toContainText('Katherine Johnson');
  await expect(conversations).not.toContainText('(202) 555-0199');
});

test('a contact is added from a thread, edited, searched and deleted', async () => {
  const page = await ada.newPage();
  await inbound('+12025550177', 'New here');
  await open(page, '/inbox');
  await page.getByRole('link', { name: /\(202\) 555-0177/ }).click();
  await page.getByRole('link', { name: 'Add to contacts' }).click();
  await expect(page).toHaveURL(/\/contacts\?add=/);
  await expect(page.getByLabel('Phone numbers (one per line)')).toHaveValue('+12025550177');
  await page.getByLabel('Name', { exact: true }).fill('Alan Turing');
  await page.getByRole('button', { name: 'Add a field' }).click();
  await page.getByLabel('Field name').fill('Met at');
  await page.getByLabel('Field value').fill('Bletchley');
  await page.getByRole('button', { name: 'Save contact' }).click();
  await expect(page.getByText('Saved Alan Turing.')).toBeVisible();

  // A number that is someone else's is refused in plain words, nothing saved.
  await page.getByRole('button', { name: 'New contact' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Impostor');
  await page.getByLabel('Phone numbers (one per line)').fill('(202) 555-0177');
  await page.getByRole('button', { name: 'Save contact' }).click();
  await expect(page.getByRole('alert')).toContainText('already Alan Turing’s number');
  await page.getByRole('button', { name: 'Cancel' }).click();

  await page.getByRole('searchbox', { name: 'Search contacts' }).fill('turing');
  const list = page.getByRole('list', { name: 'Contacts' });
  await expect(list.getByRole('listitem')).toHaveCount(1);
  await list.getByRole('button', { name: 'Edit' }).click();
  await expect(page.getByLabel('Field value')).toHaveValue('Bletchley');
  await page.getByLabel('Name', { exact: true }).fill('Alan M. Turing');
  await page.getByRole('button', { name: 'Save contact' }).click();
  await expect(list).toContainText('Alan M. Turing');

  await open(page, '/inbox');
  await expect(page.getByRole('list', { name: 'Conversations' })).toContainText('Alan M. Turing');

  await open(page, '/contacts?q=turing');
  await page.getByRole('list', { name: 'Contacts' }).getByRole('button', { name: 'Edit' }).click();
  await page.getByRole('button', { name: 'Delete contact' }).click();
  await expect(page.getByText('Deleted Alan M. Turing.')).toBeVisible();
});

test('contacts export as CSV and vCard', async () => {
  const page = await ada.newPage();
  await open(page, '/contacts');
  // The page's script has drawn it (the server's fallback links are gone).
  await expect(page.getByRole('button', { name: 'New contact' })).toBeVisible();
  const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
  expect(csv.suggestedFilename()).toBe('contacts.csv');
  const text = require('node:fs').readFileSync(await csv.path(), 'utf8');
  expect(text).toContain('Grace Hopper,+12025550199');
  const [vcf] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export vCard' }).click()]);
  expect(require('node:fs').readFileSync(await vcf.path(), 'utf8')).toContain('FN:Katherine Johnson');
});

test('STOP from the Simulator blocks the next send with a clear message', async () => {
  const page = await ada.newPage();
  await inbound('+12025550199', 'STOP');
  await open(page, '/inbox');
  await page.getByRole('link', { name: /Grace Hopper/ }).click();
  await expect(page.getByRole('note')).toContainText('opted out of texts from this number');
  // (A click landing while the thread redraws, as the live stream catches up after the
  // page opened, is sometimes lost in the swap; the send is tried again until it answers.)
  await expect(async () => {
    await page.getByRole('textbox', { name: 'Reply' }).fill('Are you sure?');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect(page.getByRole('alert')).toContainText('opted out of texts from', { timeout: 2000 });
  }).toPass();
  await expect(page.locator('.bubble.out')).toHaveCount(0);
  // START opts back in: the note goes and a text goes out.
  await inbound('+12025550199', 'START');
  await expect(page.getByRole('note')).toHaveCount(0);
  await page.getByRole('textbox', { name: 'Reply' }).fill('Welcome back');
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(page.locator('.bubble.out').last()).toContainText('Welcome back');
});

test('HELP is answered with the words set on the Numbers page', async () => {
  const page = await ada.newPage();
  await open(page, '/numbers');
  const help = page.getByLabel(`Answer to HELP on ${adaNumber}`);
  await expect(help).toHaveAttribute('placeholder', /reply STOP to stop/);
  await help.fill('Ada’s line: call (212) 555-0100. Reply STOP to stop.');
  const helpForm = page.getByRole('form', { name: `HELP answer, ${adaNumber}` });
  await helpForm.getByRole('button', { name: 'Save' }).click();
  await expect(helpForm.getByRole('status')).toHaveText('Saved.');
  await expectAccessible(page);
  await inbound('+12025550142', 'help');
  await open(page, '/inbox');
  await page.getByRole('link', { name: /Katherine Johnson/ }).click();
  await expect(page.locator('.bubble.out').last()).toContainText('Ada’s line: call (212) 555-0100.');
});

test('an away message answers once; a keyword rule answers what it matches', async () => {
  const page = await ada.newPage();
  await open(page, '/numbers');
  const awayForm = page.getByRole('form', { name: `Away settings, ${adaNumber}` });
  await awayForm.getByLabel(`Away message on ${adaNumber}`).selectOption('always');
  await awayForm.getByLabel('Away message', { exact: true }).fill('Out until Monday.');
  await awayForm.getByRole('button', { name: 'Save' }).click();
  await expect(awayForm.getByRole('status')).toHaveText('Saved.');
  const rulesForm = page.getByRole('form', { name: `Keyword rules on ${adaNumber}` });
  await rulesForm.getByRole('button', { name: 'Add a rule' }).click();
  await rulesForm.getByLabel('The text').selectOption('contains');
  await rulesForm.getByLabel('Keyword').fill('price');
  await rulesForm.getByLabel('Reply').fill('Prices at example.com');
  await rulesForm.getByRole('button', { name: 'Save' }).click();
  await expect(rulesForm.getByRole('status')).toHaveText('Saved.');
  const tryIt = page.getByRole('form', { name: `Try a text on ${adaNumber}` });
  await tryIt.getByLabel('A text to try').fill('What is the PRICE?');
  await tryIt.getByRole('button', { name: 'Try' }).click();
  await expect(page.getByText('Rule 1 answers: Prices at example.com')).toBeVisible();
  await expectAccessible(page);

  await inbound('+12025550133', 'Hello?');
  await inbound('+12025550133', 'Hello again?');
  await inbound('+12025550133', 'price list please');
  await open(page, '/inbox');
  await page.getByRole('link', { name: /\(202\) 555-0133/ }).click();
  const outgoing = page.locator('.bubble.out');
  await expect(outgoing).toHaveCount(2);
  await expect(outgoing.first()).toContainText('Out until Monday.');
  await expect(outgoing.last()).toContainText('Prices at example.com');
});

test('canned replies are saved, picked under the message box, and typed as /shortcut', async () => {
  const page = await ada.newPage();
  await open(page, '/inbox');
  await page.getByRole('link', { name: /Katherine Johnson/ }).click();
  const reply = page.getByRole('textbox', { name: 'Reply' });
  const picker = page.getByRole('combobox', { name: 'Canned replies' }).last();
  await picker.selectOption('manage');
  const dialog = page.getByRole('dialog', { name: 'Canned replies' });
  await dialog.getByLabel('Shortcut').fill('hours');
  await dialog.getByLabel('Reply', { exact: true }).fill('We are open 9 to 5.');
  await dialog.getByRole('button', { name: 'Save reply' }).click();
  await expect(dialog.getByRole('status')).toHaveText('Saved /hours.');
  await expect(dialog.getByRole('list', { name: 'Your canned replies' })).toContainText('/hours');
  await dialog.getByRole('button', { name: 'Close' }).click();

  await picker.selectOption({ label: '/hours — We are open 9 to 5.' });
  await expect(reply).toHaveValue('We are open 9 to 5.');
  await reply.fill('Thanks! /hours');
  await reply.press('Tab');
  await expect(reply).toHaveValue('Thanks! We are open 9 to 5.');
  await expect(page.locator('#reply-body-segments')).toContainText('1 segment');
});

test('an admin sets the mail server and a number forwards its texts by email', async () => {
  const page = await ada.newPage();
  await open(page, '/admin');
  const server = page.getByRole('form', { name: 'Mail server' });
  await server.getByLabel('SMTP host').fill('mail.example.com');
  await server.getByLabel('Security').selectOption('none');
  await server.getByLabel('From address').fill('switchboard@example.com');
  await server.getByRole('button', { name: 'Save mail server' }).click();
  await expect(server.getByRole('status')).toContainText('only for a mail server on this machine');
  await server.getByLabel('Security').selectOption('starttls');
  await server.getByLabel('User name').fill('ada');
  await server.getByLabel('Password').fill('smtp-secret');
  await server.getByRole('button', { name: 'Save mail server' }).click();
  await expect(server.getByRole('status')).toHaveText('Saved.');
  await expect(server.getByLabel('Password')).toHaveAttribute('placeholder', /Saved/);
  const replies = page.getByRole('form', { name: 'Replies by email' });
  await replies.getByLabel('Reply address').fill('replies@sms.example.com');
  await replies.getByRole('button', { name: 'Save reply address' }).click();
  await expect(page.getByText('Saved: replies come back as texts.')).toBeVisible();
  const bearer = page.getByText(/Authorization: Bearer \S{20,}/);
  await expect(bearer).toBeVisible();
  await expect(page.getByText(/\/webhooks\/email$/)).toBeVisible();
  const firstKey = await bearer.textContent();
  await page.getByRole('button', { name: 'New key' }).click();
  await expect(page.getByText(/^New key: give it to your mail server/)).toBeVisible();
  await expect(bearer).not.toHaveText(firstKey!);
  const price = page.getByRole('form', { name: 'Text price' });
  await price.getByLabel('Price of one segment').fill('0.0079 USD');
  await price.getByRole('button', { name: 'Save price' }).click();
  const priceStatus = page.locator('[data-price-status]');
  await expect(priceStatus).toHaveText('Saved.');
  await price.getByLabel('Price of one segment').fill('lots');
  await price.getByRole('button', { name: 'Save price' }).click();
  await expect(priceStatus).toContainText('like 0.0079 USD');
  await expectAccessible(page);

  await open(page, '/numbers');
  const forward = page.getByRole('form', { name: `Email forwarding, ${adaNumber}` });
  await forward.getByLabel(`Forward texts to ${adaNumber} by email to`).fill('ada@example.com');
  await forward.getByRole('button', { name: 'Save' }).click();
  await expect(forward.getByRole('status')).toHaveText('Saved: each text arrives by email too.');
});

test('a campaign to 50 contacts completes, its report live', async () => {
  const page = await ada.newPage();
  await open(page, '/contacts');
  const rows = ['Name,Mobile,Tags'];
  for (let i = 0; i < 50; i++) rows.push(`Guest ${i},(646) 555-01${String(i + 40).padStart(2, '0')},party`);
  await pickFile(page, 'guests.csv', rows.join('\n') + '\n');
  await page.getByRole('button', { name: 'Import guests.csv' }).click();
  await expect(page.getByText('Imported: 50 new, 0 updated.')).toBeVisible();

  const form = page.getByRole('form', { name: 'New campaign' });
  await form.getByLabel('Campaign name').fill('Party invite');
  await form.getByLabel('To contacts tagged (empty: everyone)').fill('party');
  await form.getByLabel('Message').fill('Hi {first_name}, party on Saturday!');
  await form.getByRole('button', { name: 'Preview' }).click();
  await expect(page.getByText('50 recipients · 50 segments in all')).toBeVisible();
  await expect(page.getByText('Cost: nothing (sandbox texts are free)')).toBeVisible();
  await expect(page.getByRole('list', { name: 'How it reads' })).toContainText('Hi Guest, party on Saturday!');
  await page.getByRole('button', { name: 'Start campaign' }).click();
  const report = page.getByRole('listitem', { name: 'Campaign Party invite' });
  await expect(report).toContainText('(sending)');
  await expect(report).toContainText('50 delivered', { timeout: 45_000 });
  await expect(report).toContainText('(done)');
  await expectAccessible(page);
});
