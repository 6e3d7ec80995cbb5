#![recursion_limit = "256"]
//! The `switchboard` server: start-up, the HTTP router and its guards.
//! The app's rules live in `app::server`; this crate wires them to the network.

pub mod backup;
pub mod config;
pub mod serving;
pub mod site;
pub mod startup;

/// The server's allocator (here, so the binary, the tests and the benches all use it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use app::error::AppError;
use app::server::accounts::sessions::{session_middleware, Authenticated};
use app::server::contacts::routes as contacts;
use app::server::media::routes as media;
use app::server::AppState;
use app::{shell, App};

/// Largest request body accepted (forms and server-function calls are small; uploads and
/// the sandbox's pictures have their own limits).
const BODY_LIMIT: usize = 256 * 1024;
/// A sandbox webhook may carry a picture as a `data:` URL (base64: 4/3 of 5 MB, and more).
const SANDBOX_LIMIT: usize = 7_000_000;

/// The app's routes, listed once per process. Listing them renders the whole app with
/// resource loading switched off by a process-wide flag (leptos_router's
/// `RouteList::generate`); any page rendering meanwhile, on any router, saw its resources
/// never load and hung (leptos#4773). Once one router exists, no listing runs again.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn build_router(state: AppState) -> Router {
    let routes = route_list();
    let context = {
        let state = state.clone();
        move || {
            provide_context(state.clone());
            // One page request's answers, shared by its render passes (wire::PageAnswers).
            provide_context(app::wire::PageAnswers::default());
            // This response's CSP nonce (serving::security_headers): leptos writes it on
            // every inline script it emits.
            let nonce = leptos::prelude::use_context::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<serving::CspNonce>().cloned());
            if let Some(serving::CspNonce(nonce)) = nonce {
                provide_context(leptos::nonce::Nonce::from_value(nonce));
            }
        }
    };
    let secure = state.settings.secure_cookies();
    let in_flight =
        std::sync::Arc::new(tokio::sync::Semaphore::new(serving::MAX_REQUESTS_IN_FLIGHT));
    let render = {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    };
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/events", get(app::server::events::stream_handler))
        .route(
            "/webhooks/sandbox",
            post(app::server::webhooks::sandbox).layer(DefaultBodyLimit::max(SANDBOX_LIMIT)),
        )
        .route(
            "/media",
            post(media::upload).layer(DefaultBodyLimit::max(media::UPLOAD_LIMIT)),
        )
        .route("/media/public/{id}", get(media::public))
        .route(
            "/calls/{id}/voicemail",
            post(app::server::calls::upload)
                .layer(DefaultBodyLimit::max(app::server::calls::UPLOAD_LIMIT)),
        )
        .route(
            "/numbers/{id}/greeting",
            post(app::server::calls::greeting::upload).layer(DefaultBodyLimit::max(
                app::server::calls::greeting::UPLOAD_LIMIT,
            )),
        )
        .route(
            "/simulator/calls/{id}/voicemail",
            post(app::server::calls::upload_outside)
                .layer(DefaultBodyLimit::max(app::server::calls::UPLOAD_LIMIT)),
        )
        .route("/media/{id}", get(media::own))
        .route(
            "/contacts/import/preview",
            post(contacts::preview).layer(DefaultBodyLimit::max(contacts::PREVIEW_LIMIT + 1024)),
        )
        .route(
            "/contacts/import",
            post(contacts::import).layer(DefaultBodyLimit::max(contacts::IMPORT_LIMIT)),
        )
        .route("/contacts/export.csv", get(contacts::export_csv))
        .route("/export/{token}", get(app::server::export::download))
        .route(
            app::server::accounts::google::START_PATH,
            get(app::server::accounts::google::start_handler),
        )
        .route(
            app::server::accounts::google::CALLBACK_PATH,
            get(app::server::accounts::google::callback_handler),
        )
        .route("/contacts/export.vcf", get(contacts::export_vcard))
        .route("/campaigns/{id}/report.csv", get(contacts::campaign_report))
        .route("/webhooks/telnyx", post(app::server::webhooks::telnyx))
        .route("/webhooks/twilio", post(app::server::webhooks::twilio))
        .route(
            app::server::webhooks::RINGBACK_PATH,
            get(app::server::webhooks::sound),
        )
        .route(
            app::server::webhooks::SILENCE_PATH,
            get(app::server::webhooks::sound),
        )
        .route(
            "/webhooks/email",
            post(app::server::email::replies::webhook).layer(DefaultBodyLimit::max(
                app::server::email::replies::EMAIL_LIMIT,
            )),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), render);
    // Client files: built into a release binary, else from the site root (served with the
    // whole request: leptos's own file handler passes on only Accept-Encoding, so a
    // revalidation never got its 304). Anything else is leptos's 404 page.
    let not_found = axum::handler::Handler::with_state(
        leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell),
        state.clone(),
    );
    let router = if site::is_embedded() {
        router.fallback(move |req: Request| {
            let not_found = not_found.clone();
            async move {
                match site::answer(&req) {
                    Some(file) => file,
                    None => tower::ServiceExt::oneshot(not_found, req)
                        .await
                        .map(IntoResponse::into_response)
                        .unwrap_or_else(|never| match never {}),
                }
            }
        })
    } else {
        router.fallback_service(
            tower_http::services::ServeDir::new(&*state.leptos_options.site_root)
                .precompressed_br()
                .precompressed_gzip()
                .fallback(not_found),
        )
    };
    router
        .layer(middleware::from_fn(server_fn_error_status))
        .layer(middleware::from_fn(page_guard))
        .layer(middleware::from_fn_with_state(state.clone(), session_middleware))
        .layer(middleware::from_fn(csrf_guard))
        .layer(middleware::from_fn(move |req, next| {
            serving::bounded(in_flight.clone(), req, next)
        }))
        // A body must arrive at a reasonable pace (the slow-upload cousin of slow-loris).
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            std::time::Duration::from_secs(30),
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(move |req, next| {
            serving::security_headers(secure, req, next)
        }))
        // Pages and answers compressed on the fly; the client files come precompressed
        // (ServeDir picks the .br/.gz beside them) and live streams are left alone.
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Server functions (registered by `leptos_routes_with_context` at `/api/<name>`) answer
/// every error with 500; give each [`AppError`] its real status (a wrong password is a 400,
/// not a server fault) so logs and monitoring tell them apart.
async fn server_fn_error_status(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res.headers().contains_key("serverfnerror")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = err.status();
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// For load balancers: 200 when the database answers.
async fn healthz(State(state): State<AppState>) -> Response {
    match sqlx::query("SELECT 1").execute(state.db.pool()).await {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// The signed-in app's pages; anything else is public or a file.
const APP_PAGES: &[&str] = &[
    "/inbox",
    "/calls",
    "/numbers",
    "/contacts",
    "/settings",
    "/admin",
];

fn is_app_page(path: &str) -> bool {
    APP_PAGES.iter().any(|p| {
        path == *p
            || path
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Sends people who are not signed in to the sign-in page (and signed-in people past it)
/// before any page renders.
async fn page_guard(req: Request, next: Next) -> Response {
    let must_set_up_two_factor = req
        .extensions()
        .get::<Authenticated>()
        .is_some_and(|a| a.must_set_up_two_factor);
    if must_set_up_two_factor {
        // Until two-factor sign-in is set up (an admin requires it): Settings only.
        let path = req.uri().path();
        if req.method() == Method::GET && path != "/settings" && (path == "/" || is_app_page(path))
        {
            return Redirect::to("/settings").into_response();
        }
        if ["/media/", "/contacts/", "/campaigns/"]
            .iter()
            .any(|p| path.starts_with(p))
        {
            return AppError::invalid(
                "This Switchboard requires two-factor sign-in: set it up under Settings first.",
            )
            .into_response();
        }
    }
    if req.method() == Method::GET {
        let signed_in = req.extensions().get::<Authenticated>().is_some();
        let path = req.uri().path();
        let target = match path {
            "/" if signed_in => Some(app::types::HOME),
            "/" => Some("/signin"),
            "/signin" if signed_in => Some(app::types::HOME),
            p if !signed_in && is_app_page(p) => Some("/signin"),
            _ => None,
        };
        if let Some(target) = target {
            return Redirect::to(target).into_response();
        }
    }
    next.run(req).await
}

/// CSRF defence for every state-changing request, server functions included: the browser
/// must say the request comes from our own pages (`Sec-Fetch-Site`), or, for browsers that
/// don't send that, its `Origin` must be this host. Requests with neither are refused.
async fn csrf_guard(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || req.uri().path().starts_with("/webhooks/")
    {
        return next.run(req).await;
    }
    let headers = req.headers();
    let allowed = match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        None => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
            match (origin, host) {
                (Some(origin), Some(host)) => origin
                    .split_once("://")
                    .is_some_and(|(_, origin_host)| origin_host.trim_end_matches('/') == host),
                _ => false,
            }
        }
    };
    if allowed {
        next.run(req).await
    } else {
        tracing::warn!(path = %req.uri().path(), "cross-site request refused");
        (StatusCode::FORBIDDEN, "Cross-site request refused.").into_response()
    }
}
