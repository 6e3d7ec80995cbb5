//! Live updates in the browser: one EventSource on `/events` per tab; every event bumps a
//! version that pages key their data on, so what they show is refetched within a moment.
//! The browser reconnects by itself after a dropped connection and sends `Last-Event-ID`;
//! the server replays what the tab missed (or says `resync` when it can't). A refused
//! connection (a 503 from a restarting server, a 401 after a sign-out elsewhere) ends an
//! EventSource for good, so this opens a new one with backoff, naming the last event seen,
//! and refetches everything once it is back.

use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct Live {
    pub version: RwSignal<u64>,
    started: StoredValue<bool>,
}

impl Live {
    pub fn provide() -> Live {
        let live = Live {
            version: RwSignal::new(0),
            started: StoredValue::new(false),
        };
        provide_context(live);
        live
    }

    pub fn get() -> Live {
        use_context::<Live>().unwrap_or_else(Live::provide)
    }

    /// Opens the stream once per tab (the browser only; the server renders without it).
    pub fn start(self) {
        if self.started.get_value() {
            return;
        }
        self.started.set_value(true);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            use futures::StreamExt;
            use gloo_net::eventsource::{futures::EventSource, State};
            let mut last_id = String::new();
            let mut failures = 0u32;
            loop {
                let url = if last_id.is_empty() {
                    "/events".to_string()
                } else {
                    format!("/events?after={last_id}")
                };
                if let Ok(mut source) = EventSource::new(&url) {
                    if let Ok(mut events) = source.subscribe("live") {
                        if failures > 0 {
                            // Back after a failure: whatever was missed, show it now.
                            self.version.update(|v| *v += 1);
                        }
                        while let Some(event) = events.next().await {
                            match event {
                                Ok((_, message)) => {
                                    failures = 0;
                                    last_id = message.last_event_id();
                                    self.version.update(|v| *v += 1);
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
