#![recursion_limit = "256"]
//! The browser entry point: hydrates the server-rendered page.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
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
