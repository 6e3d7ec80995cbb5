#![recursion_limit = "256"]
//! The browser entry point: hydrates the server-rendered page.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // A panic says where in the console. Debug builds give the whole message; a release
    // build names only the place, as the message formatting cost first visits 0.5 KB.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    #[cfg(not(debug_assertions))]
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        web_sys::console::error_1(
            &format!("Switchboard stopped ({place}). Reload the page.").into(),
        );
    }));
    leptos::mount::hydrate_body(app::App);
    let Some(window) = web_sys::window() else {
        return;
    };
    // Marks the page as interactive (end-to-end tests wait for it before clicking, so they
    // exercise the hydrated app rather than the plain-form fallback).
    if let Some(body) = window.document().and_then(|d| d.body()) {
        let _ = body.set_attribute("data-hydrated", "true");
    }
    // The service worker: push alerts and the offline page.
    let _ = window.navigator().service_worker().register("/sw.js");
}
