#![recursion_limit = "256"]
//! Switchboard's isomorphic code: pages, components, server functions and shared types.
//! Compiled into the server (`ssr`) and into the browser bundle (`hydrate`).

pub mod api;
pub mod live;
pub mod pages;
pub mod wire;

// The domain crate's modules, under the names the pages and server functions use.
#[cfg(feature = "ssr")]
pub use domain::{device, error, server, sms, types, validate};
// The browser build compiles the shared ones (what server functions answer with, errors,
// validation) into this crate instead of linking the domain crate, as before the split:
// generic code they and the pages both use (Vec, String, miniserde's visitors) is then
// instantiated once. Linked as a crate of its own, the optimised WASM grew by 984 B brotli
// (241,145 → 242,129), past the client's 250 KB budget. The server's builds, which the
// split is for, use the crate. The files are the same, so are the paths (`crate::types`).
#[cfg(not(feature = "ssr"))]
#[path = "../domain/src/device.rs"]
pub mod device;
#[cfg(not(feature = "ssr"))]
#[path = "../domain/src/error.rs"]
pub mod error;
#[cfg(not(feature = "ssr"))]
#[path = "../domain/src/sms.rs"]
pub mod sms;
#[cfg(not(feature = "ssr"))]
#[path = "../domain/src/types/mod.rs"]
pub mod types;
#[cfg(not(feature = "ssr"))]
#[path = "../domain/src/validate.rs"]
pub mod validate;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::pages::accounts::{settings, sign_in};
use crate::pages::{admin, contacts, layout, messaging, numbers, placeholder};

/// public/icons/favicon.svg as a data URL (quotes single, `#<>` escaped).
const FAVICON: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='7' fill='%230b57d0'/%3E%3Cpath d='M16 8c-5 0-9 3.1-9 7 0 2.1 1.1 3.9 2.9 5.2L9 24l4.3-2.3c.9.2 1.8.3 2.7.3 5 0 9-3.1 9-7s-4-7-9-7z' fill='%23fff'/%3E%3Cg fill='%230b57d0'%3E%3Ccircle cx='12' cy='15' r='1.4'/%3E%3Ccircle cx='16' cy='15' r='1.4'/%3E%3Ccircle cx='20' cy='15' r='1.4'/%3E%3C/g%3E%3C/svg%3E";

/// The HTML document around the app (server-rendered; the browser hydrates `<App/>`).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <meta name="theme-color" content="#0b57d0" />
                <link rel="manifest" href="/manifest.webmanifest" />
                // The favicon inline (public/icons/favicon.svg): a request fewer on a first visit.
                <link rel="icon" type="image/svg+xml" href=FAVICON />
                <link rel="apple-touch-icon" href="/icons/apple-touch-icon.png" />
                <meta name="apple-mobile-web-app-capable" content="yes" />
                <meta name="mobile-web-app-capable" content="yes" />
                <meta name="apple-mobile-web-app-status-bar-style" content="default" />
                <meta name="apple-mobile-web-app-title" content="Switchboard" />
                <HashedStylesheet options=options.clone() id="app-css" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    live::Live::provide();
    // Pages render completely on the server before the first byte (SsrMode::Async) so every
    // page is whole without JavaScript and redirects can still set a status code.
    view! {
        <Title formatter=|page: String| {
            if page.is_empty() { "Switchboard".to_string() } else { format!("{page} · Switchboard") }
        } />
        <Router>
            <Routes fallback=|| view! { <placeholder::NotFound /> }>
                <Route path=path!("/signin") view=sign_in::SignInPage ssr=SsrMode::Async />
                <Route path=path!("/signin/code") view=sign_in::SignInCodePage ssr=SsrMode::Async />
                <Route path=path!("/setup/:token") view=sign_in::SetupPage ssr=SsrMode::Async />
                <Route path=path!("/invite/:token") view=sign_in::InvitePage ssr=SsrMode::Async />
                <ParentRoute path=path!("") view=layout::AppLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=layout::GoHome ssr=SsrMode::Async />
                    <ParentRoute path=path!("inbox") view=messaging::InboxLayout ssr=SsrMode::Async>
                        <Route path=path!("") view=messaging::NoThread ssr=SsrMode::Async />
                        <Route path=path!(":id") view=messaging::ThreadView ssr=SsrMode::Async />
                    </ParentRoute>
                    <Route path=path!("calls") view=pages::calls::CallsPage ssr=SsrMode::Async />
                    <Route path=path!("numbers") view=numbers::NumbersPage ssr=SsrMode::Async />
                    <Route path=path!("contacts") view=contacts::ContactsPage ssr=SsrMode::Async />
                    <Route path=path!("settings") view=settings::SettingsPage ssr=SsrMode::Async />
                    <Route path=path!("admin") view=admin::AdminPage ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
