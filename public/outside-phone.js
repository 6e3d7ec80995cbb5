// The Simulator's outside phone (sandbox, admins): a phone outside this Switchboard. It
// calls one of our numbers from any number, answers or declines the calls our people place
// to numbers outside, and leaves a voicemail when nobody answers. Its voice is a steady
// tone (Web Audio), so a test can tell it from the other side's. The server keeps the
// call's state (app/src/server/calls/outside.rs); this script is its WebRTC side and looks
// at the outside phone's calls every second while the Simulator page is open. Plain JS,
// loaded only by that page, so the app's WASM carries none of it.
(function () {
  'use strict';
  if (window.SwitchboardOutsidePhone) {
    window.SwitchboardOutsidePhone.mount();
    return;
  }
  const tab = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + String(Date.now());
  /** Calls whose audio this page holds, by id: { pc, tone, audio } */
  const held = new Map();
  let root = null;
  let timer = 0;
  let looking = false;
  /** A voicemail is this long: enough to hear, short enough for a test. */
  const VOICEMAIL_MS = 3000;

  // Server functions through public/api.js (loaded before this script by the page).
  const { api } = window.SwitchboardApi;

  function say(words) {
    if (root) root.querySelector('[data-outside-status]').textContent = words;
  }

  /** The outside phone's voice: a sine at the frequency in the form. */
  function voice() {
    const hz = Number(root.querySelector('[name=tone]').value) || 660;
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.frequency.value = hz;
    const gain = ctx.createGain();
    gain.gain.value = 0.3;
    const out = ctx.createMediaStreamDestination();
    osc.connect(gain).connect(out);
    osc.start();
    return { ctx, stream: out.stream };
  }

  /** Waits until the local description holds its network candidates (one message each way). */
  function gathered(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 3000);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') {
          clearTimeout(t);
          resolve();
        }
      });
    });
  }

  async function connect(id) {
    const tone = voice();
    const pc = new RTCPeerConnection({ iceServers: [] });
    tone.stream.getTracks().forEach((t) => pc.addTrack(t, tone.stream));
    const audio = document.createElement('audio');
    audio.autoplay = true;
    pc.addEventListener('track', (e) => {
      audio.srcObject = e.streams[0];
      audio.play().catch(() => {});
    });
    held.set(id, { pc, tone, audio });
    return pc;
  }

  function release(id) {
    const call = held.get(id);
    if (!call) return;
    call.pc.close();
    call.tone.ctx.close();
    call.audio.remove();
    held.delete(id);
  }

  async function callUs(from, to) {
    say('Calling…');
    const provisional = 'new-' + Date.now();
    const pc = await connect(provisional);
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const id = await api('simulate_call', { from, to, offer: pc.localDescription.sdp });
      held.set(id, held.get(provisional));
      held.delete(provisional);
      say('Ringing…');
    } catch (e) {
      release(provisional);
      throw e;
    }
    await look();
  }

  async function answer(call) {
    if (held.has(call.id)) return;
    const pc = await connect(call.id);
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: call.offer });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
      await api('outside_answer', { call_id: call.id, tab, answer: pc.localDescription.sdp });
    } catch (e) {
      release(call.id);
      throw e;
    }
    await look();
  }

  /** A call forwarded to the outside phone: picked up to hear its whisper (between two
   * outside phones the sandbox carries no sound). */
  async function pickUp(call) {
    await api('outside_answer', { call_id: call.id, tab, answer: '' });
    await look();
  }

  async function press(call, digits) {
    await api('outside_press', { call_id: call.id, digits });
    await look();
  }

  async function hangUp(call) {
    await api('outside_hang_up', { call_id: call.id });
    release(call.id);
    await look();
  }

  /** Hears the called number's greeting (its words; its recording played to the end),
   * as a caller would before the tone. */
  async function hearGreeting(call) {
    const greeting = await api('outside_greeting', { call_id: call.id });
    const heard = root.querySelector('[data-outside-greeting]') || document.createElement('p');
    heard.setAttribute('data-outside-greeting', '');
    heard.className = 'muted';
    heard.textContent = 'Greeting: “' + greeting.text + '”';
    root.querySelector('[data-outside-status]').after(heard);
    if (!greeting.audio_url) return;
    say('Hearing the greeting…');
    await new Promise((resolve) => {
      const audio = new Audio(greeting.audio_url);
      audio.addEventListener('ended', resolve, { once: true });
      audio.addEventListener('error', resolve, { once: true });
      audio.play().catch(resolve);
    });
  }

  /** Records the outside phone's voice for a few seconds and leaves it as a voicemail. */
  async function leaveVoicemail(call) {
    if (!window.MediaRecorder) throw new Error('This browser cannot record a voicemail.');
    await hearGreeting(call);
    say('Leaving a voicemail…');
    const tone = voice();
    const recorder = new MediaRecorder(tone.stream);
    const chunks = [];
    recorder.addEventListener('dataavailable', (e) => e.data.size && chunks.push(e.data));
    const stopped = new Promise((resolve) => recorder.addEventListener('stop', resolve, { once: true }));
    recorder.start(250);
    await new Promise((r) => setTimeout(r, VOICEMAIL_MS));
    recorder.stop();
    await stopped;
    tone.ctx.close();
    const res = await fetch('/simulator/calls/' + encodeURIComponent(call.id) + '/voicemail', {
      method: 'POST',
      body: new Blob(chunks, { type: recorder.mimeType || 'audio/webm' }),
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
    say('Voicemail left.');
    await look();
  }

  function button(label, action) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.addEventListener('click', () => {
      b.disabled = true;
      Promise.resolve(action())
        .catch((e) => say(e.message))
        .finally(() => (b.disabled = false));
    });
    return b;
  }

  function draw(calls) {
    const list = root.querySelector('[data-outside-calls]');
    list.replaceChildren();
    for (const call of calls) {
      const item = document.createElement('li');
      item.className = 'outside-call';
      item.dataset.callId = call.id;
      item.dataset.callState = call.state;
      const words =
        call.direction === 'out'
          ? 'To ' + call.ours_display + ' from ' + call.outside_display
          : call.direction === 'forwarded'
            ? 'Forwarded to ' + call.outside_display + ' from ' + call.ours_display
            : 'Call from ' + call.ours_display + ' to ' + call.outside_display;
      const state = call.state === 'ended' ? call.outcome || 'Ended' : call.state === 'ringing' ? 'Ringing' : 'Talking';
      const text = document.createElement('span');
      text.textContent = words + ' · ' + state;
      item.append(text);
      if (call.state === 'ringing' && call.direction === 'forwarded') {
        item.append(button('Answer', () => pickUp(call)), button('Decline', () => hangUp(call)));
      } else if (call.state === 'ringing' && call.direction === 'in') {
        item.append(button('Answer', () => answer(call)), button('Decline', () => hangUp(call)));
      } else if (call.whisper) {
        const heard = document.createElement('p');
        heard.setAttribute('data-outside-whisper', '');
        heard.textContent = 'It says: “' + call.whisper + '”';
        item.append(heard, button('Press 1', () => press(call, '1')), button('Press 2', () => press(call, '2')));
        item.append(button('Hang up', () => hangUp(call)));
      } else if (call.state !== 'ended') {
        item.append(button('Hang up', () => hangUp(call)));
      } else if (call.voicemail_possible) {
        item.append(button('Leave a voicemail', () => leaveVoicemail(call)));
      }
      const local = held.get(call.id);
      if (local) item.append(local.audio);
      list.append(item);
    }
  }

  async function look() {
    if (looking || !root) return;
    looking = true;
    try {
      const calls = await api('outside_calls');
      for (const call of calls) {
        const local = held.get(call.id);
        if (local && call.direction === 'out' && call.answer && !local.pc.remoteDescription) {
          await local.pc.setRemoteDescription({ type: 'answer', sdp: call.answer });
        }
      }
      for (const id of Array.from(held.keys())) {
        if (!id.startsWith('new-') && !calls.some((c) => c.id === id && c.state !== 'ended')) release(id);
      }
      draw(calls);
    } catch (e) {
      say(e.message);
      // A carrier is set up: there is no outside phone to play, so stop asking.
      if (/sandbox/.test(e.message)) clearInterval(timer);
    } finally {
      looking = false;
    }
  }

  function tick() {
    if (!root || !document.body.contains(root)) {
      // The page went: its calls go with it.
      clearInterval(timer);
      timer = 0;
      root = null;
      Array.from(held.keys()).forEach(release);
      return;
    }
    look();
  }

  /** Finds the Simulator's outside-phone section and fills it (again, after a navigation). */
  function mount(tries) {
    const el = document.querySelector('[data-outside-phone]');
    if (!el) {
      if ((tries || 0) < 50) requestAnimationFrame(() => mount((tries || 0) + 1));
      return;
    }
    if (el === root) return;
    root = el;
    root.innerHTML =
      '<form class="stack" data-outside-dial>' +
      '<label for="outside-from">From (any number outside)</label>' +
      '<input id="outside-from" name="from" type="tel" value="+1 202 555 0147" required>' +
      '<label for="outside-to">To (one of our numbers)</label>' +
      '<input id="outside-to" name="to" type="tel" required>' +
      '<label for="outside-tone">Its voice: a tone of (Hz)</label>' +
      '<input id="outside-tone" name="tone" type="number" min="100" max="4000" value="660">' +
      '<button type="submit">Call</button></form>' +
      '<p role="status" data-outside-status></p>' +
      '<ul class="outside-calls" data-outside-calls></ul>';
    root.querySelector('form').addEventListener('submit', (event) => {
      event.preventDefault();
      const data = new FormData(event.target);
      callUs(String(data.get('from')), String(data.get('to'))).catch((e) => say(e.message));
    });
    clearInterval(timer);
    timer = setInterval(tick, 1000);
    look();
  }

  window.SwitchboardOutsidePhone = { mount, connection: (id) => (held.get(id) || {}).pc || null };
  mount();
})();
