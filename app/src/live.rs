//! Live updates in the browser: one EventSource on `/events` per tab. Each event says what
//! changed (the conversation list, a conversation's messages, the numbers), and pages key
//! their data on that topic alone: a text arriving in one conversation reloads that
//! thread and the list, not the numbers, and no other thread. Bursts coalesce: changes are
//! gathered for a moment and applied together, at most about once a second, so a thousand
//! texts cost an open tab a handful of refetches rather than thousands.
//! The browser reconnects by itself after a dropped connection and sends `Last-Event-ID`;
//! the server replays what the tab missed (or says `resync` when it can't). A refused
//! connection (a 503 from a restarting server, a 401 after a sign-out elsewhere) ends an
//! EventSource for good, so this opens a new one with backoff, naming the last event seen,
//! and refetches everything once it is back.

use std::collections::HashMap;

use leptos::prelude::*;

/// The first change of a burst waits this long for the rest of it.
#[cfg(feature = "hydrate")]
const GATHER_MS: f64 = 100.0;
/// Changes are applied at most this often: a tab still shows a change within about a second.
#[cfg(feature = "hydrate")]
const MIN_GAP_MS: f64 = 1000.0;

#[derive(Clone, Copy)]
pub struct Live {
    /// The conversation list or unread counts changed.
    pub conversations: RwSignal<u64>,
    /// The user's numbers changed.
    pub numbers: RwSignal<u64>,
    /// Calls rang, were answered or ended (the call log, the missed-calls count).
    pub calls: RwSignal<u64>,
    /// Per conversation, how often its messages changed (read through [`Live::thread`]).
    threads: RwSignal<HashMap<String, u64>>,
    /// Everything may have changed (a resync; back after a failure).
    everything: RwSignal<u64>,
    /// What changed since the last time changes were applied (the browser's: the server
    /// renders once and hears no events).
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pending: StoredValue<Pending>,
    started: StoredValue<bool>,
}

#[derive(Default)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
struct Pending {
    conversations: bool,
    numbers: bool,
    calls: bool,
    threads: Vec<String>,
    everything: bool,
    scheduled: bool,
    last_applied_ms: f64,
}

/// What one event says (the server's `LiveEvent`, read leniently: unknown kinds refetch all).
#[cfg(feature = "hydrate")]
#[derive(miniserde::Deserialize)]
struct Said {
    kind: String,
    conversation_id: Option<String>,
}

impl Live {
    pub fn provide() -> Live {
        let live = Live {
            conversations: RwSignal::new(0),
            numbers: RwSignal::new(0),
            calls: RwSignal::new(0),
            threads: RwSignal::new(HashMap::new()),
            everything: RwSignal::new(0),
            pending: StoredValue::new(Pending::default()),
            started: StoredValue::new(false),
        };
        provide_context(live);
        live
    }

    pub fn get() -> Live {
        use_context::<Live>().unwrap_or_else(Live::provide)
    }

    /// Changes whenever the messages of conversation `id` change (and after a resync):
    /// track it to reload one thread, and only for its own messages.
    pub fn thread(self, id: Memo<String>) -> Memo<u64> {
        Memo::new(move |_| {
            let own = self
                .threads
                .with(|t| t.get(&id.get()).copied().unwrap_or(0));
            own + self.everything.get()
        })
    }

    /// Notes what an event (its JSON) says changed; applies it soon, with whatever follows.
    #[cfg(feature = "hydrate")]
    fn heard(self, data: Option<&str>) {
        let said = data.and_then(|d| miniserde::json::from_str::<Said>(d).ok());
        self.pending.update_value(|p| match said {
            Some(Said { kind, .. }) if kind == "conversations" => p.conversations = true,
            Some(Said { kind, .. }) if kind == "numbers" => p.numbers = true,
            Some(Said { kind, .. }) if kind == "calls" => {
                // A ringing phone can't wait for the next batch: the call panel looks now.
                calls_changed();
                p.calls = true
            }
            Some(Said {
                kind,
                conversation_id: Some(id),
            }) if kind == "message" => {
                if !p.threads.contains(&id) {
                    p.threads.push(id)
                }
            }
            _ => p.everything = true,
        });
        self.schedule();
    }

    #[cfg(feature = "hydrate")]
    fn refetch_everything(self) {
        self.pending.update_value(|p| p.everything = true);
        self.schedule();
    }

    #[cfg(feature = "hydrate")]
    fn schedule(self) {
        let wait = self.pending.try_update_value(|p| {
            if p.scheduled {
                return None;
            }
            p.scheduled = true;
            let now = js_sys::Date::now();
            Some(GATHER_MS.max(p.last_applied_ms + MIN_GAP_MS - now))
        });
        if let Some(Some(wait)) = wait {
            set_timeout(
                move || self.apply(),
                std::time::Duration::from_millis(wait as u64),
            );
        }
    }

