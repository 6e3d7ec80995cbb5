// A call from the phone network answered in the browser, on a Telnyx number bought in the
// app. The server runs on Telnyx, its API pointed at a stand-in here; the test plays Telnyx:
// it posts the call's events signed as Telnyx signs them (Ed25519, the RFC 8032 test key).
//
// The browser side's carrier SDK can't reach Telnyx from here, so the page gets a stand-in
// module at the SDK's address with the same surface calls.js uses (TelnyxRTC: on, connect,
// the callUpdate notification; a call's answer, hangup, muteAudio, dtmf), which records what
// it is asked. The real vendored SDK is loaded in the last test: served as a module, it
// imports and makes its client without the network, and no page loads it until a call
// needs it.
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { expect, Page, test } from '@playwright/test';
import { HEADLESS_SHELL } from './browsers';
import { buyNumber, expectAccessible, open, Server, signIn } from './server';
import { TELNYX_PUBLIC_KEY, telnyxEvent } from './telnyx';

const PASSWORD = 'correct horse battery';
const CALLER = '+13125550123';
const TOKEN = 'eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJlMmUifQ.c2lnbmF0dXJl';
const SDK = '/vendor/telnyx-webrtc-2.27.10.mjs';

/** The SDK's stand-in (see above); `window.telnyxStandIn` is its client, `ring()` has the
 * carrier call this browser. */
const FAKE_SDK = `
export class TelnyxRTC {
  constructor(options) {
    this.options = options;
    this.handlers = {};
    this.calls = [];
    window.telnyxStandIn = this;
  }
  on(event, fn) { (this.handlers[event] = this.handlers[event] || []).push(fn); return this; }
  emit(event, arg) { (this.handlers[event] || []).forEach((fn) => fn(arg)); }
  connect() { setTimeout(() => this.emit('telnyx.ready'), 20); }
  ring() {
    const client = this;
    const call = {
      state: 'ringing', direction: 'inbound', digits: '', muted: false,
      update(state) { this.state = state; client.emit('telnyx.notification', { type: 'callUpdate', call: this }); },
      answer(options) { this.remote = !!(options && options.remoteElement); this.update('active'); },
      hangup() { this.update('hangup'); },
      muteAudio() { this.muted = true; },
      unmuteAudio() { this.muted = false; },
      hold() { return Promise.resolve(); },
      unhold() { return Promise.resolve(); },
      dtmf(digit) { this.digits += digit; },
    };
    this.calls.push(call);
    call.update('ringing');
  }
}`;

