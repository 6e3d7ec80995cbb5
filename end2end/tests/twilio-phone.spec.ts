// A call from the phone network answered in the browser, and a phone called from it, on a
// Twilio number bought in the app. The server runs on Twilio, its API pointed at a stand-in
// here; the test plays Twilio: it posts the calls' webhooks signed as Twilio signs them
// (HMAC-SHA1 with the auth token over the URL and the sorted form).
//
// The browser side's SDK can't reach Twilio from here, so the page gets a stand-in script at
// the SDK's address with the surface calls.js uses (Twilio.Device: on, register, destroy,
// the incoming event; a call's accept, reject, disconnect, mute, sendDigits, status), which
// records what it is asked. The last test loads the real vendored SDK.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { expect, Page, test } from '@playwright/test';
import { HEADLESS_SHELL } from './browsers';
import { buyNumber, open, Server, signIn } from './server';

const PASSWORD = 'correct horse battery';
const CALLER = '+13125550123';
const ACCOUNT = 'AC' + '0'.repeat(32);
const AUTH_TOKEN = 'e2e-twilio-auth-token';
const KEY = 'SK0123456789abcdef0123456789abcd01';
const APPLICATION = 'AP0123456789abcdef0123456789abcd02';
const KEY_SECRET = 'e2e-key-secret';
const SDK = '/vendor/twilio-voice-2.18.5.min.js';

/** The SDK's stand-in (see above): `window.twilioStandIn` is its Device, `ring()` has
 * Twilio call this browser. */
const FAKE_SDK = `
window.Twilio = { Device: class {
  constructor(token, options) {
    this.token = token; this.options = options; this.handlers = {}; this.calls = [];
    this.speaker = null;
    this.audio = { isOutputSelectionSupported: true, speakerDevices: { set: (id) => { this.speaker = id; return Promise.resolve(); } } };
    window.twilioStandIn = this;
  }
  on(event, fn) { (this.handlers[event] = this.handlers[event] || []).push(fn); return this; }
  emit(event, arg) { (this.handlers[event] || []).forEach((fn) => fn(arg)); }
  register() { return new Promise((resolve) => setTimeout(resolve, 20)); }
  destroy() {}
  ring() {
    const handlers = {};
    const call = {
      state: 'pending', digits: '', muted: false,
      on(event, fn) { (handlers[event] = handlers[event] || []).push(fn); },
      emit(event) { (handlers[event] || []).forEach((fn) => fn()); },
      status() { return this.state; },
      accept() { this.state = 'open'; },
      reject() { this.state = 'closed'; this.emit('reject'); },
      disconnect() { this.state = 'closed'; this.emit('disconnect'); },
      mute(on) { this.muted = on; },
      sendDigits(digits) { this.digits += digits; },
    };
    this.calls.push(call);
    this.emit('incoming', call);
  }
} };`;

test.describe.configure({ mode: 'serial' });
test.use({
  launchOptions: {
    executablePath: HEADLESS_SHELL,
    args: ['--no-sandbox', '--disable-gpu', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
  },
});
let server: Server;
let standIn: http.Server;
/** What Twilio's API was asked: method, path (after the account), form. */
const asked: { method: string; path: string; form: Record<string, string> }[] = [];

test.beforeAll(async () => {
  let placed = 0;
  standIn = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const path = (req.url || '').split('?')[0].replace(`/2010-04-01/Accounts/${ACCOUNT}`, '');
      const form = Object.fromEntries(new URLSearchParams(body));
      asked.push({ method: req.method || '', path, form });
      const json = (status: number, data: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(data));
      };
      if (path.startsWith('/AvailablePhoneNumbers/')) {
        return json(200, {
          available_phone_numbers: ['+12125550142', '+12125550143'].map((n) => ({
            phone_number: n,
            locality: 'New York',
            region: 'NY',
            capabilities: { SMS: true, MMS: true, voice: true },
          })),
        });
      }
      if (path === '/Applications.json') return req.method === 'GET' ? json(200, { applications: [] }) : json(201, { sid: APPLICATION });
      if (path === '/IncomingPhoneNumbers.json') return json(201, { sid: 'PN' + '1'.repeat(32) });
      if (path === '/Keys.json') return json(201, { sid: KEY, secret: KEY_SECRET });
      if (path === '/Calls.json') return json(201, { sid: `CAplaced${++placed}` });
      return json(200, { sid: 'CA' + '2'.repeat(32) });
    });
  });
  await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
  server = await Server.start({
    env: {
      SWITCHBOARD_CARRIER: 'twilio',
      SWITCHBOARD_TWILIO_API_BASE: `http://127.0.0.1:${(standIn.address() as AddressInfo).port}`,
      SWITCHBOARD_TWILIO_ACCOUNT_SID: ACCOUNT,
      SWITCHBOARD_TWILIO_AUTH_TOKEN: AUTH_TOKEN,
    },
  });
  server.createAdmin('ada@example.com', PASSWORD);
});
test.afterAll(async () => {
  await server?.stop();
  standIn?.close();
});

