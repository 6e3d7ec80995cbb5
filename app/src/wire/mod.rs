//! The wire between pages and server functions: `FormAction` + `<PostForm>` for forms,
//! `Loaded<T>` for a page's data, `call` for an event handler. None of them is generic over
//! the server function where it matters (the machinery the browser bundle would otherwise
//! copy once per function); all post urlencoded arguments and read JSON answers, which the
//! browser decodes with miniserde (`types::tagged` reads serde's externally tagged enums).

mod forms;
mod loaded;

pub use forms::{FormAction, FormError, PostForm};
pub use loaded::{Loaded, PageAnswers};

#[cfg(feature = "hydrate")]
use server_fn::ServerFn;

use crate::error::AppError;

/// Calls the server function `F` from the browser (an event handler), the way [`Loaded`]
/// does: its arguments urlencoded, its answer decoded from JSON.
#[cfg(feature = "hydrate")]
pub async fn call<F>(args: F) -> Result<F::Output, AppError>
where
    F: ServerFn<Error = AppError> + serde::Serialize,
    F::Output: crate::types::Answer,
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

#[cfg(test)]
mod tests {
    use super::base64_url_decode;

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
}