test.describe.configure({ mode: 'serial' });
// A microphone for Answer to ask for (Chromium's fake one).
test.use({
  launchOptions: {
    executablePath: HEADLESS_SHELL,
    args: ['--no-sandbox', '--disable-gpu', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
  },
});
let server: Server;
let standIn: http.Server;
/** What Telnyx's API was asked: method, path, JSON body. */
const asked: { method: string; path: string; body: Record<string, unknown> }[] = [];

test.beforeAll(async () => {
  let credentials = 0;
  let placed = 0;
  standIn = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const path = (req.url || '').split('?')[0];
      asked.push({ method: req.method || '', path, body: body ? JSON.parse(body) : {} });
      const json = (data: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ data }));
      };
      if (path === '/available_phone_numbers') {
        const numbers = ['+12125550142', '+12125550143'].map((n) => ({
          phone_number: n,
          features: [{ name: 'sms' }, { name: 'mms' }, { name: 'voice' }],
          region_information: [{ region_name: 'New York' }],
        }));
        return json(numbers);
      }
      if (req.method === 'GET') return json([]); // no application or connection made before
      if (path === '/number_orders') return json({ phone_numbers: [{ id: 'num-1', phone_number: (JSON.parse(body) as { phone_numbers: { phone_number: string }[] }).phone_numbers[0].phone_number }] });
      if (path === '/telephony_credentials') {
        credentials += 1;
        return json({ id: `cred-${credentials}`, sip_username: `gencred${credentials}` });
      }
      if (path.endsWith('/token')) {
        res.writeHead(201, { 'content-type': 'text/plain' });
        return res.end(TOKEN);
      }
      if (path === '/calls') return json({ call_control_id: `v3:e2e-leg-${++placed}`, result: 'ok' });
      return json({ id: 'made-1', result: 'ok' });
    });
  });
  await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
  const api = `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`;
  server = await Server.start({
    env: {
      SWITCHBOARD_CARRIER: 'telnyx',
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

/** The body of the last call command `action` sent to `call`, once it was sent. */
async function sent(action: string, call: string) {
  const path = `/calls/${encodeURIComponent(call)}/actions/${action}`;
  const matching = () => asked.filter((a) => a.method === 'POST' && (a.path === path || decodeURIComponent(a.path) === decodeURIComponent(path)));
  await expect.poll(() => matching().length).toBeGreaterThan(0);
  return matching().pop()!.body;
}

const panel = (page: Page) => page.locator('.call-panel');

test('a Telnyx number rings this browser: answered here, joined with the caller, muted, keyed, hung up', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.base });
  const page = await context.newPage();
  await page.route(`**${SDK}`, (route) => route.fulfill({ contentType: 'text/javascript', body: FAKE_SDK }));
  const sdkLoads: string[] = [];
  page.on('request', (r) => r.url().includes('/vendor/') && sdkLoads.push(r.url()));
  await signIn(page, 'ada@example.com', PASSWORD);
  const number = await buyNumber(page, '212');
  const e164 = '+1' + number.replace(/\D/g, '');
  // Bought on Telnyx: its calls come to our Call Control application.
  expect(asked.find((a) => a.path === '/number_orders')!.body.connection_id).toBe('made-1');

  // She sets up this browser to take phone calls: a credential of its own at Telnyx, on a
  // connection whose addresses only this account can call; the SDK signs in with a token.
  await open(page, '/calls');
  // No page carries the SDK: it loads when this browser is set up (or a call needs it).
  expect(sdkLoads).toEqual([]);
  await page.getByRole('button', { name: 'Take phone calls in this browser' }).click();
  await expect(page.locator('[data-browser-phone-status]')).toHaveText('This browser rings for calls from the phone network.');
  expect(sdkLoads).toHaveLength(1);
  // A second tab of the same browser gets a credential of its own (Telnyx rings only the
  // last sign-in of one, so tabs sharing it would take each other's calls).
  const made = () => asked.filter((a) => a.method === 'POST' && a.path === '/telephony_credentials').length;
  const before = made();
  const second = await context.newPage();
  await second.route(`**${SDK}`, (route) => route.fulfill({ contentType: 'text/javascript', body: FAKE_SDK }));
  await open(second, '/calls');
  await second.getByRole('button', { name: 'Take phone calls in this browser' }).click();
  await expect(second.locator('[data-browser-phone-status]')).toHaveText('This browser rings for calls from the phone network.');
  expect(made()).toBe(before + 1);
  await second.close();
  expect(asked.find((a) => a.method === 'POST' && a.path === '/credential_connections')!.body.sip_uri_calling_preference).toBe('internal');
  expect(await page.evaluate(() => (window as unknown as { telnyxStandIn: { options: { login_token: string } } }).telnyxStandIn.options.login_token)).toBe(TOKEN);
  await expectAccessible(page);

  // A call arrives: held at Telnyx, it rings her tab.
  const held = { call_control_id: 'v3:e2e-held-1', call_session_id: 'e2e-session-1', call_leg_id: 'e2e-session-1' };
  await telnyx('call.initiated', { ...held, direction: 'incoming', from: CALLER, to: e164, state: 'parked', connection_id: 'made-1' });
  await expect(panel(page)).toContainText('Call from (312) 555-0123');
  await panel(page).getByRole('button', { name: 'Answer' }).click();

  // Telnyx is asked to call this browser; the SDK takes that call by itself.
  await expect.poll(() => asked.filter((a) => a.path === '/calls').length).toBe(1);
  const dial = asked.find((a) => a.path === '/calls')!.body;
  expect([dial.to, dial.link_to]).toEqual(['sip:gencred1@sip.telnyx.com', held.call_control_id]);
  await page.evaluate(() => (window as unknown as { telnyxStandIn: { ring(): void } }).telnyxStandIn.ring());
  const sdkCall = () => page.evaluate(() => (window as unknown as { telnyxStandIn: { calls: { state: string; remote: boolean; muted: boolean; digits: string }[] } }).telnyxStandIn.calls[0]);
  await expect.poll(async () => (await sdkCall()).state).toBe('active');
  expect((await sdkCall()).remote).toBe(true);

  // Telnyx says the browser answered: the caller is answered and joined with it.
  const leg = { call_control_id: 'v3:e2e-leg-1', call_session_id: 'e2e-session-2', client_state: dial.client_state };
  await telnyx('call.answered', leg);
  await sent('answer', held.call_control_id);
  await telnyx('call.answered', { ...held, client_state: dial.client_state });
  expect((await sent('bridge', held.call_control_id)).call_control_id).toBe(leg.call_control_id);
  await expect(panel(page)).toHaveAttribute('data-call-state', 'answered');

  // Mute and the keypad go through the SDK.
  await panel(page).getByRole('button', { name: 'Mute' }).click();
  await expect.poll(async () => (await sdkCall()).muted).toBe(true);
  await panel(page).getByRole('button', { name: 'Keypad' }).click();
  await panel(page).getByRole('button', { name: 'Key 5' }).click();
  await expect.poll(async () => (await sdkCall()).digits).toBe('5');

  // She hangs up: the SDK's call ends, and Telnyx ends both calls.
  await panel(page).getByRole('button', { name: 'Hang up' }).click();
  await expect.poll(async () => (await sdkCall()).state).toBe('hangup');
  await sent('hangup', held.call_control_id);
  await sent('hangup', leg.call_control_id);
  await open(page, '/calls');
  await expect(page.getByRole('list', { name: 'Call log' }).getByRole('listitem').first()).toContainText('Incoming · Answered');
  await context.close();
});

