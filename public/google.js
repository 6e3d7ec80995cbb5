// "Sign in with Google" on the sign-in page and "Join with Google" on an invitation's page
// (server/accounts/google.rs has the rules), in plain JS so the first-load WASM carries
// none of it: the link shows when an admin has set Google sign-in up, and a refused Google
// sign-in's code (`?google=no_account`) is said in the server's own fixed words.
(function () {
  'use strict';
  if (window.SwitchboardGoogle) {
    window.SwitchboardGoogle.mount();
    return;
  }
  const { api, text } = window.SwitchboardApi;

  async function fill(holder) {
    holder.dataset.filled = 'true';
    const refused = new URLSearchParams(window.location.search).get('google') || '';
    let offer;
    try {
      offer = await api('google_sign_in_offer', { refused });
    } catch (_) {
      return; // the password form works on
    }
    const shown = [];
    if (offer.refusal) {
      const alert = text('p', offer.refusal, 'error');
      alert.setAttribute('role', 'alert');
      shown.push(alert);
    }
    if (offer.available) {
      const join = holder.dataset.googleSignIn === 'join';
      // An invitation's page is /invite/<token>: the token goes along to join by it.
      const token = join ? window.location.pathname.split('/').pop() : '';
      const link = text('a', join ? 'Join with Google' : 'Sign in with Google', 'button secondary');
      link.href = join ? '/auth/google?invite=' + encodeURIComponent(token) : '/auth/google';
      link.rel = 'external'; // a server route: the app's router must not take the click

      shown.push(link);
    }
    holder.replaceChildren(...shown);
  }

  function mount() {
    const holder = document.querySelector('[data-google-sign-in]:not([data-filled])');
    if (holder) fill(holder);
  }

  window.SwitchboardGoogle = { mount };
  new MutationObserver(mount).observe(document.body, { childList: true, subtree: true });
  mount();
})();
