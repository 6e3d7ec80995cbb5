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
    view! {
        <Title text="Admin" />
        <section class="page">
            <h1>"Admin"</h1>
            <Invitations />
            <Users />
            <AllNumbers />
            <CarrierSettings />
            <Simulator />
        </section>
    }
}
