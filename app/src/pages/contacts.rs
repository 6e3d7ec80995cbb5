//! Contacts: the page is public/contacts.js (search, the editor, CSV import and export),
//! plain JS fetched only here once the page is live, so the first-load WASM carries none
//! of it. Without JavaScript the exports still work.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ContactsPage() -> impl IntoView {
    crate::live::page_script("/contacts.js");
    view! {
        <Title text="Contacts" />
        <section class="page">
            <h1>"Contacts"</h1>
            <div data-contacts="">
                <p class="muted">"Loading contacts…"</p>
                <p><a href="/contacts/export.csv">"Export CSV"</a>" · "<a href="/contacts/export.vcf">"Export vCard"</a></p>
            </div>
        </section>
    }
}
