//! Admin → Sandbox simulator.

use leptos::prelude::*;

/// The sandbox carrier's controls: what an outside phone or the carrier would do. Both
/// parts are plain JS, fetched only on this page once it is live (the app's WASM carries
/// none of it): public/simulator.js (texts in, failures) and public/outside-phone.js (the
/// outside phone: WebRTC, a tone for a voice) fill the sections below.
#[component]
pub fn Simulator() -> impl IntoView {
    crate::live::page_script("/simulator.js");
    crate::live::page_script("/outside-phone.js");
    view! {
        <div class="card">
            <h2>"Sandbox simulator"</h2>
            <p class="muted">"Pretend to be an outside phone, or the carrier. Also on the command line: "<code>"switchboard sandbox --help"</code></p>
            <div class="stack" data-simulator=""></div>
            <h3>"Outside phone: call or be called"</h3>
            <p class="muted">"Calls one of our numbers, and rings when someone here calls a number outside."</p>
            <div class="stack" data-outside-phone></div>
        </div>
    }
}
