// Switchboard's service worker (scope "/").
// - Navigations go to the network; without one, a cached offline page answers.
// - Nothing else is cached, so the WASM/JS bundle is never served stale after a deploy.
// - Push: shows the notification the server sent, unless that conversation is on screen; a
//   click focuses (or opens) the app on the conversation; a changed subscription is renewed
//   and sent to the server. A ringing call (tag call-<id>) stays until handled and offers
//   Answer (opens the app, where it rings) and Decline (declines it from here) where the
//   platform shows actions; when the call ends (`ended`), a missed call's alert replaces it,
//   and an answered or declined one's quiet, button-less one does.
const OFFLINE_CACHE = 'switchboard-offline-v1';
const OFFLINE_URL = '/offline.html';

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(OFFLINE_CACHE).then((cache) => cache.add(new Request(OFFLINE_URL, { cache: 'reload' }))),
  );
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== OFFLINE_CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  if (event.request.mode !== 'navigate') return;
  event.respondWith(
    fetch(event.request).catch(() => caches.match(OFFLINE_URL, { cacheName: OFFLINE_CACHE })),
  );
});

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (_) {
    data = { body: event.data ? event.data.text() : '' };
  }
  const title = data.title || 'Switchboard';
  const options = {
    body: data.body || '',
    tag: data.tag || undefined,
    renotify: Boolean(data.tag),
    icon: '/icons/icon-192.png',
    badge: '/icons/icon-192.png',
    data: { url: data.url || '/inbox' },
  };
  const call = options.tag && options.tag.startsWith('call-');
  // A call that ended: its alert takes the ringing one's place (same tag), without buttons;
  // a missed call's says so aloud, an answered or declined one's (no body) quietly. (A push
  // must show something: Chromium shows its own notice otherwise.)
  if (call && data.ended) {
    options.silent = !data.body;
    options.renotify = !!data.body;
  }
  if (call && !data.ended) {
    options.requireInteraction = true;
    options.actions = [
      { action: 'answer', title: 'Answer' },
      { action: 'decline', title: 'Decline' },
    ];
    options.data.call = options.tag.slice('call-'.length);
  }
  const badge =
    typeof data.unread === 'number' && 'setAppBadge' in self.navigator
      ? self.navigator.setAppBadge(data.unread).catch(() => {})
      : Promise.resolve();
  // No alert for the conversation the user is reading right now: the open thread shows the
  // message live already. (Chromium requires a notification only when no tab is visible.)
  event.waitUntil(
    isBeingRead(options.data.url).then((reading) =>
      Promise.all([reading ? null : self.registration.showNotification(title, options), badge]),
    ),
  );
});

// True when a focused, visible Switchboard window shows exactly `url`'s page.
async function isBeingRead(url) {
  const target = new URL(url, self.location.origin);
  const windows = await self.clients.matchAll({ type: 'window' });
  return windows.some(
    (client) =>
      client.focused && client.visibilityState === 'visible' && new URL(client.url).pathname === target.pathname,
  );
}

// Focuses an open Switchboard window and shows `url` in it, or opens one there.
// (A named function on `self`, so the end-to-end test can drive it.)
self.openConversation = async (url) => {
  const target = new URL(url || '/inbox', self.location.origin).href;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const client of windows) {
    if (new URL(client.url).origin === self.location.origin && 'focus' in client) {
      await client.focus().catch(() => {});
      return client.navigate(target);
    }
  }
  return self.clients.openWindow(target);
};

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  if (event.action === 'decline' && data.call) {
    event.waitUntil(
      fetch('/api/decline_call', {
        method: 'POST',
        body: new URLSearchParams({ call_id: data.call }),
        credentials: 'same-origin',
      }).catch(() => {}),
    );
    return;
  }
  event.waitUntil(self.openConversation(data.url));
});

self.addEventListener('pushsubscriptionchange', (event) => {
  // The browser replaced the subscription: subscribe again and tell the server (the same
  // server functions Settings uses), forgetting the old endpoint.
  const post = (fn, fields) =>
    fetch('/api/' + fn, { method: 'POST', body: new URLSearchParams(fields), credentials: 'same-origin' });
  event.waitUntil(
    self.registration.pushManager
      .subscribe(event.oldSubscription ? event.oldSubscription.options : { userVisibleOnly: true })
      .then((subscription) => {
        const json = subscription.toJSON();
        return post('push_subscribe', { endpoint: json.endpoint, p256dh: json.keys.p256dh, auth: json.keys.auth });
      })
      .then(() => event.oldSubscription && post('push_remove', { endpoint: event.oldSubscription.endpoint })),
  );
});
