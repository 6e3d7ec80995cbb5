// Canned replies in the composer: under each message box, a list of the person's saved
// replies to insert (at the cursor), and "/shortcut" followed by Tab expands in place; a
// dialog adds, changes and deletes them. The server keeps and checks them
// (`canned_replies`, `save_canned_reply`, `delete_canned_reply`); this script is fetched by
// the Inbox (app/src/pages/messaging.rs) once it is live. Plain JS, so the first-load WASM
// carries none of it.
(function () {
  'use strict';
  if (window.SwitchboardCanned) {
    window.SwitchboardCanned.mount();
    return;
  }
  /** The person's canned replies, fetched once per page (and after each change). */
  let replies = null;
  let dialog = null;


  async function load(again) {
    if (replies && !again) return replies;
    const { api } = window.SwitchboardApi;
    replies = await api('canned_replies');
    document.querySelectorAll('select[data-canned]').forEach(fillPicker);
    return replies;
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** Puts `words` into the message box at its cursor; the app hears it as typing (its
   * segment counter and its draft follow). */
  function insert(box, words, from, to) {
    const start = from ?? box.selectionStart ?? box.value.length;
    const end = to ?? box.selectionEnd ?? start;
    box.value = box.value.slice(0, start) + words + box.value.slice(end);
    box.selectionStart = box.selectionEnd = start + words.length;
    box.dispatchEvent(new Event('input', { bubbles: true }));
    box.focus();
  }

  function fillPicker(select) {
    const chosen = select.value;
    select.replaceChildren(new Option('Insert a canned reply…', ''));
    (replies || []).forEach((r) => select.append(new Option('/' + r.shortcut + ' — ' + r.body.slice(0, 40), r.id)));
    select.append(new Option('Manage canned replies…', 'manage'));
    select.value = chosen && select.querySelector('option[value="' + chosen + '"]') ? chosen : '';
  }

  /** Adds the picker under a message box that has none yet. */
  function enhance(box) {
    box.dataset.canned = 'true';
    const id = box.id + '-canned';
    const select = el('select', { id, 'data-canned': '', 'aria-label': 'Canned replies' });
    fillPicker(select);
    select.addEventListener('focus', () => load().catch(() => {}), { once: true });
    select.addEventListener('change', () => {
      const value = select.value;
      select.value = '';
      if (value === 'manage') return manage();
      const reply = (replies || []).find((r) => r.id === value);
      if (reply) insert(box, reply.body);
    });
    // "/shortcut" then Tab: the word before the cursor becomes its reply.
    box.addEventListener('keydown', (event) => {
      if (event.key !== 'Tab' || event.shiftKey) return;
      const upto = box.value.slice(0, box.selectionStart);
      const match = /(?:^|\s)\/([a-z0-9_-]{1,20})$/i.exec(upto);
      if (!match || !replies) return;
      const reply = replies.find((r) => r.shortcut === match[1].toLowerCase());
      if (!reply) return;
      event.preventDefault();
      insert(box, reply.body, box.selectionStart - match[1].length - 1, box.selectionStart);
    });
    box.addEventListener('focus', () => load().catch(() => {}), { once: true });
    const hint = box.parentNode.querySelector('#' + CSS.escape(box.id + '-segments'));
    (hint || box).after(select);
  }

  // ---- the dialog ---------------------------------------------------------------------

  async function manage() {
    if (!dialog) {
      dialog = el('dialog', { class: 'card canned-dialog', 'aria-label': 'Canned replies' });
      dialog.innerHTML =
        '<h2>Canned replies</h2><p class="muted">Insert one from the list under a message box, or type /shortcut and press Tab.</p>' +
        '<ul class="rows" data-canned-list aria-label="Your canned replies"></ul>' +
        '<form class="stack" data-canned-form aria-label="Canned reply"><input type="hidden" name="id">' +
        '<label for="canned-shortcut">Shortcut</label><input id="canned-shortcut" name="shortcut" required maxlength="21" placeholder="hours">' +
        '<label for="canned-body">Reply</label><textarea id="canned-body" name="body" rows="3" required maxlength="1600"></textarea>' +
        '<p role="status" data-canned-status></p>' +
        '<div class="actions"><button type="submit" class="primary">Save reply</button>' +
        '<button type="button" class="secondary" data-canned-close>Close</button></div></form>';
      document.body.append(dialog);
      dialog.querySelector('[data-canned-close]').addEventListener('click', () => dialog.close());
      dialog.querySelector('form').addEventListener('submit', save);
    }
    dialog.querySelector('form').reset();
    dialog.querySelector('[data-canned-status]').textContent = '';
    dialog.showModal();
    await draw();
  }

  async function draw() {
    const list = dialog.querySelector('[data-canned-list]');
    try {
      await load(true);
    } catch (e) {
      list.replaceChildren(el('li', { role: 'alert' }, e.message));
      return;
    }
    if (!replies.length) {
      list.replaceChildren(el('li', { class: 'muted' }, 'None yet: save your first below.'));
      return;
    }
    list.replaceChildren(
      ...replies.map((r) => {
        const li = el('li', { class: 'row' });
        const about = el('div');
        about.append(el('strong', {}, '/' + r.shortcut), el('div', { class: 'muted' }, r.body));
        const actions = el('div', { class: 'actions' });
        const edit = el('button', { type: 'button', class: 'secondary', 'aria-label': 'Edit /' + r.shortcut }, 'Edit');
        edit.addEventListener('click', () => {
          const form = dialog.querySelector('form');
          form.elements.id.value = r.id;
          form.elements.shortcut.value = r.shortcut;
          form.elements.body.value = r.body;
          form.elements.shortcut.focus();
        });
        const remove = el('button', { type: 'button', class: 'danger', 'aria-label': 'Delete /' + r.shortcut }, 'Delete');
        remove.addEventListener('click', async () => {
          const { api } = window.SwitchboardApi;
          try {
            await api('delete_canned_reply', { id: r.id });
          } catch (e) {
            dialog.querySelector('[data-canned-status]').textContent = e.message;
          }
          draw();
        });
        actions.append(edit, remove);
        li.append(about, actions);
        return li;
      }),
    );
  }

  async function save(event) {
    event.preventDefault();
    const form = event.target;
    const status = dialog.querySelector('[data-canned-status]');
    const { api } = window.SwitchboardApi;
    try {
      await api('save_canned_reply', { id: form.elements.id.value, shortcut: form.elements.shortcut.value, body: form.elements.body.value });
    } catch (e) {
      status.textContent = e.message;
      return;
    }
    status.textContent = 'Saved /' + form.elements.shortcut.value.trim().replace(/^\//, '').toLowerCase() + '.';
    form.reset();
    form.elements.id.value = '';
    draw();
  }

  function mount() {
    document.querySelectorAll('textarea[name=body]:not([data-canned])').forEach(enhance);
  }

  window.SwitchboardCanned = { mount };
  new MutationObserver(mount).observe(document.body, { childList: true, subtree: true });
  mount();
})();
