//! Sign in with Google: OpenID Connect's authorization code flow with PKCE (RFC 7636),
//! through the openidconnect crate (discovery, the ID token's RS256 signature against the
//! provider's published keys, issuer, audience, expiry and nonce).
//!
//! Invite-only stays invite-only: Google vouches for an email, and that email must already
//! have an account here (which it then opens, linked for next time) or a pending
//! invitation (which makes the account, without a password). Two-factor sign-in still asks
//! for its second step: Google stands in for the password, not for the code or passkey.
//!
//! A flow: `GET /auth/google` ([`start`]) keeps the PKCE verifier and nonce under the
//! SHA-256 of a random `state`, sets that state in a cookie and sends the browser to the
//! provider; the provider sends it back to `GET /auth/google/callback` ([`finish`]), where
//! the state must match the cookie (so nobody can finish a sign-in another browser began),
//! and is taken once.
//!
//! Admins set the client id and secret (Admin → Sign-in; the secret sealed like carrier
//! keys). The provider is Google's unless the operator names another
//! (`SWITCHBOARD_GOOGLE_ISSUER`), as the tests do.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use crate::error::{AppError, AppResult};
use crate::server::accounts::sessions::RequestMeta;
use crate::server::audit::{self, Action, Actor};
use crate::server::ids::UserId;
use crate::server::{crypto, instance_settings, now_ms, throttle, AppState, Db};
use crate::types::{GoogleLink, GoogleSettings};

pub const CLIENT_ID_SETTING: &str = "google.client_id";
pub const CLIENT_SECRET_SETTING: &str = "google.client_secret";
/// The cookie that ties a flow to the browser that began it.
pub const STATE_COOKIE: &str = "sb_google_state";
pub const START_PATH: &str = "/auth/google";
pub const CALLBACK_PATH: &str = "/auth/google/callback";
/// How long the provider's page may take.
pub const FLOW_MS: i64 = 10 * 60 * 1000;
/// Flows waiting at once, for the whole instance (starting one takes no account).
pub const FLOWS_MAX: i64 = 10_000;
/// The provider's answers are small JSON documents and keys; requests to it time out.
const PROVIDER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a flow is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// From the sign-in page: open the account of the Google account's email.
    SignIn,
    /// From Settings: link a Google account to the signed-in account.
    Link,
    /// From an invitation's page: make the account with the Google account's email.
    Join,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Link => "link",
            Purpose::Join => "join",
        }
    }

    fn parse(s: &str) -> Option<Purpose> {
        [Purpose::SignIn, Purpose::Link, Purpose::Join]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// Why a Google sign-in didn't open anything: a fixed sentence each (the page shows it from
/// a code in its address, so nobody can put their own words on our sign-in page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotSetUp,
    Failed,
    NoAccount,
    Unverified,
    Disabled,
    LinkedElsewhere,
    OtherEmail,
    InvitationGone,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::NotSetUp => "not_set_up",
            Refusal::Failed => "failed",
            Refusal::NoAccount => "no_account",
            Refusal::Unverified => "unverified",
            Refusal::Disabled => "disabled",
            Refusal::LinkedElsewhere => "linked_elsewhere",
            Refusal::OtherEmail => "other_email",
            Refusal::InvitationGone => "invitation_gone",
        }
    }

    /// The sentence for a code from the page's address (`None`: not one of ours).
    pub fn words(code: &str) -> Option<&'static str> {
        Some(match code {
            "not_set_up" => "Google sign-in is not set up on this Switchboard.",
            "failed" => "Google sign-in didn't complete. Try again.",
            "no_account" => "There is no account here for that Google account's email, and no invitation for it. Switchboard is invite-only: ask an admin for an invitation.",
            "unverified" => "Google has not verified that account's email, so it can't open an account here.",
            "disabled" => "This account has been disabled. Ask an admin of this Switchboard.",
            "linked_elsewhere" => "That Google account is already linked to another account here.",
            "other_email" => "This invitation is for another email than your Google account's. Use the account it names, or join with a password.",
            "invitation_gone" => "This invitation can no longer be used (used, expired or revoked). Ask for a new one.",
            _ => return None,
        })
    }
}

