// Privacy cards in plain JS, fetched only by Settings and Admin so the first-load WASM
// carries none of them:
// - Account activity (Settings): the audit entries about the user's account (`my_activity`).
// - Audit log (Admin): everyone's entries (`audit_log`). Both page back 100 at a time.
// - Two-factor sign-in (Settings): set up with an authenticator app (QR code), recovery
//   codes, turn off (`two_factor`, `start_two_factor`, `confirm_two_factor`,
//   `new_recovery_codes`, `turn_off_two_factor`; server/accounts/two_factor.rs).
// - Your data (Settings): "Export my data" downloads everything as a zip (`create_export`;
//   server/export.rs).
// - Delete my account (Settings): closed now, erased after 30 days unless the owner signs
//   in or an admin cancels (`delete_my_account`; server/accounts/deletion.rs).
// - Data kept (Settings): how long texts and calls are kept, and the user's own shorter
//   period (`retention`, `set_own_retention`; server/retention.rs).
// - Sign-in (Admin): require two-factor sign-in of everyone (`two_factor_required`,
//   `set_two_factor_required`).
// - Retention (Admin): the instance's period (`retention`, `set_instance_retention`).
// - Google account (Settings): link one for "Sign in with Google", unlink it
//   (`google_account`, `start_google_link`, `unlink_google`; server/accounts/google.rs).
// - Google sign-in (Admin): the OAuth client's id and secret (`google_sign_in_settings`,
//   `set_google_sign_in`, `turn_off_google_sign_in`).
(function () {
  'use strict';
  if (window.SwitchboardPrivacy) {
    window.SwitchboardPrivacy.mount();
    return;
  }

  const { text, statusLine } = window.SwitchboardApi;

  /** Marks `card` as taken and titles it; reads `fn`'s answer, or says why not (null). */
  async function start(card, title, intro, fn) {
    card.dataset.filled = 'true';
    card.replaceChildren(text('h2', title));
    if (intro) card.append(text('p', intro, 'muted'));
    try {
      return await window.SwitchboardApi.api(fn);
    } catch (e) {
      card.append(text('p', e.message));
      return null;
    }
  }

  /** A one-line form (`fields` as HTML, then a Save button) that runs `save(form)` and
   * says in `status` what it answers, or why it was refused. */
  function saveForm(label, fields, status, save) {
    const form = document.createElement('form');
    form.className = 'search';
    form.setAttribute('aria-label', label);
    form.innerHTML = fields + '<button type="submit" class="secondary">Save</button>';
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        status.textContent = await save(form);
      } catch (e) {
        status.textContent = e.message;
      }
    });
    return form;
  }

  /** `2026-11-21 21:57 UTC`, as the WASM client writes instants. */
  function instant(ms) {
    return new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  }

  const PAGE = 100;

  /** An audit log card: `fn` is my_activity or audit_log; `intro` says what it holds. */
  function fillLog(card, title, intro, fn, showSubject) {
    const { api } = window.SwitchboardApi;
    card.dataset.filled = 'true';
    card.replaceChildren(text('h2', title), text('p', intro, 'muted'));
    const list = document.createElement('ul');
    list.className = 'rows';
    list.setAttribute('aria-label', 'Audit entries');
    const status = text('p', 'Loading…');
    status.setAttribute('role', 'status');
    const older = text('button', 'Older entries', 'secondary');
    older.type = 'button';
    older.hidden = true;
    card.append(list, status, older);
    let before = 0;
    async function load() {
      older.disabled = true;
      try {
        const entries = await api(fn, { before });
        status.textContent = list.children.length + entries.length === 0 ? 'Nothing recorded yet.' : '';
        for (const e of entries) {
          const row = document.createElement('li');
          row.className = 'row audit-entry';
          const body = document.createElement('div');
          const what = text('strong', e.action);
          body.append(what);
          if (e.detail) body.append(' — ' + e.detail);
          const by = showSubject && e.subject && e.subject !== e.actor ? e.actor + ' → ' + e.subject : e.actor;
          body.append(text('div', instant(e.at) + ' · ' + by + ' · IP ' + e.ip + ' · ' + e.device, 'muted'));
          row.append(body);
          list.append(row);
        }
        if (entries.length) before = entries[entries.length - 1].at;
        older.hidden = entries.length < PAGE;
      } catch (e) {
        status.textContent = e.message;
      } finally {
        older.disabled = false;
      }
    }
    older.addEventListener('click', load);
    load();
  }

  function days(n) {
    return n === 1 ? '1 day' : n + ' days';
  }

  /** Settings → Data kept: what applies, and the user's own shorter period. */
  async function fillKept(card) {
    const { api } = window.SwitchboardApi;
    let r = await start(card, 'Data kept', '', 'retention');
    if (r === null) return;
    const said = text('p', '');
    said.setAttribute('data-kept', '');
    const show = () => {
      said.textContent =
        (r.kept_days ? 'Your texts, pictures, calls and voicemails are deleted ' + days(r.kept_days) + ' after they happen' : 'Your texts, pictures, calls and voicemails are kept until you delete them') +
        (r.own_days && r.own_days === r.kept_days ? ' (your choice; this Switchboard keeps ' + (r.instance_days ? days(r.instance_days) : 'them forever') + ').' : ' (set by your admin).') +
        ' Conversations left empty and campaigns that finished before then go too. Your account, numbers, contacts and settings stay until you delete them; sign-in records are kept 12 months.';
    };
    show();
    const status = statusLine();
    const form = saveForm(
      'Keep my texts and calls',
      '<label for="own-retention">Keep mine for (days; 0 follows the instance)</label>' +
        '<input id="own-retention" name="days" type="number" min="0" required>',
      status,
      async (f) => {
        await api('set_own_retention', { days: f.elements.days.value });
        r = await api('retention');
        show();
        return 'Saved.';
      },
    );
    form.elements.days.value = r.own_days;
    if (r.instance_days) form.elements.days.max = r.instance_days;
    card.append(said, form, status);
  }

  /** Admin → Retention: the instance's period. */
  async function fillRetention(card) {
    const { api } = window.SwitchboardApi;
    const r = await start(
      card,
      'Retention',
      'How long texts (with their pictures), calls (with their voicemails) and finished campaigns are kept. An hourly job deletes what is older; anyone may choose a shorter period for their own in Settings.',
      'retention',
    );
    if (r === null) return;
    const status = statusLine();
    const form = saveForm(
      'Retention',
      '<label for="instance-retention">Keep for (days; 0 keeps forever)</label>' +
        '<input id="instance-retention" name="days" type="number" min="0" max="3650" required>',
      status,
      async (f) => {
        const value = Number(f.elements.days.value);
        await api('set_instance_retention', { days: value });
        return value ? 'Saved: texts and calls are kept ' + days(value) + '.' : 'Saved: texts and calls are kept forever.';
      },
    );
    form.elements.days.value = r.instance_days;
    card.append(form, status);
  }

  /** Settings → Two-factor sign-in: set up with an authenticator app, recovery codes, off. */
  async function fillTwoFactor(card) {
    const { api } = window.SwitchboardApi;
    card.dataset.filled = 'true';
    const status = statusLine();
    const showCodes = (codes) => {
      const list = document.createElement('ul');
      list.className = 'recovery-codes';
      list.setAttribute('aria-label', 'Recovery codes');
      for (const code of codes) list.append(text('li', code));
      return [text('p', 'Your recovery codes: keep them somewhere safe. Each signs you in once without the app, and they are shown only now.'), list];
    };
    /** A form asking for the password, then calling `fn`. */
    const passwordForm = (label, fn, done) => {
      const form = document.createElement('form');
      form.className = 'search';
      form.setAttribute('aria-label', label);
      const id = 'password-' + fn;
      form.innerHTML = '<label for="' + id + '">Your password</label><input id="' + id + '" name="password" type="password" autocomplete="current-password" required>';
      const button = text('button', label, 'secondary');
      button.type = 'submit';
      form.append(button);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        try {
          done(await api(fn, { password: form.elements.password.value }));
        } catch (e) {
          status.textContent = e.message;
        }
      });
      return form;
    };
    async function show(extra) {
      let s;
      try {
        s = await api('two_factor');
      } catch (e) {
        card.replaceChildren(text('h2', 'Two-factor sign-in'), text('p', e.message));
        return;
      }
      card.replaceChildren(text('h2', 'Two-factor sign-in'));
      const mine = s.passkeys === 1 ? 'your passkey' : 'one of your ' + s.passkeys + ' passkeys';
      if (s.on) {
        const app = 'a code from your authenticator app';
        const ways = s.app && s.passkeys ? app + ' or ' + mine : s.app ? app : mine;
        card.append(text('p', 'On: signing in takes your password and ' + ways + ' (or a recovery code). ' + s.recovery_codes_left + ' recovery codes left.'));
        card.append(...(extra || []));
        card.append(passwordForm('New recovery codes', 'new_recovery_codes', (codes) => show(showCodes(codes))));
      } else {
        card.append(text('p', 'Off: your password alone signs you in. With an authenticator app (any that reads a QR code: Google Authenticator, Aegis, 1Password …) or a passkey (below), a stolen password is not enough.'));
        card.append(...(extra || []));
      }
      if (s.app) {
        card.append(passwordForm('Turn off the app', 'turn_off_two_factor', () => show([text('p', 'The authenticator app is turned off.')])));
      } else {
        const setUp = text('button', 'Set up an authenticator app', 'secondary');
        setUp.type = 'button';
        setUp.addEventListener('click', async () => {
          let setup;
          try {
            setup = await api('start_two_factor');
          } catch (e) {
            status.textContent = e.message;
            return;
          }
          const qr = document.createElement('div');
          qr.className = 'qr';
          qr.setAttribute('role', 'img');
          qr.setAttribute('aria-label', 'QR code for your authenticator app');
          qr.innerHTML = setup.qr_svg; // drawn by our server from the otpauth link
          const secret = text('code', setup.secret);
          secret.setAttribute('data-secret', '');
          const form = document.createElement('form');
          form.className = 'search';
          form.setAttribute('aria-label', 'Confirm with a code');
          form.innerHTML =
            '<label for="two-factor-code">Code from the app</label>' +
            '<input id="two-factor-code" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="8">' +
            '<button type="submit">Turn on</button>';
          form.addEventListener('submit', async (event) => {
            event.preventDefault();
            try {
              const codes = await api('confirm_two_factor', { code: form.elements.code.value });
              show(showCodes(codes));
            } catch (e) {
              status.textContent = e.message;
            }
          });
          const typed = text('p', 'Or type this key into the app: ');
          typed.append(secret);
          card.replaceChildren(text('h2', 'Two-factor sign-in'), text('p', 'Scan this with your authenticator app, then enter the code it shows.'), qr, typed, form, status);
        });
        card.append(setUp);
      }
      card.append(status);
    }
    show();
  }

  /** Settings → Your data: download everything as a zip. */
  function fillExport(card) {
    const { api } = window.SwitchboardApi;
    card.dataset.filled = 'true';
    const button = text('button', 'Export my data', 'secondary');
    button.type = 'button';
    const status = statusLine();
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        // A single-use link for this account, good for 15 minutes: the browser downloads it.
        const path = await api('create_export');
        const link = document.createElement('a');
        link.href = path;
        link.download = '';
        document.body.append(link);
        link.click();
        link.remove();
        status.textContent = 'Your export is downloading (a zip of JSON and CSV files, with your pictures and voicemails; README.txt inside says what each holds).';
      } catch (e) {
        status.textContent = e.message;
      } finally {
        button.disabled = false;
      }
    });
    card.replaceChildren(
      text('h2', 'Your data'),
      text('p', 'Everything Switchboard keeps about you — account, numbers, contacts, conversations and messages, calls, voicemails and pictures, rules, campaigns, devices, sessions and your audit entries — in one download.', 'muted'),
      button,
      status,
    );
  }

  /** Settings → Delete my account: what happens, and the password to confirm. */
  function fillDelete(card) {
    const { api } = window.SwitchboardApi;
    card.dataset.filled = 'true';
    const form = document.createElement('form');
    form.className = 'stack';
    form.setAttribute('aria-label', 'Delete my account');
    form.innerHTML =
      '<label for="delete-password">Your password</label>' +
      '<input id="delete-password" name="password" type="password" autocomplete="current-password" required>' +
      '<button type="submit" class="danger">Delete my account</button>';
    const status = statusLine();
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        await api('delete_my_account', { password: form.elements.password.value });
        window.location.assign('/signin');
      } catch (e) {
        status.textContent = e.message;
      }
    });
    card.replaceChildren(
      text('h2', 'Delete my account'),
      text('p', 'You are signed out everywhere at once and your devices get no more alerts. After 30 days everything is erased: your numbers are released at the carrier, and your texts, calls, voicemails, pictures, contacts and settings are deleted. Sign in before then to cancel (an admin can cancel too). After erasure only anonymous audit entries stay (an id with the kind and time of each action, no email, address or device), until they are 12 months old.', 'muted'),
      form,
      status,
    );
  }

  /** Admin → Sign-in: require two-factor sign-in of everyone. */
  async function fillSignInRules(card) {
    const { api } = window.SwitchboardApi;
    const required = await start(
      card,
      'Sign-in',
      'Require everyone to sign in with an authenticator app as well as their password. Until they set it up, people find only Settings open.',
      'two_factor_required',
    );
    if (required === null) return;
    const status = statusLine();
    const form = saveForm(
      'Sign-in rules',
      '<label><input type="checkbox" name="required"> Require two-factor sign-in of everyone</label>',
      status,
      async (f) => {
        const wanted = f.elements.required.checked;
        try {
          await api('set_two_factor_required', wanted ? { required: 'true' } : {});
        } catch (e) {
          f.elements.required.checked = !wanted;
          throw e;
        }
        return wanted ? 'Saved: everyone needs two-factor sign-in.' : 'Saved: two-factor sign-in is optional.';
      },
    );
    form.elements.required.checked = required;
    card.append(form, status);
  }

  /** What `?google=…` in the address says (the outcome of a Google round trip). */
  const GOOGLE_WORDS = {
    linked: 'Linked: you can sign in with Google now.',
    not_set_up: 'Google sign-in is not set up on this Switchboard.',
    failed: "Google sign-in didn't complete. Try again.",
    unverified: "Google has not verified that account's email, so it can't be linked.",
    linked_elsewhere: 'That Google account is already linked to another account here.',
  };

  /** Settings → Google account. */
  async function fillGoogle(card) {
    const { api } = window.SwitchboardApi;
    const g = await start(card, 'Google account', '', 'google_account');
    if (g === null) return;
    if (!g.available && !g.linked_email) {
      card.hidden = true; // not set up here, and nothing to unlink
      return;
    }
    const status = statusLine();
    const said = new URLSearchParams(window.location.search).get('google');
    if (said && GOOGLE_WORDS[said]) status.textContent = GOOGLE_WORDS[said];
    const go = text('button', g.linked_email ? 'Unlink' : 'Link a Google account', 'secondary');
    go.type = 'button';
    go.addEventListener('click', async () => {
      try {
        if (g.linked_email) {
          await api('unlink_google');
          status.textContent = 'Unlinked: Google no longer signs you in.';
          go.remove();
        } else {
          window.location.assign(await api('start_google_link'));
        }
      } catch (e) {
        status.textContent = e.message;
      }
    });
    card.append(
      text('p', g.linked_email ? 'Linked to ' + g.linked_email + ': "Sign in with Google" opens your account (two-factor sign-in still asks for its second step).' : 'Link your Google account to sign in with it instead of your password.'),
      go,
      status,
    );
  }

  /** Admin → Google sign-in: the OAuth client. */
  async function fillGoogleSignIn(card) {
    const { api } = window.SwitchboardApi;
    const g = await start(
      card,
      'Google sign-in',
      'Offer "Sign in with Google" to people who already have an account here or an invitation for their Google email (invite-only stays invite-only). Create an OAuth client (type: web application) in the Google Cloud console and paste its ID and secret.',
      'google_sign_in_settings',
    );
    if (g === null) return;
    const redirect = text('p', 'Authorized redirect URI to register: ');
    redirect.append(text('code', g.redirect_uri));
    const status = statusLine();
    const form = saveForm(
      'Google sign-in',
      '<label for="google-client-id">Client ID</label><input id="google-client-id" name="client_id" required maxlength="256" autocomplete="off">' +
        '<label for="google-client-secret">Client secret</label><input id="google-client-secret" name="client_secret" type="password" maxlength="256" autocomplete="off">',
      status,
      async (f) => {
        await api('set_google_sign_in', { client_id: f.elements.client_id.value, client_secret: f.elements.client_secret.value });
        f.elements.client_secret.value = '';
        f.elements.client_secret.placeholder = 'saved (leave empty to keep)';
        return 'Saved: the sign-in page offers "Sign in with Google".';
      },
    );
    form.elements.client_id.value = g.client_id;
    if (g.on) form.elements.client_secret.placeholder = 'saved (leave empty to keep)';
    const off = text('button', 'Turn off', 'secondary');
    off.type = 'button';
    off.addEventListener('click', async () => {
      try {
        await api('turn_off_google_sign_in');
        form.elements.client_id.value = '';
        form.elements.client_secret.placeholder = '';
        status.textContent = 'Turned off: Google no longer signs anyone in.';
      } catch (e) {
        status.textContent = e.message;
      }
    });
    card.append(redirect, form, off, status);
  }

  function mount() {
    if (!document.querySelector('link[href="/pages.css"]')) {
      const link = document.createElement('link');
      link.rel = 'stylesheet';
      link.href = '/pages.css';
      document.head.append(link);
    }
    const take = (selector) => document.querySelector(selector + ':not([data-filled])');
    let card = take('[data-account-activity]');
    if (card) fillLog(card, 'Account activity', 'Sign-ins (and failed ones), password changes, devices signed out, numbers bought and released, and what admins changed about your account. Kept 12 months.', 'my_activity', false);
    card = take('[data-audit-log]');
    if (card) fillLog(card, 'Audit log', "Everyone's sign-ins, invitations, role and access changes, carrier and retention settings, number purchases and releases. Kept 12 months; nobody can edit it.", 'audit_log', true);
    card = take('[data-export]');
    if (card) fillExport(card);
    card = take('[data-delete-account]');
    if (card) fillDelete(card);
    card = take('[data-two-factor]');
    if (card) fillTwoFactor(card);
    card = take('[data-data-kept]');
    if (card) fillKept(card);
    card = take('[data-sign-in-rules]');
    if (card) fillSignInRules(card);
    card = take('[data-retention]');
    if (card) fillRetention(card);
    card = take('[data-google]');
    if (card) fillGoogle(card);
    card = take('[data-google-sign-in]');
    if (card) fillGoogleSignIn(card);
  }

  window.SwitchboardPrivacy = { mount };
  new MutationObserver(mount).observe(document.body, { childList: true, subtree: true });
  mount();
})();
