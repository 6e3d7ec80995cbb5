//! Admin: invitations and users.

use leptos::prelude::*;
use leptos_meta::Title;

use super::widgets::{CopyLink, FormError};
use crate::api::admin::{
    list_invites, list_users, CreateInvite, RevokeInvite, SetUserDisabled, SetUserRole,
};
use crate::types::{format_instant, InviteStatus, Role};

#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <Title text="Admin" />
        <section class="page">
            <h1>"Admin"</h1>
            <Invitations />
            <Users />
        </section>
    }
}

#[component]
fn Invitations() -> impl IntoView {
    let create = ServerAction::<CreateInvite>::new();
    let revoke = ServerAction::<RevokeInvite>::new();
    let invites = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_invites(),
    );
    view! {
        <div class="card">
            <h2>"Invitations"</h2>
            <ActionForm action=create attr:class="stack">
                <label for="invite-email">"Email (optional)"</label>
                <input id="invite-email" type="email" name="email" aria-describedby="invite-email-hint" />
                <p id="invite-email-hint" class="hint">"If set, only this email can use the invitation."</p>
                <label for="invite-role">"Role"</label>
                <select id="invite-role" name="role">
                    <option value="user" selected>"User"</option>
                    <option value="admin">"Admin"</option>
                </select>
                <label for="invite-days">"Expires after (days)"</label>
                <input id="invite-days" type="number" name="expires_in_days" value="7" min="1" max="90" required />
                <FormError result=create.value().into() />
                <button type="submit">"Create invitation"</button>
            </ActionForm>
            {move || create.value().get().and_then(|r| r.ok()).and_then(|invite| invite.link).map(|link| view! {
                <div class="notice" role="status">
                    <p>"Invitation created. Send this link to the person you're inviting:"</p>
                    <CopyLink link label="New invitation link" />
                </div>
            })}
            <FormError result=revoke.value().into() />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match invites.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No invitations yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="rows" aria-label="Invitations">
                                {list.into_iter().map(|i| {
                                    let status_class = format!("badge status-{}", i.status.label().to_lowercase());
                                    view! {
                                        <li class="row invite">
                                            <div>
                                                <strong>{i.email.clone().unwrap_or_else(|| "Anyone with the link".into())}</strong>
                                                " "
                                                <span class=status_class>{i.status.label()}</span>
                                                <div class="muted">
                                                    {format!("{} · created {} · expires {}", i.role.label(), format_instant(i.created_at), format_instant(i.expires_at))}
                                                    {i.accepted_by.clone().map(|by| format!(" · accepted by {by}"))}
                                                </div>
                                                {i.link.clone().map(|link| view! { <CopyLink link label="Invitation link" /> })}
                                            </div>
                                            {(i.status == InviteStatus::Pending).then(|| view! {
                                                <ActionForm action=revoke attr:class="inline">
                                                    <input type="hidden" name="invite_id" value=i.id.clone() />
                                                    <button type="submit" class="secondary">"Revoke"</button>
                                                </ActionForm>
                                            })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn Users() -> impl IntoView {
    let set_role = ServerAction::<SetUserRole>::new();
    let set_disabled = ServerAction::<SetUserDisabled>::new();
    let users = Resource::new(
        move || (set_role.version().get(), set_disabled.version().get()),
        |_| list_users(),
    );
    view! {
        <div class="card">
            <h2>"Users"</h2>
            <FormError result=set_role.value().into() />
            <FormError result=set_disabled.value().into() />
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Ok(list) => view! {
                            <ul class="rows" aria-label="Users">
                                {list.into_iter().map(|u| {
                                    let (role_to, role_label) = match u.role {
                                        Role::Admin => ("user", "Make user"),
                                        Role::User => ("admin", "Make admin"),
                                    };
                                    let (disable_to, disable_label) = if u.disabled { ("false", "Enable") } else { ("true", "Disable") };
                                    let role_aria = format!("{role_label}: {}", u.email);
                                    let disable_aria = format!("{disable_label}: {}", u.email);
                                    let summary = format!("{} · {}{}", u.email, u.role.label(), if u.disabled { " · disabled" } else { "" });
                                    let (id1, id2) = (u.id.clone(), u.id.clone());
                                    view! {
                                        <li class="row user">
                                            <div>
                                                <strong>{u.display_name.clone()}</strong>
                                                {u.is_self.then(|| view! { <span class="badge">"You"</span> })}
                                                <div class="muted">
                                                    {summary}
                                                </div>
                                            </div>
                                            <div class="actions">
                                                <ActionForm action=set_role attr:class="inline">
                                                    <input type="hidden" name="user_id" value=id1 />
                                                    <input type="hidden" name="role" value=role_to />
                                                    <button type="submit" class="secondary" aria-label=role_aria>{role_label}</button>
                                                </ActionForm>
                                                <ActionForm action=set_disabled attr:class="inline">
                                                    <input type="hidden" name="user_id" value=id2 />
                                                    <input type="hidden" name="disabled" value=disable_to />
                                                    <button type="submit" class="secondary" aria-label=disable_aria>{disable_label}</button>
                                                </ActionForm>
                                            </div>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}
