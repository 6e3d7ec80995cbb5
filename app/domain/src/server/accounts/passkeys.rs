//! Passkeys (WebAuthn, through webauthn-rs): a key the browser or phone keeps, unlocked by
//! the device's fingerprint, face or PIN.
//!
//! A passkey serves two ways:
//! - **a second factor**: with one, two-factor sign-in is on; after the password, the code
//!   page offers "Use a passkey" beside the app's code ([`start_second_factor`],
//!   [`finish_second_factor`]);
//! - **a sign-in of its own**: "Sign in with a passkey" on the sign-in page asks the device
//!   for any passkey it holds for this Switchboard ([`start_sign_in`], [`finish_sign_in`]).
//!   User verification is required (the device checked its owner), so the passkey alone is
//!   two factors: something held and something known or been.
//!
//! Every ceremony has two steps: the server keeps webauthn-rs's state in
//! `passkey_ceremonies` under a token it hands the browser, and takes it back (once) when
//! the browser answers. Keeping it in the database, not in memory, lets any instance that
//! shares it finish what another started.

use serde::{de::DeserializeOwned, Serialize};
use webauthn_rs::prelude::{
    CredentialID, DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Uuid, Webauthn,
    WebauthnBuilder,
};

use crate::error::{AppError, AppResult};
use crate::server::accounts::sessions::RequestMeta;
use crate::server::audit::{self, Action, Actor};
use crate::server::ids::UserId;
use crate::server::{crypto, now_ms, throttle, AppState, Db, Settings};
use crate::types::{PasskeyInfo, PasskeyOptions};

/// Passkeys one account may keep.
pub const MAX_PER_USER: i64 = 10;
/// How long a browser has to answer (the device's prompt included).
pub const CEREMONY_MS: i64 = 5 * 60 * 1000;
/// A passkey's name, as its owner types it ("Work laptop").
pub const NAME_MAX: usize = 60;
/// A browser's answer is a JSON object of a few hundred bytes to a few KB (an attestation
/// with a certificate chain); anything larger is not one.
pub const ANSWER_MAX: usize = 32 * 1024;
/// Ceremonies in progress at once, for the whole instance: starting a password-less
/// sign-in takes no account, so this caps what strangers can make us keep.
pub const CEREMONIES_MAX: i64 = 10_000;

/// What a ceremony is for: its state must come back to the same kind of step.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ceremony {
    Register,
    SecondFactor,
    SignIn,
}

impl Ceremony {
    fn as_str(self) -> &'static str {
        match self {
            Ceremony::Register => "register",
            Ceremony::SecondFactor => "second_factor",
            Ceremony::SignIn => "sign_in",
        }
    }
}

const START_AGAIN: &str = "This passkey prompt has expired. Try again.";
const NOT_ACCEPTED: &str =
    "That passkey was not accepted. Try again, or use another way to sign in.";

/// The relying party: this Switchboard, named by its public URL's host. Browsers refuse
/// passkeys for bare IP addresses, so an instance reached by one says how to fix it.
pub fn relying_party(settings: &Settings) -> AppResult<Webauthn> {
    let url = &settings.public_url;
    let Some(domain) = url.domain() else {
        return Err(AppError::invalid(format!(
            "Passkeys need this Switchboard reached by a name (like switchboard.example.com, or localhost), not by an address ({}). Ask your admin to set SWITCHBOARD_PUBLIC_URL.",
            url.host_str().unwrap_or("none")
        )));
    };
    WebauthnBuilder::new(domain, url)
        .and_then(|b| b.rp_name("Switchboard").build())
        .map_err(|e| AppError::internal(format!("passkeys for {url}: {e}")))
}

fn credential_key(id: &CredentialID) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_ref())
}

/// The user's id as the WebAuthn user handle (ids are UUIDs).
fn user_handle(user_id: &UserId) -> AppResult<Uuid> {
    Uuid::parse_str(user_id.as_str()).map_err(|_| AppError::internal("a user id is not a UUID"))
}

