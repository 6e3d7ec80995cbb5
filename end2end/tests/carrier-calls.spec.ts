// A call through Telnyx to one of Ada's numbers, in Chromium: the server runs with Telnyx's
// webhook key and its API pointed at a stand-in here that records the Call Control commands.
// The test plays Telnyx: it posts the call's events signed as Telnyx signs them (Ed25519, the
// and to say Ada's own greeting words, then to record; the voicemail's words show in her log
// and its search finds them. (Copying the recording itself is the fast tests' part: the
// binary fetches only from public addresses, and this stand-in is on loopback.)
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { expect, Page, test } from '@playwright/test';
import { buyNumber, expectAccessible, open, Server, signIn } from './server';
import { TELNYX_PUBLIC_KEY, telnyxEvent } from './telnyx';

const PASSWORD = 'correct horse battery';
const CALLER = '+13125550123';

test.describe.configure({ mode: 'serial' });
let server: Server;
let standIn: http.Server;
/** The commands Telnyx was sent: the call, the action and its JSON body. */
const commands: { call: string; action: string; body: Record<string, unknown> }[] = [];

test.beforeAll(async () => {
  standIn = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      // A command to a held call, or a call placed (forwarding): `dial`.
      const action = /\/calls\/([^/]+)\/actions\/([a-z_]+)$/.exec(req.url || '');
      const dial = req.url === '/calls';
      if (req.method === 'POST' && action) commands.push({ call: decodeURIComponent(action[1]), action: action[2], body: JSON.parse(body) });
      if (req.method === 'POST' && dial) commands.push({ call: '', action: 'dial', body: JSON.parse(body) });
      res.writeHead(action || dial ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { result: 'ok', call_control_id: 'v3:e2e-phone' } }));
    });
  });
  await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
  const api = `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`;
  server = await Server.start({
    env: {
      SWITCHBOARD_TELNYX_PUBLIC_KEY: TELNYX_PUBLIC_KEY,
      SWITCHBOARD_TELNYX_API_BASE: api,
      SWITCHBOARD_TELNYX_API_KEY: 'KEY0123456789',
    },
  });
  server.createAdmin('ada@example.com', PASSWORD);
});
test.afterAll(async () => {
  await server?.stop();
  standIn?.close();
});

/** Posts a Telnyx call event, signed as Telnyx signs it. */
const telnyx = (eventType: string, payload: Record<string, unknown>) => telnyxEvent(server.base, eventType, payload);

/** The body of the last command `action` sent (to `call`, if given), once it was sent. */
async function sent(action: string, call?: string) {
  const matching = () => commands.filter((c) => c.action === action && (call === undefined || c.call === call));
  await expect.poll(() => matching().length).toBeGreaterThan(0);
  return matching().pop()!.body;
}

test('a phone-network call is answered by voicemail with her greeting; its words show in the call log', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.base });
  const page: Page = await context.newPage();
  await signIn(page, 'ada@example.com', PASSWORD);
  const number = await buyNumber(page, '212');
  await open(page, '/calls');
  const settings = page.getByRole('form', { name: /Calls to \(212\)/ });
  await settings.getByLabel('Voicemail greeting').fill('Ada Lovelace here. Leave word after the tone.');
  await settings.getByRole('button', { name: 'Save' }).click();
  await expect(settings.getByRole('status')).toHaveText('Saved.');

  const e164 = '+1' + number.replace(/\D/g, '');
  const call = { call_control_id: 'v3:e2e-call-1', call_session_id: 'e2e-session-1', call_leg_id: 'e2e-session-1' };
  await telnyx('call.initiated', { ...call, direction: 'incoming', from: CALLER, to: e164, state: 'parked' });
  // The log updates as the call arrives: missed (nothing here answers a carrier call yet).
  const log = page.getByRole('list', { name: 'Call log' });
  await expect(log.getByRole('listitem').first()).toContainText('(312) 555-0123');
  await expect(log.getByRole('listitem').first()).toContainText('Incoming · Missed');
  const answer = await sent('answer');
  expect(answer.client_state).toBe(Buffer.from('voicemail').toString('base64'));

  await telnyx('call.answered', { ...call, client_state: answer.client_state });
  expect((await sent('speak')).payload).toBe('Ada Lovelace here. Leave word after the tone.');
  await telnyx('call.speak.ended', { ...call, client_state: answer.client_state });
  expect((await sent('record_start')).format).toBe('mp3');

  await telnyx('call.recording.transcription.saved', { ...call, status: 'completed', transcription_text: 'Hello Ada, it is about the engine.' });
  await expect(log.getByRole('listitem').first().locator('.transcript')).toHaveText('Hello Ada, it is about the engine.');
  await page.getByLabel('Search calls').fill('engine');
  await page.getByRole('button', { name: 'Search calls' }).click();
  await expect(log.getByRole('listitem')).toHaveCount(1);
  await expect(log).toContainText('about the engine');
  await expectAccessible(page);
  await context.close();
});

