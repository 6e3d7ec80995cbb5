//! Numbers: the user's numbers (name, capabilities, whether inbound reaches us, release) and
//! getting a new one (search by country, area code, digits, capabilities; buy).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::numbers::{
    AllNumbers, BuyNumber, MyNumbers, ReleaseNumber, RenameNumber, SearchNumbers,
};
use crate::live::Live;
use crate::pages::widgets::error_note;
use crate::types::{format_instant, OwnedNumber};
use crate::wire::{FormAction, FormError, Loaded, PostForm};

#[component]
pub fn NumbersPage() -> impl IntoView {
    // Shared: a purchase reloads the list of the user's numbers itself, not only through the
    // live stream (which may not be connected yet right after the page loads).
    let buy = FormAction::new::<BuyNumber>();
    // How each number answers texts by itself (the HELP text): public/numbers.js fills the
    // card from `texting_settings`; plain JS keeps it out of the first-load WASM.
    crate::live::page_script("/numbers.js");
    view! {
        <Title text="Numbers" />
        <section class="page">
            <h1>"Numbers"</h1>
            <MyNumbers buy />
            <div class="card" data-number-texting=""></div>
            <GetNumber buy />
        </section>
    }
}

#[component]
fn MyNumbers(buy: FormAction) -> impl IntoView {
    let live = Live::get();
    let rename = FormAction::new::<RenameNumber>();
    let release = FormAction::new::<ReleaseNumber>();
    let numbers = Loaded::new(move || {
        live.numbers.track();
        buy.version().track();
        rename.version().track();
        release.version().track();
        MyNumbers {}
    });
    view! {
        <div class="card">
            <h2>"Your numbers"</h2>
            <FormError action=rename />
            <FormError action=release />
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match numbers.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="muted">"You don't have a number yet. Find one below."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="rows" aria-label="Your numbers">
                                {list.into_iter().map(|n| {
                                    let inbound = match n.last_inbound_at {
                                        Some(at) => format!("Inbound texts arriving · last {}", format_instant(at)),
                                        None => "No inbound text received yet".to_string(),
                                    };
                                    let name_id = format!("name-{}", n.id);
                                    let confirm_id = format!("confirm-{}", n.id);
                                    let (id_rename, id_release) = (n.id.clone(), n.id.clone());
                                    let name_label = format!("Name for {}", n.display);
                                    let confirm_label = format!(" Yes, release {}", n.display);
                                    let current_name = n.name.clone();
                                    view! {
                                        <li class="row number">
                                            <div>
                                                <strong class="e164">{n.display.clone()}</strong>
                                                {(!n.name.is_empty()).then(|| view! { <span class="badge">{n.name.clone()}</span> })}
                                                <div class="muted">{format!("{} · {} · {}", n.capabilities.label(), n.carrier, inbound)}</div>
                                                <PostForm action=rename attr:class="inline-form">
                                                    <input type="hidden" name="number_id" value=id_rename />
                                                    <label for=name_id.clone() class="visually-hidden">{name_label}</label>
                                                    <input id=name_id name="name" value=current_name placeholder="Name, e.g. Work" maxlength="40" />
                                                    <button type="submit" class="secondary">"Save name"</button>
                                                </PostForm>
                                            </div>
                                            <details class="danger-zone">
                                                <summary>"Release"</summary>
                                                <PostForm action=release attr:class="stack">
                                                    <input type="hidden" name="number_id" value=id_release />
                                                    <p>"Releasing gives the number back to the carrier and deletes its conversations. You may not get it back."</p>
                                                    <label class="check">
                                                        <input id=confirm_id type="checkbox" name="confirm" value="release" required />
                                                        {confirm_label}
                                                    </label>
                                                    <button type="submit" class="danger">"Release number"</button>
                                                </PostForm>
                                            </details>
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

/// A GET search form (works without JavaScript; the URL keeps the query), then Buy buttons.
#[component]
fn GetNumber(buy: FormAction) -> impl IntoView {
    let query = use_query_map();
    let param = move |k: &str| query.read().get(k).unwrap_or_default();
    let searched = Memo::new(move |_| query.read().get("country").is_some());
    let offers = Loaded::when(move || {
        buy.version().track();
        searched.get().then(|| SearchNumbers {
            country: param("country"),
            area_code: param("area_code"),
            contains: param("contains"),
            sms: param("sms") == "true",
            mms: param("mms") == "true",
            voice: param("voice") == "true",
        })
    });
    let country = move || {
        let c = param("country");
        if c.is_empty() {
            "US".to_string()
        } else {
            c
        }
    };
    view! {
        <div class="card">
            <h2>"Get a number"</h2>
            <form method="get" action="/numbers" class="search-numbers">
                <div>
                    <label for="country">"Country"</label>
                    <select id="country" name="country">
                        <option value="US" selected=move || country() == "US">"United States"</option>
                        <option value="CA" selected=move || country() == "CA">"Canada"</option>
                    </select>
                </div>
                <div>
                    <label for="area_code">"Area code"</label>
                    <input id="area_code" name="area_code" inputmode="numeric" maxlength="5" placeholder="212" value=move || param("area_code") />
                </div>
                <div>
                    <label for="contains">"Contains digits"</label>
                    <input id="contains" name="contains" inputmode="numeric" maxlength="10" value=move || param("contains") />
                </div>
                <fieldset>
                    <legend>"Must support"</legend>
                    <label class="check"><input type="checkbox" name="sms" value="true" checked=move || param("sms") == "true" />" SMS"</label>
                    <label class="check"><input type="checkbox" name="mms" value="true" checked=move || param("mms") == "true" />" MMS"</label>
                    <label class="check"><input type="checkbox" name="voice" value="true" checked=move || param("voice") == "true" />" Voice"</label>
                </fieldset>
                <button type="submit">"Search"</button>
            </form>
            <FormError action=buy />
            {move || buy.output::<OwnedNumber>().map(|n| view! {
                <p class="notice" role="status">{format!("{} is yours. Text from it in the Inbox.", n.display)}</p>
            })}
            <Transition fallback=|| view! { <p>"Searching…"</p> }>
                {move || Suspend::new(async move {
                    match offers.await {
                        Ok(None) => ().into_any(),
                        Ok(Some(list)) if list.is_empty() => view! {
                            <p class="muted">"No numbers match. Try another area code or fewer digits."</p>
                        }.into_any(),
                        Ok(Some(list)) => view! {
                            <ul class="rows" aria-label="Available numbers">
                                {list.into_iter().map(|o| view! {
                                    <li class="row offer">
                                        <div>
                                            <strong>{o.display.clone()}</strong>
                                            <div class="muted">{format!("{} · {}", o.locality, o.capabilities.label())}</div>
                                        </div>
                                        <PostForm action=buy attr:class="inline">
                                            <input type="hidden" name="e164" value=o.e164.clone() />
                                            <button type="submit" aria-label=format!("Buy {}", o.display)>"Buy"</button>
                                        </PostForm>
                                    </li>
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

/// Admin → Numbers: everyone's numbers and their owners' limits.
#[component]
pub fn AllNumbers() -> impl IntoView {
    let live = Live::get();
    let numbers = Loaded::new(move || {
        live.numbers.track();
        AllNumbers {}
    });
    view! {
        <div class="card">
            <h2>"All numbers"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
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
            </Transition>
        </div>
    }
}