/// What a finished flow leads to.
#[derive(Debug)]
pub enum Outcome {
    /// Signed in by Google: a session may start (`how` for the audit log).
    SignedIn(UserId),
    /// Two-factor sign-in is on: the code page's challenge (its cookie token).
    NeedsSecondStep(String),
    /// Linked to the signed-in account.
    Linked,
}

/// The client id and secret, when an admin has set them.
async fn credentials(state: &AppState) -> AppResult<Option<(String, String)>> {
    let Some(id) = instance_settings::get(&state.db, CLIENT_ID_SETTING).await? else {
        return Ok(None);
    };
    let Some(sealed) = instance_settings::get(&state.db, CLIENT_SECRET_SETTING).await? else {
        return Ok(None);
    };
    let secret =
        crate::server::carrier::config::open(&state.secret, CLIENT_SECRET_SETTING, &sealed)
            .ok_or_else(|| AppError::internal("the Google client secret no longer opens"))?;
    Ok(Some((id, secret)))
}

/// Whether "Sign in with Google" is offered.
pub async fn available(state: &AppState) -> AppResult<bool> {
    Ok(instance_settings::get(&state.db, CLIENT_ID_SETTING)
        .await?
        .is_some())
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.settings.base_url())
}

pub async fn settings_view(state: &AppState) -> AppResult<GoogleSettings> {
    let client_id = instance_settings::get(&state.db, CLIENT_ID_SETTING)
        .await?
        .unwrap_or_default();
    Ok(GoogleSettings {
        on: !client_id.is_empty(),
        client_id,
        redirect_uri: redirect_uri(state),
        issuer: state.settings.google_issuer.clone(),
    })
}

/// A client id from Google's console is `<digits>-<letters>.apps.googleusercontent.com`;
/// other providers differ, so only its size and characters are checked.
fn valid_client_field(value: &str, what: &str) -> AppResult<String> {
    let value = value.trim();
    if value.is_empty() || value.len() > 256 || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(AppError::invalid(format!(
            "Paste the {what} from your Google Cloud console (up to 256 characters, no spaces)."
        )));
    }
    Ok(value.to_string())
}

/// Saves the client id and secret (an empty secret keeps the saved one).
pub async fn save_settings(
    state: &AppState,
    by: &Actor,
    client_id: &str,
    client_secret: &str,
) -> AppResult<()> {
    let client_id = valid_client_field(client_id, "client ID")?;
    let sealed = if client_secret.trim().is_empty() {
        match instance_settings::get(&state.db, CLIENT_SECRET_SETTING).await? {
            Some(sealed) => sealed,
            None => {
                return Err(AppError::invalid(
                    "Paste the client secret too (it is kept sealed, and never shown again).",
                ))
            }
        }
    } else {
        let secret = valid_client_field(client_secret, "client secret")?;
        crate::server::carrier::config::seal(&state.secret, CLIENT_SECRET_SETTING, &secret)
    };
    instance_settings::put(&state.db, CLIENT_SECRET_SETTING, &sealed).await?;
    instance_settings::put(&state.db, CLIENT_ID_SETTING, &client_id).await?;
    let detail = format!("on (client {client_id})");
    audit::record(
        state.db.pool(),
        by,
        Action::GoogleSignInSettingsChanged,
        None,
        &detail,
    )
    .await
}

/// Stops offering Google sign-in (links are kept for when it is set up again).
pub async fn turn_off(state: &AppState, by: &Actor) -> AppResult<()> {
    instance_settings::clear(&state.db, CLIENT_ID_SETTING).await?;
    instance_settings::clear(&state.db, CLIENT_SECRET_SETTING).await?;
    audit::record(
        state.db.pool(),
        by,
        Action::GoogleSignInSettingsChanged,
        None,
        "off",
    )
    .await
}

/// The provider's client: no redirects followed (a provider's answer that redirects is
/// refused, not chased), a time cap.
fn http_client() -> AppResult<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(PROVIDER_TIMEOUT)
        .build()
        .map_err(|e| AppError::internal(format!("Google sign-in client: {e}")))
}