test('forwarded together with this browser: her phone and this tab ring at once; answered here, the phone is let go', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.base });
  const page = await context.newPage();
  await page.route(`**${SDK}`, (route) => route.fulfill({ contentType: 'text/javascript', body: FAKE_SDK }));
  await signIn(page, 'ada@example.com', PASSWORD);
  await open(page, '/calls');
  await page.getByRole('button', { name: 'Take phone calls in this browser' }).click();
  await expect(page.locator('[data-browser-phone-status]')).toHaveText('This browser rings for calls from the phone network.');
  const settings = page.getByRole('form', { name: /Calls to \(212\)/ });
  const number = (await settings.locator('strong').textContent())!.replace(/ \(.*\)$/, '');
  await settings.getByLabel('Forward calls to this phone').fill('(202) 555-0188');
  await settings.getByLabel('Forward', { exact: true }).selectOption({ label: 'Together with browsers taking calls' });
  await settings.getByRole('button', { name: 'Save' }).click();
  await expect(settings.getByRole('status')).toHaveText('Saved.');

  // A call arrives: her tab rings, and Telnyx is asked to call her phone, tied to the caller.
  const placed = () => asked.filter((a) => a.path === '/calls');
  const before = placed().length;
  const held = { call_control_id: 'v3:e2e-held-2', call_session_id: 'e2e-session-4', call_leg_id: 'e2e-session-4' };
  await telnyx('call.initiated', { ...held, direction: 'incoming', from: CALLER, to: '+1' + number.replace(/\D/g, ''), state: 'parked', connection_id: 'made-1' });
  await expect(panel(page)).toContainText('Call from (312) 555-0123');
  await expect.poll(() => placed().length).toBe(before + 1);
  const phone = placed()[before].body;
  expect([phone.to, phone.link_to]).toEqual(['+12025550188', held.call_control_id]);
  const phoneLeg = `v3:e2e-leg-${before + 1}`;

  // Answered here first: the phone is let go, and Telnyx calls this browser instead.
  await panel(page).getByRole('button', { name: 'Answer' }).click();
  await sent('hangup', phoneLeg);
  await expect.poll(() => placed().length).toBe(before + 2);
  const dial = placed()[before + 1].body;
  expect(String(dial.to).startsWith('sip:')).toBe(true);
  await page.evaluate(() => (window as unknown as { telnyxStandIn: { ring(): void } }).telnyxStandIn.ring());
  const leg = { call_control_id: `v3:e2e-leg-${before + 2}`, call_session_id: 'e2e-session-5', client_state: dial.client_state };
  await telnyx('call.answered', leg);
  await sent('answer', held.call_control_id);
  await telnyx('call.answered', { ...held, client_state: dial.client_state });
  expect((await sent('bridge', held.call_control_id)).call_control_id).toBe(leg.call_control_id);
  await expect(panel(page)).toHaveAttribute('data-call-state', 'answered');
  await panel(page).getByRole('button', { name: 'Hang up' }).click();
  await sent('hangup', held.call_control_id);

  // Forwarding off again, for the tests after this one.
  await open(page, '/calls');
  await settings.getByLabel('Forward calls to this phone').fill('');
  await settings.getByRole('button', { name: 'Save' }).click();
  await expect(settings.getByRole('status')).toHaveText('Saved.');
  await context.close();
});

