//! Admin → Sandbox simulator.

use leptos::prelude::*;

use crate::api::numbers::AllNumbers;
use crate::api::simulator::{
    RecentOutbound, SimulateFailure, SimulateInbound, SimulateNextFailure,
};
use crate::live::Live;
use crate::wire::{FormAction, FormError, Loaded, PostForm};

/// The sandbox carrier's controls: what an outside phone or the carrier would do.
#[component]
pub fn Simulator() -> impl IntoView {
    let live = Live::get();
    // The outside phone (WebRTC, a tone for a voice) is public/outside-phone.js: plain JS,
    // fetched only on this page once it is live, which fills the section below.
    crate::live::page_script("/outside-phone.js");
    let inbound = FormAction::new::<SimulateInbound>();
    let fail = FormAction::new::<SimulateFailure>();
    let fail_next = FormAction::new::<SimulateNextFailure>();
    let numbers = Loaded::new(move || {
        live.numbers.track();
        AllNumbers {}
    });
    let outbound = Loaded::new(move || {
        live.conversations.track();
        fail.version().track();
        RecentOutbound {}
    });
    view! {
        <div class="card">
            <h2>"Sandbox simulator"</h2>
            <p class="muted">"Pretend to be an outside phone, or the carrier. Also on the command line: "<code>"switchboard sandbox --help"</code></p>
            <h3>"Text one of our numbers"</h3>
            <PostForm action=inbound attr:class="stack">
                <label for="sim-from">"From (any number)"</label>
                <input id="sim-from" name="from" type="tel" value="+1 202 555 0199" required />
                <label for="sim-to">"To"</label>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let list = numbers.await.unwrap_or_default();
                        view! {
                            <select id="sim-to" name="to">
                                {list.into_iter().map(|n| view! {
                                    <option value=n.e164.clone()>{format!("{} ({})", n.display, n.owner_email.clone().unwrap_or_default())}</option>
                                }).collect_view()}
                            </select>
                        }
                    })}
                </Suspense>
                <label for="sim-body">"Text"</label>
                <textarea id="sim-body" name="body" rows="2"></textarea>
                <label class="check"><input type="checkbox" name="picture" value="true" />" Attach a picture (MMS)"</label>
                <FormError action=inbound />
                {move || inbound.succeeded().then(|| view! { <p class="notice" role="status">"Delivered."</p> })}
                <button type="submit">"Send inbound text"</button>
            </PostForm>
            <h3>"Fail the next text sent"</h3>
            <PostForm action=fail_next attr:class="stack">
                <label for="sim-next-code">"Carrier error"</label>
                <select id="sim-next-code" name="code">
                    <option value="40300">"Telnyx 40300: recipient opted out (STOP)"</option>
                    <option value="30034">"Twilio 30034: unregistered A2P 10DLC number"</option>
                    <option value="21610">"Twilio 21610: recipient unsubscribed"</option>
                    <option value="30003">"Twilio 30003: phone unreachable"</option>
                    <option value="30007">"Twilio 30007: filtered as spam"</option>
                </select>
                <FormError action=fail_next />
                {move || fail_next.succeeded().then(|| view! {
                    <p class="notice" role="status">"Armed: the next text anyone sends will fail."</p>
                })}
                <button type="submit">"Arm failure"</button>
            </PostForm>
            <h3>"Fail a delivery"</h3>
            <PostForm action=fail attr:class="stack">
                <label for="sim-message">"Message"</label>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let list = outbound.await.unwrap_or_default();
                        view! {
                            <select id="sim-message" name="message_id">
                                {list.into_iter().map(|(id, label)| view! { <option value=id>{label}</option> }).collect_view()}
                            </select>
                        }
                    })}
                </Suspense>
                <label for="sim-code">"Carrier error"</label>
                <select id="sim-code" name="code">
                    <option value="40300">"Telnyx 40300: recipient opted out (STOP)"</option>
                    <option value="30034">"Twilio 30034: unregistered A2P 10DLC number"</option>
                    <option value="21610">"Twilio 21610: recipient unsubscribed"</option>
                    <option value="30003">"Twilio 30003: phone unreachable"</option>
                    <option value="30007">"Twilio 30007: filtered as spam"</option>
                </select>
                <FormError action=fail />
                <button type="submit">"Fail it"</button>
            </PostForm>
            <h3>"Outside phone: call or be called"</h3>
            <p class="muted">"Calls one of our numbers, and rings when someone here calls a number outside."</p>
            <div class="stack" data-outside-phone></div>
        </div>
    }
}
