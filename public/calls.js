// Calls in the browser, loaded on every page beside push.js: the WebRTC side of a call
// between people here, and the panel that shows a ringing or live call over whatever page
// is open. The server keeps each call's state (app/src/server/calls.rs); this script places,
// answers and ends calls through its server functions, and looks again whenever the app's
// live stream says calls changed (window.SwitchboardCalls.changed(), called by the WASM
// client). Plain JS: WebRTC is a browser API, and the first-load WASM stays small.
(function () {
  'use strict';
  // This tab's name for itself: the call it places or answers is "here".
  const tab = self.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + String(Date.now());
  /** Calls this tab holds audio for, by call id: { pc, stream, info, startedAt, muted, held } */
  const held = new Map();
  /** The calls the server said are ringing or under way, at the last look. */
  let known = [];
  let iceServers = null;
  let panel = null;
  let ticker = 0;
  let looking = null;
  let lookAgain = false;
  let lastWords = '';
  /** A voicemail this tab offers to leave, or is recording: { id, state, recorder, stream, chunks, started } */
  let voicemail = null;
  /** Two minutes at most, as the server keeps. */
  const VOICEMAIL_MS = 120_000;
  /** What the panel says when a call ended, by its outcome. */
  const ENDED = {
    Answered: 'Call ended.',
    'No answer': 'No answer.',
    Declined: 'Declined.',
    Cancelled: 'Call cancelled.',
    Missed: 'Missed call.',
  };

  function errorWords(value) {
    if (value && typeof value === 'object') {
      if (typeof value.Invalid === 'string') return value.Invalid;
      if (typeof value.Throttled === 'string') return value.Throttled;
      if (typeof value.NotFound === 'string') return value.NotFound + ' was not found.';
      if (value.Internal) return 'Something went wrong on our side (reference ' + value.Internal.reference + ').';
    }
    if (value === 'Unauthorized') return 'Please sign in to continue.';
    return 'The call could not go through. Try again.';
  }

  /** A server function; an answer that doesn't come within 10 s is an error, not a wait
   * that freezes the panel. */
  async function api(fn, fields) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 10_000);
    let res, text;
    try {
      res = await fetch('/api/' + fn, { method: 'POST', body: new URLSearchParams(fields || {}), signal: abort.signal });
      text = await res.text();
    } catch (_) {
      throw new Error('The server did not answer. Check your connection and try again.');
    } finally {
      clearTimeout(timer);
    }
    let value = text;
    try {
      value = JSON.parse(text);
    } catch (_) {
      /* not JSON */
    }
    if (!res.ok) throw new Error(errorWords(value));
    return value;
  }

  async function ice() {
    if (iceServers === null) {
      try {
        iceServers = JSON.parse(await api('ice_servers'));
      } catch (_) {
        iceServers = [];
      }
    }
    return iceServers;
  }

  /** The microphone (the one picked in the dialer, if any). */
  async function microphone() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error('This browser cannot make calls here (calls need https, or localhost).');
    }
    const id = pickedMicrophone();
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: id ? { deviceId: { exact: id } } : true, video: false });
    } catch (e) {
      // The one picked is gone (unplugged): the default, rather than no call.
      if (id && e && (e.name === 'OverconstrainedError' || e.name === 'NotFoundError')) {
        try {
          return await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
        } catch (_) {
          /* below */
        }
      }
      throw new Error('The microphone is blocked or missing. Allow it for this site and try again.');
    }
  }

  /** A device choice (`key`) remembered in this browser ('' for none, or storage off). */
  function remembered(key) {
    try {
      return localStorage.getItem(key) || '';
    } catch (_) {
      return '';
    }
  }

  /** Remembers device choice `key` as `id` (storage off: this page only). */
  function remember(key, id) {
    try {
      localStorage.setItem(key, id);
    } catch (_) {
      /* storage off */
    }
  }

  /** Where the choice of microphone is remembered in this browser: calls answered on any
   * page use it, not only those placed from the dialer that offers it. */
  const MICROPHONE_KEY = 'switchboard.microphone';

  function pickedMicrophone() {
    const select = document.querySelector('[data-call-microphone]');
    return select && select.options.length > 1 ? select.value : remembered(MICROPHONE_KEY);
  }

  document.addEventListener('change', (event) => {
    if (event.target.matches && event.target.matches('[data-call-microphone]')) remember(MICROPHONE_KEY, event.target.value);
  });

  /** Waits until the local description holds its network candidates (no trickling: one
   * message each way), or `ms` passed. */
  function gathered(pc, ms) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (pc.iceGatheringState === 'complete') finish();
      };
      const timer = setTimeout(finish, ms);
      function finish() {
        clearTimeout(timer);
        pc.removeEventListener('icegatheringstatechange', done);
        resolve();
      }
      pc.addEventListener('icegatheringstatechange', done);
    });
  }

  async function peer(id, stream) {
    const pc = new RTCPeerConnection({ iceServers: await ice() });
    stream.getTracks().forEach((track) => pc.addTrack(track, stream));
    pc.addEventListener('track', (event) => {
      const audio = ensurePanel().querySelector('audio');
      audio.srcObject = event.streams[0];
      useSpeaker(savedSpeaker()).catch(() => {});
      audio.play().catch(() => {});
    });
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed') say('The connection was lost.');
    });
    held.set(id, { pc, stream, startedAt: 0, muted: false, held: false });
    return pc;
  }

  function release(id) {
    const call = held.get(id);
    if (!call) return;
    if (call.sdk) {
      // A phone-network call: the carrier's SDK holds its audio.
      call.sdk.hangup();
    } else {
      call.pc.close();
      call.stream.getTracks().forEach((t) => t.stop());
    }
    held.delete(id);
  }

  // ---- phone-network calls in the browser (the carrier's SDK) -------------------------
  //
  // A call from the phone network that rings here is held at the carrier. Answer asks the
  // server to have the carrier call this tab (pick_up_call); the tab's SDK, signed in with
  // a token for its own credential (browser_phone), takes that call at once and the server
  // joins it with the caller. A call out (call_out) is the same, the phone called once the
  // tab took the carrier's call. The SDK (copied from npm into the site at build time,
  // nothing from a CDN) loads only then, so no page carries it.

  /** The carrier SDKs, by carrier: `load()` brings the SDK in; `signIn(sdk, token, on)`
   * signs this tab in and answers { disconnect }, telling `on.ringing(call)` of a call to
   * this tab, `on.ended(call)` of one that ended and `on.closed()` when signed out;
   * `on.renew()` answers a fresh token. A `call` is the same whatever SDK is behind it:
   * answer(audio element), hangup(), mute(muted, held), hold(held, muted), dtmf(digit),
   * microphone(device id). */
  const CARRIER_SDKS = {
    telnyx: {
      load: () => import('/vendor/telnyx-webrtc-2.27.10.mjs'),
      async signIn(module, token, on) {
        const client = new module.TelnyxRTC({ login_token: token });
        const calls = new WeakMap();
        const wrap = (c) => {
          if (!calls.has(c)) {
            calls.set(c, {
              answer: (audio) => c.answer({ remoteElement: audio }),
              hangup: () => c.state !== 'hangup' && c.state !== 'destroy' && c.hangup(),
              // The carrier holds the far side itself: the microphone follows Mute only.
              mute: (muted) => (muted ? c.muteAudio() : c.unmuteAudio()),
              // The carrier holds the far side (with its music), not just our audio.
              hold: (held) => (held ? c.hold() : c.unhold()),
              dtmf: (digit) => c.dtmf(digit),
              microphone: (id) => c.setAudioInDevice && c.setAudioInDevice(id),
            });
          }
          return calls.get(c);
        };
        client.on('telnyx.notification', (n) => {
          const c = n && n.type === 'callUpdate' && n.call;
          if (!c) return;
          if (c.state === 'ringing' && c.direction === 'inbound') on.ringing(wrap(c));
          else if (c.state === 'hangup' || c.state === 'destroy') on.ended(wrap(c));
        });
        // Signed out by the network (a laptop asleep, a lost connection).
        client.on('telnyx.socket.close', on.closed);
        await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('The carrier did not answer. Check your connection and try again.')), 15_000);
          client.on('telnyx.ready', () => {
            clearTimeout(timer);
            resolve();
          });
          client.on('telnyx.error', () => {
            clearTimeout(timer);
            on.closed();
            reject(new Error('The carrier refused this browser. Reload the page and try again.'));
          });
          client.connect();
        });
        return { disconnect: () => client.disconnect() };
      },
    },
    twilio: {
      // A classic script (Twilio ships no self-contained module): it sets window.Twilio.
      load: () =>
        new Promise((resolve, reject) => {
          if (window.Twilio && window.Twilio.Device) return resolve(window.Twilio);
          const script = document.createElement('script');
          script.src = '/vendor/twilio-voice-2.18.5.min.js';
          script.onload = () => (window.Twilio && window.Twilio.Device ? resolve(window.Twilio) : reject(new Error('no Device')));
          script.onerror = reject;
          document.head.append(script);
        }),
      async signIn(Twilio, token, on) {
        // Its own sounds would come from Twilio's servers; the app rings calls itself.
        const sounds = {};
        for (const name of ['incoming', 'outgoing', 'disconnect', 'dtmfs', 'dtmfh', ...'0123456789'.split('').map((d) => 'dtmf' + d)]) {
          sounds[name] = '/sounds/silence.wav';
        }
        const device = new Twilio.Device(token, { sounds, publishEvents: false, closeProtection: false, logLevel: 'error' });
        device.on('incoming', (c) => {
          const call = {
            answer: () => c.accept(),
            hangup: () => {
              if (c.status() === 'pending') c.reject();
              else if (c.status() !== 'closed') c.disconnect();
            },
            mute: (muted, held) => c.mute(muted || held),
            // Twilio has no hold in the browser (it holds on the server, in a conference):
            // here neither side hears the other until resumed.
            hold: (held, muted) => {
              c.mute(held || muted);
              const remote = c.getRemoteStream && c.getRemoteStream();
              if (remote) remote.getAudioTracks().forEach((t) => (t.enabled = !held));
            },
            dtmf: (digit) => c.sendDigits(digit),
            microphone: (id) => device.audio && device.audio.setInputDevice(id),
            // Its sound plays through the SDK's own element, not the panel's.
            speaker: (id) => device.audio && device.audio.isOutputSelectionSupported && device.audio.speakerDevices.set(id || 'default'),
          };
          for (const end of ['disconnect', 'cancel', 'reject']) c.on(end, () => on.ended(call));
          on.ringing(call);
        });
        // Twilio's signalling dropping for a moment unregisters the Device, which registers
        // again by itself; errors (a token refused, say) are told, never thrown.
        device.on('error', (e) => {
          // 20101, 20104, 31204, 31205: the token is not (or no longer) good: signed out.
          if (e && [20101, 20104, 31204, 31205].includes(e.code)) {
            device.destroy();
            on.closed();
          }
        });
        // Its token renewed before it runs out (it lasts 23 hours).
        device.on('tokenWillExpire', () => on.renew().then((t) => device.updateToken(t)).catch(() => {}));
        await Promise.race([
          device.register(),
          new Promise((_, reject) => setTimeout(() => reject(new Error('The carrier did not answer. Check your connection and try again.')), 15_000)),
        ]).catch((e) => {
          device.destroy();
          on.closed();
          throw e && e.message && e.message.startsWith('The carrier') ? e : new Error('The carrier refused this browser. Reload the page and try again.');
        });
        return { disconnect: () => device.destroy() };
      },
    },
  };
  /** This tab's name for itself at the carrier (its credential is made for it), kept
   * across reloads. Per tab, not per browser: the carrier rings only the last sign-in of a
   * credential, so two tabs sharing one would take each other's calls. */
  function device() {
    const KEY = 'switchboard.device';
    try {
      let id = sessionStorage.getItem(KEY);
      if (!id) {
        id = tab;
        sessionStorage.setItem(KEY, id);
      }
      return id;
    } catch (_) {
      return tab; // storage off: this page is its own
    }
  }
  /** The signed-in SDK client of each carrier (a promise), once asked for, and when. */
  const carrierClients = new Map();
  /** A sign-in is made afresh after this (its token lasts a day). */
  const SIGN_IN_MS = 12 * 60 * 60 * 1000;
  /** The call this tab answered or placed through the carrier, while it waits for the
   * carrier to call it: { id (null until the server says), until, sdk (its call, once it
   * came) }. */
  let pickingUp = null;

  function carrierClient(carrier) {
    const kept = carrierClients.get(carrier);
    if (kept && Date.now() - kept.at < SIGN_IN_MS) return kept.client;
    if (kept) kept.client.then((c) => c.disconnect && c.disconnect()).catch(() => {});
    const entry = { at: Date.now(), client: signInToCarrier(carrier) };
    entry.client.then((c) => (entry.signedIn = c)).catch(() => {});
    carrierClients.set(carrier, entry);
    // A failed sign-in is tried afresh next time.
    entry.client.catch(() => carrierClients.get(carrier) === entry && carrierClients.delete(carrier));
    return entry.client;
  }

  async function signInToCarrier(carrier) {
    const sdk = CARRIER_SDKS[carrier];
    if (!sdk) throw new Error('Calls through this carrier can\'t be answered in the browser yet.');
    const [module, signIn] = await Promise.all([
      sdk.load().catch(() => {
        throw new Error('The calling software did not load. Reload the page and try again.');
      }),
      api('browser_phone', { device: device(), carrier }),
    ]);
    let client = null;
    return (client = await sdk.signIn(module, signIn.token, {
      ringing: carrierCallRings,
      ended: carrierCallEnded,
      renew: () => api('browser_phone', { device: device(), carrier }).then((s) => s.token),
      // Signed out: made afresh next time.
      closed: () => {
        const kept = carrierClients.get(carrier);
        if (kept && (client === null || kept.signedIn === client)) carrierClients.delete(carrier);
      },
    }));
  }

  /** The carrier calls this tab: the call this tab asked for is taken at once; a call
   * nobody here asked for is turned down. */
  function carrierCallRings(sdkCall) {
    const waiting = pickingUp;
    // Only the carrier's call for what this tab asked (each tab has its own credential).
    if (!waiting || Date.now() > waiting.until || waiting.sdk) {
      sdkCall.hangup();
      return;
    }
    waiting.sdk = sdkCall;
    sdkCall.answer(ensurePanel().querySelector('audio'));
    useSpeaker(savedSpeaker()).catch(() => {});
    // The microphone picked in the dialer, as for calls between browsers.
    const picked = pickedMicrophone();
    if (picked) {
      Promise.resolve(sdkCall.microphone(picked)).catch(() => say('That microphone is not available. Pick another.'));
    }
    // (A call placed from here may come before the server said its id.)
    if (waiting.id) holdCarrierCall();
  }

  /** A carrier call of this tab ended: let go. */
  function carrierCallEnded(sdkCall) {
    for (const [id, call] of held) if (call.sdk === sdkCall) held.delete(id);
    look();
  }

  /** The carrier's call to this tab came and the server named our call: it is held here. */
  function holdCarrierCall() {
    const { id, sdk } = pickingUp;
    pickingUp = null;
    held.set(id, { sdk, startedAt: 0, muted: false, held: false });
    look();
  }

  /** Waits for the carrier's call to this tab while `ask` (a server function placing it)
   * answers our call's id; `id` is that id when known before asking (an answer), else null
   * (a call out). */
  async function viaCarrier(carrier, id, ask) {
    // One at a time: a second click (a redrawn button, a double submit) waits for nothing.
    if (pickingUp && Date.now() <= pickingUp.until) throw new Error('A call is starting already.');
    const waiting = { id, until: Date.now() + 30_000, sdk: null };
    pickingUp = waiting;
    try {
      // The microphone first: asked now, while the click still counts as the user's.
      (await microphone()).getTracks().forEach((t) => t.stop());
      await carrierClient(carrier);
      waiting.id = await ask();
    } catch (e) {
      if (pickingUp === waiting) pickingUp = null;
      // Come already, for a call that is not going ahead: let it go.
      if (waiting.sdk && !held.has(waiting.id)) waiting.sdk.hangup();
      throw e;
    }
    if (pickingUp === waiting && waiting.sdk) holdCarrierCall();
    await look();
    return waiting.id;
  }

  /** Answers phone-network call `call` in this tab (see above). */
  async function pickUp(call) {
    if (held.has(call.id) || (pickingUp && pickingUp.id === call.id)) return;
    say('Answering…');
    await viaCarrier(call.carrier, call.id, async () => {
      await api('pick_up_call', { call_id: call.id, tab, device: device() });
      return call.id;
    });
  }

  /** Calls phone `to` from number `numberId` through `carrier` (see above). */
  function callOut(carrier, numberId, to) {
    say('Starting the call…');
    return viaCarrier(carrier, null, () => api('call_out', { number_id: numberId, to, tab, device: device() }));
  }

  /** Sets up this browser to take phone-network calls through each of `carriers` (the
   * Calls page: those of the user's numbers). */
  async function takeCallsHere(carriers) {
    await Promise.all(carriers.map(carrierClient));
    try {
      localStorage.setItem('switchboard.browser-phone', carriers.join(','));
    } catch (_) {
      /* storage off: asked again next time */
    }
  }

  // ---- the panel ----------------------------------------------------------------------

  function ensurePanel() {
    if (panel && document.body.contains(panel)) return panel;
    panel = document.createElement('section');
    panel.className = 'call-panel';
    panel.setAttribute('role', 'region');
    panel.setAttribute('aria-label', 'Call');
    panel.hidden = true;
    panel.innerHTML =
      '<p class="call-who"></p><p class="call-state" role="status" aria-live="polite"></p>' +
      '<p class="call-greeting" data-call-greeting="" hidden></p>' +
      '<div class="call-buttons"></div>' +
      '<div class="call-keypad" hidden></div>' +
      '<div class="call-speaker" hidden><label for="call-speaker">Speaker</label>' +
      '<select id="call-speaker" data-call-speaker=""><option value="">Default speaker</option></select></div>' +
      '<audio autoplay></audio>';
    panel.querySelector('[data-call-speaker]').addEventListener('change', (event) => {
      const id = event.target.value;
      remember(SPEAKER_KEY, id);
      useSpeaker(id).catch(() => say('That speaker is not available. Pick another.'));
    });
    const keypad = panel.querySelector('.call-keypad');
    '123456789*0#'.split('').forEach((digit) => {
      const key = document.createElement('button');
      key.type = 'button';
      key.textContent = digit;
      key.setAttribute('aria-label', 'Key ' + digit);
      key.addEventListener('click', () => dtmf(digit));
      keypad.appendChild(key);
    });
    document.body.appendChild(panel);
    return panel;
  }

  function button(label, className, action) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.className = className || '';
    b.addEventListener('click', () => {
      b.disabled = true;
      Promise.resolve(action())
        .catch((e) => say(e.message))
        .finally(() => {
          b.disabled = false;
        });
    });
    return b;
  }

  function say(words) {
    lastWords = words;
    ensurePanel().hidden = false;
    panel.querySelector('.call-state').textContent = words;
  }

  function clock(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
  }

  /** Draws the panel for the first call that concerns this tab, or hides it. */
  function draw() {
    clearInterval(ticker);
    const ringing = known.find((c) => c.direction === 'in' && c.state === 'ringing');
    const mine = known.find((c) => c.here);
    const call = mine || ringing;
    if (!call && voicemail) {
      drawVoicemail();
      return;
    }
    if (!call) {
      if (panel) {
        panel.querySelector('.call-buttons').replaceChildren();
        panel.querySelector('.call-keypad').hidden = true;
        delete panel.dataset.callId;
        panel.dataset.callState = 'ended';
      }
      if (panel && !panel.hidden && lastWords) {
        // Leave the last words ("Call ended", "Declined") a moment, then go; but not while a
        // call is still starting here ("Starting the call…" stays until it rings or fails).
        setTimeout(() => {
          const starting = (pickingUp && Date.now() <= pickingUp.until) || [...held.keys()].some((id) => id.startsWith('new-'));
          if (!starting && !known.some((c) => c.here || c.state === 'ringing')) panel.hidden = true;
        }, 2500);
      }
      return;
    }
    const p = ensurePanel();
    p.hidden = false;
    p.dataset.callId = call.id;
    p.dataset.callState = call.here ? call.state : 'ringing';
    p.querySelector('.call-who').textContent =
      (call.direction === 'in' ? 'Call from ' : 'Calling ') + (call.peer_name || call.peer_display) + ' · your ' + call.number_display;
    const buttons = p.querySelector('.call-buttons');
    buttons.replaceChildren();
    p.querySelector('.call-keypad').hidden = true;
    p.querySelector('.call-speaker').hidden = true;
    p.querySelector('[data-call-greeting]').hidden = true;
    if (!call.here && call.direction === 'in') {
      say('Ringing…');
      buttons.append(button('Answer', 'primary', () => answer(call)), button('Decline', 'danger', () => decline(call)));
      return;
    }
    const local = held.get(call.id);
    if (call.state === 'ringing') {
      say('Calling…');
    } else {
      const started = call.answered_at || Date.now();
      const tick = () => say((local && local.held ? 'On hold · ' : local && local.muted ? 'Muted · ' : '') + clock(Date.now() - started));
      tick();
      ticker = setInterval(tick, 1000);
      if (local && speakersChoosable()) {
        p.querySelector('.call-speaker').hidden = false;
        listDevices().catch(() => {});
      }
      buttons.append(
        button(local && local.muted ? 'Unmute' : 'Mute', '', () => setMuted(call.id)),
        button(local && local.held ? 'Resume' : 'Hold', '', () => setHeld(call.id)),
        button('Keypad', '', () => {
          const keypad = p.querySelector('.call-keypad');
          keypad.hidden = !keypad.hidden;
        }),
      );
    }
    buttons.append(button('Hang up', 'danger', () => hangUp(call)));
  }

  function drawVoicemail() {
    const p = ensurePanel();
    p.hidden = false;
    p.dataset.callState = 'voicemail';
    const buttons = p.querySelector('.call-buttons');
    buttons.replaceChildren();
    p.querySelector('.call-keypad').hidden = true;
    const greeting = p.querySelector('[data-call-greeting]');
    greeting.hidden = !voicemail.greeting;
    if (voicemail.greeting) greeting.textContent = 'Their greeting: “' + voicemail.greeting.text + '”';
    if (voicemail.state === 'offered') {
      buttons.append(button('Leave a voicemail', 'primary', recordVoicemail), button('Close', '', closeVoicemail));
    } else if (voicemail.state === 'greeting') {
      p.dataset.callState = 'greeting';
      say('Playing their greeting…');
      buttons.append(button('Discard', '', closeVoicemail));
    } else {
      const tick = () => say('Recording your voicemail… ' + clock(Date.now() - voicemail.started));
      tick();
      ticker = setInterval(tick, 1000);
      buttons.append(button('Send voicemail', 'primary', sendVoicemail), button('Discard', '', closeVoicemail));
    }
  }

  /** The called number's greeting (words, and a recording if it has one), for the panel. */
  async function loadGreeting(v) {
    try {
      v.greeting = await api('call_greeting', { call_id: v.id });
    } catch (_) {
      v.greeting = null; // the offer stands without it
    }
    if (voicemail === v) draw();
  }

  /** Plays the recorded greeting to its end (or until it fails): then the message. */
  function playGreeting(url) {
    return new Promise((resolve) => {
      const audio = new Audio(url);
      const done = (played) => () => {
        if (panel) panel.dataset.greetingPlayed = played ? 'true' : 'failed';
        resolve();
      };
      audio.addEventListener('ended', done(true), { once: true });
      audio.addEventListener('error', done(false), { once: true });
      audio.play().catch(done(false));
    });
  }

  async function recordVoicemail() {
    if (!voicemail || !window.MediaRecorder) throw new Error('This browser cannot record a voicemail.');
    const v = voicemail;
    if (v.greeting && v.greeting.audio_url && v.state === 'offered') {
      v.state = 'greeting';
      draw();
      await playGreeting(v.greeting.audio_url);
      if (voicemail !== v) return; // discarded while it played
    }
    const r = await startRecording();
    if (voicemail !== v) {
      stopRecording(r); // discarded while the microphone opened
      return;
    }
    Object.assign(v, { state: 'recording', ...r, started: Date.now() });
    v.limit = setTimeout(() => sendVoicemail().catch((e) => say(e.message)), VOICEMAIL_MS);
    draw();
  }

  /** The sample rate of recordings made as WAV: the telephone's (thirty seconds ≈ 480 KB). */
  const WAV_RATE = 8000;

  /** Starts recording the microphone picked in the dialer: as WebM/Ogg (MediaRecorder:
   * { recorder, stream, chunks }), or, with `wav`, as 8 kHz 16-bit mono WAV, which the
   * carriers can play to a caller (a greeting: { context, stream, samples }). */
  async function startRecording(wav) {
    if (!wav && !window.MediaRecorder) throw new Error('This browser cannot record.');
    const stream = await microphone();
    if (wav) {
      // At the device's own rate, brought down to WAV_RATE when kept: Firefox can't join a
      // microphone to a context at another rate.
      const context = new AudioContext();
      const tap = context.createScriptProcessor(4096, 1, 1);
      const samples = [];
      tap.onaudioprocess = (e) => samples.push(new Float32Array(e.inputBuffer.getChannelData(0)));
      context.createMediaStreamSource(stream).connect(tap);
      tap.connect(context.destination);
      return { context, stream, samples, rate: context.sampleRate };
    }
    const recorder = new MediaRecorder(stream);
    const chunks = [];
    recorder.addEventListener('dataavailable', (e) => e.data.size && chunks.push(e.data));
    recorder.start(250);
    return { recorder, stream, chunks };
  }

  /** `pieces` (Float32Array pieces at `rate`) brought down to WAV_RATE: each output sample
   * the mean of the input samples it stands for (which also keeps out the frequencies
   * 8 kHz can't hold). */
  function downsample(pieces, rate) {
    const input = new Float32Array(pieces.reduce((n, s) => n + s.length, 0));
    let at = 0;
    for (const piece of pieces) {
      input.set(piece, at);
      at += piece.length;
    }
    const ratio = Math.max(1, rate / WAV_RATE);
    const output = new Float32Array(Math.floor(input.length / ratio));
    for (let i = 0; i < output.length; i++) {
      const from = Math.floor(i * ratio);
      const to = Math.max(from + 1, Math.floor((i + 1) * ratio));
      let sum = 0;
      for (let j = from; j < to; j++) sum += input[j];
      output[i] = sum / (to - from);
    }
    return [output];
  }

  /** `pieces` (Float32Array pieces at `rate`) as a 16-bit mono WAV file at WAV_RATE. */
  function wavFile(pieces, rate) {
    const samples = downsample(pieces, rate);
    const count = samples.reduce((n, s) => n + s.length, 0);
    const view = new DataView(new ArrayBuffer(44 + count * 2));
    const text = (at, s) => [...s].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
    text(0, 'RIFF');
    view.setUint32(4, 36 + count * 2, true);
    text(8, 'WAVEfmt ');
    view.setUint32(16, 16, true);
    view.setUint16(20, 1, true); // PCM
    view.setUint16(22, 1, true); // mono
    view.setUint32(24, WAV_RATE, true);
    view.setUint32(28, WAV_RATE * 2, true);
    view.setUint16(32, 2, true);
    view.setUint16(34, 16, true);
    text(36, 'data');
    view.setUint32(40, count * 2, true);
    let at = 44;
    for (const piece of samples) {
      for (const x of piece) {
        view.setInt16(at, Math.max(-1, Math.min(1, x)) * 0x7fff, true);
        at += 2;
      }
    }
    return new Blob([view], { type: 'audio/wav' });
  }

  /** Posts what `r` recorded to `path`; a refusal throws the server's words. */
  async function postRecording(path, r) {
    const res = await fetch(path, {
      method: 'POST',
      body: r.samples ? wavFile(r.samples, r.rate) : new Blob(r.chunks, { type: r.recorder.mimeType || 'audio/webm' }),
    });
    if (!res.ok) {
      let value = null;
      try {
        value = await res.json();
      } catch (_) {
        /* not JSON */
      }
      throw new Error(errorWords(value));
    }
  }

  function stopRecording(v) {
    clearTimeout(v.limit);
    if (v.context) {
      v.stream.getTracks().forEach((t) => t.stop());
      return v.context.state === 'closed' ? Promise.resolve() : v.context.close();
    }
    if (!v.recorder || v.recorder.state === 'inactive') return Promise.resolve();
    const stopped = new Promise((resolve) => v.recorder.addEventListener('stop', resolve, { once: true }));
    v.recorder.stop();
    return stopped.then(() => v.stream.getTracks().forEach((t) => t.stop()));
  }

  async function sendVoicemail() {
    const v = voicemail;
    if (!v || v.state !== 'recording') return;
    voicemail = null;
    await stopRecording(v);
    say('Sending your voicemail…');
    await postRecording('/calls/' + encodeURIComponent(v.id) + '/voicemail', v);
    say('Voicemail sent.');
    draw();
  }

  function closeVoicemail() {
    const v = voicemail;
    voicemail = null;
    if (v) stopRecording(v);
    say('Call ended.');
    draw();
  }

  // ---- what a person does -------------------------------------------------------------

  async function place(numberId, to) {
    if (!numberId) throw new Error('Pick the number to call from.');
    if (!to.trim()) throw new Error('Enter the number to call.');
    // A phone outside, from a carrier's number: through that carrier's SDK.
    const carrier = await api('call_route', { number_id: numberId, to });
    if (carrier) return callOut(carrier, numberId, to);
    say('Starting the call…');
    const stream = await microphone();
    const provisional = 'new-' + Date.now();
    const pc = await peer(provisional, stream);
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, 3000);
      const id = await api('start_call', { number_id: numberId, to, tab, offer: pc.localDescription.sdp });
      held.set(id, held.get(provisional));
      held.delete(provisional);
      await look();
      return id;
    } catch (e) {
      release(provisional);
      throw e;
    }
  }

  async function answer(call) {
    if (call.carrier) return pickUp(call);
    // A redraw while answering makes a fresh Answer button; a second answer from this tab
    // would be refused, and must not tear down the first one's connection.
    if (held.has(call.id)) return;
    say('Answering…');
    const stream = await microphone();
    const pc = await peer(call.id, stream);
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: call.offer });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc, 3000);
      await api('answer_call', { call_id: call.id, tab, answer: pc.localDescription.sdp });
    } catch (e) {
      release(call.id);
      throw e;
    }
    await look();
  }

  async function decline(call) {
    await api('decline_call', { call_id: call.id });
    say('Declined.');
    await look();
  }

  async function hangUp(call) {
    await api('hang_up', { call_id: call.id });
    release(call.id);
    say('Call ended.');
    await look();
  }

  function setMuted(id) {
    const call = held.get(id);
    if (!call) return;
    call.muted = !call.muted;
    if (call.sdk) {
      call.sdk.mute(call.muted, call.held);
    } else {
      call.stream.getAudioTracks().forEach((t) => (t.enabled = !call.muted && !call.held));
    }
    draw();
  }

  /** Hold: neither side hears the other until resumed. */
  function setHeld(id) {
    const call = held.get(id);
    if (!call) return;
    call.held = !call.held;
    if (call.sdk) {
      Promise.resolve(call.sdk.hold(call.held, call.muted)).catch(() => say('Hold did not work. Try again.'));
      draw();
      return;
    }
    call.stream.getAudioTracks().forEach((t) => (t.enabled = !call.muted && !call.held));
    const audio = ensurePanel().querySelector('audio');
    audio.muted = call.held;
    draw();
  }

  function dtmf(digit) {
    for (const call of held.values()) {
      if (call.sdk) {
        call.sdk.dtmf(digit);
        continue;
      }
      const sender = call.pc.getSenders().find((s) => s.track && s.track.kind === 'audio');
      if (sender && sender.dtmf && sender.dtmf.canInsertDTMF) sender.dtmf.insertDTMF(digit, 120, 70);
    }
  }

  // ---- keeping up with the server -----------------------------------------------------

  /** Reads the calls ringing or under way and brings this tab in line with them. One look
   * runs at a time; a request during it runs one more when it ends (not one per request). */
  function look() {
    if (looking) {
      lookAgain = true;
      return looking;
    }
    looking = (async () => {
      do {
        lookAgain = false;
        try {
          await lookNow();
        } catch (e) {
          say(e.message);
        }
      } while (lookAgain);
      looking = null;
    })();
    return looking;
  }

  async function lookNow() {
    let all;
    try {
      all = await api('live_calls', { tab });
    } catch (_) {
      return; // signed out, or offline: nothing to show
    }
    const calls = all.filter((c) => c.state !== 'ended');
    const endedWords = (id) => {
      const ended = all.find((c) => c.id === id && c.state === 'ended');
      return (ended && ENDED[ended.outcome]) || 'Call ended.';
    };
    const before = known;
    known = calls;
    for (const call of calls) {
      const local = held.get(call.id);
      if (local && call.direction === 'out' && call.state === 'answered' && call.answer && !local.answerTaken) {
        local.answerTaken = true;
        // Not awaited: if the call is hung up meanwhile, the closed connection never settles
        // this promise (as the WebRTC spec has it), and a look waiting on it would stop this
        // tab from ever looking again (no more ringing, no more hang-ups seen).
        local.pc
          .setRemoteDescription({ type: 'answer', sdp: call.answer })
          .catch(() => held.get(call.id) === local && say('The call could not connect.'));
      }
    }
    // A call this tab waits for the carrier's call for that ended or went to another tab.
    // (Still ringing and not ours yet: a look that started before our claim; keep waiting.)
    if (pickingUp && pickingUp.id) {
      const now = all.find((c) => c.id === pickingUp.id);
      if (!now || now.state === 'ended' || (now.state === 'answered' && !now.here)) {
        if (pickingUp.sdk) pickingUp.sdk.hangup();
        pickingUp = null;
      }
    }
    // Calls this tab held that are over (the other side hung up, or nobody answered).
    for (const id of Array.from(held.keys())) {
      if (id.startsWith('new-')) continue;
      if (!calls.some((c) => c.id === id && (c.here || c.direction === 'in'))) {
        release(id);
        say(endedWords(id));
        // Nobody took it: the caller may leave a message.
        const ended = all.find((c) => c.id === id && c.state === 'ended' && c.direction === 'out');
        if (ended && ended.can_leave_voicemail && (ended.outcome === 'No answer' || ended.outcome === 'Declined')) {
          voicemail = { id, state: 'offered' };
          loadGreeting(voicemail);
        }
      }
    }
    // A call ringing here that someone answered elsewhere, or that stopped.
    for (const was of before) {
      if (was.direction === 'in' && was.state === 'ringing' && !was.here) {
        const now = calls.find((c) => c.id === was.id);
        if (!now) say(endedWords(was.id));
        else if (now.state === 'answered' && !now.here) say('Answered on another device.');
      }
    }
    draw();
  }

  // The dialer on the Calls page (and "Call" links that fill it) place calls from here.
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches('[data-dialer]')) return;
    event.preventDefault();
    const data = new FormData(form);
    place(String(data.get('number_id') || ''), String(data.get('to') || '')).catch((e) => say(e.message));
  });

  // ---- presence: whether the number typed in the dialer is someone here, online ------

  const PRESENCE_WORDS = {
    online: 'On this Switchboard · online now',
    offline: 'On this Switchboard · not online now: their phone rings if it gets alerts, or the call goes to voicemail',
    do_not_disturb: 'On this Switchboard · do not disturb: the call goes to voicemail',
  };
  let presenceTimer = null;
  document.addEventListener('input', (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.form || !input.form.matches('[data-dialer]') || input.name !== 'to') return;
    clearTimeout(presenceTimer);
    presenceTimer = setTimeout(() => showPresence(input.form).catch(() => {}), 300);
  });

  /** Says under the dialer's To field whether that number is someone here, and online. */
  async function showPresence(form) {
    let line = form.querySelector('[data-presence]');
    if (!line) {
      line = document.createElement('p');
      line.className = 'hint';
      line.setAttribute('data-presence', '');
      line.setAttribute('aria-live', 'polite');
      form.querySelector('[name="to"]').after(line);
    }
    const to = form.elements.to.value.trim();
    if (to.replace(/\D/g, '').length < 7) {
      line.textContent = '';
      delete line.dataset.state;
      return;
    }
    const p = await api('presence', { number_id: form.elements.number_id.value, to });
    if (form.elements.to.value.trim() !== to) return; // typed on since
    line.dataset.state = p;
    line.textContent = PRESENCE_WORDS[p] || '';
  }

  // Microphones (the dialer) and speakers (the call panel) to pick from, once the page has
  // permission to name them.
  async function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    const devices = await navigator.mediaDevices.enumerateDevices();
    // The one shown stays; else the one remembered, if this browser still has it.
    const fill = (select, kind, none, each, key) => {
      if (!select) return;
      const current = select.value;
      select.replaceChildren(new Option(none, ''));
      devices
        .filter((d) => d.kind === kind && d.deviceId && d.deviceId !== 'default')
        .forEach((d, i) => select.append(new Option(d.label || each + ' ' + (i + 1), d.deviceId)));
      const has = (id) => id && [...select.options].some((o) => o.value === id);
      select.value = has(current) ? current : has(remembered(key)) ? remembered(key) : '';
    };
    fill(document.querySelector('[data-call-microphone]'), 'audioinput', 'Default microphone', 'Microphone', MICROPHONE_KEY);
    if (panel && speakersChoosable()) {
      fill(panel.querySelector('[data-call-speaker]'), 'audiooutput', 'Default speaker', 'Speaker', SPEAKER_KEY);
    }
  }

  // ---- the speaker ----------------------------------------------------------------------

  /** Where the choice of speaker is remembered in this browser. */
  const SPEAKER_KEY = 'switchboard.speaker';

  /** Browsers that can send a page's sound to a chosen device (Chromium, Edge, Safari 18). */
  const speakersChoosable = () => typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

  const savedSpeaker = () => remembered(SPEAKER_KEY);

  /** Plays the call's sound on speaker `id` ('' the system's default). */
  async function useSpeaker(id) {
    if (!speakersChoosable()) return;
    const audio = ensurePanel().querySelector('audio');
    if (audio.sinkId !== id) await audio.setSinkId(id);
    // A carrier's SDK that plays a call through an element of its own (Twilio's).
    const calls = [...held.values()].map((c) => c.sdk);
    if (pickingUp) calls.push(pickingUp.sdk);
    await Promise.all(calls.filter((c) => c && c.speaker).map((c) => c.speaker(id)));
  }

  // ---- how each number rings (the Calls page) ---------------------------------------

  /** The ring times offered, in seconds (the server takes only these: types::RING_CHOICES). */
  const RING_CHOICES = [10, 20, 30, 45, 60, 90, 120];
  /** How long browsers ring before the forwarding phone does (types::FORWARD_AFTER_CHOICES;
   * -1, types::FORWARD_WITH_BROWSERS: both ring together). */
  const FORWARD_AFTER_CHOICES = [-1, 0, 10, 20, 30, 45, 60];
  /** What each choice says. */
  const forwardWhen = (s) =>
    s < 0 ? 'Together with browsers taking calls' : s ? 'After ringing browsers taking calls ' + s + ' seconds' : 'At once (browsers don\'t ring)';

  /** Fills the Calls page's settings card: per voice number, its ring time,
   * do-not-disturb and forwarding phone, saved with set_call_routing. */
  async function fillCallSettings(card) {
    card.dataset.filled = 'true';
    let numbers;
    try {
      numbers = (await api('my_numbers')).filter((n) => n.capabilities && n.capabilities.voice);
    } catch (e) {
      card.textContent = e.message;
      return;
    }
    card.replaceChildren();
    const heading = document.createElement('h2');
    heading.textContent = 'How your numbers ring';
    card.append(heading);
    browserPhoneSetting(card, numbers);
    if (!numbers.length) {
      const none = document.createElement('p');
      none.className = 'muted';
      none.textContent = 'None of your numbers takes calls.';
      card.append(none);
      return;
    }
    for (const n of numbers) {
      const form = document.createElement('form');
      form.className = 'stack call-settings';
      form.setAttribute('aria-label', 'Calls to ' + n.display);
      const id = 'ring-' + n.id;
      form.innerHTML =
        '<strong></strong><label for="' + id + '">Ring for</label><select id="' + id + '" name="ring_seconds"></select>' +
        '<label class="check"><input type="checkbox" name="do_not_disturb" value="true"> Do not disturb: nothing rings, callers may leave a voicemail</label>' +
        '<label class="check"><input type="checkbox" name="outside_hours" value="true"> Do not disturb outside business hours (the weekly hours under Numbers → Answering texts)</label>' +
        '<label for="forward-' + n.id + '">Forward calls to this phone</label>' +
        '<input id="forward-' + n.id + '" name="forward_to" type="tel" inputmode="tel" autocomplete="tel" maxlength="30" aria-describedby="forward-hint-' + n.id + '">' +
        '<p class="hint" id="forward-hint-' + n.id + '">Calls from the phone network ring it for the ring time (on the sandbox: the Simulator’s outside phone plays it); whoever answers hears whom the call is for and presses 1 to take it, else voicemail. Empty: voicemail.</p>' +
        '<label for="forward-after-' + n.id + '">Forward</label><select id="forward-after-' + n.id + '" name="forward_after_secs"></select>' +
        '<label for="greeting-' + n.id + '">Voicemail greeting</label>' +
        '<textarea id="greeting-' + n.id + '" name="greeting" rows="2" maxlength="300"></textarea>' +
        '<div class="greeting-recording"><button type="button" class="secondary" data-record-greeting>Record a greeting</button>' +
        '<button type="button" class="secondary" data-remove-greeting hidden>Remove the recording</button></div>' +
        '<p role="status"></p><button type="submit" class="secondary">Save</button>';
      form.querySelector('strong').textContent = n.name ? n.display + ' (' + n.name + ')' : n.display;
      const select = form.querySelector('select');
      RING_CHOICES.forEach((s) => select.append(new Option(s + ' seconds', String(s), false, s === n.ring_seconds)));
      form.elements.forward_to.value = n.forward_to || '';
      FORWARD_AFTER_CHOICES.forEach((s) =>
        form.elements.forward_after_secs.append(
          new Option(forwardWhen(s), String(s), false, s === (n.forward_after_secs || 0)),
        ),
      );
      const greeting = form.elements.greeting;
      greeting.value = n.greeting_text || '';
      greeting.placeholder = "You've reached " + (n.name || n.display) + '. Leave a message after the tone.';
      greetingRecorder(form, n);
      const dnd = form.elements.do_not_disturb;
      const scheduled = form.elements.outside_hours;
      dnd.checked = !!n.do_not_disturb;
      scheduled.checked = !!n.dnd_outside_hours;
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        const status = form.querySelector('[role=status]');
        const fields = {
          number_id: n.id,
          ring_seconds: select.value,
          forward_to: form.elements.forward_to.value,
          forward_after_secs: form.elements.forward_after_secs.value,
        };
        if (dnd.checked) fields.do_not_disturb = 'true';
        if (scheduled.checked) fields.outside_hours = 'true';
        const said = dnd.checked ? 'Saved: do not disturb.' : scheduled.checked ? 'Saved: do not disturb outside business hours.' : 'Saved.';
        api('set_call_routing', fields)
          .then(() => api('set_greeting', { number_id: n.id, text: greeting.value }))
          .then(() => (status.textContent = said))
          .catch((e) => (status.textContent = e.message));
      });
      card.append(form);
    }
  }

  /** For numbers on a carrier whose calls a browser can take (Telnyx, Twilio): whether this
   * browser rings for them. Until one browser of the user is set up, their calls from the
   * phone network go to forwarding or voicemail. */
  function browserPhoneSetting(card, numbers) {
    // Every carrier of hers whose calls a browser can take (a user may have both).
    const carriers = Object.keys(CARRIER_SDKS).filter((c) => numbers.some((n) => n.carrier === c));
    if (!carriers.length) return;
    const part = document.createElement('div');
    part.className = 'stack browser-phone';
    part.innerHTML =
      '<p class="hint">Calls from the phone network to your numbers can ring this browser too: you answer them here.</p>' +
      '<div class="greeting-recording"><button type="button" class="secondary" data-take-calls>Take phone calls in this browser</button>' +
      '<button type="button" class="secondary" data-stop-calls>Stop taking phone calls in browsers</button></div>' +
      '<p role="status" data-browser-phone-status></p>';
    const button = part.querySelector('[data-take-calls]');
    const stop = part.querySelector('[data-stop-calls]');
    const status = part.querySelector('[role=status]');
    let on = false;
    try {
      on = localStorage.getItem('switchboard.browser-phone') === carriers.join(',');
    } catch (_) {
      /* storage off */
    }
    if (on) status.textContent = 'This browser rings for calls from the phone network.';
    button.addEventListener('click', () => {
      button.disabled = true;
      status.textContent = 'Setting up this browser…';
      takeCallsHere(carriers)
        .then(() => (status.textContent = 'This browser rings for calls from the phone network.'))
        .catch((e) => (status.textContent = e.message))
        .finally(() => (button.disabled = false));
    });
    stop.addEventListener('click', () => {
      stop.disabled = true;
      api('forget_browser_phones')
        .then(() => {
          for (const entry of carrierClients.values()) entry.client.then((c) => c.disconnect && c.disconnect()).catch(() => {});
          carrierClients.clear();
          try {
            localStorage.removeItem('switchboard.browser-phone');
          } catch (_) {
            /* storage off */
          }
          status.textContent = 'Browsers no longer ring: your calls go to forwarding or voicemail.';
        })
        .catch((e) => (status.textContent = e.message))
        .finally(() => (stop.disabled = false));
    });
    card.append(part);
  }

  /** A number's recorded greeting: record (thirty seconds at most, from the microphone
   * picked in the dialer), stop to keep it, or remove it. */
  function greetingRecorder(form, n) {
    const record = form.querySelector('[data-record-greeting]');
    const remove = form.querySelector('[data-remove-greeting]');
    const status = form.querySelector('[role=status]');
    let recording = null;
    const show = (recorded) => {
      remove.hidden = !recorded;
      record.textContent = recorded ? 'Record it again' : 'Record a greeting';
    };
    show(n.greeting_recorded);
    async function stop() {
      const r = recording;
      recording = null;
      await stopRecording(r);
      status.textContent = 'Saving the greeting…';
      await postRecording('/numbers/' + encodeURIComponent(n.id) + '/greeting', r);
      status.textContent = 'Greeting recorded: callers hear it before leaving a message.';
      show(true);
    }
    record.addEventListener('click', async () => {
      try {
        if (recording) {
          await stop();
          return;
        }
        // As WAV: the carriers play it to callers from the phone network too.
        recording = await startRecording(true);
        recording.limit = setTimeout(() => stop().catch((e) => (status.textContent = e.message)), 30_000);
        record.textContent = 'Stop and keep it';
        status.textContent = 'Recording your greeting… (thirty seconds at most)';
      } catch (e) {
        status.textContent = e.message;
      }
    });
    remove.addEventListener('click', async () => {
      try {
        await api('remove_greeting_recording', { number_id: n.id });
        status.textContent = 'Recording removed: callers see the greeting words.';
        show(false);
      } catch (e) {
        status.textContent = e.message;
      }
    });
  }

  // The card appears when the Calls page does (any navigation): fill it once. So does the
  // dialer, whose microphones are listed then (named once this site may use one), and
  // whose Call button is enabled then.
  const findCallSettings = () => {
    // The dialer's Call button is drawn disabled until this script can place the call.
    for (const button of document.querySelectorAll('form[data-dialer] button[type=submit][disabled]')) {
      button.disabled = false;
    }
    const card = document.querySelector('[data-call-settings]:not([data-filled])');
    if (card) fillCallSettings(card);
    const microphones = document.querySelector('[data-call-microphone]:not([data-listed])');
    if (microphones) {
      microphones.dataset.listed = 'true';
      listDevices().catch(() => {});
    }
  };
  new MutationObserver(findCallSettings).observe(document.body, { childList: true, subtree: true });
  findCallSettings();

  window.SwitchboardCalls = {
    /** The live stream said calls changed. */
    changed() {
      look();
      listDevices().catch(() => {});
    },
    place,
    /** For diagnostics and tests: the connection of call `id` (or of the first call this
     * tab holds). */
    connection(id) {
      if (id) return held.has(id) ? held.get(id).pc : null;
      const first = held.values().next();
      return first.done ? null : first.value.pc;
    },
  };
  // A tab opened while a call rings (from a notification) shows it at once.
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => window.SwitchboardCalls.changed());
  else window.SwitchboardCalls.changed();
})();