    /// Bumps the topics that changed since the last time, once each.
    #[cfg(feature = "hydrate")]
    fn apply(self) {
        let Some(p) = self.pending.try_update_value(|p| {
            let last_applied_ms = js_sys::Date::now();
            std::mem::replace(
                p,
                Pending {
                    last_applied_ms,
                    ..Pending::default()
                },
            )
        }) else {
            return;
        };
        if p.everything {
            self.everything.update(|v| *v += 1);
        }
        if p.conversations || p.everything {
            self.conversations.update(|v| *v += 1);
        }
        if p.numbers || p.everything {
            self.numbers.update(|v| *v += 1);
        }
        if p.calls || p.everything {
            self.calls.update(|v| *v += 1);
        }
        if p.everything {
            calls_changed();
        }
        if !p.threads.is_empty() {
            self.threads.update(|t| {
                for id in p.threads {
                    *t.entry(id).or_default() += 1;
                }
            });
        }
    }

    /// Opens the stream once per tab (the browser only; the server renders without it).
    pub fn start(self) {
        if self.started.get_value() {
            return;
        }
        self.started.set_value(true);
        #[cfg(feature = "hydrate")]
        load_signed_in_scripts();
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            use futures::StreamExt;
            use gloo_net::eventsource::{futures::EventSource, State};
            let mut last_id = String::new();
            let mut failures = 0u32;
            loop {
                let url = if last_id.is_empty() {
                    // How long ago this page was asked for: the server replays what
                    // happened since, which the page's data may not hold.
                    let age = web_sys::window()
                        .and_then(|w| w.performance())
                        .map(|p| p.now() as i64)
                        .unwrap_or(0);
                    format!("/events?age={age}")
                } else {
                    format!("/events?after={last_id}")
                };
                if let Ok(mut source) = EventSource::new(&url) {
                    if let Ok(mut events) = source.subscribe("live") {
                        if failures > 0 {
                            // Back after a failure: whatever was missed, show it now.
                            self.refetch_everything();
                        }
                        while let Some(event) = events.next().await {
                            match event {
                                Ok((_, message)) => {
                                    failures = 0;
                                    last_id = message.last_event_id();
                                    self.heard(message.data().as_string().as_deref());
                                }
                                // The browser retries a dropped stream by itself; a closed
                                // one is ours to reopen.
                                Err(_) if source.state() == State::Closed => break,
                                Err(_) => {}
                            }
                        }
                    }
                    source.close();
                }
                failures += 1;
                // 1 s, 2 s, 4 s … 30 s.
                let wait = 1000u32.saturating_mul(1 << failures.min(5)).min(30_000);
                sleep_ms(wait).await;
            }
        });
    }
}

/// Loads what only a signed-in tab uses: public/calls.js (the call panel and WebRTC, so an
/// incoming call rings on whatever page is open) and public/push.js (turning alerts on in
/// Settings). Not in the page itself, so the sign-in page and a first visit fetch neither.
#[cfg(feature = "hydrate")]
fn load_signed_in_scripts() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    for src in ["/calls.js", "/push.js"] {
        load_script(&document, src);
    }
}

/// Fetches a page's plain-JS part (`src`, from public/) once the page is live in this tab;
/// it fills the page's `data-…` element itself. One effect for every such page.
pub fn page_script(src: &'static str) {
    #[cfg(feature = "hydrate")]
    leptos::prelude::Effect::new(move || {
        if let Some(document) = web_sys::window().and_then(|w| w.document()) {
            // public/api.js first: the page scripts call server functions through it.
            load_script(&document, "/api.js");
            load_script(&document, src);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = src;
}

/// Runs the script at `src` (from public/) in this tab: a page's plain-JS part, fetched only
/// where it is used. Scripts loaded this way run in the order they were asked for (not
/// `async`). A script loaded before runs again (each checks for itself).
#[cfg(feature = "hydrate")]
pub fn load_script(document: &web_sys::Document, src: &str) {
    if let (Ok(script), Some(head)) = (document.create_element("script"), document.head()) {
        let _ = script.set_attribute("src", src);
        let _ = js_sys::Reflect::set(&script, &"async".into(), &false.into());
        let _ = head.append_child(&script);
    }
}

/// Tells public/calls.js that calls changed (`window.SwitchboardCalls.changed()`), if it
/// has loaded; when it loads, it looks by itself.
#[cfg(feature = "hydrate")]
fn calls_changed() {
    use wasm_bindgen::{JsCast, JsValue};
    let Some(window) = web_sys::window() else {
        return;
    };
    let api = js_sys::Reflect::get(&window, &JsValue::from_str("SwitchboardCalls"))
        .unwrap_or(JsValue::UNDEFINED);
    if let Ok(changed) = js_sys::Reflect::get(&api, &JsValue::from_str("changed")) {
        if let Ok(changed) = changed.dyn_into::<js_sys::Function>() {
            let _ = changed.call0(&api);
        }
    }
}

/// Waits `ms` milliseconds (the browser's timer; no timer crate in the bundle).
#[cfg(feature = "hydrate")]
async fn sleep_ms(ms: u32) {
    let (done, wait) = futures::channel::oneshot::channel::<()>();
    leptos::prelude::set_timeout(
        move || {
            let _ = done.send(());
        },
        std::time::Duration::from_millis(ms.into()),
    );
    let _ = wait.await;
}
