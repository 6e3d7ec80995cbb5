//! Settings: the user's signed-in devices, password, how long their data is kept, and
//! their account's activity.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::accounts::settings::{
    ChangePassword, ListSessions, RevokeOtherSessions, RevokeSession,
};
use crate::pages::push::Notifications;
use crate::pages::widgets::error_note;
use crate::types::format_instant;
use crate::validate::PASSWORD_MIN;
use crate::wire::{FormAction, FormError, Loaded, PostForm};

#[component]
pub fn SettingsPage() -> impl IntoView {
    // Two-factor sign-in, Your data (export), Data kept, Account activity and Delete my
    // account, Google account: public/privacy.js fills their cards; Passkeys:
    // public/passkeys.js.
    crate::live::page_script("/privacy.js");
    crate::live::page_script("/passkeys.js");
    view! {
        <Title text="Settings" />
        <section class="page">
            <h1>"Settings"</h1>
            <Notifications />
            <Sessions />
            <PasswordForm />
            <div class="card" data-two-factor=""></div>
            <div class="card" data-passkeys=""></div>
            <div class="card" data-google=""></div>
            <div class="card" data-export=""></div>
            <div class="card" data-data-kept=""></div>
            <div class="card" data-account-activity=""></div>
            <div class="card" data-delete-account=""></div>
        </section>
    }
}

#[component]
fn Sessions() -> impl IntoView {
    let revoke = FormAction::new::<RevokeSession>();
    let revoke_others = FormAction::new::<RevokeOtherSessions>();
    let sessions = Loaded::new(move || {
        revoke.version().track();
        revoke_others.version().track();
        ListSessions {}
    });
    view! {
        <div class="card">
            <h2>"Signed-in devices"</h2>
            <p class="muted">"Sign out any device you don't recognise."</p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(list) => view! {
                            <ul class="rows" aria-label="Sessions">
                                {list.into_iter().map(|s| view! {
                                    <li class="row session">
                                        <div>
                                            <strong>{s.device.clone()}</strong>
                                            {s.current.then(|| view! { <span class="badge">"This device"</span> })}
                                            <div class="muted">
                                                {format!("IP {} · last seen {}", s.ip, format_instant(s.last_seen_at))}
                                            </div>
                                        </div>
                                        {(!s.current).then(|| view! {
                                            <PostForm action=revoke attr:class="inline">
                                                <input type="hidden" name="session_id" value=s.id.clone() />
                                                <button type="submit" class="secondary">"Sign out"</button>
                                            </PostForm>
                                        })}
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => error_note(e),
                    }
                })}
            </Transition>
            <FormError action=revoke />
            <PostForm action=revoke_others attr:class="inline">
                <button type="submit" class="secondary">"Sign out all other devices"</button>
            </PostForm>
            {move || revoke_others.output::<u64>().map(|n| view! {
                <p class="notice" role="status">{format!("Signed out {n} other device{}.", if n == 1 { "" } else { "s" })}</p>
            })}
        </div>
    }
}

#[component]
fn PasswordForm() -> impl IntoView {
    let change = FormAction::new::<ChangePassword>();
    view! {
        <div class="card">
            <h2>"Password"</h2>
            <PostForm action=change attr:class="stack">
                <label for="current_password">"Current password"</label>
                <input id="current_password" type="password" name="current_password" autocomplete="current-password" aria-describedby="current-password-hint" />
                <p id="current-password-hint" class="hint">"Signed up with Google and never set one? Leave it empty."</p>
                <label for="new_password">"New password"</label>
                <input id="new_password" type="password" name="new_password" autocomplete="new-password" required minlength=PASSWORD_MIN.to_string() />
                <label for="confirm_password">"Repeat new password"</label>
                <input id="confirm_password" type="password" name="confirm_password" autocomplete="new-password" required minlength=PASSWORD_MIN.to_string() />
                <FormError action=change />
                {move || change.succeeded().then(|| view! {
                    <p class="notice" role="status">"Password changed. Your other devices were signed out."</p>
                })}
                <button type="submit">"Change password"</button>
            </PostForm>
        </div>
    }
}
