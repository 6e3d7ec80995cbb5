//! Admin → Carrier.

use leptos::prelude::*;

use crate::api::carrier::{SaveCarrier, TestCarrier};

use crate::pages::widgets::error_note;
use crate::types::format_instant;
use crate::wire::{FormAction, FormError, Loaded, PostForm};

/// Admin → Carrier: which carrier is in use and its credentials. Secrets are write-only: a
/// blank field keeps the saved one, and the page only says whether one is saved.
#[component]
pub fn CarrierSettings() -> impl IntoView {
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
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
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
            </Transition>
        </div>
    }
}