/// The provider's client as discovery describes it, with our id, secret and redirect URI.
type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Asks the provider for its configuration and keys (each flow's start and finish: keys
/// rotate) and makes its client; with the HTTP client to reach it.
async fn provider(state: &AppState) -> Result<(Client, reqwest::Client), Refusal> {
    let Ok(Some((client_id, client_secret))) = credentials(state).await else {
        return Err(Refusal::NotSetUp);
    };
    let http = http_client().map_err(|_| Refusal::Failed)?;
    let issuer =
        IssuerUrl::new(state.settings.google_issuer.clone()).map_err(|_| Refusal::Failed)?;
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "Google sign-in: the provider's discovery failed");
            Refusal::Failed
        })?;
    let redirect = RedirectUrl::new(redirect_uri(state)).map_err(|_| Refusal::Failed)?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id),
        Some(ClientSecret::new(client_secret)),
    )
    .set_redirect_uri(redirect);
    Ok((client, http))
}

/// Starts a flow for `purpose` (the account to link, or the invitation's token to join
/// by); answers where to send the browser and the state for its cookie.
pub async fn start(
    state: &AppState,
    meta: &RequestMeta,
    purpose: Purpose,
    user_id: Option<&UserId>,
    invitation: Option<&str>,
) -> Result<(String, String), Refusal> {
    if !available(state).await.unwrap_or(false) {
        return Err(Refusal::NotSetUp);
    }
    if throttle::take(&state.db, throttle::GOOGLE_SIGN_INS, &meta.ip)
        .await
        .is_err()
    {
        return Err(Refusal::Failed);
    }
    let (client, _) = provider(state).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    keep_flow(
        &state.db,
        csrf.secret(),
        purpose,
        user_id,
        invitation,
        nonce.secret(),
        verifier.secret(),
    )
    .await
    .map_err(|e| {
        tracing::warn!(error = ?e, "Google sign-in: the flow was not kept");
        Refusal::Failed
    })?;
    Ok((url.to_string(), csrf.secret().clone()))
}

async fn keep_flow(
    db: &Db,
    state_value: &str,
    purpose: Purpose,
    user_id: Option<&UserId>,
    invitation: Option<&str>,
    nonce: &str,
    verifier: &str,
) -> AppResult<()> {
    let now = now_ms();
    sqlx::query("DELETE FROM google_flows WHERE expires_at < $1")
        .bind(now)
        .execute(db.pool())
        .await?;
    let (open,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM google_flows")
        .fetch_one(db.pool())
        .await?;
    if open >= FLOWS_MAX {
        return Err(AppError::Throttled(
            "too many Google sign-ins waiting".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO google_flows (state_hash, purpose, user_id, invitation, nonce, pkce_verifier, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(crypto::hash_token(state_value))
    .bind(purpose.as_str())
    .bind(user_id)
    .bind(invitation)
    .bind(nonce)
    .bind(verifier)
    .bind(now + FLOW_MS)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A flow taken back by its state: purpose, user, invitation token, nonce, verifier.
type Flow = (String, Option<UserId>, Option<String>, String, String);

/// What the provider sent the browser back with.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Callback {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub error: String,
}

/// Where a flow came from: its purpose, and the invitation it joins by (for where the
/// browser goes back to).
pub type Origin = (Purpose, Option<String>);

/// Finishes a flow: `cookie` is the state the browser kept. Answers where the flow came
/// from and what it leads to, or why not.
pub async fn finish(
    state: &AppState,
    meta: &RequestMeta,
    signed_in: Option<&UserId>,
    back: &Callback,
    cookie: Option<&str>,
) -> (Origin, Result<Outcome, Refusal>) {
    use subtle::ConstantTimeEq;
    let same_browser = cookie.is_some_and(|c| {
        !back.state.is_empty() && bool::from(c.as_bytes().ct_eq(back.state.as_bytes()))
    });
    if !same_browser || back.state.len() > 200 || back.code.len() > 2048 {
        return ((Purpose::SignIn, None), Err(Refusal::Failed));
    }
    let flow: Option<Flow> = sqlx::query_as(
        "DELETE FROM google_flows WHERE state_hash = $1 AND expires_at > $2
         RETURNING purpose, user_id, invitation, nonce, pkce_verifier",
    )
    .bind(crypto::hash_token(&back.state))
    .bind(now_ms())
    .fetch_optional(state.db.pool())
    .await
    .unwrap_or(None);
    let Some((purpose, flow_user, invitation, nonce, verifier)) = flow else {
        return ((Purpose::SignIn, None), Err(Refusal::Failed));
    };
    let purpose = Purpose::parse(&purpose).unwrap_or(Purpose::SignIn);
    if !back.error.is_empty() || back.code.is_empty() {
        // Cancelled at the provider (access_denied), or an answer without a code.
        return ((purpose, invitation), Err(Refusal::Failed));
    }
    let identity = match identity(state, &back.code, &nonce, &verifier).await {
        Ok(identity) => identity,
        Err(refusal) => return ((purpose, invitation), Err(refusal)),
    };
    let outcome = match purpose {
        Purpose::Link => match (flow_user, signed_in) {
            (Some(owner), Some(me)) if owner == *me => link(state, meta, me, &identity)
                .await
                .map(|_| Outcome::Linked),
            _ => Err(Refusal::Failed),
        },
        Purpose::SignIn | Purpose::Join => {
            sign_in(state, meta, &identity, invitation.as_deref()).await
        }
    };
    ((purpose, invitation), outcome)
}

/// Who the provider says signed in.
struct Identity {
    issuer: String,
    subject: String,
    email: String,
    name: String,
}

/// Exchanges the code (with the PKCE verifier) and checks the ID token.
async fn identity(
    state: &AppState,
    code: &str,
    nonce: &str,
    verifier: &str,
) -> Result<Identity, Refusal> {
    let (client, http) = provider(state).await?;
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        tracing::warn!(error = %e, "Google sign-in: {what}");
        Refusal::Failed
    };
    let request = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|e| failed("no token endpoint", &e))?;
    let tokens = request
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
        .request_async(&http)
        .await
        .map_err(|e| failed("the code exchange failed", &e))?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| failed("no ID token", &"none in the answer"))?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_string()))
        .map_err(|e| failed("the ID token was refused", &e))?;
    let Some(email) = claims.email() else {
        return Err(Refusal::Unverified);
    };
    if claims.email_verified() != Some(true) {
        return Err(Refusal::Unverified);
    }
    let email = email.as_str().trim().to_lowercase();
    let name = claims
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or("").to_string());
    Ok(Identity {
        issuer: claims.issuer().as_str().to_string(),
        subject: claims.subject().as_str().to_string(),
        email,
        name,
    })
}

