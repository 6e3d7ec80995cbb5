// The Contacts page: search, add and edit contacts (numbers, email, company, notes, tags,
// custom fields), campaigns to them (preview, start, pause/resume/cancel, a live report),
// import a CSV file (a preview of its first rows, what each column holds,
// then the whole file with upload progress; any bad row imports nothing and is named by
// its line), export as CSV or vCard. The server keeps and checks everything
// (app/src/server/contacts/); this script is the page. Plain JS, fetched only by that page
// (app/src/pages/contacts.rs), so the first-load WASM carries none of it.
(function () {
  'use strict';
  if (window.SwitchboardContacts) {
    window.SwitchboardContacts.mount();
    return;
  }

  /** What a CSV column can be imported as (types::ImportColumn::ROLES, and skip). */
  const ROLES = [
    ['name', 'Name'],
    ['first_name', 'First name'],
    ['last_name', 'Last name'],
    ['number', 'Phone number'],
    ['email', 'Email'],
    ['company', 'Company'],
    ['notes', 'Notes'],
    ['tags', 'Tags'],
    ['field', 'Custom field'],
    ['skip', 'Skip this column'],
  ];
  /** The preview reads the file's first 64 KB (server: contacts::PREVIEW_LIMIT). */
  const PREVIEW_BYTES = 64 * 1024;

  let root = null;
  let searchTimer = 0;


  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function say(where, words) {
    root.querySelector(where).textContent = words;
  }

  // ---- the list ---------------------------------------------------------------------

  async function refresh() {
    const { api } = window.SwitchboardApi;
    const query = root.querySelector('[name=contact-search]').value;
    const list = root.querySelector('[data-contact-list]');
    let contacts;
    try {
      contacts = await api('contacts', { query });
    } catch (e) {
      list.replaceChildren(el('li', { class: 'failure', role: 'alert' }, e.message));
      return;
    }
    if (!contacts.length) {
      list.replaceChildren(el('li', { class: 'muted' }, query ? 'No contacts match.' : 'No contacts yet. Add one, or import a CSV file.'));
      return;
    }
    list.replaceChildren(...contacts.map(row));
  }

  function row(c) {
    const li = el('li', { class: 'row contact' });
    const about = el('div');
    about.append(el('strong', {}, c.name));
    const details = [c.numbers_display.join(', '), c.company, c.email].filter(Boolean).join(' · ');
    if (details) about.append(el('div', { class: 'muted' }, details));
    if (c.tags.length) {
      const tags = el('div', { class: 'tags' });
      c.tags.forEach((t) => tags.append(el('span', { class: 'tag' }, t)));
      about.append(tags);
    }
    const actions = el('div', { class: 'actions' });
    if (c.numbers.length) {
      actions.append(el('a', { class: 'button secondary', href: '/calls?to=' + encodeURIComponent(c.numbers[0]) }, 'Call'));
    }
    const edit = el('button', { type: 'button', class: 'secondary' }, 'Edit');
    edit.addEventListener('click', () => openEditor(c));
    actions.append(edit);
    li.append(about, actions);
    return li;
  }

  // ---- adding and editing -----------------------------------------------------------

  function fieldRow(name, value) {
    const line = el('div', { class: 'field-row' });
    const n = el('input', { name: 'field_name', 'aria-label': 'Field name', placeholder: 'Field', maxlength: '40' });
    const v = el('input', { name: 'field_value', 'aria-label': 'Field value', placeholder: 'Value', maxlength: '500' });
    n.value = name || '';
    v.value = value || '';
    line.append(n, v);
    return line;
  }

  /** Shows the editor for `c` (a contact), or empty for a new one (`number` filled in). */
  function openEditor(c, number) {
    const card = root.querySelector('[data-contact-editor]');
    const form = card.querySelector('form');
    form.reset();
    form.dataset.id = c ? c.id : '';
    card.querySelector('h2').textContent = c ? 'Edit ' + c.name : 'New contact';
    form.elements.name.value = c ? c.name : '';
    form.elements.numbers.value = c ? c.numbers.join('\n') : number || '';
    form.elements.email.value = c ? c.email : '';
    form.elements.company.value = c ? c.company : '';
    form.elements.notes.value = c ? c.notes : '';
    form.elements.tags.value = c ? c.tags.join(', ') : '';
    const fields = form.querySelector('[data-fields]');
    fields.replaceChildren(...(c ? c.fields : []).map((f) => fieldRow(f.name, f.value)));
    form.querySelector('[data-delete]').hidden = !c;
    say('[data-editor-status]', '');
    card.hidden = false;
    form.elements.name.focus();
  }

  async function save(event) {
    event.preventDefault();
    const { api, appendList } = window.SwitchboardApi;
    const form = event.target;
    const params = new URLSearchParams();
    params.append('id', form.dataset.id || '');
    for (const key of ['name', 'email', 'company', 'notes', 'tags']) params.append(key, form.elements[key].value);
    appendList(params, 'numbers', form.elements.numbers.value.split('\n').map((n) => n.trim()).filter(Boolean));
    const rows = Array.from(form.querySelectorAll('.field-row'))
      .map((r) => [r.children[0].value.trim(), r.children[1].value.trim()])
      .filter(([n, v]) => n || v);
    appendList(params, 'field_names', rows.map((r) => r[0]));
    appendList(params, 'field_values', rows.map((r) => r[1]));
    try {
      await api('save_contact', params);
    } catch (e) {
      say('[data-editor-status]', e.message);
      return;
    }
    root.querySelector('[data-contact-editor]').hidden = true;
    say('[data-contacts-status]', 'Saved ' + form.elements.name.value.trim() + '.');
    refresh();
  }

  async function remove(form) {
    const { api } = window.SwitchboardApi;
    try {
      await api('delete_contact', { id: form.dataset.id });
    } catch (e) {
      say('[data-editor-status]', e.message);
      return;
    }
    root.querySelector('[data-contact-editor]').hidden = true;
    say('[data-contacts-status]', 'Deleted ' + form.elements.name.value.trim() + '.');
    refresh();
  }

  // ---- importing --------------------------------------------------------------------

  async function previewFile(file) {
    const { answer } = window.SwitchboardApi;
    const box = root.querySelector('[data-import-preview]');
    box.replaceChildren();
    say('[data-import-status]', 'Reading ' + file.name + '…');
    let preview;
    try {
      preview = await answer(await fetch('/contacts/import/preview', { method: 'POST', body: file.slice(0, PREVIEW_BYTES) }));
    } catch (e) {
      say('[data-import-status]', e.message);
      return;
    }
    say('[data-import-status]', 'Say what each column holds, then import.');
    const table = el('table', { class: 'import-preview' });
    const head = el('tr');
    preview.columns.forEach((column, i) => {
      const th = el('th');
      const id = 'import-column-' + i;
      th.append(el('label', { for: id }, column || 'Column ' + (i + 1)));
      const select = el('select', { id, 'data-role': '' });
      ROLES.forEach(([value, words]) => select.append(new Option(words, value, false, value === preview.guessed[i])));
      th.append(select);
      head.append(th);
    });
    table.append(head);
    preview.sample.forEach((cells) => {
      const tr = el('tr');
      cells.forEach((cell) => tr.append(el('td', {}, cell)));
      table.append(tr);
    });
    const go = el('button', { type: 'button', class: 'primary' }, 'Import ' + file.name);
    go.addEventListener('click', () => importFile(file, go));
    const scroller = el('div', { class: 'table-scroll' });
    scroller.append(table);
    box.append(scroller, go);
  }

  /** Sends the whole file with the chosen columns; the upload's progress shows as it goes. */
  function importFile(file, button) {
    const roles = Array.from(root.querySelectorAll('[data-role]')).map((s) => s.value);
    const progress = root.querySelector('[data-import-progress]');
    const errors = root.querySelector('[data-import-errors]');
    errors.replaceChildren();
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/contacts/import?columns=' + encodeURIComponent(roles.join(',')));
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) {
        progress.value = e.loaded / e.total;
        say('[data-import-status]', 'Uploading… ' + Math.round((100 * e.loaded) / e.total) + ' %');
      }
    };
    xhr.upload.onload = () => say('[data-import-status]', 'Checking every row…');
    xhr.onerror = () => {
      button.disabled = false;
      progress.hidden = true;
      say('[data-import-status]', 'The upload failed. Check your connection and try again.');
    };
    xhr.onload = () => {
      button.disabled = false;
      progress.hidden = true;
      let value = xhr.responseText;
      try {
        value = JSON.parse(value);
      } catch (_) {
        /* not JSON */
      }
      if (xhr.status !== 200) {
        say('[data-import-status]', window.SwitchboardApi.errorWords(value, 'The import failed.'));
        return;
      }
      if (value.errors.length) {
        say('[data-import-status]', 'Nothing was imported: fix these lines and import the file again.');
        value.errors.forEach((e) => errors.append(el('li', {}, (e.line ? 'Line ' + e.line + ': ' : '') + e.message)));
        return;
      }
      const words = [value.created + ' new', value.updated + ' updated'].join(', ');
      say('[data-import-status]', 'Imported: ' + words + '.');
      root.querySelector('[data-import-preview]').replaceChildren();
      refresh();
    };
    xhr.send(file);
  }

  // ---- campaigns ----------------------------------------------------------------------

  let campaignTimer = 0;
  // What the campaign report last showed, and when that changed.
  let campaignCounts = '';
  let campaignChanged = 0;
  // How long the report waits for delivery reports with nothing changing.
  const REPORTS_FOLLOWED_MS = 60_000;

  async function fillCampaignForm() {
    const { api } = window.SwitchboardApi;
    const select = root.querySelector('[name=campaign-number]');
    try {
      const numbers = (await api('my_numbers')).filter((n) => n.capabilities && n.capabilities.sms);
      select.replaceChildren(...numbers.map((n) => new Option(n.name ? n.display + ' (' + n.name + ')' : n.display, n.id)));
    } catch (e) {
      say('[data-campaign-status]', e.message);
    }
  }

  function campaignFields() {
    const form = root.querySelector('[data-campaign-form]');
    return {
      number_id: form.elements['campaign-number'].value,
      name: form.elements['campaign-name'].value,
      body: form.elements['campaign-body'].value,
      tag: form.elements['campaign-tag'].value,
    };
  }

  async function previewCampaign() {
    const { api } = window.SwitchboardApi;
    const box = root.querySelector('[data-campaign-preview]');
    const fields = campaignFields();
    let p;
    try {
      p = await api('preview_campaign', { number_id: fields.number_id, body: fields.body, tag: fields.tag });
    } catch (e) {
      say('[data-campaign-status]', e.message);
      box.replaceChildren();
      return;
    }
    say('[data-campaign-status]', '');
    const summary = el('p', {},
      p.recipients + ' recipients' + (p.opted_out ? ' (' + p.opted_out + ' opted out, skipped)' : '') +
      ' · ' + p.total_segments + ' segments in all (at most ' + p.most_segments + ' per text; carriers bill per segment)' +
      ' · Cost: ' + (p.cost || 'unknown until an admin enters the price of a segment (Admin → Text price)'));
    const samples = el('ul', { class: 'rows', 'aria-label': 'How it reads' });
    p.samples.forEach((s) => {
      const li = el('li', { class: 'row' });
      li.append(el('strong', {}, s.name), el('div', {}, s.text));
      samples.append(li);
    });
    const go = el('button', { type: 'button', class: 'primary' }, 'Start campaign');
    go.disabled = !p.recipients;
    go.addEventListener('click', startCampaign);
    box.replaceChildren(summary, samples, go);
  }

  async function startCampaign() {
    const { api } = window.SwitchboardApi;
    try {
      await api('start_campaign', campaignFields());
    } catch (e) {
      say('[data-campaign-status]', e.message);
      return;
    }
    say('[data-campaign-status]', 'Started.');
    root.querySelector('[data-campaign-preview]').replaceChildren();
    drawCampaigns();
  }

  async function drawCampaigns() {
    clearTimeout(campaignTimer);
    if (!root || !root.isConnected) return;
    const { api } = window.SwitchboardApi;
    const list = root.querySelector('[data-campaign-list]');
    let reports;
    try {
      reports = await api('campaigns');
    } catch (e) {
      list.replaceChildren(el('li', { role: 'alert' }, e.message));
      return;
    }
    list.replaceChildren(
      ...reports.map((r) => {
        const li = el('li', { class: 'row campaign', 'aria-label': 'Campaign ' + r.name });
        const about = el('div');
        about.append(el('strong', {}, r.name + ' (' + r.state + ')'));
        about.append(el('div', { class: 'muted' },
          r.recipients + ' recipients from ' + r.number_display + ': ' + r.waiting + ' waiting, ' + r.sent + ' sent, ' +
          r.delivered + ' delivered, ' + r.failed + ' failed, ' + r.skipped + ' skipped · ' + r.replies + ' replied, ' +
          r.opt_outs + ' opted out'));
        const actions = el('div', { class: 'actions' });
        const control = (action, words) => {
          const b = el('button', { type: 'button', class: action === 'cancel' ? 'danger' : 'secondary' }, words);
          b.addEventListener('click', () => api('campaign_control', { campaign_id: r.id, action })
            .then(drawCampaigns)
            .catch((e) => say('[data-campaign-status]', e.message)));
          return b;
        };
        if (r.state === 'sending') actions.append(control('pause', 'Pause'));
        if (r.state === 'paused') actions.append(control('resume', 'Resume'));
        if (r.state === 'sending' || r.state === 'paused') actions.append(control('cancel', 'Cancel'));
        actions.append(el('a', { class: 'button secondary', href: '/campaigns/' + r.id + '/report.csv', download: '' }, 'Report (CSV)'));
        li.append(about, actions);
        return li;
      }),
    );
    // The report follows its texts while any campaign is under way, then their delivery
    // reports, which come after the last text is sent (seconds later, or never from some
    // carriers: so only while the counts keep changing).
    const counts = JSON.stringify(reports.map((r) => [r.id, r.state, r.waiting, r.sent, r.delivered, r.failed]));
    if (counts !== campaignCounts) [campaignCounts, campaignChanged] = [counts, Date.now()];
    const underWay = reports.some((r) => r.state === 'sending' || r.waiting > 0);
    const reportsDue = reports.some((r) => r.sent > 0) && Date.now() - campaignChanged < REPORTS_FOLLOWED_MS;
    if (underWay || reportsDue) campaignTimer = setTimeout(drawCampaigns, 1000);
  }

  // ---- the page ---------------------------------------------------------------------

  function build(where) {
    if (!document.querySelector('link[href="/pages.css"]')) {
      document.head.append(el('link', { rel: 'stylesheet', href: '/pages.css' }));
    }
    where.innerHTML =
      '<div class="card">' +
      '<form role="search" class="search" data-contact-search><label for="contact-search" class="visually-hidden">Search contacts</label>' +
      '<input id="contact-search" name="contact-search" type="search" placeholder="Search by name, number, company, tag" maxlength="100"></form>' +
      '<div class="actions"><button type="button" class="primary" data-new>New contact</button>' +
      '<a class="button secondary" href="/contacts/export.csv" download>Export CSV</a>' +
      '<a class="button secondary" href="/contacts/export.vcf" download>Export vCard</a></div>' +
      '<p role="status" data-contacts-status></p></div>' +
      '<div class="card" data-contact-editor hidden><h2>New contact</h2><form class="stack" aria-label="Contact">' +
      '<label for="contact-name">Name</label><input id="contact-name" name="name" required maxlength="100" autocomplete="off">' +
      '<label for="contact-numbers">Phone numbers (one per line)</label><textarea id="contact-numbers" name="numbers" rows="2"></textarea>' +
      '<label for="contact-email">Email</label><input id="contact-email" name="email" type="email" maxlength="254">' +
      '<label for="contact-company">Company</label><input id="contact-company" name="company" maxlength="100">' +
      '<label for="contact-tags">Tags (separated by commas)</label><input id="contact-tags" name="tags">' +
      '<label for="contact-notes">Notes</label><textarea id="contact-notes" name="notes" rows="3" maxlength="2000"></textarea>' +
      '<fieldset><legend>Custom fields</legend><div data-fields></div>' +
      '<button type="button" class="secondary" data-add-field>Add a field</button></fieldset>' +
      '<p role="alert" data-editor-status></p>' +
      '<div class="actions"><button type="submit" class="primary">Save contact</button>' +
      '<button type="button" class="secondary" data-cancel>Cancel</button>' +
      '<button type="button" class="danger" data-delete>Delete contact</button></div></form></div>' +
      '<div class="card"><h2>Import from a CSV file</h2>' +
      '<p class="muted">A header row names the columns; every row is checked first, and a file with a bad row imports nothing. A row whose number is already a contact\u2019s updates that contact.</p>' +
      '<label for="contact-file">CSV file</label> <input id="contact-file" type="file" accept=".csv,text/csv">' +
      '<div data-import-preview></div><progress data-import-progress max="1" hidden></progress>' +
      '<p role="status" data-import-status></p><ul class="import-errors" data-import-errors aria-label="Problems in the file"></ul></div>' +
      '<ul class="rows" aria-label="Contacts" data-contact-list></ul>' +
      '<div class="card"><h2>Campaigns</h2>' +
      '<form class="stack" data-campaign-form aria-label="New campaign">' +
      '<label for="campaign-number">From</label><select id="campaign-number" name="campaign-number"></select>' +
      '<label for="campaign-name">Campaign name</label><input id="campaign-name" name="campaign-name" maxlength="80" required>' +
      '<label for="campaign-tag">To contacts tagged (empty: everyone)</label><input id="campaign-tag" name="campaign-tag" maxlength="40">' +
      '<label for="campaign-body">Message</label><textarea id="campaign-body" name="campaign-body" rows="3" maxlength="1600" required></textarea>' +
      '<p class="muted">Fields: {first_name}, {last_name}, {name}, {company}, {email}, or a custom field by its name; {first_name|there} writes \u201cthere\u201d where a contact has none.</p>' +
      '<button type="submit" class="secondary">Preview</button></form>' +
      '<div data-campaign-preview></div><p role="status" data-campaign-status></p>' +
      '<ul class="rows" aria-label="Your campaigns" data-campaign-list></ul></div>';
    const form = where.querySelector('[data-contact-editor] form');
    form.addEventListener('submit', save);
    where.querySelector('[data-new]').addEventListener('click', () => openEditor(null));
    where.querySelector('[data-cancel]').addEventListener('click', () => (where.querySelector('[data-contact-editor]').hidden = true));
    where.querySelector('[data-delete]').addEventListener('click', () => remove(form));
    where.querySelector('[data-add-field]').addEventListener('click', () => form.querySelector('[data-fields]').append(fieldRow()));
    where.querySelector('[data-contact-search]').addEventListener('submit', (e) => e.preventDefault());
    where.querySelector('[name=contact-search]').addEventListener('input', () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(refresh, 200);
    });
    where.querySelector('[data-campaign-form]').addEventListener('submit', (e) => {
      e.preventDefault();
      previewCampaign();
    });
    where.querySelector('#contact-file').addEventListener('change', (e) => {
      const file = e.target.files && e.target.files[0];
      if (file) previewFile(file);
    });
  }

  /** Fills the page's [data-contacts] element, when there is one not filled yet. */
  function mount() {
    const where = document.querySelector('[data-contacts]:not([data-filled])');
    if (!where) return;
    where.dataset.filled = 'true';
    root = where;
    build(where);
    // From a conversation: "Add to contacts" (/contacts?add=<number>) or "Contact" (?q=…).
    const params = new URLSearchParams(location.search);
    where.querySelector('[name=contact-search]').value = params.get('q') || '';
    refresh();
    fillCampaignForm();
    drawCampaigns();
    if (params.get('add')) openEditor(null, params.get('add'));
  }

  window.SwitchboardContacts = { mount, refresh };
  new MutationObserver(mount).observe(document.body, { childList: true, subtree: true });
  mount();
})();
