// The Numbers page's "Answering texts" card: per number, what a HELP text is answered with
// (its own words, or the default naming the number). The server keeps and checks it
// (`texting_settings`, `set_help_text`); this script is the card. Plain JS, fetched only by
// the Numbers page (app/src/pages/numbers.rs), so the first-load WASM carries none of it.
(function () {
  'use strict';
  if (window.SwitchboardNumbers) {
    window.SwitchboardNumbers.mount();
    return;
  }

  function withApi() {
    if (window.SwitchboardApi) return Promise.resolve(window.SwitchboardApi);
    return new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = '/api.js';
      script.onload = () => resolve(window.SwitchboardApi);
      script.onerror = () => reject(new Error('The page could not load. Reload it.'));
      document.head.append(script);
    });
  }

  async function fill(card) {
    card.dataset.filled = 'true';
    const { api } = await withApi();
    let numbers;
    try {
      numbers = await api('texting_settings');
    } catch (e) {
      card.textContent = e.message;
      return;
    }
    card.replaceChildren();
    const heading = document.createElement('h2');
    heading.textContent = 'Answering texts';
    const about = document.createElement('p');
    about.className = 'muted';
    about.textContent =
      'STOP, START and HELP are answered for you: STOP opts the sender out of that number\u2019s texts until they text START. ' +
      'HELP gets the text below (leave it empty for the default).';
    card.append(heading, about);
    if (!numbers.length) return;
    for (const n of numbers) {
      const form = document.createElement('form');
      form.className = 'stack';
      form.setAttribute('aria-label', 'Answering texts to ' + n.display);
      const id = 'help-' + n.number_id;
      form.innerHTML =
        '<label for="' + id + '"></label><textarea id="' + id + '" name="help_text" rows="2" maxlength="320"></textarea>' +
        '<p role="status"></p><button type="submit" class="secondary">Save</button>';
      form.querySelector('label').textContent = 'Answer to HELP on ' + (n.name ? n.display + ' (' + n.name + ')' : n.display);
      const text = form.querySelector('textarea');
      text.value = n.help_text;
      text.placeholder = n.default_help_text;
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        const status = form.querySelector('[role=status]');
        api('set_help_text', { number_id: n.number_id, help_text: text.value })
          .then(() => (status.textContent = text.value.trim() ? 'Saved.' : 'Saved: the default answers.'))
          .catch((e) => (status.textContent = e.message));
      });
      card.append(form);
    }
  }

  function mount() {
    const card = document.querySelector('[data-number-texting]:not([data-filled])');
    if (card) fill(card);
  }

  window.SwitchboardNumbers = { mount };
  new MutationObserver(mount).observe(document.body, { childList: true, subtree: true });
  mount();
})();