/// The account the identity was linked to, if any.
async fn linked_account(state: &AppState, who: &Identity) -> AppResult<Option<UserId>> {
    let row: Option<(UserId,)> =
        sqlx::query_as("SELECT user_id FROM google_links WHERE issuer = $1 AND subject = $2")
            .bind(&who.issuer)
            .bind(&who.subject)
            .fetch_optional(state.db.pool())
            .await?;
    Ok(row.map(|(user_id,)| user_id))
}

/// Opens the account the identity belongs to: linked before, or with its email, or made
/// from a pending invitation for its email (the flow's own invitation when joining).
async fn sign_in(
    state: &AppState,
    meta: &RequestMeta,
    who: &Identity,
    invitation: Option<&str>,
) -> Result<Outcome, Refusal> {
    let nobody = Actor {
        user: None,
        meta: meta.clone(),
    };
    let internal = |e: AppError| {
        tracing::warn!(error = ?e, "Google sign-in");
        Refusal::Failed
    };
    let linked = linked_account(state, who).await.map_err(internal)?;
    let by_email: Option<(UserId,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(&who.email)
        .fetch_optional(state.db.pool())
        .await
        .map_err(|e| internal(e.into()))?;
    let user_id = match (linked, by_email, invitation) {
        (Some(user_id), _, _) | (None, Some((user_id,)), _) => user_id,
        (None, None, invitation) => {
            let token = match invitation {
                Some(token) => Some(token.to_string()),
                None => super::invites::pending_for_email(state, &who.email)
                    .await
                    .map_err(internal)?,
            };
            let Some(token) = token else {
                let detail = format!("Google: no account or invitation for {}", who.email);
                let _ = audit::record(
                    state.db.pool(),
                    &nobody,
                    Action::SignInFailed,
                    None,
                    &detail,
                )
                .await;
                return Err(Refusal::NoAccount);
            };
            match super::invites::accept_verified(state, &nobody, &token, &who.email, &who.name)
                .await
            {
                Ok(user_id) => user_id,
                Err(AppError::Invalid(m)) if m.contains("another email") => {
                    return Err(Refusal::OtherEmail)
                }
                Err(AppError::Invalid(_)) | Err(AppError::NotFound(_)) => {
                    return Err(Refusal::InvitationGone)
                }
                Err(e) => return Err(internal(e)),
            }
        }
    };
    // Remember the Google account for next time (it may sign in even if the email changes).
    let _ = sqlx::query(
        "INSERT INTO google_links (issuer, subject, user_id, email, linked_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(&who.issuer)
    .bind(&who.subject)
    .bind(&user_id)
    .bind(&who.email)
    .bind(now_ms())
    .execute(state.db.pool())
    .await;
    let (disabled_at,): (Option<i64>,) =
        sqlx::query_as("SELECT disabled_at FROM users WHERE id = $1")
            .bind(&user_id)
            .fetch_one(state.db.pool())
            .await
            .map_err(|e| internal(e.into()))?;
    if disabled_at.is_some() {
        let _ = audit::record(
            state.db.pool(),
            &nobody,
            Action::SignInFailed,
            Some(&user_id),
            "Google: the account is disabled",
        )
        .await;
        return Err(Refusal::Disabled);
    }
    if super::two_factor::is_on(&state.db, &user_id)
        .await
        .map_err(internal)?
    {
        let challenge = super::two_factor::challenge(&state.db, &user_id)
            .await
            .map_err(internal)?;
        return Ok(Outcome::NeedsSecondStep(challenge));
    }
    Ok(Outcome::SignedIn(user_id))
}

/// Links the identity to `user_id` (replacing an earlier link of theirs).
async fn link(
    state: &AppState,
    meta: &RequestMeta,
    user_id: &UserId,
    who: &Identity,
) -> Result<(), Refusal> {
    let internal = |e: AppError| {
        tracing::warn!(error = ?e, "Google link");
        Refusal::Failed
    };
    let owner = linked_account(state, who).await.map_err(internal)?;
    if owner.is_some_and(|owner| owner != *user_id) {
        return Err(Refusal::LinkedElsewhere);
    }
    let by = Actor::user(user_id, meta);
    let run = async {
        let mut tx = state.db.begin().await?;
        sqlx::query("DELETE FROM google_links WHERE user_id = $1 AND issuer = $2")
            .bind(user_id)
            .bind(&who.issuer)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO google_links (issuer, subject, user_id, email, linked_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&who.issuer)
        .bind(&who.subject)
        .bind(user_id)
        .bind(&who.email)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut *tx,
            &by,
            Action::GoogleLinked,
            Some(user_id),
            &who.email,
        )
        .await?;
        tx.commit().await?;
        Ok::<(), AppError>(())
    };
    run.await.map_err(internal)
}

/// The signed-in user's Google link, as Settings shows it.
pub async fn account(state: &AppState, user_id: &UserId) -> AppResult<GoogleLink> {
    let linked: Option<(String,)> =
        sqlx::query_as("SELECT email FROM google_links WHERE user_id = $1 AND issuer = $2")
            .bind(user_id)
            .bind(&state.settings.google_issuer)
            .fetch_optional(state.db.pool())
            .await?;
    Ok(GoogleLink {
        available: available(state).await?,
        linked_email: linked.map(|(email,)| email),
    })
}

/// Unlinks the user's Google account; refused while it is their only way in (no password,
/// no passkey).
pub async fn unlink(state: &AppState, by: &Actor, user_id: &UserId) -> AppResult<()> {
    let (other_ways,): (i64,) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM users WHERE id = $1 AND password_hash <> '')
              + (SELECT COUNT(*) FROM passkeys WHERE user_id = $1)",
    )
    .bind(user_id)
    .fetch_one(state.db.pool())
    .await?;
    if other_ways == 0 {
        return Err(AppError::invalid(
            "Google is your only way to sign in. Set a password (Settings → Password) or add a passkey first.",
        ));
    }
    let mut tx = state.db.begin().await?;
    let removed = sqlx::query("DELETE FROM google_links WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if removed.rows_affected() == 0 {
        return Err(AppError::invalid("No Google account is linked."));
    }
    audit::record(&mut *tx, by, Action::GoogleUnlinked, Some(user_id), "").await?;
    tx.commit().await?;
    Ok(())
}