/** Posts a Twilio voice webhook (to our webhook with `query`), signed; answers its TwiML. */
async function twilio(query: string, form: Record<string, string>): Promise<string> {
  const url = `${server.base}/webhooks/twilio${query}`;
  const signed = url + Object.keys(form).sort().map((k) => k + form[k]).join('');
  const signature = crypto.createHmac('sha1', AUTH_TOKEN).update(signed).digest('base64');
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(form).toString(),
  });
  expect(res.status).toBe(200);
  return res.text();
}

/** Our webhook's query for step `step` of a call with `state` (`pickup:<id>` is
 * `?pickup=<id>`). */
const step = (state: string, name: string) => `?${state.replace(':', '=')}&step=${name}`;
/** The state a step URL carries (`?pickup=<id>&…` is `pickup:<id>`). */
const stateOf = (url: string) => {
  const query = new URL(url).searchParams;
  const kind = ['pickup', 'outbound'].find((k) => query.has(k))!;
  return `${kind}:${query.get(kind)}`;
};
/** The state in the URL of attribute `attribute` of `twiml`. */
const stateIn = (twiml: string, attribute: string) => stateOf(twiml.split(`${attribute}="`)[1].split('"')[0].replace(/&amp;/g, '&'));

const panel = (page: Page) => page.locator('.call-panel');
const sdkCall = (page: Page) =>
  page.evaluate(() => (window as unknown as { twilioStandIn: { calls: { state: string; muted: boolean; digits: string }[] } }).twilioStandIn.calls[0]);
const ring = (page: Page) => page.evaluate(() => (window as unknown as { twilioStandIn: { ring(): void } }).twilioStandIn.ring());

test('a Twilio number rings this browser: answered here through <Dial><Client>, muted, keyed, hung up', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.base });
  const page = await context.newPage();
  await page.route(`**${SDK}`, (route) => route.fulfill({ contentType: 'text/javascript', body: FAKE_SDK }));
  await signIn(page, 'ada@example.com', PASSWORD);
  const number = await buyNumber(page, '212');
  const e164 = '+1' + number.replace(/\D/g, '');
  // Bought on Twilio: its calls (and their end) come to our webhook, through the TwiML
  // application made for this instance.
  const made = asked.find((a) => a.method === 'POST' && a.path === '/Applications.json')!.form;
  expect([made.VoiceUrl, made.StatusCallback]).toEqual([`${server.base}/webhooks/twilio`, `${server.base}/webhooks/twilio`]);
  const bought = asked.find((a) => a.path === '/IncomingPhoneNumbers.json')!.form;
  expect([bought.VoiceApplicationSid, bought.SmsUrl]).toEqual([APPLICATION, `${server.base}/webhooks/twilio`]);

  // She sets up this browser: an Access Token for its own identity, signed with an API key
  // made for this instance; the SDK's sounds are ours (nothing fetched from Twilio).
  await open(page, '/calls');
  await page.getByRole('button', { name: 'Take phone calls in this browser' }).click();
  await expect(page.locator('[data-browser-phone-status]')).toHaveText('This browser rings for calls from the phone network.');
  const device = await page.evaluate(() => {
    const d = (window as unknown as { twilioStandIn: { token: string; options: { sounds: Record<string, string>; publishEvents: boolean } } }).twilioStandIn;
    return { token: d.token, sounds: Object.values(d.options.sounds), publishEvents: d.options.publishEvents };
  });
  expect(device.sounds.every((s) => s === '/sounds/silence.wav')).toBe(true);
  expect(device.publishEvents).toBe(false);
  const [header, claims, signature] = device.token.split('.');
  expect(crypto.createHmac('sha256', KEY_SECRET).update(`${header}.${claims}`).digest('base64url')).toBe(signature);
  const identity = JSON.parse(Buffer.from(claims, 'base64url').toString()).grants.identity as string;

  // A call arrives: Twilio holds the caller on a ringback, and her tab rings.
  const held = 'CA' + 'a'.repeat(32);
  const hold = await twilio('', { CallSid: held, From: CALLER, To: e164, Direction: 'inbound', CallStatus: 'ringing' });
  expect(hold).toContain(`<Play loop="`);
  expect((await fetch(`${server.base}/sounds/ringback.wav`)).headers.get('content-type')).toBe('audio/wav');
  await expect(panel(page)).toContainText('Call from (312) 555-0123');
  await panel(page).getByRole('button', { name: 'Answer' }).click();

  // The held call is pointed at a <Dial> of this browser; its SDK takes that call itself.
  await expect.poll(() => asked.filter((a) => a.path === `/Calls/${held}.json`).length).toBe(1);
  const twiml = asked.find((a) => a.path === `/Calls/${held}.json`)!.form.Twiml;
  expect(twiml).toContain(`>${identity}</Client>`);
  await ring(page);
  await expect.poll(async () => (await sdkCall(page)).state).toBe('open');
  // Twilio asks what her browser hears before it is put through: nothing, put through.
  const pickup = stateIn(twiml, 'url');
  expect(await twilio(step(pickup, 'whisper'), { CallSid: 'CA' + 'b'.repeat(32) })).toBe('<Response/>');
  await expect(panel(page)).toHaveAttribute('data-call-state', 'answered');

  await panel(page).getByRole('button', { name: 'Mute' }).click();
  await expect.poll(async () => (await sdkCall(page)).muted).toBe(true);
  await panel(page).getByRole('button', { name: 'Keypad' }).click();
  await panel(page).getByRole('button', { name: 'Key 7' }).click();
  await expect.poll(async () => (await sdkCall(page)).digits).toBe('7');
  // The speaker picked reaches the SDK, which plays the call through an element of its own.
  const speaker = panel(page).getByLabel('Speaker');
  await expect.poll(() => speaker.locator('option').count()).toBeGreaterThan(1);
  const pick = await speaker.locator('option').last().getAttribute('value');
  await speaker.selectOption(pick!);
  await expect.poll(() => page.evaluate(() => (window as unknown as { twilioStandIn: { speaker: string } }).twilioStandIn.speaker)).toBe(pick);

  // She hangs up: the SDK's call ends, and Twilio ends both calls.
  await panel(page).getByRole('button', { name: 'Hang up' }).click();
  await expect.poll(async () => (await sdkCall(page)).state).toBe('closed');
  await expect.poll(() => asked.filter((a) => a.path === `/Calls/${held}.json` && a.form.Status === 'completed').length).toBe(1);
  await open(page, '/calls');
  await expect(page.getByRole('list', { name: 'Call log' }).getByRole('listitem').first()).toContainText('Incoming · Answered');
  await context.close();
});

