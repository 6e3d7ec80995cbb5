// The installable app: manifest, service worker, installability as Chromium judges it.
// In the full browser (tests/browsers.ts): what is judged is what a person installs, and the
// headless shell does not show notifications.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, expect, test } from '@playwright/test';
import { FULL_CHROMIUM } from './browsers';
import { buyNumber, compose, open, ownConnection, ready, Server, signIn } from './server';

const PASSWORD = 'correct horse battery';

let server: Server;
test.beforeAll(async () => {
  server = await Server.start();
});
test.afterAll(async () => {
  await server?.stop();
});

test('the manifest is linked and valid, the service worker activates, Chromium finds it installable', async ({}, testInfo) => {
  // Installability is judged for a real profile (an incognito-like context never qualifies).
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-profile-'));
  const context = await chromium.launchPersistentContext(profile, { ...testInfo.project.use.launchOptions, executablePath: FULL_CHROMIUM, baseURL: server.base });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto('/signin');
  await ready(page, true);

  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  const res = await page.request.get(href!, { headers: ownConnection });
  expect(res.ok()).toBeTruthy();
  const manifest = await res.json();
  expect(manifest).toMatchObject({ name: 'Switchboard', short_name: 'Switchboard', display: 'standalone', start_url: '/inbox', scope: '/' });
  const sizes = manifest.icons.map((i: { sizes: string; purpose: string }) => `${i.sizes}/${i.purpose}`);
  expect(sizes).toEqual(expect.arrayContaining(['192x192/any', '512x512/any', '512x512/maskable']));
  for (const icon of manifest.icons) {
    const img = await page.request.get(icon.src, { headers: ownConnection });
    expect(img.headers()['content-type']).toBe('image/png');
  }
  await expect(page.locator('link[rel="apple-touch-icon"]')).toHaveCount(1);

  const state = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return { scope: reg.scope, state: reg.active?.state, script: reg.active?.scriptURL };
  });
  expect(state.scope).toBe(`${server.base}/`);
  expect(state.script).toBe(`${server.base}/sw.js`);
  // `ready` resolves once a worker is active, which may still be finishing its activation.
  await expect
    .poll(() => page.evaluate(async () => (await navigator.serviceWorker.ready).active?.state))
    .toBe('activated');

  const cdp = await context.newCDPSession(page);
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  expect(installabilityErrors).toEqual([]);
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
});

test('navigations without a network get the offline page', async ({}, testInfo) => {
  const browser = await chromium.launch({ ...testInfo.project.use.launchOptions, executablePath: FULL_CHROMIUM });
  const context = await browser.newContext({ baseURL: server.base });
  const page = await context.newPage();
  await page.goto('/signin');
  await ready(page, true);
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();
  await context.setOffline(true);
  await page.goto('/signin').catch(() => {});
  await expect(page.getByRole('heading', { name: "You're offline" })).toBeVisible();
  await browser.close();
});

