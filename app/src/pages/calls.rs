//! How pages reach server functions: `FormAction` + `<PostForm>` for forms, `Loaded<T>` for a
//! page's data, `call` for an event handler. None of them is generic over the server
//! function where it matters (the machinery the browser bundle would otherwise copy once
//! per function); all post urlencoded arguments and read JSON answers.

use leptos::prelude::*;
use leptos::server::codee::string::FromToStringCodec;
use leptos::server::ServerActionError;
use server_fn::ServerFn;

use super::widgets::error_note;
use crate::error::AppError;

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
    pub fn output<T: miniserde::Deserialize>(&self) -> Option<T> {
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

/// A server function's answer, loaded for a page and loaded again whenever its arguments
/// change; `.await` it inside `Suspend`.
///
/// Like [`FormAction`], one resource type serves every page: a `Resource<T>` per answer
/// type costs the browser bundle ~8 KB of WASM each (its own copy of the async machinery).
/// Here the browser holds the answer as JSON and decodes it where it is shown. On the
/// server the function runs in place, as a `Resource` would run it.
pub struct Loaded<T> {
    answer: Resource<Answer, FromToStringCodec>,
    shape: std::marker::PhantomData<fn() -> T>,
}

impl<T> Clone for Loaded<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Loaded<T> {}

/// Runs a server function in place, given its arguments urlencoded; answers its JSON.
type RunHere = fn(
    String,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<String, AppError>> + Send>,
>;

impl<T: miniserde::Deserialize + 'static> Loaded<T> {
    /// Loads what the server function `F` answers to the arguments `args` builds, and loads
    /// again whenever a signal `args` reads changes (read a form's `version()` there to
    /// reload after it is submitted, even when the arguments stay the same).
    pub fn new<F>(args: impl Fn() -> F + Send + Sync + 'static) -> Self
    where
        F: ServerFn<Error = AppError, Output = T> + serde::Serialize + serde::de::DeserializeOwned,
        T: serde::Serialize,
    {
        Loaded {
            answer: loading(F::PATH, call_source(move || Some(args())), run_here::<F>()),
            shape: std::marker::PhantomData,
        }
    }
}

impl<T: miniserde::Deserialize + 'static> Loaded<Option<T>> {
    /// Like [`Loaded::new`], but only while `args` builds arguments; `None` meanwhile.
    pub fn when<F>(args: impl Fn() -> Option<F> + Send + Sync + 'static) -> Self
    where
        F: ServerFn<Error = AppError, Output = T> + serde::Serialize + serde::de::DeserializeOwned,
        T: serde::Serialize,
    {
        Loaded {
            answer: loading(F::PATH, call_source(args), run_here::<F>()),
            shape: std::marker::PhantomData,
        }
    }
}

/// A call's arguments, urlencoded (None: no call), and a number new on each run of `args`:
/// a resource only reloads when its source changes, and a reload asked for by a signal must
/// happen with equal arguments too.
fn call_source<F: serde::Serialize>(
    args: impl Fn() -> Option<F> + Send + Sync + 'static,
) -> Signal<(Option<String>, u64)> {
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    Signal::derive(move || {
        let call = args().map(|call| serde_qs::to_string(&call).unwrap_or_default());
        (
            call,
            runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        )
    })
}

#[cfg(feature = "ssr")]
fn run_here<F>() -> RunHere
where
    F: ServerFn<Error = AppError> + serde::de::DeserializeOwned,
    F::Output: serde::Serialize,
{
    |encoded| {
        Box::pin(async move {
            let call: F = serde_qs::from_str(&encoded)
                .map_err(|_| AppError::invalid("Some fields are missing or malformed."))?;
            let answer = call.run_body().await?;
            serde_json::to_string(&answer).map_err(AppError::internal)
        })
    }
}

/// In the browser a server function is reached over HTTP only (`F` keeps the server's
/// signature).
#[cfg(not(feature = "ssr"))]
#[allow(clippy::extra_unused_type_parameters)]
fn run_here<F>() -> RunHere {
    |_| Box::pin(async { Err(AppError::Transport("not on the server".into())) })
}

/// The one resource behind every [`Loaded`] (not generic, so compiled once).
fn loading(
    url: &'static str,
    call: Signal<(Option<String>, u64)>,
    here: RunHere,
) -> Resource<Answer, FromToStringCodec> {
    Resource::new_str(
        move || call.get(),
        move |(encoded, _run)| async move {
            Answer(match encoded {
                None => Ok("null".to_string()),
                Some(encoded) if cfg!(feature = "ssr") => here(encoded).await,
                Some(encoded) => post_form(url, encoded).await,
            })
        },
    )
}

/// A server function's answer as the page's data carries it from the server to the
/// browser: `ok:` and its JSON, or `err:` and the error's.
#[derive(Clone, Debug, PartialEq)]
struct Answer(Result<String, AppError>);

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Ok(json) => write!(f, "ok:{json}"),
            Err(error) => write!(f, "err:{}", error.to_json()),
        }
    }
}

