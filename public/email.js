// Admin → Email: the SMTP server inbound texts are forwarded through (host, port,
// STARTTLS / TLS, user, password — sealed by the server, never shown again — and the From
// address), and "Send a test email". The server keeps and checks it (`email_settings`,
// `save_email_settings`, `send_test_email`; server/email.rs). Plain JS, fetched only by the
// Admin page, so the first-load WASM carries none of it.
(function () {
  'use strict';
  if (window.SwitchboardEmail) {
    window.SwitchboardEmail.mount();
    return;
  }


  async function fill(card) {
    card.dataset.filled = 'true';
    const { api } = window.SwitchboardApi;
    let s;
    try {
      s = await api('email_settings');
    } catch (e) {
      card.textContent = e.message;
      return;
    }
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
  }

  function mount() {
    const card = document.querySelector('[data-email-settings]:not([data-filled])');
    if (card) fill(card);
  }

  window.SwitchboardEmail = { mount };
  new MutationObserver(mount).observe(document.body, { childList: true, subtree: true });
  mount();
})();
