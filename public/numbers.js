// The Numbers page's "Answering texts" card: per number, what a HELP text is answered with
// (its own words, or the default naming the number), an away message (always, outside
// business hours, or while do-not-disturb is on), keyword rules in order, and "try a text".
// The server keeps, checks and applies them (`texting_settings`, `set_help_text`, `set_away`,
// `set_reply_rules`, `try_auto_reply`; server/messaging/auto_reply.rs); this is the card. Plain JS, fetched only by
// the Numbers page (app/src/pages/numbers.rs), so the first-load WASM carries none of it.
(function () {
  'use strict';
  if (window.SwitchboardNumbers) {
    window.SwitchboardNumbers.mount();
    return;
  }


  async function fill(card) {
    card.dataset.filled = 'true';
    const { api } = window.SwitchboardApi;
    let numbers;
    try {
      numbers = await api('texting_settings');
    } catch (e) {
      card.textContent = e.message;
      return;
    }
    card.replaceChildren();
    if (!document.querySelector('link[href="/pages.css"]')) {
      document.head.append(el('link', { rel: 'stylesheet', href: '/pages.css' }));
    }
    const heading = document.createElement('h2');
    heading.textContent = 'Answering texts';
    const about = document.createElement('p');
    about.className = 'muted';
    about.textContent =
      'STOP, START and HELP are answered for you: STOP opts the sender out of that number\u2019s texts until they text START. ' +
      'HELP gets the text below (leave it empty for the default). Keyword rules and an away message answer other texts: ' +
      'the away message at most once in 12 hours to the same person, and never more than 5 automatic texts an hour to anyone.';
    card.append(heading, about);
    if (!numbers.length) return;
    for (const n of numbers) {
      const section = el('section', { class: 'number-texting', 'aria-label': 'Answering texts to ' + n.display });
      section.append(el('h3', {}, n.name ? n.display + ' (' + n.name + ')' : n.display));
      section.append(helpForm(api, n), awayForm(api, n), rulesForm(api, n), forwardForm(api, n), tryForm(api, n));
      card.append(section);
    }
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** A form that saves with `save(form)` and says how it went. */
  function savingForm(label, inner, save) {
    const form = el('form', { class: 'stack', 'aria-label': label });
    form.innerHTML = inner + '<p role="status"></p><button type="submit" class="secondary">Save</button>';
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const status = form.querySelector('[role=status]');
      save(form)
        .then((words) => (status.textContent = words || 'Saved.'))
        .catch((e) => (status.textContent = e.message));
    });
    return form;
  }

  function helpForm(api, n) {
    const id = 'help-' + n.number_id;
    const form = savingForm(
      'HELP answer, ' + n.display,
      '<label for="' + id + '">Answer to HELP on ' + n.display + '</label><textarea id="' + id + '" name="help_text" rows="2" maxlength="320"></textarea>',
      (f) => api('set_help_text', { number_id: n.number_id, help_text: f.elements.help_text.value })
        .then(() => (f.elements.help_text.value.trim() ? 'Saved.' : 'Saved: the default answers.')),
    );
    form.elements.help_text.value = n.help_text;
    form.elements.help_text.placeholder = n.default_help_text;
    return form;
  }

  const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  const MODES = [
    ['off', 'Off'],
    ['always', 'Always'],
    ['outside_hours', 'Outside business hours'],
    ['do_not_disturb', 'While do-not-disturb is on'],
  ];

  function awayForm(api, n) {
    const id = 'away-' + n.number_id;
    const days = DAYS.map((d, i) => '<label class="check"><input type="checkbox" name="day" value="' + i + '"> ' + d + '</label>').join(' ');
    const form = savingForm(
      'Away settings, ' + n.display,
      '<label for="' + id + '-mode">Away message on ' + n.display + '</label><select id="' + id + '-mode" name="away_mode"></select>' +
        '<label for="' + id + '-text">Away message</label><textarea id="' + id + '-text" name="away_text" rows="2" maxlength="320"></textarea>' +
        '<fieldset><legend>Business hours</legend>' + days +
        ' <label for="' + id + '-opens">from</label> <input id="' + id + '-opens" name="opens" type="time" required>' +
        ' <label for="' + id + '-closes">to</label> <input id="' + id + '-closes" name="closes" type="time" required>' +
        ' <label for="' + id + '-zone">time zone</label> <input id="' + id + '-zone" name="time_zone" required></fieldset>',
      (f) => {
        const fields = new URLSearchParams({
          number_id: n.number_id,
          away_mode: f.elements.away_mode.value,
          away_text: f.elements.away_text.value,
          opens: f.elements.opens.value,
          closes: f.elements.closes.value,
          time_zone: f.elements.time_zone.value,
        });
        const chosen = Array.from(f.querySelectorAll('[name=day]:checked')).map((c) => c.value);
        window.SwitchboardApi.appendList(fields, 'business_days', chosen);
        return api('set_away', fields).then(() => 'Saved.');
      },
    );
    MODES.forEach(([value, words]) => form.elements.away_mode.append(new Option(words, value, false, value === n.away_mode)));
    form.elements.away_text.value = n.away_text;
    form.elements.away_text.placeholder = 'Thanks for your text: we answer on weekdays from 9 to 5.';
    form.querySelectorAll('[name=day]').forEach((c) => (c.checked = n.business_days.includes(Number(c.value))));
    form.elements.opens.value = n.opens;
    form.elements.closes.value = n.closes;
    // A number never set up shows the browser's own time zone.
    form.elements.time_zone.value = n.time_zone === 'UTC' && n.away_mode === 'off'
      ? Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
      : n.time_zone;
    return form;
  }

  function ruleRow(rule) {
    const row = el('div', { class: 'rule-row' });
    const matching = el('select', { name: 'matching', 'aria-label': 'The text' });
    [['exact', 'is'], ['contains', 'contains']].forEach(([v, w]) => matching.append(new Option(w, v, false, rule && rule.matching === v)));
    const keyword = el('input', { name: 'keyword', 'aria-label': 'Keyword', placeholder: 'keyword', maxlength: '40' });
    const reply = el('input', { name: 'reply', 'aria-label': 'Reply', placeholder: 'reply', maxlength: '320' });
    keyword.value = rule ? rule.keyword : '';
    reply.value = rule ? rule.reply : '';
    const up = el('button', { type: 'button', class: 'secondary', 'aria-label': 'Move up' }, '\u2191');
    up.addEventListener('click', () => row.previousElementSibling && row.parentNode.insertBefore(row, row.previousElementSibling));
    const remove = el('button', { type: 'button', class: 'secondary', 'aria-label': 'Remove rule' }, '\u00d7');
    remove.addEventListener('click', () => row.remove());
    row.append(matching, keyword, reply, up, remove);
    return row;
  }

  function rulesForm(api, n) {
    const form = savingForm(
      'Keyword rules on ' + n.display,
      '<p><strong>Keyword rules</strong> <span class="muted">(the first that matches answers; any case)</span></p><div data-rules></div>' +
        '<button type="button" class="secondary" data-add-rule>Add a rule</button>',
      (f) => {
        const fields = new URLSearchParams({ number_id: n.number_id });
        const rows = Array.from(f.querySelectorAll('.rule-row'));
        const { appendList } = window.SwitchboardApi;
        appendList(fields, 'matching', rows.map((r) => r.querySelector('[name=matching]').value));
        appendList(fields, 'keywords', rows.map((r) => r.querySelector('[name=keyword]').value));
        appendList(fields, 'replies', rows.map((r) => r.querySelector('[name=reply]').value));
        return api('set_reply_rules', fields).then(() => 'Saved.');
      },
    );
    const list = form.querySelector('[data-rules]');
    n.rules.forEach((r) => list.append(ruleRow(r)));
    form.querySelector('[data-add-rule]').addEventListener('click', () => list.append(ruleRow(null)));
    return form;
  }

  function forwardForm(api, n) {
    const id = 'forward-' + n.number_id;
    const form = savingForm(
      'Email forwarding, ' + n.display,
      '<label for="' + id + '">Forward texts to ' + n.display + ' by email to</label>' +
        '<input id="' + id + '" name="email" type="email" maxlength="254" placeholder="nobody (leave empty)">',
      (f) => api('set_forward_email', { number_id: n.number_id, email: f.elements.email.value })
        .then(() => (f.elements.email.value.trim() ? 'Saved: each text arrives by email too.' : 'Saved: not forwarded.')),
    );
    form.elements.email.value = n.forward_email;
    return form;
  }

  function tryForm(api, n) {
    const id = 'try-' + n.number_id;
    const form = el('form', { class: 'search', 'aria-label': 'Try a text on ' + n.display });
    form.innerHTML = '<label for="' + id + '" class="visually-hidden">A text to try</label><input id="' + id + '" name="text" placeholder="What would this text trigger?" maxlength="1600">' +
      '<button type="submit" class="secondary">Try</button>';
    const said = el('p', { role: 'status' });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      api('try_auto_reply', { number_id: n.number_id, text: form.elements.text.value })
        .then((words) => (said.textContent = words))
        .catch((e) => (said.textContent = e.message));
    });
    const box = el('div');
    box.append(form, said);
    return box;
  }

  function mount() {
    const card = document.querySelector('[data-number-texting]:not([data-filled])');
    if (card) fill(card);
  }

  window.SwitchboardNumbers = { mount };
  new MutationObserver(mount).observe(document.body, { childList: true, subtree: true });
  mount();
})();
