//! Server-side sessions.
//!
//! The cookie holds 256 random bits; storage keeps only their SHA-256. A session is bound to
//! the user agent that created it (and to its IP when configured), slides forward while used,
//! and ends when its owner signs out, is disabled, or changes their password elsewhere.

use crate::server::ids::{SessionId, UserId};
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::{COOKIE, SET_COOKIE, USER_AGENT};
use http::HeaderValue;

use crate::error::AppResult;
use crate::server::{crypto, now_ms, AppState, Db, Settings};
use crate::types::{CurrentUser, Role};

/// Who is asking: filled for every request by [`session_middleware`].
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: String,
    pub user_agent: String,
}

/// A request made within a valid session.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub session_id: SessionId,
    pub user: CurrentUser,
    /// An admin requires two-factor sign-in and this person has not set it up: until they
    /// do, only Settings and what setting it up takes are open to them.
    pub must_set_up_two_factor: bool,
}

impl Authenticated {
    /// The signed-in person's id, typed.
    pub fn user_id(&self) -> UserId {
        UserId::new(self.user.id.clone())
    }
}

/// Sessions are not refreshed more often than this, to keep reads from turning into writes.
const REFRESH_AFTER_MS: i64 = 60_000;

pub fn cookie_name(settings: &Settings) -> &'static str {
    if settings.secure_cookies() {
        "__Host-sb_session"
    } else {
        "sb_session"
    }
}

/// A cookie of ours: HttpOnly, and `Secure` when served over HTTPS; a `max_age_secs` of 0
/// clears it. `same_site`: "Lax" for what must survive a link from elsewhere (the session,
/// a sign-in coming back from Google), "Strict" otherwise.
pub fn cookie(
    settings: &Settings,
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    max_age_secs: i64,
) -> String {
    let secure = if settings.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path={path}; HttpOnly; SameSite={same_site}; Max-Age={max_age_secs}{secure}")
}

pub fn session_cookie(settings: &Settings, token: &str) -> String {
    let max_age = settings.session_idle_ms / 1000;
    cookie(settings, cookie_name(settings), token, "/", "Lax", max_age)
}

pub fn clear_session_cookie(settings: &Settings) -> String {
    cookie(settings, cookie_name(settings), "", "/", "Lax", 0)
}

/// The value of cookie `name` among `headers`' cookies (none when empty).
pub fn cookie_value(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// Starts a session for `user_id` (and records the sign-in, `how` it was proved) and
/// returns the cookie token (never stored).
pub async fn create_session(
    db: &Db,
    settings: &Settings,
    user_id: &UserId,
    meta: &RequestMeta,
    how: &str,
) -> AppResult<String> {
    let token = crypto::random_token();
    let now = now_ms();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, user_agent, ip, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
    )
    .bind(crypto::new_id())
    .bind(crypto::hash_token(&token))
    .bind(user_id)
    .bind(&meta.user_agent)
    .bind(&meta.ip)
    .bind(now)
    .bind(now + settings.session_idle_ms)
    .execute(&mut *tx)
    .await?;
    let by = crate::server::audit::Actor::user(user_id, meta);
    // Signing in to an account being deleted cancels its deletion (all factors are proven
    // by now).
    let cancelled =
        sqlx::query("UPDATE users SET erase_at = NULL WHERE id = $1 AND erase_at IS NOT NULL")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
    if cancelled.rows_affected() > 0 {
        crate::server::audit::record(
            &mut *tx,
            &by,
            crate::server::audit::Action::DeletionCancelled,
            Some(user_id),
            "by signing in",
        )
        .await?;
    }
    crate::server::audit::record(
        &mut *tx,
        &by,
        crate::server::audit::Action::SignedIn,
        Some(user_id),
        how,
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

type SessionRow = (
    SessionId,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    i64,
);

/// Finds the live session behind `token`, checking its bindings. Returns the session and
/// whether it should be refreshed.
async fn find_session(
    db: &Db,
    settings: &Settings,
    token: &str,
    meta: &RequestMeta,
) -> AppResult<Option<(Authenticated, bool)>> {
    let now = now_ms();
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.id, s.user_agent, s.ip, s.last_seen_at, u.id, u.email, u.display_name, u.role,
             CASE WHEN EXISTS (SELECT 1 FROM instance_settings
                               WHERE key = $3 AND value = '1')
                   AND NOT EXISTS (SELECT 1 FROM two_factor t
                                   WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)
                   AND NOT EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = u.id)
                  THEN 1 ELSE 0 END
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
    )
    .bind(crypto::hash_token(token))
    .bind(now)
    .bind(super::two_factor::REQUIRED_SETTING)
    .fetch_optional(db.pool())
    .await?;
    let Some((session_id, user_agent, ip, last_seen_at, user_id, email, display_name, role, must)) =
        row
    else {
        return Ok(None);
    };
    if user_agent != meta.user_agent {
        tracing::warn!(session = %session_id, "session cookie presented by another user agent; ignored");
        return Ok(None);
    }
    if settings.bind_session_to_ip && ip != meta.ip {
        tracing::warn!(session = %session_id, "session cookie presented from another IP; ignored");
        return Ok(None);
    }
    let must_set_up_two_factor = must != 0;
    let user = CurrentUser {
        id: user_id,
        email,
        display_name,
        role: Role::parse(&role).unwrap_or(Role::User),
        must_set_up_two_factor,
    };
    let stale = now - last_seen_at > REFRESH_AFTER_MS;
    Ok(Some((
        Authenticated {
            session_id,
            user,
            must_set_up_two_factor,
        },
        stale,
    )))
}

