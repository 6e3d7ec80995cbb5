//! The client files built into a release binary (the `embed-site` feature): served from
//! memory as `ServeDir` serves them from disk otherwise, precompressed copy picked by the
//! browser's Accept-Encoding, with an ETag so a revalidation costs a 304.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;

/// One client file and its compressed copies.
pub struct File {
    /// Where it is served (`/pkg/switchboard.<hash>.js`, `/sw.js` …).
    pub path: &'static str,
    pub body: &'static [u8],
    pub br: Option<&'static [u8]>,
    pub gzip: Option<&'static [u8]>,
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/site.rs"));

/// Whether this binary carries its client (a release build) rather than reading a folder.
pub fn is_embedded() -> bool {
    !FILES.is_empty()
}

/// The embedded `hash.txt`: which content hashes the client files carry (leptos links them).
pub fn hashes() -> Option<&'static [u8]> {
    find("/hash.txt").map(|f| f.body)
}

fn find(path: &str) -> Option<&'static File> {
    FILES
        .binary_search_by(|f| f.path.cmp(path))
        .ok()
        .map(|i| &FILES[i])
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Whether the browser takes `coding` (`br`, `gzip`) by its Accept-Encoding.
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    let Some(accept) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    accept.split(',').any(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        name.eq_ignore_ascii_case(coding) && !refused
    })
}

/// The answer for `req` if it names an embedded file; None sends it on (pages, 404s).
pub fn answer(req: &Request) -> Option<Response> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return None;
    }
    let file = find(req.uri().path())?;
    let headers = req.headers();
    let (body, coding) = match (file.br, file.gzip) {
        (Some(br), _) if accepts(headers, "br") => (br, Some("br")),
        (_, Some(gz)) if accepts(headers, "gzip") => (gz, Some("gzip")),
        _ => (file.body, None),
    };
    // Each encoding is its own representation, with its own tag.
    let etag = match coding {
        Some(c) => format!("{}-{c}\"", file.etag.trim_end_matches('"')),
        None => file.etag.to_string(),
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = Response::builder()
        .header(header::CONTENT_TYPE, content_type(file.path))
        .header(header::ETAG, &etag)
        .header(header::VARY, "accept-encoding");
    if let Some(coding) = coding {
        res = res.header(header::CONTENT_ENCODING, coding);
    }
    let res = if fresh {
        res.status(StatusCode::NOT_MODIFIED).body(Body::empty())
    } else if req.method() == Method::HEAD {
        res.header(header::CONTENT_LENGTH, body.len())
            .body(Body::empty())
    } else {
        res.body(Body::from(body))
    };
    res.ok()
}
