//! Serving like a production web server: security headers on every answer (a strict
//! Content-Security-Policy with a fresh nonce for the pages' inline scripts), cache rules
//! per kind of file, a bound on requests in flight, and the connection loop itself (header
//! read timeouts, a connection cap, graceful shutdown).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

/// The nonce of this request's inline scripts (hydration and the page's data). The leptos
/// context closure hands it to leptos, which writes it on every inline `<script>`.
#[derive(Clone)]
pub struct CspNonce(pub Arc<str>);

/// The policy for pages: scripts only from here or carrying this response's nonce (the
/// hydration bootstrap and resource data); WebAssembly compiled by the browser; styles,
/// images, connections only from here (pictures are shown from `/media`, composer previews
/// are `blob:`) and to Telnyx's and Twilio's calling services (the SDKs that answer
/// phone-network calls in the browser sign in there; Twilio's moves a call's signalling to
/// the edge that took it, `voice-js.<edge>.twilio.com`); never framed; forms post only
/// here.
fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data: blob:; connect-src 'self' wss://rtc.telnyx.com \
         wss://*.twilio.com; \
         font-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
}

/// The offline page is a static file the service worker keeps; it holds no data and has
/// its own inline style and one inline click handler.
const OFFLINE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     script-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/// The service worker's (and any script's) own policy: this origin only.
const WORKER_POLICY: &str = "default-src 'self'; object-src 'none'; frame-ancestors 'none'";

/// What is allowed to use the microphone (calls, soon) and what nobody may.
const PERMISSIONS_POLICY: &str = "microphone=(self), camera=(), geolocation=(), payment=(), \
     usb=(), bluetooth=(), serial=(), hid=(), interest-cohort=()";

/// Whether `path` names a client file whose name carries its content hash
/// (`/pkg/switchboard.<16 hex>.js`): such a file never changes, so browsers keep it.
fn is_hashed_asset(path: &str) -> bool {
    let Some(name) = path.strip_prefix("/pkg/") else {
        return false;
    };
    let mut parts = name.split('.');
    let (Some(_), Some(hash), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// How long browsers may keep an answer for `path`.
fn cache_control(path: &str, is_html: bool) -> &'static str {
    if is_hashed_asset(path) {
        "public, max-age=31536000, immutable"
    } else if path.starts_with("/icons/") {
        "public, max-age=86400"
    } else if is_html {
        // Pages hold people's texts: never kept, by the browser or anything in between.
        "no-store"
    } else {
        // The service worker, push.js, the manifest, an unhashed bundle: always revalidated.
        "no-cache"
    }
}

/// Adds the security headers and cache rules to every answer, and gives each request a
/// CSP nonce for its page.
pub async fn security_headers(secure: bool, mut req: Request, next: Next) -> Response {
    let nonce: Arc<str> = leptos::nonce::Nonce::new().to_string().into();
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let path = req.uri().path().to_string();
    let mut res = next.run(req).await;
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    let is_html = content_type.starts_with(b"text/html");
    let is_script = content_type.starts_with(b"text/javascript")
        || content_type.starts_with(b"application/javascript");
    let headers = res.headers_mut();
    let policy = if path == "/offline.html" {
        OFFLINE_POLICY.to_string()
    } else if is_html {
        page_policy(&nonce)
    } else if is_script {
        // A script's own policy is what a service worker lives under: its fetches (the
        // navigations it passes on) go to this origin.
        WORKER_POLICY.to_string()
    } else {
        // Anything else (JSON, pictures, files) runs nothing and is framed by nobody.
        "default-src 'none'; frame-ancestors 'none'; sandbox".to_string()
    };
    if let Ok(v) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The rest speak to documents (framing, referrers, powerful features, the browsing
    // context). The client's content-named files and the icons, fetched on a first visit,
    // are never documents; their policy above already forbids framing and running anything.
    // Leaving these off them saved ~1.2 KB of every first visit over HTTP/1.1.
    let never_a_document = is_hashed_asset(&path) || path.starts_with("/icons/");
    if !never_a_document {
        let fixed = [
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "same-origin"),
            (
                header::HeaderName::from_static("permissions-policy"),
                PERMISSIONS_POLICY,
            ),
            (
                header::HeaderName::from_static("cross-origin-opener-policy"),
                "same-origin",
            ),
        ];
        for (name, value) in fixed {
            headers.insert(name, HeaderValue::from_static(value));
        }
        if secure {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=63072000; includeSubDomains"),
            );
        }
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control(&path, is_html)),
        );
    }
    res
}

/// Requests answered at once, beyond which more are refused with 503 rather than queued
/// (live streams are not counted: each is one long-lived connection, capped per user).
pub const MAX_REQUESTS_IN_FLIGHT: usize = 256;
/// A request that takes longer than this (a page, a server function, a webhook) is ended.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Sheds load past [`MAX_REQUESTS_IN_FLIGHT`] and ends requests past [`REQUEST_TIMEOUT`].
pub async fn bounded(in_flight: Arc<Semaphore>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/events" {
        return next.run(req).await;
    }
    let Ok(_permit) = in_flight.try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "The server is busy. Try again in a moment.",
        )
            .into_response();
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(res) => res,
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "That took too long. Try again.",
        )
            .into_response(),
    }
}

/// Limits of the connection loop.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A client must send a request's headers within this (slow-loris).
    pub header_read_timeout: Duration,
    /// Open connections at most; more wait in the listen queue.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 2048,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, asks every
/// connection to finish its request in flight, and returns once they have or after `grace`
/// (live streams never end by themselves).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use tower::Service;

    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit.expect("never closed"),
            _ = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(service) = make_service.call(peer).await;
        let service = hyper_util::service::TowerToHyperService::new(service);
        let builder = builder.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
            let mut connection = std::pin::pin!(connection);
            let stop_asked = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop_asked => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(permit);
        });
    }
    let _ = stop.send(true);
    // Connections finish their request in flight; wait for them, but not for ever.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(grace, connections.acquire_many(all)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashed_client_files_are_kept_for_good() {
        assert!(is_hashed_asset("/pkg/switchboard.0123456789abcdef.js"));
        assert!(is_hashed_asset("/pkg/switchboard.0123456789abcdef.wasm"));
        assert!(!is_hashed_asset("/pkg/switchboard.js"));
        assert!(!is_hashed_asset("/pkg/switchboard_bg.wasm"));
        assert!(!is_hashed_asset("/sw.js"));
        assert_eq!(cache_control("/inbox", true), "no-store");
        assert_eq!(cache_control("/sw.js", false), "no-cache");
        assert_eq!(
            cache_control("/pkg/switchboard.0123456789abcdef.css", false),
            "public, max-age=31536000, immutable"
        );
    }
}
