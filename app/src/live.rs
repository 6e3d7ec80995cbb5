//! Live updates in the browser: one EventSource on `/events` per tab; every event bumps a
//! version that pages key their data on, so what they show is refetched within a moment.
//! The browser reconnects by itself and sends `Last-Event-ID`; the server replays what the
//! tab missed.

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
            let Ok(mut source) = gloo_net::eventsource::futures::EventSource::new("/events") else {
                return;
            };
            let Ok(mut events) = source.subscribe("live") else {
                return;
            };
            while let Some(event) = events.next().await {
                if event.is_ok() {
                    self.version.update(|v| *v += 1);
                }
            }
            drop(source);
        });
    }
}