/// The flow's state, for its browser (Lax: the provider's redirect back is a top-level GET
/// from another site, which Strict would strip the cookie from).
pub fn state_cookie(settings: &crate::server::Settings, value: &str) -> String {
    let max_age = FLOW_MS / 1000;
    super::sessions::cookie(settings, STATE_COOKIE, value, START_PATH, "Lax", max_age)
}

pub fn clear_state_cookie(settings: &crate::server::Settings) -> String {
    super::sessions::cookie(settings, STATE_COOKIE, "", START_PATH, "Lax", 0)
}

/// Where a refused flow sends the browser back to, saying why.
fn refused(purpose: Purpose, invitation: Option<&str>, refusal: Refusal) -> String {
    let code = refusal.code();
    match (purpose, invitation) {
        (Purpose::Link, _) => format!("/settings?google={code}"),
        (Purpose::Join, Some(token)) => format!("/invite/{token}?google={code}"),
        _ => format!("/signin?google={code}"),
    }
}

fn see_other(location: &str, cookies: &[String]) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = (
        http::StatusCode::SEE_OTHER,
        [(http::header::LOCATION, location.to_string())],
    )
        .into_response();
    for cookie in cookies {
        if let Ok(value) = http::HeaderValue::from_str(cookie) {
            response
                .headers_mut()
                .append(http::header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct StartQuery {
    /// An invitation link's token: join with Google through it.
    pub invite: Option<String>,
}

/// `GET /auth/google[?invite=…]`: "Sign in with Google" (or "Join with Google").
pub async fn start_handler(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::Extension(meta): axum::Extension<RequestMeta>,
    axum::extract::Query(query): axum::extract::Query<StartQuery>,
) -> axum::response::Response {
    // An invitation token is short; anything else is not one (and goes nowhere near a URL).
    let invitation = query.invite.filter(|t| {
        t.len() <= 200
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    });
    let purpose = if invitation.is_some() {
        Purpose::Join
    } else {
        Purpose::SignIn
    };
    match start(&state, &meta, purpose, None, invitation.as_deref()).await {
        Ok((url, value)) => see_other(&url, &[state_cookie(&state.settings, &value)]),
        Err(refusal) => see_other(&refused(purpose, invitation.as_deref(), refusal), &[]),
    }
}

/// `GET /auth/google/callback`: the provider sends the browser back here.
pub async fn callback_handler(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::Extension(meta): axum::Extension<RequestMeta>,
    auth: Option<axum::Extension<super::sessions::Authenticated>>,
    headers: http::HeaderMap,
    axum::extract::Query(back): axum::extract::Query<Callback>,
) -> axum::response::Response {
    use super::sessions;
    let cookie = sessions::cookie_value(&headers, STATE_COOKIE);
    let signed_in = auth.map(|a| a.0.user_id());
    let ((purpose, invitation), outcome) =
        finish(&state, &meta, signed_in.as_ref(), &back, cookie.as_deref()).await;
    let mut cookies = vec![clear_state_cookie(&state.settings)];
    let location = match outcome {
        Ok(Outcome::SignedIn(user_id)) => {
            match sessions::create_session(
                &state.db,
                &state.settings,
                &user_id,
                &meta,
                "with Google",
            )
            .await
            {
                Ok(token) => {
                    cookies.push(sessions::session_cookie(&state.settings, &token));
                    match super::two_factor::must_set_up(&state.db, &user_id).await {
                        Ok(true) => "/settings".to_string(),
                        _ => crate::types::HOME.to_string(),
                    }
                }
                Err(e) => {
                    tracing::warn!(error = ?e, "Google sign-in: no session");
                    refused(purpose, invitation.as_deref(), Refusal::Failed)
                }
            }
        }
        Ok(Outcome::NeedsSecondStep(challenge)) => {
            cookies.push(super::two_factor::challenge_cookie(
                &state.settings,
                &challenge,
            ));
            crate::types::CODE_PAGE.to_string()
        }
        Ok(Outcome::Linked) => "/settings?google=linked".to_string(),
        Err(refusal) => refused(purpose, invitation.as_deref(), refusal),
    };
    see_other(&location, &cookies)
}