/// Keeps a ceremony's state; answers the token the browser brings back.
async fn keep(
    db: &Db,
    kind: Ceremony,
    user_id: Option<&UserId>,
    state: &impl Serialize,
) -> AppResult<String> {
    let now = now_ms();
    sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at < $1")
        .bind(now)
        .execute(db.pool())
        .await?;
    let (open,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkey_ceremonies")
        .fetch_one(db.pool())
        .await?;
    if open >= CEREMONIES_MAX {
        return Err(AppError::Throttled(
            "Too many passkey sign-ins are in progress. Wait a minute and try again.".into(),
        ));
    }
    let state = serde_json::to_string(state)
        .map_err(|e| AppError::internal(format!("passkey state: {e}")))?;
    let token = crypto::random_token();
    sqlx::query(
        "INSERT INTO passkey_ceremonies (token_hash, kind, user_id, state, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(crypto::hash_token(&token))
    .bind(kind.as_str())
    .bind(user_id)
    .bind(state)
    .bind(now + CEREMONY_MS)
    .execute(db.pool())
    .await?;
    Ok(token)
}

/// Takes a ceremony's state back, once: a second answer with the same token finds nothing.
async fn take<T: DeserializeOwned>(
    db: &Db,
    kind: Ceremony,
    token: &str,
) -> AppResult<(Option<UserId>, T)> {
    let row: Option<(Option<UserId>, String)> = sqlx::query_as(
        "DELETE FROM passkey_ceremonies WHERE token_hash = $1 AND kind = $2 AND expires_at > $3
         RETURNING user_id, state",
    )
    .bind(crypto::hash_token(token))
    .bind(kind.as_str())
    .bind(now_ms())
    .fetch_optional(db.pool())
    .await?;
    let Some((user_id, state)) = row else {
        return Err(AppError::invalid(START_AGAIN));
    };
    let state = serde_json::from_str(&state)
        .map_err(|e| AppError::internal(format!("passkey state: {e}")))?;
    Ok((user_id, state))
}

fn options(token: String, challenge: &impl Serialize) -> AppResult<PasskeyOptions> {
    Ok(PasskeyOptions {
        token,
        options: serde_json::to_string(challenge)
            .map_err(|e| AppError::internal(format!("passkey options: {e}")))?,
    })
}

/// Parses what the browser answered (`credential`, JSON), refusing what can't be one.
fn parse_answer<T: DeserializeOwned>(credential: &str) -> AppResult<T> {
    if credential.len() > ANSWER_MAX {
        return Err(AppError::invalid(NOT_ACCEPTED));
    }
    serde_json::from_str(credential).map_err(|_| AppError::invalid(NOT_ACCEPTED))
}

/// A stored passkey: its row id, owner and webauthn-rs record.
struct Stored {
    id: String,
    user_id: UserId,
    passkey: Passkey,
}

async fn stored_of(db: &Db, user_id: &UserId) -> AppResult<Vec<Stored>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT id, passkey FROM passkeys WHERE user_id = $1 ORDER BY created_at")
            .bind(user_id)
            .fetch_all(db.pool())
            .await?;
    rows.into_iter()
        .map(|(id, json)| {
            let passkey = serde_json::from_str(&json)
                .map_err(|e| AppError::internal(format!("a stored passkey: {e}")))?;
            Ok(Stored {
                id,
                user_id: user_id.clone(),
                passkey,
            })
        })
        .collect()
}

/// How many passkeys `user_id` has.
pub async fn count(db: &Db, user_id: &UserId) -> AppResult<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

pub async fn list(db: &Db, user_id: &UserId) -> AppResult<Vec<PasskeyInfo>> {
    let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, name, created_at, last_used_at FROM passkeys WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, created_at, last_used_at)| PasskeyInfo {
            id,
            name,
            created_at,
            last_used_at,
        })
        .collect())
}

