// The Admin page's plain-JS cards, fetched only by that page so the first-load WASM carries
// none of them:
// - Email: the SMTP server inbound texts are forwarded through (host, port, STARTTLS / TLS,
//   user, password — sealed by the server, never shown again — and the From address), and
//   "Send a test email" (`email_settings`, `save_email_settings`, `send_test_email`;
//   server/email/mod.rs).
// - Replies by email: the inbound address, the webhook and its key, and "New key"
//   (`email_replies`, `save_email_replies`; server/email/replies.rs).
// - Text price: what one text segment costs at the carrier, for campaign estimates
//   (`segment_price`, `set_segment_price`; server/campaigns.rs).
(function () {
  'use strict';
  if (window.SwitchboardAdmin) {
    window.SwitchboardAdmin.mount();
    return;
  }

  // Marks the card as taken and reads what it shows; on a refusal the card says why.
  async function read(card, fn) {
    card.dataset.filled = 'true';
    try {
      return await window.SwitchboardApi.api(fn);
    } catch (e) {
      card.textContent = e.message;
      return null;
    }
  }

  async function fillPrice(card) {
    const { api } = window.SwitchboardApi;
    const price = await read(card, 'segment_price');
    if (price === null) return;
    card.innerHTML =
      '<h2>Text price</h2><p class="muted">What one text segment costs at your carrier (see your contract or price list). Campaigns estimate their cost with it; sandbox texts are free.</p>' +
      '<form class="search" aria-label="Text price"><label for="segment-price" class="visually-hidden">Price of one segment</label>' +
      '<input id="segment-price" name="price" placeholder="0.0079 USD" autocomplete="off"><button type="submit" class="secondary">Save price</button></form>' +
      '<p role="status" data-price-status></p>';
    const form = card.querySelector('form');
    form.elements.price.value = price;
    // Only the last save speaks: an earlier one answering late must not say "Saved." over
    // the refusal of the price typed after it.
    let saves = 0;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const status = card.querySelector('[data-price-status]');
      const price = form.elements.price.value;
      const save = ++saves;
      const said = (words) => save === saves && (status.textContent = words);
      api('set_segment_price', { price })
        .then(() => said(price.trim() ? 'Saved.' : 'Cleared: campaigns show no cost.'))
        .catch((e) => said(e.message));
    });
  }


  async function fill(card) {
    const { api } = window.SwitchboardApi;
    const s = await read(card, 'email_settings');
    if (s === null) return;
    card.innerHTML =
      '<h2>Email</h2><p class="muted">The mail server that forwards texts by email (each number chooses its address under Numbers → Answering texts).</p>' +
      '<form class="stack" aria-label="Mail server">' +
      '<label for="smtp-host">SMTP host</label><input id="smtp-host" name="host" required placeholder="smtp.example.com">' +
      '<label for="smtp-port">Port</label><input id="smtp-port" name="port" type="number" min="1" max="65535" required>' +
      '<label for="smtp-security">Security</label><select id="smtp-security" name="security">' +
      '<option value="starttls">STARTTLS (usually port 587)</option><option value="tls">TLS (usually port 465)</option>' +
      '<option value="none">None (a mail server on this machine only)</option></select>' +
      '<label for="smtp-user">User name</label><input id="smtp-user" name="username" autocomplete="off">' +
      '<label for="smtp-password">Password</label><input id="smtp-password" name="password" type="password" autocomplete="new-password">' +
      '<label for="smtp-from">From address</label><input id="smtp-from" name="from" type="email" required placeholder="switchboard@example.com">' +
      '<p role="status" data-smtp-status></p><button type="submit" class="primary">Save mail server</button></form>' +
      '<form class="search" aria-label="Test email"><label for="smtp-test" class="visually-hidden">Send a test email to</label>' +
      '<input id="smtp-test" name="to" type="email" required placeholder="you@example.com"><button type="submit" class="secondary">Send a test email</button></form>' +
      '<p role="status" data-smtp-test-status></p>';
    const form = card.querySelector('form');
    form.elements.host.value = s.host;
    form.elements.port.value = s.port;
    form.elements.security.value = s.security;
    form.elements.username.value = s.username;
    form.elements.password.placeholder = s.password_saved ? 'Saved (leave empty to keep it)' : '';
    form.elements.from.value = s.from;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const status = card.querySelector('[data-smtp-status]');
      const fields = {};
      for (const key of ['host', 'port', 'security', 'username', 'password', 'from']) fields[key] = form.elements[key].value;
      api('save_email_settings', fields)
        .then(() => {
          status.textContent = 'Saved.';
          if (form.elements.password.value) form.elements.password.placeholder = 'Saved (leave empty to keep it)';
          form.elements.password.value = '';
        })
        .catch((e) => (status.textContent = e.message));
    });
    const test = card.querySelectorAll('form')[1];
    test.addEventListener('submit', (event) => {
      event.preventDefault();
      const status = card.querySelector('[data-smtp-test-status]');
      status.textContent = 'Sending…';
      api('send_test_email', { to: test.elements.to.value })
        .then(() => (status.textContent = 'Sent: check that inbox.'))
        .catch((e) => (status.textContent = e.message));
    });
    fillReplies(card);
  }

  // Replies by email: an inbound address whose +tagged forms go in each forwarded text's
  // Reply-To; the admin's mail server posts what arrives there to the webhook with the key.
  async function fillReplies(card) {
    const { api } = window.SwitchboardApi;
    const part = document.createElement('div');
    card.append(part);
    const show = (r) => {
      part.innerHTML =
        '<h3>Replies by email (optional)</h3>' +
        '<p class="muted">Name an address your mail server receives for: a reply to a forwarded text then goes back out as a text. The server hands each email to the address below as it arrived (see the README, “Replies by email”).</p>' +
        '<form class="search" aria-label="Replies by email"><label for="reply-address" class="visually-hidden">Reply address</label>' +
        '<input id="reply-address" name="address" type="email" placeholder="replies@sms.example.com">' +
        '<button type="submit" class="secondary">Save reply address</button></form>' +
        '<p role="status" data-replies-status></p><dl data-replies-hook hidden><dt>Post emails to</dt><dd><code></code></dd>' +
        '<dt>With the header</dt><dd><code></code></dd></dl>' +
        '<button type="button" class="secondary" data-new-key hidden>New key</button>';
      const form = part.querySelector('form');
      form.elements.address.value = r.address;
      const hook = part.querySelector('[data-replies-hook]');
      const newKey = part.querySelector('[data-new-key]');
      if (r.address) {
        hook.hidden = false;
        newKey.hidden = false;
        const codes = hook.querySelectorAll('code');
        codes[0].textContent = r.webhook;
        codes[1].textContent = 'Authorization: Bearer ' + r.key;
      }
      // Saves the address (with a new key when asked: the old one stops working at once).
      const save = (fields, said) => {
        const status = part.querySelector('[data-replies-status]');
        api('save_email_replies', fields)
          .then(() => api('email_replies'))
          .then((saved) => {
            show(saved);
            part.querySelector('[data-replies-status]').textContent = saved.address ? said : 'Replies by email are off.';
          })
          .catch((e) => (status.textContent = e.message));
      };
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        save({ address: form.elements.address.value }, 'Saved: replies come back as texts.');
      });
      newKey.addEventListener('click', () =>
        save({ address: r.address, new_key: true }, 'New key: give it to your mail server; the old one no longer works.'));
    };
    try {
      show(await api('email_replies'));
    } catch (e) {
      part.textContent = e.message;
    }
  }

  function mount() {
    const card = document.querySelector('[data-email-settings]:not([data-filled])');
    if (card) fill(card);
    const price = document.querySelector('[data-segment-price]:not([data-filled])');
    if (price) fillPrice(price);
  }

  window.SwitchboardAdmin = { mount };
  new MutationObserver(mount).observe(document.body, { childList: true, subtree: true });
  mount();
})();
