//! Settings → Notifications: push alerts on this device, the devices that get them.

use leptos::prelude::*;

use crate::pages::widgets::error_note;
use crate::types::format_instant;
use crate::wire::{FormAction, FormError, Loaded, PostForm};

/// Calls `window.SwitchboardPush[method](arg)` (public/push.js) and waits for it.
#[cfg(feature = "hydrate")]
async fn push_js(method: &str, arg: &str) -> Result<(), String> {
    use wasm_bindgen::{JsCast, JsValue};
    let fail = |e: JsValue| {
        js_sys::Reflect::get(&e, &JsValue::from_str("message"))
            .ok()
            .and_then(|m| m.as_string())
            .unwrap_or_else(|| "Alerts could not be set up in this browser.".to_string())
    };
    let window = web_sys::window().ok_or("No browser window.")?;
    let api = js_sys::Reflect::get(&window, &JsValue::from_str("SwitchboardPush")).map_err(fail)?;
    let function: js_sys::Function = js_sys::Reflect::get(&api, &JsValue::from_str(method))
        .map_err(fail)?
        .dyn_into()
        .map_err(|_| "This browser cannot show push alerts.".to_string())?;
    let promise: js_sys::Promise = function
        .call1(&api, &JsValue::from_str(arg))
        .map_err(fail)?
        .dyn_into()
        .map_err(|_| "Unexpected answer.".to_string())?;
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(fail)
}

#[component]
pub fn Notifications() -> impl IntoView {
    use crate::api::push::{PushDevices, PushRemove, PushSettings, PushTest, SetPushPreviews};
    let remove = FormAction::new::<PushRemove>();
    let test = FormAction::new::<PushTest>();
    let previews = FormAction::new::<SetPushPreviews>();
    let changed = RwSignal::new(0u32);
    let problem = RwSignal::new(None::<String>);
    let settings = Loaded::new(move || {
        previews.version().track();
        PushSettings {}
    });
    let devices = Loaded::new(move || {
        remove.version().track();
        changed.track();
        PushDevices {}
    });
    // Turning this browser on or off goes through public/push.js, which talks to the browser's
    // push service and then to the server functions.
    let run = move |method: &'static str, key: String| {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            match push_js(method, &key).await {
                Ok(()) => {
                    problem.set(None);
                    changed.update(|n| *n += 1);
                }
                Err(e) => problem.set(Some(e)),
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = (method, key, problem, changed);
    };
    view! {
        <div class="card">
            <h2>"Notifications"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(config) if !config.enabled => view! {
                            <p class="muted">"Push alerts are off on this Switchboard: the admin has not set a push contact (SWITCHBOARD_PUSH_CONTACT)."</p>
                        }.into_any(),
                        Ok(config) => {
                            let key = config.public_key.clone();
                            let hidden = config.previews_hidden;
                            view! {
                                <p class="muted">"Get an alert on this device when a text arrives, even with Switchboard closed."</p>
                                <div class="actions">
                                    <button type="button" on:click=move |_| run("enable", key.clone())>"Enable alerts on this device"</button>
                                    <button type="button" class="secondary" on:click=move |_| run("disable", String::new())>"Turn off on this device"</button>
                                </div>
                                {move || problem.get().map(|p| view! { <p class="form-error" role="alert">{p}</p> })}
                                <PostForm action=previews attr:class="inline">
                                    <input type="hidden" name="hidden" value=(!hidden).to_string() />
                                    <button type="submit" class="secondary">
                                        {if hidden { "Show message text in alerts" } else { "Hide message text in alerts" }}
                                    </button>
                                </PostForm>
                            }.into_any()
                        }
                        Err(e) => error_note(e),
                    }
                })}
            </Transition>
            <h3>"Devices that get alerts"</h3>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match devices.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"None yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="rows" aria-label="Devices that get alerts">
                                {list.into_iter().map(|d| {
                                    let used = d.last_used_at.map(format_instant).unwrap_or_else(|| "not yet".into());
                                    view! {
                                        <li class="row">
                                            <div>
                                                <strong>{d.device.clone()}</strong>
                                                <div class="muted">{format!("Added {} · last alert {used}", format_instant(d.created_at))}</div>
                                            </div>
                                            <PostForm action=remove attr:class="inline">
                                                <input type="hidden" name="subscription_id" value=d.id.clone() />
                                                <button type="submit" class="secondary">"Turn off"</button>
                                            </PostForm>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => error_note(e),
                    }
                })}
            </Transition>
            <PostForm action=test attr:class="inline">
                <button type="submit" class="secondary">"Send a test alert"</button>
            </PostForm>
            <FormError action=test />
            {move || test.output::<usize>().map(|n| view! {
                <p class="notice" role="status">{format!("Test alert sent to {n} device{}.", if n == 1 { "" } else { "s" })}</p>
            })}
        </div>
    }
}