/// Starts adding a passkey to `user_id`'s account: what the browser's prompt needs.
pub async fn start_registration(
    state: &AppState,
    user_id: &UserId,
    email: &str,
    display_name: &str,
) -> AppResult<PasskeyOptions> {
    let webauthn = relying_party(&state.settings)?;
    let have = stored_of(&state.db, user_id).await?;
    if have.len() as i64 >= MAX_PER_USER {
        return Err(AppError::invalid(format!(
            "You have {MAX_PER_USER} passkeys, the most one account may keep. Remove one first."
        )));
    }
    throttle::take(&state.db, throttle::SIGN_IN_CHANGES, user_id.as_str()).await?;
    // The device is told which passkeys it already holds for this account, so it doesn't
    // make a second.
    let exclude = have.iter().map(|s| s.passkey.cred_id().clone()).collect();
    let (challenge, registration) = webauthn
        .start_passkey_registration(user_handle(user_id)?, email, display_name, Some(exclude))
        .map_err(|e| AppError::internal(format!("passkey registration: {e}")))?;
    // A passkey the device keeps with its account (discoverable) can sign in without the
    // email: "Sign in with a passkey". webauthn-rs asks for "discouraged" (and doesn't
    // export the type to change it); browsers treat "preferred" as "required" anyway.
    let mut challenge = serde_json::to_value(&challenge)
        .map_err(|e| AppError::internal(format!("passkey options: {e}")))?;
    if let Some(selection) = challenge.pointer_mut("/publicKey/authenticatorSelection") {
        selection["residentKey"] = "required".into();
        selection["requireResidentKey"] = true.into();
    }
    let token = keep(&state.db, Ceremony::Register, Some(user_id), &registration).await?;
    options(token, &challenge)
}

/// Finishes adding a passkey named `name` from the browser's `credential` (JSON). Answers
/// new recovery codes when this passkey turned two-factor sign-in on (none otherwise).
pub async fn finish_registration(
    state: &AppState,
    by: &Actor,
    user_id: &UserId,
    token: &str,
    name: &str,
    credential: &str,
) -> AppResult<Vec<String>> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX {
        return Err(AppError::invalid(format!(
            "Name the passkey (up to {NAME_MAX} characters), so you know which to remove later."
        )));
    }
    let webauthn = relying_party(&state.settings)?;
    let answer: RegisterPublicKeyCredential = parse_answer(credential)?;
    let (owner, registration): (Option<UserId>, PasskeyRegistration) =
        take(&state.db, Ceremony::Register, token).await?;
    if owner.as_ref() != Some(user_id) {
        return Err(AppError::invalid(START_AGAIN));
    }
    let passkey = webauthn
        .finish_passkey_registration(&answer, &registration)
        .map_err(|e| {
            tracing::info!(error = %e, "passkey registration refused");
            AppError::invalid(NOT_ACCEPTED)
        })?;
    let was_on = super::two_factor::is_on(&state.db, user_id).await?;
    let codes = if was_on {
        Vec::new()
    } else {
        super::two_factor::new_codes()
    };
    let json =
        serde_json::to_string(&passkey).map_err(|e| AppError::internal(format!("passkey: {e}")))?;
    let mut tx = state.db.begin().await?;
    // Counted again inside the transaction: two registrations finishing at once can't pass
    // the cap together (SQLite has one writer; PostgreSQL locks the account's row).
    sqlx::query("UPDATE users SET id = id WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
    if n >= MAX_PER_USER {
        return Err(AppError::invalid(format!(
            "You have {MAX_PER_USER} passkeys, the most one account may keep. Remove one first."
        )));
    }
    let added = sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, name, passkey, created_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, NULL)
         ON CONFLICT (credential_id) DO NOTHING",
    )
    .bind(crypto::new_id())
    .bind(user_id)
    .bind(credential_key(passkey.cred_id()))
    .bind(name)
    .bind(&json)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    if added.rows_affected() == 0 {
        // The spec asks relying parties to refuse a credential id already registered (to
        // anyone): it would let one device answer for two accounts.
        return Err(AppError::invalid("This passkey is already registered."));
    }
    if !codes.is_empty() {
        super::two_factor::replace_codes(&mut tx, user_id, &codes).await?;
    }
    audit::record(&mut *tx, by, Action::PasskeyAdded, Some(user_id), name).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Removes one of `user_id`'s passkeys (the password is asked again). Removing the last