test('a phone outside is called from the dialer through Twilio: her browser, then the phone, put through', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.base });
  const page = await context.newPage();
  await page.route(`**${SDK}`, (route) => route.fulfill({ contentType: 'text/javascript', body: FAKE_SDK }));
  await signIn(page, 'ada@example.com', PASSWORD);
  await open(page, '/calls');
  await page.getByLabel('To', { exact: true }).fill('(202) 555-0188');
  await page.getByRole('button', { name: 'Call', exact: true }).click();

  // Twilio calls her browser first; the SDK takes it at once. The panel says the call is
  // placed first (and, if not, what stopped it).
  await expect(panel(page)).toContainText('Calling (202) 555-0188', { timeout: 20_000 });
  await expect.poll(() => asked.filter((a) => a.path === '/Calls.json').length, { timeout: 20_000 }).toBe(1);
  const toBrowser = asked.find((a) => a.path === '/Calls.json')!.form;
  expect(toBrowser.To).toMatch(/^client:sb_[0-9a-f]{32}$/);
  await ring(page);
  await expect.poll(async () => (await sdkCall(page)).state).toBe('open');

  // Twilio says her browser answered: the phone is rung, showing her number.
  const outbound = stateOf(toBrowser.Url);
  const dial = await twilio(step(outbound, 'answered'), { CallSid: 'CAplaced1' });
  expect(dial).toContain('>+12025550188</Number>');
  expect(dial).toContain(`callerId="${toBrowser.From}"`);
  // The phone answers: put through.
  expect(await twilio(step(outbound, 'whisper'), { CallSid: 'CA' + 'c'.repeat(32) })).toBe('<Response/>');
  await expect(panel(page)).toHaveAttribute('data-call-state', 'answered');

  // The phone hangs up: her browser's call ends; the log says answered.
  const over = await twilio(step(outbound, 'dialed'), { CallSid: 'CAplaced1', DialCallSid: 'CA' + 'c'.repeat(32), DialCallStatus: 'completed' });
  expect(over).toContain('<Hangup/>');
  await expect(panel(page)).toContainText('Call ended');
  await expect(page.getByRole('list', { name: 'Call log' }).getByRole('listitem').first()).toContainText('Outgoing · Answered');
  await context.close();
});

test('the real Twilio SDK is loaded when this browser is set up, and fetches nothing from Twilio', async ({ browser }) => {
  const context = await browser.newContext({ baseURL: server.base });
  const page = await context.newPage();
  const outside: string[] = [];
  page.on('request', (r) => !r.url().startsWith(server.base) && outside.push(r.url()));
  await signIn(page, 'ada@example.com', PASSWORD);
  await open(page, '/calls');
  // calls.js makes its Device as it would for a call: its own sounds, no call reports (the
  // SDK's defaults fetch sounds from sdk.twilio.com and post reports to eventgw). Its
  // signalling connection (a WebSocket to Twilio, not reachable here) is all it may open.
  await page.getByRole('button', { name: 'Take phone calls in this browser' }).click();
  await page.waitForFunction(() => {
    const w = window as unknown as { Twilio?: { Device?: { isSupported: boolean } } };
    return !!(w.Twilio && w.Twilio.Device && w.Twilio.Device.isSupported);
  });
  await page.waitForTimeout(2000);
  expect(outside).toEqual([]);
  await context.close();
});
