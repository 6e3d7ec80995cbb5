// Server functions (and two small DOM helpers) for the app's plain-JS page parts (contacts.js, numbers.js, canned.js,
// admin.js, privacy.js, simulator.js, outside-phone.js; `live::page_script` loads this first): a POST of urlencoded
// fields to /api/<name>, the answer's JSON, and a refusal (an AppError's JSON) turned into
// the sentence it carries. (calls.js, loaded on every page, still has its own copy.)
(function () {
  'use strict';
  if (window.SwitchboardApi) return;

  /** The words of an AppError, as the WASM client shows them. */
  function errorWords(value, fallback) {
    if (value && typeof value === 'object') {
      for (const key of ['Invalid', 'Throttled']) if (typeof value[key] === 'string') return value[key];
      if (typeof value.NotFound === 'string') return value.NotFound + ' was not found.';
      if (value.Internal) return 'Something went wrong on our side (reference ' + value.Internal.reference + ').';
    }
    if (value === 'Unauthorized') return 'Please sign in to continue.';
    if (value === 'Forbidden') return 'You are not allowed to do that.';
    return fallback || 'That did not work. Try again.';
  }

  /** Reads a response: its JSON (or text) when it succeeded, else throws its words. */
  async function answer(res) {
    const text = await res.text();
    let value = text;
    try {
      value = JSON.parse(text);
    } catch (_) {
      /* not JSON */
    }
    if (!res.ok) throw new Error(errorWords(value));
    return value;
  }

  /** Calls server function `fn` with `fields` (an object, or URLSearchParams for lists:
   * serde_qs reads `numbers[0]=…&numbers[1]=…`). No answer within 15 s is an error. */
  async function api(fn, fields) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 15_000);
    try {
      const body = fields instanceof URLSearchParams ? fields : new URLSearchParams(fields || {});
      return await answer(await fetch('/api/' + fn, { method: 'POST', body, signal: abort.signal }));
    } catch (e) {
      if (e.name === 'AbortError' || e instanceof TypeError) {
        throw new Error('The server did not answer. Check your connection and try again.');
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** `list` as serde_qs's indexed fields: name[0]=…, name[1]=… */
  function appendList(params, name, list) {
    list.forEach((value, i) => params.append(name + '[' + i + ']', value));
  }

  /** A `tag` element holding `words` as text, with an optional class. */
  function text(tag, words, className) {
    const el = document.createElement(tag);
    el.textContent = words;
    if (className) el.className = className;
    return el;
  }

  /** A status line (read out by screen readers when it changes). */
  function statusLine() {
    const status = text('p', '');
    status.setAttribute('role', 'status');
    return status;
  }

  window.SwitchboardApi = { api, answer, errorWords, appendList, text, statusLine };
})();