/// second factor turns two-factor sign-in off and voids the recovery codes.
pub async fn remove(
    db: &Db,
    by: &Actor,
    user_id: &UserId,
    passkey_id: &str,
    password: &str,
) -> AppResult<()> {
    super::users::check_password(db, user_id, password).await?;
    let mut tx = db.begin().await?;
    let row: Option<(String,)> =
        sqlx::query_as("DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING name")
            .bind(passkey_id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((name,)) = row else {
        return Err(AppError::NotFound("Passkey".into()));
    };
    super::two_factor::forget_codes_without_factor(&mut tx, user_id).await?;
    audit::record(&mut *tx, by, Action::PasskeyRemoved, Some(user_id), &name).await?;
    tx.commit().await?;
    Ok(())
}

/// Records a passkey's use: when, and its signature counter (a counter that goes back
/// would have failed verification: a cloned key).
async fn used(
    db: &Db,
    stored: &mut Stored,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> AppResult<()> {
    stored.passkey.update_credential(result);
    let json = serde_json::to_string(&stored.passkey)
        .map_err(|e| AppError::internal(format!("passkey: {e}")))?;
    sqlx::query("UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3")
        .bind(json)
        .bind(now_ms())
        .bind(&stored.id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The second step of a password sign-in, by passkey: what the browser's prompt needs for
/// the passkeys of the account whose password was right (`challenge`: the challenge cookie).
pub async fn start_second_factor(state: &AppState, challenge: &str) -> AppResult<PasskeyOptions> {
    let webauthn = relying_party(&state.settings)?;
    let user_id = super::two_factor::challenged_user(&state.db, challenge).await?;
    let stored = stored_of(&state.db, &user_id).await?;
    if stored.is_empty() {
        return Err(AppError::invalid(
            "This account has no passkey. Enter a code from your authenticator app, or a recovery code.",
        ));
    }
    let keys: Vec<Passkey> = stored.into_iter().map(|s| s.passkey).collect();
    let (request, authentication) = webauthn
        .start_passkey_authentication(&keys)
        .map_err(|e| AppError::internal(format!("passkey authentication: {e}")))?;
    let token = keep(
        &state.db,
        Ceremony::SecondFactor,
        Some(&user_id),
        &authentication,
    )
    .await?;
    options(token, &request)
}

/// Finishes the second step with the browser's `credential`: answers whose sign-in it was.
/// Each answer counts as one of the challenge's tries, as a code does.
pub async fn finish_second_factor(
    state: &AppState,
    by: &Actor,
    challenge: &str,
    token: &str,
    credential: &str,
) -> AppResult<UserId> {
    let webauthn = relying_party(&state.settings)?;
    let user_id = super::two_factor::count_try(&state.db, challenge).await?;
    let answer: PublicKeyCredential = parse_answer(credential)?;
    let (owner, authentication): (Option<UserId>, PasskeyAuthentication) =
        take(&state.db, Ceremony::SecondFactor, token).await?;
    if owner.as_ref() != Some(&user_id) {
        return Err(AppError::invalid(START_AGAIN));
    }
    let mut stored = stored_of(&state.db, &user_id).await?;
    let result = match webauthn.finish_passkey_authentication(&answer, &authentication) {
        Ok(result) => result,
        Err(e) => {
            tracing::info!(error = %e, "passkey (second factor) refused");
            audit::record(
                state.db.pool(),
                by,
                Action::SignInFailed,
                Some(&user_id),
                "passkey not accepted",
            )
            .await?;
            return Err(AppError::invalid(NOT_ACCEPTED));
        }
    };
    if let Some(key) = stored
        .iter_mut()
        .find(|s| s.passkey.cred_id() == result.cred_id())
    {
        used(&state.db, key, &result).await?;
    }
    super::two_factor::close_challenge(&state.db, challenge).await?;
    Ok(user_id)
}

/// "Sign in with a passkey": what the browser's prompt needs to offer any passkey the
/// device holds for this Switchboard. Limited per address, as nobody is known yet.
pub async fn start_sign_in(state: &AppState, meta: &RequestMeta) -> AppResult<PasskeyOptions> {
    let webauthn = relying_party(&state.settings)?;
    throttle::take(&state.db, throttle::PASSKEY_PROMPTS, &meta.ip).await?;
    let (mut request, authentication) = webauthn
        .start_discoverable_authentication()
        .map_err(|e| AppError::internal(format!("passkey authentication: {e}")))?;
    // webauthn-rs asks for the autofill ("conditional") prompt; ours is a button.
    request.mediation = None;
    let token = keep(&state.db, Ceremony::SignIn, None, &authentication).await?;
    options(token, &request)
}

/// Finishes a password-less sign-in: answers whose account the passkey opened. Under the
/// same throttle as passwords (per account and per address); a disabled account stays shut.
pub async fn finish_sign_in(
    state: &AppState,
    meta: &RequestMeta,
    token: &str,
    credential: &str,
) -> AppResult<UserId> {
    let webauthn = relying_party(&state.settings)?;
    let answer: PublicKeyCredential = parse_answer(credential)?;
    let (_, authentication): (Option<UserId>, DiscoverableAuthentication) =
        take(&state.db, Ceremony::SignIn, token).await?;
    let nobody = Actor {
        user: None,
        meta: meta.clone(),
    };
    let (handle, credential_id) = webauthn
        .identify_discoverable_authentication(&answer)
        .map_err(|_| AppError::invalid(NOT_ACCEPTED))?;
    let key = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(credential_id)
    };
    let row: Option<(String, UserId, String, String, Option<i64>)> = sqlx::query_as(
        "SELECT p.id, p.user_id, p.passkey, u.email, u.disabled_at
         FROM passkeys p JOIN users u ON u.id = p.user_id WHERE p.credential_id = $1",
    )
    .bind(&key)
    .fetch_optional(state.db.pool())
    .await?;
    // The account the throttle counts: the passkey's owner, or (a passkey we don't know)
    // one shared key, so unknown passkeys still spend the address's attempts.
    let email = row
        .as_ref()
        .map(|r| r.3.clone())
        .unwrap_or_else(|| "unknown passkey".into());
    let attempt = throttle::reserve_sign_in(&state.db, &email, &meta.ip).await?;
    let Some((id, user_id, json, _, disabled_at)) = row else {
        audit::record(
            state.db.pool(),
            &nobody,
            Action::SignInFailed,
            None,
            "a passkey this Switchboard does not know (removed, or from another site)",
        )
        .await?;
        return Err(AppError::invalid(
            "This passkey is not registered here (it may have been removed). Sign in with your password.",
        ));
    };
    let passkey: Passkey = serde_json::from_str(&json)
        .map_err(|e| AppError::internal(format!("a stored passkey: {e}")))?;
    let handle_matches = user_handle(&user_id).is_ok_and(|mine| mine == handle);
    let verified = handle_matches
        .then(|| {
            webauthn.finish_discoverable_authentication(
                &answer,
                authentication,
                &[DiscoverableKey::from(&passkey)],
            )
        })
        .and_then(|r| {
            r.map_err(|e| tracing::info!(error = %e, "passkey sign-in refused"))
                .ok()
        });
    let Some(result) = verified else {
        audit::record(
            state.db.pool(),
            &nobody,
            Action::SignInFailed,
            Some(&user_id),
            "passkey not accepted",
        )
        .await?;
        return Err(AppError::invalid(NOT_ACCEPTED));
    };
    throttle::succeeded(&state.db, attempt, &email).await?;
    if disabled_at.is_some() {
        audit::record(
            state.db.pool(),
            &nobody,
            Action::SignInFailed,
            Some(&user_id),
            "the account is disabled",
        )
        .await?;
        return Err(AppError::invalid(
            "This account has been disabled. Ask an admin of this Switchboard.",
        ));
    }
    let mut stored = Stored {
        id,
        user_id,
        passkey,
    };
    used(&state.db, &mut stored, &result).await?;
    Ok(stored.user_id)
}