test('a push shows a notification, a click on it lands on the thread, none while that thread is read', async ({}, testInfo) => {
  server.createAdmin('ada@example.com', PASSWORD);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-profile-'));
  const context = await chromium.launchPersistentContext(profile, { ...testInfo.project.use.launchOptions, executablePath: FULL_CHROMIUM, baseURL: server.base });
  await context.grantPermissions(['notifications'], { origin: server.base });
  const page = context.pages()[0] ?? (await context.newPage());
  await signIn(page, 'ada@example.com', PASSWORD);
  await buyNumber(page, '212');
  await compose(page, '(202) 555-0199', 'Dinner at 8?');
  const thread = new URL(page.url()).pathname;
  await open(page, '/inbox'); // controlled by the worker from here on, reading no thread

  const cdp = await context.newCDPSession(page);
  const registrations: string[] = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e: { registrations: { registrationId: string; scopeURL: string }[] }) => {
    for (const r of e.registrations) if (r.scopeURL === `${server.base}/`) registrations.push(r.registrationId);
  });
  await cdp.send('ServiceWorker.enable');
  await expect.poll(() => registrations.length).toBeGreaterThan(0);
  // What the server sends for an inbound text (push::notify_inbound).
  const alertFor = (url: string, body: string) => ({ title: '(202) 555-0199', body, url, tag: `conversation-${url}`, unread: 2 });
  const push = (alert: object) =>
    cdp.send('ServiceWorker.deliverPushMessage', {
      origin: server.base,
      registrationId: registrations[registrations.length - 1],
      data: JSON.stringify(alert),
    });
  const shown = () =>
    page.evaluate(async () =>
      (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, url: n.data.url })),
    );
  // A push delivered again until `now()` shows `expected`: a push that reaches a worker still
  // starting up can be dropped (one tag per conversation or call, so repeats collapse).
  const pushUntil = (alert: object, now: () => Promise<unknown>, expected: unknown) =>
    expect
      .poll(
        async () => {
          await push(alert);
          await page.waitForTimeout(300);
          return now();
        },
        { timeout: 20_000 },
      )
      .toEqual(expected);
  const alert = alertFor(thread, 'Yes, see you there');
  await pushUntil(alert, shown, [{ title: alert.title, body: alert.body, tag: alert.tag, url: alert.url }]);

  // A click: the worker's own notificationclick handler, given the notification it showed.
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
  await worker.evaluate(async () => {
    type Worker = {
      registration: ServiceWorkerRegistration;
      dispatchEvent(event: Event): boolean;
      NotificationEvent: new (type: string, init: { notification: Notification }) => Event;
    };
    const sw = self as unknown as Worker;
    const [notification] = await sw.registration.getNotifications();
    sw.dispatchEvent(new sw.NotificationEvent('notificationclick', { notification }));
  });
  await expect(page).toHaveURL(new RegExp(`${thread}$`));
  await ready(page, true);
  await expect(page.locator('.bubble.out').last()).toContainText('Dinner at 8?');
  await expect.poll(shown).toEqual([]); // the click closed it

  // Now that thread is on screen: its alerts stay quiet, another conversation's still show.
  await page.bringToFront();
  await push(alertFor(thread, 'Quiet please'));
  const other = alertFor('/inbox/another-conversation', 'Someone else');
  await pushUntil(other, shown, [{ title: other.title, body: other.body, tag: other.tag, url: other.url }]);

  // A ringing call (Ada calls her own second number): its notification stays until handled
  // and offers Answer and Decline; Decline ends the call from there, the app unopened.
  await buyNumber(page, '415');
  const api = async (fn: string, form: Record<string, string> = {}) =>
    (await page.request.post(`/api/${fn}`, { form, headers: { ...ownConnection, origin: server.base } })).json();
  const [from, to] = await api('my_numbers');
  const callId: string = await api('start_call', { number_id: from.id, to: to.e164, tab: 'elsewhere', offer: 'v=0\r\n' });
  const ringing = { title: `Call from ${from.display}`, body: 'Open Switchboard to answer.', url: '/calls', tag: `call-${callId}`, unread: 0 };
  // A button pressed on the alert tagged `tag`: the worker's own notificationclick handler.
  const pressOnAlert = (tag: string, action: string) =>
    worker.evaluate(
      async ([tag, action]) => {
        type Worker = {
          registration: ServiceWorkerRegistration;
          dispatchEvent(event: Event): boolean;
          NotificationEvent: new (type: string, init: { notification: Notification; action: string }) => Event;
        };
        const sw = self as unknown as Worker;
        const [notification] = await sw.registration.getNotifications({ tag });
        sw.dispatchEvent(new sw.NotificationEvent('notificationclick', { notification, action }));
      },
      [tag, action],
    );
  const callShown = () =>
    page.evaluate(async (tag) => {
      const [n] = (await (await navigator.serviceWorker.ready).getNotifications()).filter((n) => n.tag === tag);
      // (`actions` is Chromium's, not yet in TypeScript's DOM types.)
      const actions: { action: string }[] = (n as any)?.actions ?? [];
      return n ? { actions: actions.map((a) => a.action), sticky: n.requireInteraction } : null;
    }, ringing.tag);
  await pushUntil(ringing, callShown, { actions: ['answer', 'decline'], sticky: true });
  await pressOnAlert(ringing.tag, 'decline');
  await expect
    .poll(async () => (await api('live_calls', { tab: 'x' })).map((c: { direction: string; outcome: string }) => `${c.direction} ${c.outcome}`).sort())
    .toEqual(['in Declined', 'out Declined']);

  // When a call ends the server settles its alert under the same tag: a missed call's
  // replaces the ringing one (no buttons, not sticky); so does an answered or declined
  // one's, quietly (no body).
  await pushUntil(ringing, callShown, { actions: ['answer', 'decline'], sticky: true });
  const missed = { ...ringing, title: `Missed call from ${from.display}`, body: 'See it in your call log.', ended: true };
  await pushUntil(missed, callShown, { actions: [], sticky: false });
  const titles = async () => (await shown()).filter((n) => n.tag === ringing.tag).map((n) => n.title);
  await pushUntil({ ...ringing, title: 'Call answered', body: '', ended: true }, titles, ['Call answered']);
  await expect.poll(callShown).toEqual({ actions: [], sticky: false });

  // Answer on a ringing call's alert opens the app on that call, still ringing, to take it.
  await open(page, '/inbox');
  const second: string = await api('start_call', { number_id: from.id, to: to.e164, tab: 'elsewhere', offer: 'v=0\r\n' });
  const ringingAgain = { ...ringing, tag: `call-${second}` };
  await expect
    .poll(
      async () => {
        await push(ringingAgain);
        await page.waitForTimeout(300);
        return (await shown()).some((n) => n.tag === ringingAgain.tag);
      },
      { timeout: 20_000 },
    )
    .toBe(true);
  await pressOnAlert(ringingAgain.tag, 'answer');
  await expect(page).toHaveURL(/\/calls$/);
  await expect(page.locator('.call-panel')).toContainText(`Call from ${from.display}`);
  await expect(page.locator('.call-panel').getByRole('button', { name: 'Answer' })).toBeVisible();
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
});
