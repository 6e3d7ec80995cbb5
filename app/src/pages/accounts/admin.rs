//! Admin → Invitations and Users.

use leptos::prelude::*;

use crate::api::accounts::admin::{
    CreateInvite, ListInvites, ListUsers, RevokeInvite, SetUserDeletion, SetUserDisabled,
    SetUserRole,
};
use crate::api::numbers::SetNumberQuota;
use crate::pages::widgets::{error_note, CopyLink};
use crate::types::{format_instant, InviteInfo, InviteStatus, Role};
use crate::wire::{FormAction, FormError, Loaded, PostForm};

#[component]
pub fn Invitations() -> impl IntoView {
    let create = FormAction::new::<CreateInvite>();
    let revoke = FormAction::new::<RevokeInvite>();
    let invites = Loaded::new(move || {
        create.version().track();
        revoke.version().track();
        ListInvites {}
    });
    view! {
        <div class="card">
            <h2>"Invitations"</h2>
            <PostForm action=create attr:class="stack">
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
                <FormError action=create />
                <button type="submit">"Create invitation"</button>
            </PostForm>
            {move || create.output::<InviteInfo>().and_then(|invite| invite.link).map(|link| view! {
                <div class="notice" role="status">
                    <p>"Invitation created. Send this link to the person you're inviting:"</p>
                    <CopyLink link label="New invitation link" />
                </div>
            })}
            <FormError action=revoke />
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match invites.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No invitations yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="rows" aria-label="Invitations">
                                {list.into_iter().map(|i| {
                                    let status_class = format!("badge status-{}", i.status.label().to_ascii_lowercase());
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
                                                <PostForm action=revoke attr:class="inline">
                                                    <input type="hidden" name="invite_id" value=i.id.clone() />
                                                    <button type="submit" class="secondary">"Revoke"</button>
                                                </PostForm>
                                            })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => error_note(e),
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
pub fn Users() -> impl IntoView {
    let set_role = FormAction::new::<SetUserRole>();
    let set_disabled = FormAction::new::<SetUserDisabled>();
    let set_quota = FormAction::new::<SetNumberQuota>();
    let set_deletion = FormAction::new::<SetUserDeletion>();
    let users = Loaded::new(move || {
        set_deletion.version().track();
        set_role.version().track();
        set_disabled.version().track();
        set_quota.version().track();
        ListUsers {}
    });
    view! {
        <div class="card">
            <h2>"Users"</h2>
            <FormError action=set_role />
            <FormError action=set_disabled />
            <FormError action=set_quota />
            <FormError action=set_deletion />
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
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
                                    let erasing = u.erase_at.map(|at| format!(" · deleted: erased {} unless cancelled", format_instant(at))).unwrap_or_default();
                                    let summary = format!("{} · {}{}{erasing}", u.email, u.role.label(), if u.disabled { " · disabled" } else { "" });
                                    let (delete_to, delete_label) = if u.erase_at.is_some() { ("false", "Cancel deletion") } else { ("true", "Delete") };
                                    let delete_aria = format!("{delete_label}: {}", u.email);
                                    let (id1, id2, id3, id4) = (u.id.clone(), u.id.clone(), u.id.clone(), u.id.clone());
                                    let quota_id = format!("quota-{}", u.id);
                                    let quota_label = format!("Number limit for {}", u.email);
                                    let quota = u.number_quota.to_string();
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
                                                <PostForm action=set_quota attr:class="inline-form">
                                                    <input type="hidden" name="user_id" value=id3 />
                                                    <label for=quota_id.clone() class="visually-hidden">{quota_label}</label>
                                                    <input id=quota_id class="narrow-input" type="number" name="quota" min="0" max="1000" value=quota />
                                                    <button type="submit" class="secondary">"Set limit"</button>
                                                </PostForm>
                                                <PostForm action=set_role attr:class="inline">
                                                    <input type="hidden" name="user_id" value=id1 />
                                                    <input type="hidden" name="role" value=role_to />
                                                    <button type="submit" class="secondary" aria-label=role_aria>{role_label}</button>
                                                </PostForm>
                                                <PostForm action=set_disabled attr:class="inline">
                                                    <input type="hidden" name="user_id" value=id2 />
                                                    <input type="hidden" name="disabled" value=disable_to />
                                                    <button type="submit" class="secondary" aria-label=disable_aria>{disable_label}</button>
                                                </PostForm>
                                                <PostForm action=set_deletion attr:class="inline">
                                                    <input type="hidden" name="user_id" value=id4 />
                                                    <input type="hidden" name="delete" value=delete_to />
                                                    <button type="submit" class="secondary" aria-label=delete_aria>{delete_label}</button>
                                                </PostForm>
                                            </div>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => error_note(e),
                    }
                })}
            </Transition>
        </div>
    }
}
