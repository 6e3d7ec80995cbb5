//! The audit log as people read it: Settings → Account activity (what concerns their own
//! account) and Admin → Audit log (everyone's). Newest first, a page at a time.

use leptos::prelude::*;

use crate::api::accounts::admin::AuditLog;
use crate::api::accounts::settings::MyActivity;
use crate::pages::widgets::error_note;
use crate::types::{format_instant, AuditEntry};
use crate::wire::Loaded;

#[component]
pub fn AccountActivity() -> impl IntoView {
    let before = RwSignal::new(0i64);
    let entries = Loaded::new(move || MyActivity {
        before: before.get(),
    });
    view! {
        <div class="card">
            <h2>"Account activity"</h2>
            <p class="muted">"Sign-ins (and failed ones), password changes, numbers bought and released, and what admins changed about your account. Kept 12 months."</p>
            {entry_list(entries, before, false)}
        </div>
    }
}

#[component]
pub fn AuditLogCard() -> impl IntoView {
    let before = RwSignal::new(0i64);
    let entries = Loaded::new(move || AuditLog {
        before: before.get(),
    });
    view! {
        <div class="card">
            <h2>"Audit log"</h2>
            <p class="muted">"Everyone's sign-ins, invitations, role and access changes, carrier settings and number purchases. Kept 12 months; nobody can edit it."</p>
            {entry_list(entries, before, true)}
        </div>
    }
}

fn entry_list(
    entries: Loaded<Vec<AuditEntry>>,
    before: RwSignal<i64>,
    show_subject: bool,
) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(list) if list.is_empty() => view! { <p class="muted">"Nothing (more) to show."</p> }.into_any(),
                    Ok(list) => {
                        let oldest = list.last().map(|e| e.at).unwrap_or(0);
                        let full = list.len() as i64 >= crate::types::AUDIT_PAGE;
                        view! {
                            <ul class="rows" aria-label="Audit entries">
                                {list.into_iter().map(|e| {
                                    let by = if e.subject.is_empty() || e.subject == e.actor || !show_subject {
                                        e.actor.clone()
                                    } else {
                                        format!("{} → {}", e.actor, e.subject)
                                    };
                                    view! {
                                        <li class="row audit-entry">
                                            <div>
                                                <strong>{e.action.clone()}</strong>
                                                {(!e.detail.is_empty()).then(|| format!(" — {}", e.detail))}
                                                <div class="muted">
                                                    {format!("{} · {by} · IP {} · {}", format_instant(e.at), e.ip, e.device)}
                                                </div>
                                            </div>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            {full.then(|| view! {
                                <button type="button" class="secondary" on:click=move |_| before.set(oldest)>"Older entries"</button>
                            })}
                        }.into_any()
                    }
                    Err(e) => error_note(e),
                }
            })}
        </Suspense>
        {move || (before.get() > 0).then(|| view! {
            <button type="button" class="secondary" on:click=move |_| before.set(0)>"Newest entries"</button>
        })}
    }
}
