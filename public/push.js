// Turning push alerts on and off for this browser (called from Settings → Notifications).
// Subscribes through the service worker and tells the server, or unsubscribes and tells it.
(function () {
  function keyBytes(base64url) {
    const padded = (base64url + '='.repeat((4 - (base64url.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/');
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }
  async function post(fn, fields) {
    const res = await fetch('/api/' + fn, { method: 'POST', body: new URLSearchParams(fields) });
    if (!res.ok) throw new Error('The server did not accept that. Try again.');
  }
  window.SwitchboardPush = {
    supported() {
      return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
    },
    async enable(publicKey) {
      if (!this.supported()) throw new Error('This browser cannot show push alerts.');
      const permission = await Notification.requestPermission();
      if (permission !== 'granted') throw new Error('Alerts are blocked for this site. Allow notifications in the browser settings.');
      const registration = await navigator.serviceWorker.ready;
      let subscription = await registration.pushManager.getSubscription();
      if (!subscription) {
        subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) });
      }
      const json = subscription.toJSON();
      await post('push_subscribe', { endpoint: json.endpoint, p256dh: json.keys.p256dh, auth: json.keys.auth });
    },
    async disable() {
      const registration = await navigator.serviceWorker.ready;
      const subscription = await registration.pushManager.getSubscription();
      if (!subscription) return;
      const endpoint = subscription.endpoint;
      await subscription.unsubscribe();
      await post('push_remove', { endpoint });
    },
  };
})();
