// Admin → Sandbox simulator's text controls (admins, sandbox): a text from any outside
// number to one of our numbers (with a picture: an MMS), the next text sent failing with a
// carrier's error, a delivery failing. Plain JS, loaded only by the Admin page (after
// public/api.js), so the app's WASM carries none of it. The outside phone beside it is
// public/outside-phone.js.
(function () {
  'use strict';
  if (window.SwitchboardSimulator) {
    window.SwitchboardSimulator.mount();
    return;
  }
  const { api, text } = window.SwitchboardApi;

  /** The carrier errors a failure may carry (the sandbox reports them as those carriers do). */
  const ERRORS = [
    ['40300', 'Telnyx 40300: recipient opted out (STOP)'],
    ['30034', 'Twilio 30034: unregistered A2P 10DLC number'],
    ['21610', 'Twilio 21610: recipient unsubscribed'],
    ['30003', 'Twilio 30003: phone unreachable'],
    ['30007', 'Twilio 30007: filtered as spam'],
  ];

  function options(select, list) {
    const kept = select.value;
    select.replaceChildren(
      ...list.map(([value, label]) => {
        const option = text('option', label);
        option.value = value;
        return option;
      }),
    );
    if (list.some(([value]) => value === kept)) select.value = kept;
  }

  /** Our numbers (every owner's), as the To choices. */
  async function fillNumbers(select) {
    const numbers = await api('all_numbers');
    options(select, numbers.map((n) => [n.e164, `${n.display} (${n.owner_email || ''})`]));
  }

  /** The texts sent lately, as the delivery to fail. */
  async function fillOutbound(select) {
    options(select, await api('recent_outbound'));
  }

  /** A form posting its fields to server function `fn`; `done` says what happened. */
  function form(fn, inner, done) {
    const f = document.createElement('form');
    f.className = 'stack';
    f.innerHTML = inner;
    const status = text('p', '');
    status.setAttribute('role', 'status');
    f.querySelector('button').before(status);
    f.addEventListener('submit', (event) => {
      event.preventDefault();
      const button = f.querySelector('button');
      button.disabled = true;
      status.setAttribute('role', 'status');
      status.className = '';
      status.textContent = '';
      api(fn, new URLSearchParams(new FormData(f)))
        .then(() => {
          status.className = 'notice';
          status.textContent = done;
        })
        .catch((e) => {
          status.className = 'error';
          status.setAttribute('role', 'alert');
          status.textContent = e.message;
        })
        .finally(() => (button.disabled = false));
    });
    return f;
  }

  const errorChoices = (id) =>
    `<label for="${id}">Carrier error</label><select id="${id}" name="code">` +
    ERRORS.map(([code, label]) => `<option value="${code}">${label}</option>`).join('') +
    '</select>';

  function fill(root) {
    root.dataset.filled = 'true';
    const inbound = form(
      'simulate_inbound',
      '<label for="sim-from">From (any number)</label>' +
        '<input id="sim-from" name="from" type="tel" value="+1 202 555 0199" required>' +
        '<label for="sim-to">To</label><select id="sim-to" name="to"></select>' +
        '<label for="sim-body">Text</label><textarea id="sim-body" name="body" rows="2"></textarea>' +
        '<label class="check"><input type="checkbox" name="picture" value="true"> Attach a picture (MMS)</label>' +
        '<button type="submit">Send inbound text</button>',
      'Delivered.',
    );
    const next = form('simulate_next_failure', errorChoices('sim-next-code') + '<button type="submit">Arm failure</button>', 'Armed: the next text anyone sends will fail.');
    const delivery = form(
      'simulate_failure',
      '<label for="sim-message">Message</label><select id="sim-message" name="message_id"></select>' +
        errorChoices('sim-code') +
        '<button type="submit">Fail it</button>',
      'Failed.',
    );
    root.replaceChildren(
      text('h3', 'Text one of our numbers'),
      inbound,
      text('h3', 'Fail the next text sent'),
      next,
      text('h3', 'Fail a delivery'),
      delivery,
    );
    // The lists as they are now, and again whenever they are about to be picked from
    // (numbers are bought, texts sent, while the page is open).
    const to = inbound.querySelector('select');
    const message = delivery.querySelector('select');
    // (Sending waits for the numbers: a text to no number would only be refused.)
    const send = inbound.querySelector('button');
    send.disabled = true;
    fillNumbers(to)
      .catch(() => {})
      .finally(() => (send.disabled = false));
    fillOutbound(message).catch(() => {});
    to.addEventListener('focus', () => fillNumbers(to).catch(() => {}));
    message.addEventListener('focus', () => fillOutbound(message).catch(() => {}));
    delivery.addEventListener('submit', () => setTimeout(() => fillOutbound(message).catch(() => {}), 500));
  }

  function mount(tries) {
    const root = document.querySelector('[data-simulator]:not([data-filled])');
    if (root) return fill(root);
    if ((tries || 0) < 50) requestAnimationFrame(() => mount((tries || 0) + 1));
  }

  window.SwitchboardSimulator = { mount };
  mount();
})();
