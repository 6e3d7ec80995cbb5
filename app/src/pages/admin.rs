//! Admin: invitations and users, everyone's numbers, the carrier, the sandbox simulator
//! (each section lives with its domain).

use leptos::prelude::*;
use leptos_meta::Title;

use super::accounts::admin::{Invitations, Users};
use super::carrier::CarrierSettings;
use super::numbers::AllNumbers;
use super::simulator::Simulator;

#[component]
pub fn AdminPage() -> impl IntoView {
    // The mail server texts are forwarded through, and the price of a text: public/admin.js
    // fills their cards.
    crate::live::page_script("/admin.js");
    // Sign-in rules, retention and the audit log: public/privacy.js.
    crate::live::page_script("/privacy.js");
    view! {
        <Title text="Admin" />
        <section class="page">
            <h1>"Admin"</h1>
            <Invitations />
            <Users />
            <AllNumbers />
            <CarrierSettings />
            <div class="card" data-email-settings=""></div>
            <div class="card" data-segment-price=""></div>
            <div class="card" data-sign-in-rules=""></div>
            <div class="card" data-google-sign-in=""></div>
            <div class="card" data-retention=""></div>
            <Simulator />
            <div class="card" data-audit-log=""></div>
        </section>
    }
}
