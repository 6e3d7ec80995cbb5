//! Sections whose features arrive with later work; each says so plainly.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
fn Coming(title: &'static str, what: &'static str) -> impl IntoView {
    view! {
        <Title text=title />
        <section class="page">
            <h1>{title}</h1>
            <div class="card empty">
                <p>{what}</p>
                <p class="muted">"This part of Switchboard is not built yet."</p>
            </div>
        </section>
    }
}

#[component]
pub fn ContactsPage() -> impl IntoView {
    view! { <Coming title="Contacts" what="The people you text and call will be listed here." /> }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found" />
        <main class="centered">
            <div class="card narrow">
                <h1>"Page not found"</h1>
                <p>"There is nothing at this address."</p>
                <p><a href="/">"Go to Switchboard"</a></p>
            </div>
        </main>
    }
}
