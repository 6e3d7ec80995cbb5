//! Sign in, first-admin setup and invitation pages. Plain forms that work without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::accounts::sign_in::{
    AcceptInvite, CheckInvite, CheckSetup, CompleteSetup, SignIn, SignInCode,
};
use crate::pages::widgets::error_note;
use crate::types::{InviteLookup, SetupLookup};
use crate::validate::PASSWORD_MIN;
use crate::wire::{FormAction, FormError, Loaded, PostForm};

#[component]
fn AuthCard(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <Title text=title />
        <main class="centered" id="main">
            <div class="card narrow">
                <p class="brand-large">"Switchboard"</p>
                <h1>{title}</h1>
                {children()}
            </div>
        </main>
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = FormAction::new::<SignIn>();
    // "Sign in with a passkey" (public/passkeys.js) and "Sign in with Google"
    // (public/google.js): both need JavaScript (as Google's own pages do); the form doesn't.
    crate::live::page_script("/passkeys.js");
    crate::live::page_script("/google.js");
    view! {
        <AuthCard title="Sign in">
            <PostForm action attr:class="stack">
                <label for="email">"Email"</label>
                <input id="email" type="email" name="email" autocomplete="username" required />
                <label for="password">"Password"</label>
                <input id="password" type="password" name="password" autocomplete="current-password" required />
                <FormError action=action />
                <button type="submit">"Sign in"</button>
            </PostForm>
            <div class="stack" data-passkey-sign-in=""></div>
            <div class="stack" data-google-sign-in=""></div>
            <p class="muted">"Switchboard is invite-only. Ask an admin for an invitation."</p>
        </AuthCard>
    }
}

/// The second step when two-factor sign-in is on: a passkey, a code from the authenticator
/// app, or a recovery code.
#[component]
pub fn SignInCodePage() -> impl IntoView {
    let action = FormAction::new::<SignInCode>();
    // "Use a passkey" (public/passkeys.js).
    crate::live::page_script("/passkeys.js");
    view! {
        <AuthCard title="Enter your code">
            <div class="stack" data-passkey-challenge=""></div>
            <PostForm action attr:class="stack">
                <label for="code">"Code from your authenticator app"</label>
                <input id="code" type="text" name="code" autocomplete="one-time-code" required maxlength="40" aria-describedby="code-hint" />
                <p id="code-hint" class="hint">"Six digits from the app, or one of your recovery codes."</p>
                <FormError action=action />
                <button type="submit">"Sign in"</button>
            </PostForm>
            <p class="muted"><a href="/signin">"Start again"</a></p>
        </AuthCard>
    }
}

fn token_param() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("token").unwrap_or_default())
}

/// Name, email and password fields for a new account.
#[component]
fn NewAccountFields(fixed_email: Option<String>) -> impl IntoView {
    let email_field = match fixed_email {
        Some(email) => view! {
            <label for="email">"Email"</label>
            <input id="email" type="email" value=email readonly />
        }
        .into_any(),
        None => view! {
            <label for="email">"Email"</label>
            <input id="email" type="email" name="email" autocomplete="username" required />
        }
        .into_any(),
    };
    view! {
        <label for="display_name">"Your name"</label>
        <input id="display_name" type="text" name="display_name" autocomplete="name" required maxlength="80" />
        {email_field}
        <label for="password">"Password"</label>
        <input
            id="password"
            type="password"
            name="password"
            autocomplete="new-password"
            required
            minlength=PASSWORD_MIN.to_string()
            aria-describedby="password-hint"
        />
        <p id="password-hint" class="hint">{format!("At least {PASSWORD_MIN} characters.")}</p>
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let token = token_param();
    let found = Loaded::new(move || CheckSetup { token: token.get() });
    let action = FormAction::new::<CompleteSetup>();
    view! {
        <AuthCard title="Set up Switchboard">
            <Transition fallback=|| view! { <p>"Checking your link…"</p> }>
                {move || Suspend::new(async move {
                    match found.await {
                        Ok(SetupLookup::Valid) => view! {
                            <p>"Create the first admin account. You can invite everyone else from inside the app."</p>
                            <PostForm action attr:class="stack">
                                <input type="hidden" name="token" value=token.get_untracked() />
                                <NewAccountFields fixed_email=None />
                                <FormError action=action />
                                <button type="submit">"Create admin account"</button>
                            </PostForm>
                        }.into_any(),
                        Ok(other) => {
                            let message = match other {
                                SetupLookup::Used => "This setup link has already been used.",
                                SetupLookup::Expired => "This setup link has expired. Restart Switchboard to print a new one.",
                                SetupLookup::AdminExists => "Switchboard is already set up.",
                                _ => "This setup link is not valid.",
                            };
                            view! {
                                <p class="notice" role="status">{message}</p>
                                <p><a href="/signin">"Go to sign in"</a></p>
                            }.into_any()
                        }
                        Err(e) => error_note(e),
                    }
                })}
            </Transition>
        </AuthCard>
    }
}

#[component]
pub fn InvitePage() -> impl IntoView {
    // "Join with Google" (public/google.js).
    crate::live::page_script("/google.js");
    let token = token_param();
    let found = Loaded::new(move || CheckInvite { token: token.get() });
    let action = FormAction::new::<AcceptInvite>();
    view! {
        <AuthCard title="Join Switchboard">
            <Transition fallback=|| view! { <p>"Checking your invitation…"</p> }>
                {move || Suspend::new(async move {
                    match found.await {
                        Ok(InviteLookup::Valid { email, .. }) => view! {
                            <p>"You've been invited. Create your account to start."</p>
                            <PostForm action attr:class="stack">
                                <input type="hidden" name="token" value=token.get_untracked() />
                                <NewAccountFields fixed_email=email />
                                <FormError action=action />
                                <button type="submit">"Create account"</button>
                            </PostForm>
                            <div class="stack" data-google-sign-in="join"></div>
                        }.into_any(),
                        Ok(other) => {
                            let message = match other {
                                InviteLookup::Accepted => "This invitation has already been used. If it was you, sign in.",
                                InviteLookup::Expired => "This invitation has expired. Ask the person who invited you for a new one.",
                                InviteLookup::Revoked => "This invitation was revoked. Ask the person who invited you for a new one.",
                                _ => "This invitation link is not valid. Check that you copied all of it.",
                            };
                            view! {
                                <p class="notice" role="status">{message}</p>
                                <p><a href="/signin">"Go to sign in"</a></p>
                            }.into_any()
                        }
                        Err(e) => error_note(e),
                    }
                })}
            </Transition>
        </AuthCard>
    }
}
