//! Small pieces used across pages.

use leptos::prelude::*;

use crate::error::AppError;

/// An error said plainly, a failed load or submission (announced to screen readers).
pub fn error_note(e: AppError) -> AnyView {
    view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any()
}

/// A read-only link with a Copy button (the field stays selectable without JavaScript).
#[component]
pub fn CopyLink(link: String, #[prop(into)] label: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let to_copy = link.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            if let Some(window) = web_sys::window() {
                let _ = window.navigator().clipboard().write_text(&to_copy);
                copied.set(true);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &to_copy;
    };
    view! {
        <span class="copy-link">
            <input type="text" readonly value=link aria-label=label on:focus=|ev| {
                #[cfg(feature = "hydrate")]
                {
                    use wasm_bindgen::JsCast;
                    if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                        input.select();
                    }
                }
                #[cfg(not(feature = "hydrate"))]
                let _ = ev;
            } />
            <button type="button" class="secondary" on:click=copy>
                {move || if copied.get() { "Copied" } else { "Copy" }}
            </button>
        </span>
    }
}
