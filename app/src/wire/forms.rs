//! Forms that post to a server function, with and without JavaScript.

use leptos::prelude::*;
use leptos::server::ServerActionError;
use server_fn::ServerFn;

use super::{decode_answer, error_in_url, post_form};
use crate::error::AppError;
use crate::pages::widgets::error_note;

/// A server function that a form posts to, and the outcome of its last submission.
///
/// One type serves every form on every page. Leptos's `ServerAction` + `ActionForm` are
/// generic over the server function, and each one costs the browser bundle ~10 KB of WASM
/// (its own copy of the action machinery and of a form-data decoder for its arguments); here
/// the browser only turns the form into `application/x-www-form-urlencoded` and the server
/// decodes it exactly as it decodes the same form posted without JavaScript.
#[derive(Clone, Copy)]
pub struct FormAction {
    url: &'static str,
    /// Posts a urlencoded body; answers the server function's JSON answer, or its error.
    action: Action<String, Result<String, AppError>>,
}

impl FormAction {
    pub fn new<F: ServerFn<Error = AppError>>() -> Self {
        Self::posting_to(F::PATH)
    }

    fn posting_to(url: &'static str) -> Self {
        // Without JavaScript the server redirects back here with the error in the URL.
        let error = use_context::<ServerActionError>()
            .filter(|error| error.path() == url)
            .map(|error| Err(error_in_url(error.err())));
        FormAction {
            url,
            action: Action::new_with_value(error, move |body: &String| {
                post_form(url, body.clone())
            }),
        }
    }

    /// Counts finished submissions: resources that show what a form changes refetch on it.
    pub fn version(&self) -> RwSignal<usize> {
        self.action.version()
    }

    /// The last submission's outcome: the server function's answer as JSON, or its error.
    pub fn result(&self) -> Signal<Option<Result<String, AppError>>> {
        self.action.value().into()
    }

    /// The last submission's answer, when it succeeded.
    pub fn output<T: crate::types::Answer>(&self) -> Option<T> {
        match self.action.value().get() {
            Some(Ok(json)) => decode_answer(&json).ok(),
            _ => None,
        }
    }

    pub fn succeeded(&self) -> bool {
        matches!(self.action.value().get(), Some(Ok(_)))
    }

    /// Posts `fields` (a form's, or a form's read by another button) in the background.
    #[cfg(feature = "hydrate")]
    pub fn submit(&self, fields: &web_sys::FormData) {
        match web_sys::UrlSearchParams::new_with_str_sequence_sequence(fields) {
            Ok(encoded) => {
                self.action.dispatch(String::from(encoded.to_string()));
            }
            Err(_) => self.could_not_read(),
        }
    }

    #[cfg(feature = "hydrate")]
    fn could_not_read(&self) {
        self.action.value().set(Some(Err(AppError::invalid(
            "This form could not be read. Reload the page and try again.",
        ))));
    }
}

/// A `<form>` posting to `action`'s server function: a plain HTML form without JavaScript,
/// submitted in the background with it.
#[component]
pub fn PostForm(
    action: FormAction,
    #[prop(optional)] node_ref: NodeRef<leptos::html::Form>,
    children: Children,
) -> impl IntoView {
    let submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            if ev.default_prevented() {
                return;
            }
            ev.prevent_default();
            match leptos::form::form_data_from_event(&ev) {
                Ok(fields) => action.submit(&fields),
                Err(_) => action.could_not_read(),
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, action);
    };
    view! {
        <form method="post" action=action.url node_ref=node_ref on:submit=submit>
            {children()}
        </form>
    }
}

/// Shows the error of the form's last submission, if it failed (announced to screen readers).
#[component]
pub fn FormError(action: FormAction) -> impl IntoView {
    move || action.result().get().and_then(|r| r.err()).map(error_note)
}