async fn refresh_session(
    db: &Db,
    settings: &Settings,
    session_id: &SessionId,
    ip: &str,
) -> AppResult<()> {
    let now = now_ms();
    sqlx::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2, ip = $3 WHERE id = $4")
        .bind(now)
        .bind(now + settings.session_idle_ms)
        .bind(ip)
        .bind(session_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn end_session(db: &Db, session_id: &SessionId) -> AppResult<()> {
    sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(session_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Deletes sessions past their expiry (and, through the foreign key, their push devices).
pub async fn purge_expired(db: &Db) -> AppResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now_ms())
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

/// The user's live sessions, most recently used first; the one asking is marked current.
pub async fn list_sessions(
    db: &Db,
    me: &Authenticated,
) -> AppResult<Vec<crate::types::SessionInfo>> {
    let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT id, user_agent, ip, created_at, last_seen_at FROM sessions
         WHERE user_id = $1 AND expires_at > $2 ORDER BY last_seen_at DESC",
    )
    .bind(&me.user.id)
    .bind(now_ms())
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, user_agent, ip, created_at, last_seen_at)| crate::types::SessionInfo {
                current: id == me.session_id.as_str(),
                id,
                device: crate::device::describe(&user_agent),
                ip,
                created_at,
                last_seen_at,
            },
        )
        .collect())
}

/// Ends one of `user_id`'s sessions; another user's session is "not found".
pub async fn end_own_session(db: &Db, user_id: &UserId, session_id: &SessionId) -> AppResult<()> {
    let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(session_id)
        .bind(user_id)
        .execute(db.pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(crate::error::AppError::not_found("That session"));
    }
    Ok(())
}

/// Ends every session of `user_id` except `keep` (if given).
pub async fn end_other_sessions(
    db: &Db,
    user_id: &UserId,
    keep: Option<&SessionId>,
) -> AppResult<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
        .bind(user_id)
        .bind(keep.map_or("", SessionId::as_str))
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

/// The client's address: the peer's, unless the peer is a trusted proxy, in which case the
/// proxies' `X-Forwarded-For` (or `Forwarded`) chain is read from the right, past every
/// trusted hop, to the first address that is not ours. An untrusted peer's headers are
/// ignored: anyone can write them.
pub fn client_ip(peer: IpAddr, headers: &http::HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded_for: Vec<IpAddr> = if headers.contains_key("x-forwarded-for") {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| parse_hop(hop.trim()))
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default()
    } else {
        headers
            .get_all("forwarded")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    key.eq_ignore_ascii_case("for").then(|| value.trim())
                })
            })
            .map(parse_hop)
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default()
    };
    let mut client = peer;
    for hop in forwarded_for.into_iter().rev() {
        client = hop;
        if !is_trusted(&hop) {
            break;
        }
    }
    client
}

/// One hop of a forwarding header: `203.0.113.7`, `203.0.113.7:4711`, `"[2001:db8::1]:4711"`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim_matches('"');
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

/// Files served from the site root, which every page load fetches and nobody needs a session for.
fn is_static_asset(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path.starts_with("/icons/")
        || matches!(
            path,
            "/sw.js"
                | "/push.js"
                | "/calls.js"
                | "/outside-phone.js"
                | "/manifest.webmanifest"
                | "/offline.html"
                | "/robots.txt"
        )
}

/// Resolves the session for every request and puts [`RequestMeta`] and, when signed in,
/// [`Authenticated`] into the request's extensions, where server functions and page guards
/// read them. A session used after a while gets its expiry (and cookie) slid forward.
pub async fn session_middleware(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let meta = RequestMeta {
        ip: client_ip(peer.ip(), req.headers(), &state.settings.trusted_proxies).to_string(),
        user_agent: req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(512)
            .collect(),
    };
    let mut refreshed_cookie = None;
    let token = if is_static_asset(req.uri().path()) {
        None // the bundle, icons and worker script are public: no session lookup per file
    } else {
        cookie_value(req.headers(), cookie_name(&state.settings))
    };
    if let Some(token) = token {
        match find_session(&state.db, &state.settings, &token, &meta).await {
            Ok(Some((auth, stale))) => {
                if stale {
                    if let Err(e) =
                        refresh_session(&state.db, &state.settings, &auth.session_id, &meta.ip)
                            .await
                    {
                        tracing::warn!(error = ?e, "could not refresh session");
                    } else {
                        refreshed_cookie = Some(session_cookie(&state.settings, &token));
                    }
                }
                req.extensions_mut().insert(auth);
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = ?e, "session lookup failed"),
        }
    }
    req.extensions_mut().insert(meta);
    let mut res = next.run(req).await;
    if let Some(cookie) = refreshed_cookie {
        // Don't overwrite a cookie the handler set (sign-out clears it, for one).
        if !res.headers().contains_key(SET_COOKIE) {
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                res.headers_mut().append(SET_COOKIE, v);
            }
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn forwarded_addresses_count_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let spoofed = headers(&[("x-forwarded-for", "6.6.6.6")]);
        // Straight from the internet: the header is whatever the client wrote.
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        assert_eq!(client_ip(stranger, &spoofed, &trusted), stranger);
        // Nothing trusted: the peer, always.
        assert_eq!(client_ip(proxy, &spoofed, &[]), proxy);
        // Through the proxy: the client it saw (the rightmost untrusted hop), not what the
        // client claimed further left.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.3")]);
        assert_eq!(
            client_ip(proxy, &chain, &trusted),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        let rfc7239 = headers(&[(
            "forwarded",
            "for=\"[2001:db8::7]:4711\";proto=https, for=10.0.0.3",
        )]);
        assert_eq!(
            client_ip(proxy, &rfc7239, &trusted),
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
        // A garbled header is not trusted at all.
        let garbled = headers(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(client_ip(proxy, &garbled, &trusted), proxy);
    }
}
