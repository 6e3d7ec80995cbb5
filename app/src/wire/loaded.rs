//! A page's data: a server function's answer, loaded (and reloaded) as a resource.

use leptos::prelude::*;
use leptos::server::codee::string::FromToStringCodec;
use server_fn::ServerFn;

use super::{decode_answer, post_form};
use crate::error::AppError;
use crate::types::Answer;

/// A server function's answer, loaded for a page and loaded again whenever its arguments
/// change; `.await` it inside `Suspend`.
///
/// Like [`FormAction`], one resource type serves every page: a `Resource<T>` per answer
/// type costs the browser bundle ~8 KB of WASM each (its own copy of the async machinery).
/// Here the browser holds the answer as JSON and decodes it where it is shown. On the
/// server the function runs in place, as a `Resource` would run it.
pub struct Loaded<T> {
    answer: Resource<Carried, FromToStringCodec>,
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

impl<T: Answer + 'static> Loaded<T> {
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

impl<T: Answer + 'static> Loaded<Option<T>> {
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

/// The answers one page request has loaded, by function and arguments (the server's).
///
/// The server renders a page more than once while its data loads (each `Suspend` renders
/// again once its data is in), and every pass loads its data again. The browser hydrates
/// with the first pass's answers into the last pass's HTML, so when anything changed the
/// data in between (a text arriving, another tab marking a thread read), hydration found
/// other HTML than it expected and panicked. Every pass of one request now sees the same
/// answer to the same call. The router provides one per request.
#[derive(Clone, Default)]
pub struct PageAnswers(
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<(&'static str, String), Carried>>>,
);

/// The one resource behind every [`Loaded`] (not generic, so compiled once).
fn loading(
    url: &'static str,
    call: Signal<(Option<String>, u64)>,
    here: RunHere,
) -> Resource<Carried, FromToStringCodec> {
    let answers = use_context::<PageAnswers>();
    Resource::new_str(
        // A page whose rendering was dropped (the browser went elsewhere mid-response) may
        // still poll its resources once after their arguments were disposed: no call then,
        // rather than a panic in the server's log.
        move || call.try_get().unwrap_or_default(),
        move |(encoded, _run)| {
            let answers = answers.clone();
            async move {
                match encoded {
                    None => Carried(Ok("null".to_string())),
                    Some(encoded) if cfg!(feature = "ssr") => {
                        let key = (url, encoded);
                        let known = answers
                            .as_ref()
                            .and_then(|a| a.0.lock().ok()?.get(&key).cloned());
                        if let Some(known) = known {
                            return known;
                        }
                        let answer = Carried(here(key.1.clone()).await);
                        if let Some(Ok(mut all)) = answers.as_ref().map(|a| a.0.lock()) {
                            all.insert(key, answer.clone());
                        }
                        answer
                    }
                    Some(encoded) => Carried(post_form(url, encoded).await),
                }
            }
        },
    )
}

/// A server function's answer as the page's data carries it from the server to the
/// browser: `ok:` and its JSON, or `err:` and the error's.
#[derive(Clone, Debug, PartialEq)]
struct Carried(Result<String, AppError>);

impl std::fmt::Display for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Ok(json) => write!(f, "ok:{json}"),
            Err(error) => write!(f, "err:{}", error.to_json()),
        }
    }
}

impl std::str::FromStr for Carried {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(json) = s.strip_prefix("ok:") {
            Ok(Carried(Ok(json.to_string())))
        } else {
            let error = s.strip_prefix("err:").and_then(AppError::from_json);
            Ok(Carried(Err(error.ok_or("not an answer")?)))
        }
    }
}

impl<T: Answer + Send + 'static> std::future::IntoFuture for Loaded<T> {
    type Output = Result<T, AppError>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        let answer = self.answer;
        Box::pin(async move { decode_answer(&answer.await.0?) })
    }
}

#[cfg(test)]
mod tests {
    use super::Carried;
    use crate::error::AppError;

    #[test]
    fn answers_cross_from_server_to_browser_as_text() {
        for answer in [
            Carried(Ok(r#"{"id":"a","list":[1,2]}"#.into())),
            Carried(Ok("null".into())),
            Carried(Err(AppError::Forbidden)),
            Carried(Err(AppError::Invalid("ok: not \"this\"".into()))),
        ] {
            assert_eq!(answer.to_string().parse::<Carried>(), Ok(answer.clone()));
        }
        assert!("".parse::<Carried>().is_err());
        assert!("err:{}".parse::<Carried>().is_err());
    }
}
