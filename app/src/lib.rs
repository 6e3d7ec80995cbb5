#![recursion_limit = "256"]
//! Switchboard's isomorphic code: pages, components, server functions and shared types.
//! Compiled into the server (`ssr`) and into the browser bundle (`hydrate`).

pub mod api;
pub mod device;
pub mod error;
pub mod live;
pub mod pages;
pub mod sms;
pub mod types;
pub mod validate;
pub mod wire;

#[cfg(feature = "ssr")]
pub mod server;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::pages::accounts::{settings, sign_in};
use crate::pages::{admin, layout, messaging, numbers, placeholder};

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
                <link rel="icon" type="image/png" sizes="192x192" href="/icons/icon-192.png" />
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
                    <Route path=path!("contacts") view=placeholder::ContactsPage ssr=SsrMode::Async />
                    <Route path=path!("settings") view=settings::SettingsPage ssr=SsrMode::Async />
                    <Route path=path!("admin") view=admin::AdminPage ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