impl std::str::FromStr for Answer {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(json) = s.strip_prefix("ok:") {
            Ok(Answer(Ok(json.to_string())))
        } else {
            let error = s.strip_prefix("err:").and_then(AppError::from_json);
            Ok(Answer(Err(error.ok_or("not an answer")?)))
        }
    }
}

impl<T: miniserde::Deserialize + Send + 'static> std::future::IntoFuture for Loaded<T> {
    type Output = Result<T, AppError>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        let answer = self.answer;
        Box::pin(async move { decode_answer(&answer.await.0?) })
    }
}

/// Calls the server function `F` from the browser (an event handler), the way [`Loaded`]
/// does: its arguments urlencoded, its answer decoded from JSON.
#[cfg(feature = "hydrate")]
pub async fn call<F>(args: F) -> Result<F::Output, AppError>
where
    F: ServerFn<Error = AppError> + serde::Serialize,
    F::Output: miniserde::Deserialize,
{
    let encoded = serde_qs::to_string(&args).map_err(|e| AppError::invalid(e.to_string()))?;
    decode_answer(&post_form(F::PATH, encoded).await?)
}

/// A server function's JSON answer as the type it returns.
fn decode_answer<T: miniserde::Deserialize>(json: &str) -> Result<T, AppError> {
    miniserde::json::from_str(json)
        .map_err(|_| AppError::Transport("the server's answer was unreadable".into()))
}

/// The error a form's server function put in the URL it redirected to without JavaScript
/// (`__err`: its JSON, URL-safe base64).
fn error_in_url(encoded: &str) -> AppError {
    base64_url_decode(encoded)
        .and_then(|json| AppError::from_json(&json))
        .unwrap_or_else(|| AppError::Transport("the error in the address was unreadable".into()))
}

/// Decodes URL-safe base64 (padded or not). Written out rather than taken from the base64
/// crate, whose generic decoder costs the browser bundle ~1 KB for this one use.
fn base64_url_decode(encoded: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(encoded.len() * 3 / 4);
    let (mut bits, mut held) = (0u32, 0u32);
    for c in encoded.trim_end_matches('=').bytes() {
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(sextet);
        held += 6;
        if held >= 8 {
            held -= 8;
            bytes.push((bits >> held) as u8);
            bits &= (1 << held) - 1;
        }
    }
    String::from_utf8(bytes).ok()
}

/// POSTs a form's fields to a server function the way its own client does (so redirects,
/// errors and CSRF checks behave the same).
#[cfg(feature = "hydrate")]
fn post_form(
    url: &'static str,
    body: String,
) -> impl std::future::Future<Output = Result<String, AppError>> + Send {
    send_wrapper::SendWrapper::new(async move {
        let unreachable = |e: gloo_net::Error| AppError::Transport(e.to_string());
        let response = gloo_net::http::Request::post(url)
            .header("Accept", "application/json")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .map_err(unreachable)?
            .send()
            .await
            .map_err(unreachable)?;
        let text = response.text().await.map_err(unreachable)?;
        if !response.ok() {
            return Err(AppError::from_json(&text)
                .unwrap_or_else(|| AppError::Transport(format!("status {}", response.status()))));
        }
        if response.headers().has(server_fn::redirect::REDIRECT_HEADER) {
            if let Some(location) = response.headers().get("location") {
                server_fn::redirect::call_redirect_hook(&location);
            }
        }
        Ok(text)
    })
}

/// On the server a form is only rendered, never posted from here.
#[cfg(not(feature = "hydrate"))]
async fn post_form(_url: &'static str, _body: String) -> Result<String, AppError> {
    Err(AppError::Transport(
        "forms are posted from the browser".into(),
    ))
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

#[cfg(test)]
mod tests {
    use super::{base64_url_decode, Answer};
    use crate::error::AppError;

    #[test]
    fn url_safe_base64_decodes_as_the_base64_crate_encodes() {
        use base64::Engine;
        for text in [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            r#"{"Invalid":"Ça? ✓ 😀 <>?~"}"#,
        ] {
            for engine in [
                base64::engine::general_purpose::URL_SAFE,
                base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ] {
                let encoded = engine.encode(text);
                assert_eq!(
                    base64_url_decode(&encoded).as_deref(),
                    Some(text),
                    "{encoded}"
                );
            }
        }
        assert_eq!(base64_url_decode("a+b/"), None);
        assert_eq!(base64_url_decode("_w"), None); // 0xff: not UTF-8
    }

    #[test]
    fn answers_cross_from_server_to_browser_as_text() {
        for answer in [
            Answer(Ok(r#"{"id":"a","list":[1,2]}"#.into())),
            Answer(Ok("null".into())),
            Answer(Err(AppError::Forbidden)),
            Answer(Err(AppError::Invalid("ok: not \"this\"".into()))),
        ] {
            assert_eq!(answer.to_string().parse::<Answer>(), Ok(answer.clone()));
        }
        assert!("".parse::<Answer>().is_err());
        assert!("err:{}".parse::<Answer>().is_err());
    }
}