test('she stops taking phone calls in browsers: their credentials go, and calls go to voicemail', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.base });
  const page = await context.newPage();
  await signIn(page, 'ada@example.com', PASSWORD);
  await open(page, '/calls');
  await page.getByRole('button', { name: 'Stop taking phone calls in browsers' }).click();
  await expect(page.locator('[data-browser-phone-status]')).toHaveText('Browsers no longer ring: your calls go to forwarding or voicemail.');
  expect(asked.filter((a) => a.method === 'DELETE' && a.path.startsWith('/telephony_credentials/')).length).toBeGreaterThan(0);
  const number = (await page.getByRole('form', { name: /Calls to / }).locator('strong').first().textContent())!.replace(/ \(.*\)$/, '');
  const held = { call_control_id: 'v3:e2e-held-9', call_session_id: 'e2e-session-9', call_leg_id: 'e2e-session-9' };
  await telnyx('call.initiated', { ...held, direction: 'incoming', from: CALLER, to: '+1' + number.replace(/\D/g, ''), state: 'parked', connection_id: 'made-1' });
  expect((await sent('answer', held.call_control_id)).client_state).toBe(Buffer.from('voicemail').toString('base64'));
  await expect(page.locator('.call-panel')).toBeHidden();
  await context.close();
});

test('a phone outside is called from the dialer through Telnyx: her browser, then the phone, joined', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.base });
  const page = await context.newPage();
  await page.route(`**${SDK}`, (route) => route.fulfill({ contentType: 'text/javascript', body: FAKE_SDK }));
  await signIn(page, 'ada@example.com', PASSWORD);
  await open(page, '/calls');
  const placedSoFar = asked.filter((a) => a.path === '/calls').length;
  // A slow start (our server taking 6 s to open the call) says so all along, even when the
  // panel is redrawn meanwhile (a redraw with no call used to hide it 2.5 s later).
  await page.route('**/api/call_out', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    await route.continue();
  });
  await page.getByLabel('To', { exact: true }).fill('(202) 555-0188');
  await page.getByRole('button', { name: 'Call', exact: true }).click();
  await expect(panel(page)).toContainText('Starting the call…');
  // The redraw: calls.js reads this tab's calls again (none yet) and draws the panel.
  const redrawn = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/live_calls');
  await page.evaluate(() => (window as unknown as { SwitchboardCalls: { changed(): void } }).SwitchboardCalls.changed());
  await redrawn;
  await page.waitForTimeout(3_000);
  // Read now, not waited for: the call placed a moment later shows the panel again.
  expect(await panel(page).isVisible(), 'the panel is still shown 3 s after a redraw').toBe(true);
  expect(await panel(page).textContent()).toMatch(/Starting the call…|Calling \(202\) 555-0188/);

  // Telnyx calls her browser first; the SDK takes it at once. The call is placed once the
  // SDK is loaded, this tab's credential made and our call opened: the panel says so first
  // (and, if not, what stopped it).
  await expect(panel(page)).toContainText('Calling (202) 555-0188', { timeout: 20_000 });
  await expect.poll(() => asked.filter((a) => a.path === '/calls').length, { timeout: 20_000 }).toBe(placedSoFar + 1);
  const toBrowser = asked.filter((a) => a.path === '/calls').pop()!.body;
  // (This tab is a new one: a credential of its own, the last made, made as it called.)
  const credentials = asked.filter((a) => a.method === 'POST' && a.path === '/telephony_credentials').length;
  expect(toBrowser.to).toBe(`sip:gencred${credentials}@sip.telnyx.com`);
  await page.evaluate(() => (window as unknown as { telnyxStandIn: { ring(): void } }).telnyxStandIn.ring());
  const sdkCall = () => page.evaluate(() => (window as unknown as { telnyxStandIn: { calls: { state: string }[] } }).telnyxStandIn.calls[0]);
  await expect.poll(async () => (await sdkCall()).state).toBe('active');

  // Telnyx says her browser answered: the phone is called, tied to it; it answers: joined.
  const browserLeg = `v3:e2e-leg-${placedSoFar + 1}`;
  await telnyx('call.answered', { call_control_id: browserLeg, call_session_id: 'e2e-out', client_state: toBrowser.client_state });
  await expect.poll(() => asked.filter((a) => a.path === '/calls').length).toBe(placedSoFar + 2);
  const toPhone = asked.filter((a) => a.path === '/calls').pop()!.body;
  expect([toPhone.to, toPhone.link_to]).toEqual(['+12025550188', browserLeg]);
  const phoneLeg = `v3:e2e-leg-${placedSoFar + 2}`;
  await telnyx('call.answered', { call_control_id: phoneLeg, call_session_id: 'e2e-out', client_state: toBrowser.client_state });
  expect((await sent('bridge', browserLeg)).call_control_id).toBe(phoneLeg);
  await expect(panel(page)).toHaveAttribute('data-call-state', 'answered');

  // The phone hangs up: her browser's call ends; the log says answered.
  await telnyx('call.hangup', { call_control_id: phoneLeg, call_session_id: 'e2e-out', client_state: toBrowser.client_state });
  await sent('hangup', browserLeg);
  await expect(panel(page)).toContainText('Call ended');
  await expect.poll(async () => (await sdkCall()).state).toBe('hangup');
  await expect(page.getByRole('list', { name: 'Call log' }).getByRole('listitem').first()).toContainText('Outgoing · Answered');
  await context.close();
});

test('the real SDK is served as a module, and imports and makes its client without the network', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.base });
  const page = await context.newPage();
  const requested: string[] = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  await signIn(page, 'ada@example.com', PASSWORD);
  await open(page, '/calls');
  expect(requested.filter((p) => p.startsWith('/vendor/'))).toEqual([]);
  const made = await page.evaluate(async (url) => {
    const module = await import(url);
    const client = new module.TelnyxRTC({ login_token: 'eyJ.e30.sig' });
    return typeof module.TelnyxRTC === 'function' && typeof client.connect === 'function';
  }, SDK);
  expect(made).toBe(true);
  await context.close();
});
