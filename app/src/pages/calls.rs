//! Calls: a dialer (from which of your numbers, to whom, which microphone) and the call log.
//! The call itself (ringing, audio, mute, hold, keypad, hang up) is public/calls.js's panel,
//! which shows over any page; the dialer form is what it places calls from.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::calls::CallLog;
use crate::api::numbers::MyNumbers;
use crate::live::Live;
use crate::pages::widgets::error_note;
use crate::types::format_instant;
use crate::wire::Loaded;

#[component]
pub fn CallsPage() -> impl IntoView {
    view! {
        <Title text="Calls" />
        <section class="page">
            <h1>"Calls"</h1>
            <Dialer />
            // How each number rings (ring time, do-not-disturb): filled by public/calls.js
            // from `my_numbers`, saved with `set_call_routing`; plain JS keeps it out of
            // the first-load WASM.
            <div class="card" data-call-settings></div>
            <Log />
        </section>
    }
}

#[component]
fn Dialer() -> impl IntoView {
    let query = use_query_map();
    // "Call" from a conversation or the log fills the form: ?to=…&from=<number id>.
    let to = move || query.with(|q| q.get("to").unwrap_or_default());
    let from = move || query.with(|q| q.get("from").unwrap_or_default());
    let numbers = Loaded::new(|| MyNumbers {});
    view! {
        <div class="card">
            <h2>"Call"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match numbers.await {
                        Ok(list) => {
                            let voice: Vec<_> = list.into_iter().filter(|n| n.capabilities.voice).collect();
                            if voice.is_empty() {
                                return view! {
                                    <p class="muted">"None of your numbers takes calls. Get one under Numbers."</p>
                                }.into_any();
                            }
                            let chosen = from();
                            view! {
                                <form class="stack dialer" data-dialer="" action="/calls" method="get">
                                    <label for="call-from">"From"</label>
                                    <select id="call-from" name="number_id">
                                        {voice.into_iter().map(|n| {
                                            let selected = n.id == chosen;
                                            let label = if n.name.is_empty() { n.display.clone() } else { format!("{} ({})", n.display, n.name) };
                                            view! { <option value=n.id selected=selected>{label}</option> }
                                        }).collect_view()}
                                    </select>
                                    <label for="call-to">"To"</label>
                                    <input id="call-to" name="to" type="tel" inputmode="tel" autocomplete="tel" required value=to() placeholder="(202) 555-0123" />
                                    <label for="call-microphone">"Microphone"</label>
                                    <select id="call-microphone" data-call-microphone="">
                                        <option value="">"Default microphone"</option>
                                    </select>
                                    // Calls are placed by public/calls.js, which the page fetches once
                                    // it is live: the button waits for it (a click before that was a
                                    // plain reload of this page that called no one).
                                    <button type="submit" class="primary" disabled=true>"Call"</button>
                                </form>
                            }.into_any()
                        }
                        Err(e) => error_note(e),
                    }
                })}
            </Transition>
        </div>
    }
}

fn duration_words(secs: i64) -> String {
    if secs < 60 {
        format!("{secs} s")
    } else {
        format!("{} min {} s", secs / 60, secs % 60)
    }
}

#[component]
fn Log() -> impl IntoView {
    let live = Live::get();
    // Search: a GET form (`?log=`), so it works (and can be bookmarked) without JavaScript.
    let query = use_query_map();
    let search = Memo::new(move |_| query.read().get("log").unwrap_or_default());
    // Seen in the browser, not in the server's render (see `call_log`): once the page
    // shows, the log is read again, seeing its missed calls.
    let seen = RwSignal::new(0u32);
    let log = Loaded::new(move || {
        live.calls.track();
        seen.track();
        CallLog {
            search: search.get(),
            keep_unseen: cfg!(feature = "ssr"),
        }
    });
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| seen.update(|n| *n += 1));
    view! {
        <div class="card">
            <h2>"Call log"</h2>
            <form method="get" action="/calls" class="search" role="search">
                <label for="log-search" class="visually-hidden">"Search calls"</label>
                <input id="log-search" name="log" type="search" placeholder="Name, number or words" maxlength="100" value=move || search.get() />
                <button type="submit" class="secondary">"Search calls"</button>
            </form>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match log.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="muted">{if search.get_untracked().is_empty() { "No calls yet." } else { "No calls match." }}</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="rows" aria-label="Call log">
                                {list.into_iter().map(|c| {
                                    let arrow = if c.direction == "in" { "Incoming" } else { "Outgoing" };
                                    let duration = c.duration_secs.map(duration_words);
                                    // A withheld number ("anonymous") is not one to call back.
                                    let again = c.number_id.as_ref().filter(|_| c.peer.starts_with('+')).map(|n| format!("/calls?to={}&from={n}", c.peer.replace('+', "%2B")));
                                    let texts = c.conversation_id.as_ref().map(|id| format!("/inbox/{id}"));
                                    let missed = c.outcome == "Missed";
                                    let voicemail = c.voicemail_id.as_ref().map(|id| format!("/media/{id}"));
                                    view! {
                                        <li class="row call" class:missed=missed>
                                            <div>
                                                <strong class="e164">{c.peer_display.clone()}</strong>
                                                <div class="muted">
                                                    {format!("{arrow} · {} · your {} · {}", c.outcome, c.number_display, format_instant(c.created_at))}
                                                    {duration.map(|d| format!(" · {d}"))}
                                                </div>
                                                // Always there (hidden when empty), as the transcript below.
                                                <p class="muted reason" hidden=c.reason.is_none()>{c.reason.clone().unwrap_or_default()}</p>
                                                // Always there (hidden when empty): an optional child here
                                                // broke hydration (see below).
                                                <p class="transcript" hidden=c.transcript.is_none()>{c.transcript.clone().unwrap_or_default()}</p>
                                            </div>
                                            <div class="actions">
                                                // With the other optional actions: as an optional child
                                                // after the muted line, it broke hydration (tachys).
                                                {voicemail.map(|src| view! { <audio class="voicemail" controls preload="none" src=src aria-label="Voicemail"></audio> })}
                                                {again.map(|href| view! { <a class="button secondary" href=href>"Call back"</a> })}
                                                {texts.map(|href| view! { <a class="button secondary" href=href>"Texts"</a> })}
                                            </div>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => error_note(e),
                    }
                })}
            </Transition>
        </div>
    }
}
