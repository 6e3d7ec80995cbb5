//! The signed-in app's frame: top bar, main navigation, the current page.

use leptos::prelude::*;

use crate::pages::widgets::error_note;
use crate::wire::{FormAction, Loaded, PostForm};
use leptos_router::components::{Outlet, Redirect, A};

use crate::api::accounts::sign_in::{SignOut, SignedInUser};
use crate::api::calls::MissedCalls;
use crate::api::messaging::UnreadCount;
use crate::live::Live;
use crate::types::CurrentUser;
use crate::types::HOME;

#[component]
pub fn AppLayout() -> impl IntoView {
    let user = Loaded::new(|| SignedInUser {});
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) => view! { <Frame user /> }.into_any(),
                    Ok(None) => view! { <Redirect path="/signin" /> }.into_any(),
                    Err(e) => error_note(e),
                }
            })}
        </Transition>
    }
}

#[component]
fn Frame(user: CurrentUser) -> impl IntoView {
    let sign_out = FormAction::new::<SignOut>();
    let is_admin = user.is_admin();
    let must_set_up_two_factor = user.must_set_up_two_factor;
    let live = Live::get();
    Effect::new(move |_| live.start());
    let unread = Loaded::new(move || {
        live.conversations.track();
        UnreadCount {}
    });
    let unread_badge = move || {
        Suspend::new(async move {
            match unread.await {
                Ok(n) if n > 0 => {
                    Some(view! { <span class="unread" aria-label=format!("{n} unread")>{n}</span> })
                }
                _ => None,
            }
        })
    };
    let missed = Loaded::new(move || {
        live.calls.track();
        MissedCalls {}
    });
    let missed_badge = move || {
        Suspend::new(async move {
            match missed.await {
                Ok(n) if n > 0 => Some(
                    view! { <span class="unread missed" aria-label=format!("{n} missed")>{n}</span> },
                ),
                _ => None,
            }
        })
    };
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <div class="app">
            <header class="topbar">
                <a class="brand" href=HOME>"Switchboard"</a>
                <div class="whoami">
                    <span class="who" title=user.email.clone()>{user.display_name.clone()}</span>
                    <PostForm action=sign_out attr:class="inline">
                        <button type="submit" class="link-button">"Sign out"</button>
                    </PostForm>
                </div>
            </header>
            <nav class="mainnav" aria-label="Main">
                <A href="/inbox">"Inbox" <Transition fallback=|| ()>{unread_badge}</Transition></A>
                <A href="/calls">"Calls" <Transition fallback=|| ()>{missed_badge}</Transition></A>
                <A href="/numbers">"Numbers"</A>
                <A href="/contacts">"Contacts"</A>
                <A href="/settings">"Settings"</A>
                <Show when=move || is_admin>
                    <A href="/admin">"Admin"</A>
                </Show>
            </nav>
            <main id="main" class="content">
                {must_set_up_two_factor.then(|| view! { <TwoFactorFirst /> })}
                <Outlet />
            </main>
        </div>
    }
}

/// For someone who must set up two-factor sign-in: the app's own navigation to any page but
/// Settings goes back to Settings (page loads are redirected by the server), until a fresh
/// look at the session says it is set up. (Through `Loaded`, the app's one way to read an
/// answer: calling the server function directly would bring serde_json's decoders into
/// the browser build, ~16 KB.)
#[component]
fn TwoFactorFirst() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let still = Loaded::new(move || {
        location.pathname.track();
        SignedInUser {}
    });
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let must = matches!(still.await, Ok(Some(u)) if u.must_set_up_two_factor);
                (must && location.pathname.get_untracked() != "/settings")
                    .then(|| view! { <Redirect path="/settings" /> })
            })}
        </Transition>
    }
}

/// `/` goes to the inbox.
#[component]
pub fn GoHome() -> impl IntoView {
    view! { <Redirect path=HOME /> }
}
