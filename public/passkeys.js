// Passkeys in plain JS (server/accounts/passkeys.rs holds the rules), fetched only by the
// pages that use them:
// - Sign in: "Sign in with a passkey", no email or password (`start_passkey_sign_in`,
//   `finish_passkey_sign_in`).
// - The code page after a password: "Use a passkey" as the second step
//   (`start_passkey_challenge`, `finish_passkey_challenge`).
// - Settings → Passkeys: the account's passkeys, add one, remove one with the password
//   (`passkeys`, `start_passkey_registration`, `finish_passkey_registration`,
//   `remove_passkey`).
// The server hands WebAuthn's options as JSON with binary fields in base64url; the browser
// wants those as bytes, and its answer goes back the same way.
(function () {
  'use strict';
  if (window.SwitchboardPasskeys) {
    window.SwitchboardPasskeys.mount();
    return;
  }

  function bytes(text) {
    const b64 = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
  }

  function base64url(buffer) {
    let s = '';
    for (const b of new Uint8Array(buffer)) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  const supported = () => typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;

  /** Asks the device to make a passkey; answers the browser's answer as the server reads it. */
  async function create(optionsJson) {
    const { publicKey } = JSON.parse(optionsJson);
    publicKey.challenge = bytes(publicKey.challenge);
    publicKey.user.id = bytes(publicKey.user.id);
    for (const c of publicKey.excludeCredentials || []) c.id = bytes(c.id);
    const cred = await navigator.credentials.create({ publicKey });
    const r = cred.response;
    return JSON.stringify({
      id: cred.id,
      rawId: base64url(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: base64url(r.attestationObject),
        clientDataJSON: base64url(r.clientDataJSON),
        transports: typeof r.getTransports === 'function' ? r.getTransports() : undefined,
      },
      extensions: cred.getClientExtensionResults(),
    });
  }

  /** Asks the device for a passkey's signature; answers it as the server reads it. */
  async function get(optionsJson) {
    const { publicKey } = JSON.parse(optionsJson);
    publicKey.challenge = bytes(publicKey.challenge);
    for (const c of publicKey.allowCredentials || []) c.id = bytes(c.id);
    const cred = await navigator.credentials.get({ publicKey });
    const r = cred.response;
    return JSON.stringify({
      id: cred.id,
      rawId: base64url(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: base64url(r.authenticatorData),
        clientDataJSON: base64url(r.clientDataJSON),
        signature: base64url(r.signature),
        userHandle: r.userHandle ? base64url(r.userHandle) : null,
      },
      extensions: cred.getClientExtensionResults(),
    });
  }

  /** What to say when the device's prompt ends without a passkey. */
  function promptWords(e) {
    if (e && e.name === 'NotAllowedError') return 'The passkey prompt was closed or timed out. Try again.';
    if (e && e.name === 'InvalidStateError') return 'This device already has a passkey for your account.';
    if (e && e.name === 'SecurityError') return 'This browser refuses passkeys for this address. Ask your admin to reach Switchboard by its name over https.';
    return e && e.message ? e.message : 'That did not work. Try again.';
  }

  const { text, statusLine } = window.SwitchboardApi;

  function button(label, className) {
    const b = text('button', label, className);
    b.type = 'button';
    return b;
  }

  /** A button that runs the ceremony `start` → device → `finish`, then goes where the
   * server says. With `early`, the options are asked for at once and the button shows only
   * if there are any (the code page: only accounts with a passkey get one), and the click
   * goes straight to the device (Safari wants the prompt right after the click). */
  async function signInButton(holder, label, start, finish, early) {
    holder.dataset.filled = 'true';
    if (!supported()) return;
    const { api } = window.SwitchboardApi;
    let ready = null;
    if (early) {
      try {
        ready = await api(start);
      } catch (_) {
        return; // no passkey on this account (or the sign-in expired): codes only
      }
    }
    const go = button(label, 'secondary');
    const status = statusLine();
    go.addEventListener('click', async () => {
      go.disabled = true;
      status.textContent = '';
      try {
        const o = ready || (await api(start));
        ready = null; // each prompt's challenge works once
        let credential;
        try {
          credential = await get(o.options);
        } catch (e) {
          status.textContent = promptWords(e);
          return;
        }
        window.location.assign(await api(finish, { token: o.token, credential }));
      } catch (e) {
        status.textContent = e.message;
      } finally {
        go.disabled = false;
      }
    });
    holder.replaceChildren(go, status);
  }

  function day(ms) {
    return new Date(ms).toISOString().slice(0, 10);
  }

  /** Settings → Passkeys. */
  function fillPasskeys(card) {
    const { api } = window.SwitchboardApi;
    card.dataset.filled = 'true';
    const status = statusLine();
    const list = document.createElement('ul');
    list.className = 'rows';
    list.setAttribute('aria-label', 'Passkeys');
    const extra = document.createElement('div');
    async function load() {
      let keys;
      try {
        keys = await api('passkeys');
      } catch (e) {
        status.textContent = e.message;
        return;
      }
      list.replaceChildren();
      for (const k of keys) {
        const row = document.createElement('li');
        row.className = 'row';
        const body = document.createElement('div');
        body.append(text('strong', k.name));
        body.append(text('div', 'Added ' + day(k.created_at) + ' · ' + (k.last_used_at ? 'last used ' + day(k.last_used_at) : 'not used yet'), 'muted'));
        const remove = button('Remove', 'secondary');
        remove.setAttribute('aria-label', 'Remove ' + k.name);
        remove.addEventListener('click', () => askPassword(k));
        row.append(body, remove);
        list.append(row);
      }
      if (!keys.length) list.append(text('li', 'No passkeys yet.', 'muted'));
    }
    /** Removing asks for the password, in a form under the list. */
    function askPassword(k) {
      const form = document.createElement('form');
      form.className = 'search';
      form.setAttribute('aria-label', 'Remove ' + k.name);
      form.innerHTML = '<label for="remove-passkey-password"></label><input id="remove-passkey-password" name="password" type="password" autocomplete="current-password" required>';
      form.querySelector('label').textContent = 'Your password, to remove “' + k.name + '”';
      const confirm = text('button', 'Remove passkey', 'danger');
      confirm.type = 'submit';
      form.append(confirm);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        try {
          await api('remove_passkey', { passkey_id: k.id, password: form.elements.password.value });
          extra.replaceChildren();
          status.textContent = 'Removed “' + k.name + '”.';
          load();
        } catch (e) {
          status.textContent = e.message;
        }
      });
      extra.replaceChildren(form);
      form.elements.password.focus();
    }
    const add = document.createElement('form');
    add.className = 'search';
    add.setAttribute('aria-label', 'Add a passkey');
    add.innerHTML =
      '<label for="passkey-name">Name this passkey</label>' +
      '<input id="passkey-name" name="name" maxlength="60" required placeholder="Work laptop">' +
      '<button type="submit" class="secondary">Add a passkey</button>';
    add.addEventListener('submit', async (event) => {
      event.preventDefault();
      status.textContent = '';
      try {
        const o = await api('start_passkey_registration');
        let credential;
        try {
          credential = await create(o.options);
        } catch (e) {
          status.textContent = promptWords(e);
          return;
        }
        const name = add.elements.name.value;
        const codes = await api('finish_passkey_registration', { token: o.token, name, credential });
        add.reset();
        status.textContent = 'Added “' + name + '”.';
        if (codes.length) {
          const codeList = document.createElement('ul');
          codeList.className = 'recovery-codes';
          codeList.setAttribute('aria-label', 'Recovery codes');
          for (const code of codes) codeList.append(text('li', code));
          extra.replaceChildren(text('p', 'Two-factor sign-in is now on. Your recovery codes: keep them somewhere safe. Each signs you in once without your passkey, and they are shown only now.'), codeList);
        }
        load();
      } catch (e) {
        status.textContent = e.message;
      }
    });
    card.replaceChildren(
      text('h2', 'Passkeys'),
      text('p', "Sign in with your device's fingerprint, face or PIN instead of your password, or use a passkey as the second step after it. A passkey turns two-factor sign-in on.", 'muted'),
      list,
      extra,
    );
    if (supported()) card.append(add);
    else card.append(text('p', 'This browser cannot make passkeys.'));
    card.append(status);
    load();
  }

  function mount() {
    const take = (selector) => document.querySelector(selector + ':not([data-filled])');
    let el = take('[data-passkey-sign-in]');
    if (el) signInButton(el, 'Sign in with a passkey', 'start_passkey_sign_in', 'finish_passkey_sign_in', false);
    el = take('[data-passkey-challenge]');
    if (el) signInButton(el, 'Use a passkey', 'start_passkey_challenge', 'finish_passkey_challenge', true);
    el = take('[data-passkeys]');
    if (el) fillPasskeys(el);
  }

  window.SwitchboardPasskeys = { mount, create, get };
  new MutationObserver(mount).observe(document.body, { childList: true, subtree: true });
  mount();
})();
