//! Admin: invitations, users, everyone's numbers, the carrier, the sandbox simulator.

use leptos::prelude::*;
use leptos_meta::Title;

use super::calls::{FormAction, FormError, Loaded, PostForm};
use super::widgets::{error_note, CopyLink};
use crate::api::admin::{
    CreateInvite, ListInvites, ListUsers, RevokeInvite, SetUserDisabled, SetUserRole,
};
use crate::api::carrier::{SaveCarrier, TestCarrier};
use crate::api::numbers::{AllNumbers, SetNumberQuota};
use crate::api::simulator::{
    RecentOutbound, SimulateFailure, SimulateInbound, SimulateNextFailure,
};
use crate::live::Live;
use crate::types::{format_instant, InviteInfo, InviteStatus, Role};

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

#[component]
fn Invitations() -> impl IntoView {
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
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
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
            </Suspense>
        </div>
    }
}

#[component]
fn Users() -> impl IntoView {
    let set_role = FormAction::new::<SetUserRole>();
    let set_disabled = FormAction::new::<SetUserDisabled>();
    let set_quota = FormAction::new::<SetNumberQuota>();
    let users = Loaded::new(move || {
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
                                    let (id1, id2, id3) = (u.id.clone(), u.id.clone(), u.id.clone());
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
                                            </div>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => error_note(e),
                    }
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn AllNumbers() -> impl IntoView {
    let live = Live::get();
    let numbers = Loaded::new(move || {
        live.version.track();
        AllNumbers {}
    });
    view! {
        <div class="card">
            <h2>"All numbers"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match numbers.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"Nobody owns a number yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="rows" aria-label="All numbers">
                                {list.into_iter().map(|n| view! {
                                    <li class="row">
                                        <div>
                                            <strong>{n.display.clone()}</strong>
                                            <div class="muted">{format!("{} · {} · {}", n.owner_email.clone().unwrap_or_default(), n.carrier, n.capabilities.label())}</div>
                                        </div>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => error_note(e),
                    }
                })}
            </Suspense>
        </div>
    }
}

/// Admin → Carrier: which carrier is in use and its credentials. Secrets are write-only: a
/// blank field keeps the saved one, and the page only says whether one is saved.
#[component]
fn CarrierSettings() -> impl IntoView {
    let save = FormAction::new::<SaveCarrier>();
    let test = FormAction::new::<TestCarrier>();
    let settings = Loaded::new(move || {
        save.version().track();
        crate::api::carrier::CarrierSettings {}
    });
    let form_ref = NodeRef::<leptos::html::Form>::new();
    // Once saved, typed secrets leave the page (the fields go back to "saved, hidden").
    Effect::new(move |_| {
        if save.succeeded() {
            if let Some(form) = form_ref.get() {
                form.reset();
            }
        }
    });
    // "Test connection" tries what the form says now, saved or not.
    let run_test = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let Some(form) = form_ref.get() else { return };
            if let Ok(fields) = web_sys::FormData::new_with_form(&form) {
                test.submit(&fields);
            }
        }
    };
    view! {
        <div class="card" id="carrier">
            <h2>"Carrier"</h2>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(s) => {
                            let name = match s.active.as_str() { "telnyx" => "Telnyx", "twilio" => "Twilio", _ => "the sandbox (built in, offline)" };
                            let source = match s.saved_at {
                                Some(at) => format!("saved here {}", format_instant(at)),
                                None => "from the server's configuration".to_string(),
                            };
                            let secret_hint = |saved: bool| if saved { "Saved (hidden). Leave blank to keep it." } else { "Not set" };
                            view! {
                                <p>"In use: "<strong>{name}</strong>", "{source}"."</p>
                                <PostForm action=save node_ref=form_ref attr:class="stack">
                                    <fieldset>
                                        <legend>"Numbers and texts go through"</legend>
                                        <label class="check"><input type="radio" name="active" value="sandbox" checked=s.active == "sandbox" />" Sandbox"</label>
                                        <label class="check"><input type="radio" name="active" value="telnyx" checked=s.active == "telnyx" />" Telnyx"</label>
                                        <label class="check"><input type="radio" name="active" value="twilio" checked=s.active == "twilio" />" Twilio"</label>
                                    </fieldset>
                                    <fieldset class="stack">
                                        <legend>"Telnyx"</legend>
                                        <label for="telnyx-key">"Telnyx API key"</label>
                                        <input id="telnyx-key" name="telnyx_api_key" type="password" autocomplete="off" placeholder=secret_hint(s.telnyx_api_key_saved) />
                                        <label for="telnyx-public-key">"Telnyx webhook public key"</label>
                                        <input id="telnyx-public-key" name="telnyx_public_key" value=s.telnyx_public_key.clone() placeholder="From the Telnyx portal (base64)" />
                                        <label for="telnyx-profile">"Telnyx messaging profile (optional)"</label>
                                        <input id="telnyx-profile" name="telnyx_messaging_profile_id" value=s.telnyx_messaging_profile_id.clone() placeholder="Created for you on the first purchase" />
                                        <label for="telnyx-base">"Telnyx API address (blank: production)"</label>
                                        <input id="telnyx-base" name="telnyx_api_base" type="url" value=s.telnyx_api_base.clone() />
                                        <p class="hint">"Webhooks: "<code>{s.telnyx_webhook_url.clone()}</code>" (set on the messaging profile when a number is bought)"</p>
                                    </fieldset>
                                    <fieldset class="stack">
                                        <legend>"Twilio"</legend>
                                        <label for="twilio-sid">"Twilio account SID"</label>
                                        <input id="twilio-sid" name="twilio_account_sid" value=s.twilio_account_sid.clone() placeholder="AC…" />
                                        <label for="twilio-token">"Twilio auth token"</label>
                                        <input id="twilio-token" name="twilio_auth_token" type="password" autocomplete="off" placeholder=secret_hint(s.twilio_auth_token_saved) />
                                        <label for="twilio-base">"Twilio API address (blank: production)"</label>
                                        <input id="twilio-base" name="twilio_api_base" type="url" value=s.twilio_api_base.clone() />
                                        <p class="hint">"Webhooks: "<code>{s.twilio_webhook_url.clone()}</code>" (set on each number when it is bought)"</p>
                                    </fieldset>
                                    <FormError action=save />
                                    <FormError action=test />
                                    {move || test.output::<String>().map(|said| view! { <p class="notice" role="status">{said}</p> })}
                                    <div class="actions">
                                        <button type="submit">"Save"</button>
                                        " "<button type="button" class="secondary" on:click=run_test>"Test connection"</button>
                                    </div>
                                </PostForm>
                            }.into_any()
                        }
                        Err(e) => error_note(e),
                    }
                })}
            </Suspense>
        </div>
    }
}