test('forwarded to her phone, the call is taken by pressing 1 and logged as answered', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.base });
  const page: Page = await context.newPage();
  await signIn(page, 'ada@example.com', PASSWORD);
  await open(page, '/calls');
  const settings = page.getByRole('form', { name: /Calls to \(212\)/ });
  // A number here is refused (its calls would come back); her own phone is kept.
  const number = (await settings.locator('strong').textContent())!.replace(/ \(.*\)$/, '');
  await settings.getByLabel('Forward calls to this phone').fill(number);
  await settings.getByRole('button', { name: 'Save' }).click();
  await expect(settings.getByRole('status')).toContainText('on this Switchboard');
  await settings.getByLabel('Forward calls to this phone').fill('(202) 555-0188');
  // Together with her browsers (none of hers takes phone calls: only the phone rings).
  await settings.getByLabel('Forward', { exact: true }).selectOption({ label: 'Together with browsers taking calls' });
  await settings.getByRole('button', { name: 'Save' }).click();
  await expect(settings.getByRole('status')).toHaveText('Saved.');
  await page.reload();
  await expect(page.getByRole('form', { name: /Calls to \(212\)/ }).getByLabel('Forward calls to this phone')).toHaveValue('+12025550188');
  await expect(page.getByRole('form', { name: /Calls to \(212\)/ }).getByLabel('Forward', { exact: true })).toHaveValue('-1');

  const e164 = '+1' + number.replace(/\D/g, '');
  const held = { call_control_id: 'v3:e2e-call-2', call_session_id: 'e2e-session-2', call_leg_id: 'e2e-session-2' };
  await telnyx('call.initiated', { ...held, direction: 'incoming', from: CALLER, to: e164, state: 'parked', connection_id: 'e2e-app' });
  const dial = await sent('dial');
  expect([dial.to, dial.from, dial.link_to]).toEqual(['+12025550188', e164, held.call_control_id]);
  const log = page.getByRole('list', { name: 'Call log' });
  await expect(log.getByRole('listitem').first()).toContainText('Incoming · In progress');

  // Her phone answers: the whisper says whom it is for; she presses 1.
  const phone = { call_control_id: 'v3:e2e-phone', call_session_id: 'e2e-session-3', client_state: dial.client_state };
  await telnyx('call.answered', phone);
  expect((await sent('gather_using_speak', phone.call_control_id)).payload).toBe(`Call for ${number}, from (312) 555-0123. Press 1 to take it.`);
  await telnyx('call.gather.ended', { ...phone, digits: '1', status: 'valid' });
  await sent('answer', held.call_control_id);
  await telnyx('call.answered', { ...held, client_state: dial.client_state });
  expect((await sent('bridge', held.call_control_id)).call_control_id).toBe(phone.call_control_id);
  // They talk; she hangs up: the caller is let go, and the log says answered.
  await telnyx('call.hangup', { ...phone, hangup_cause: 'normal_clearing' });
  await sent('hangup', held.call_control_id);
  await expect(log.getByRole('listitem').first()).toContainText('Incoming · Answered');
  await expectAccessible(page);
  await context.close();
});