/// The sandbox carrier's controls: what an outside phone or the carrier would do.
#[component]
fn Simulator() -> impl IntoView {
    let live = Live::get();
    let inbound = FormAction::new::<SimulateInbound>();
    let fail = FormAction::new::<SimulateFailure>();
    let fail_next = FormAction::new::<SimulateNextFailure>();
    let numbers = Loaded::new(move || {
        live.version.track();
        AllNumbers {}
    });
    let outbound = Loaded::new(move || {
        live.version.track();
        fail.version().track();
        RecentOutbound {}
    });
    view! {
        <div class="card">
            <h2>"Sandbox simulator"</h2>
            <p class="muted">"Pretend to be an outside phone, or the carrier. Also on the command line: "<code>"switchboard sandbox --help"</code></p>
            <h3>"Text one of our numbers"</h3>
            <PostForm action=inbound attr:class="stack">
                <label for="sim-from">"From (any number)"</label>
                <input id="sim-from" name="from" type="tel" value="+1 202 555 0199" required />
                <label for="sim-to">"To"</label>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let list = numbers.await.unwrap_or_default();
                        view! {
                            <select id="sim-to" name="to">
                                {list.into_iter().map(|n| view! {
                                    <option value=n.e164.clone()>{format!("{} ({})", n.display, n.owner_email.clone().unwrap_or_default())}</option>
                                }).collect_view()}
                            </select>
                        }
                    })}
                </Suspense>
                <label for="sim-body">"Text"</label>
                <textarea id="sim-body" name="body" rows="2"></textarea>
                <label class="check"><input type="checkbox" name="picture" value="true" />" Attach a picture (MMS)"</label>
                <FormError action=inbound />
                {move || inbound.succeeded().then(|| view! { <p class="notice" role="status">"Delivered."</p> })}
                <button type="submit">"Send inbound text"</button>
            </PostForm>
            <h3>"Fail the next text sent"</h3>
            <PostForm action=fail_next attr:class="stack">
                <label for="sim-next-code">"Carrier error"</label>
                <select id="sim-next-code" name="code">
                    <option value="40300">"Telnyx 40300: recipient opted out (STOP)"</option>
                    <option value="30034">"Twilio 30034: unregistered A2P 10DLC number"</option>
                    <option value="21610">"Twilio 21610: recipient unsubscribed"</option>
                    <option value="30003">"Twilio 30003: phone unreachable"</option>
                    <option value="30007">"Twilio 30007: filtered as spam"</option>
                </select>
                <FormError action=fail_next />
                {move || fail_next.succeeded().then(|| view! {
                    <p class="notice" role="status">"Armed: the next text anyone sends will fail."</p>
                })}
                <button type="submit">"Arm failure"</button>
            </PostForm>
            <h3>"Fail a delivery"</h3>
            <PostForm action=fail attr:class="stack">
                <label for="sim-message">"Message"</label>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let list = outbound.await.unwrap_or_default();
                        view! {
                            <select id="sim-message" name="message_id">
                                {list.into_iter().map(|(id, label)| view! { <option value=id>{label}</option> }).collect_view()}
                            </select>
                        }
                    })}
                </Suspense>
                <label for="sim-code">"Carrier error"</label>
                <select id="sim-code" name="code">
                    <option value="40300">"Telnyx 40300: recipient opted out (STOP)"</option>
                    <option value="30034">"Twilio 30034: unregistered A2P 10DLC number"</option>
                    <option value="21610">"Twilio 21610: recipient unsubscribed"</option>
                    <option value="30003">"Twilio 30003: phone unreachable"</option>
                    <option value="30007">"Twilio 30007: filtered as spam"</option>
                </select>
                <FormError action=fail />
                <button type="submit">"Fail it"</button>
            </PostForm>
        </div>
    }
}
