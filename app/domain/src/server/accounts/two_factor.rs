//! Two-factor sign-in with an authenticator app (TOTP, [`super::totp`]) and ten one-time
//! recovery codes.
//!
//! Turning it on: [`start`] keeps a new secret (sealed with the instance key, like carrier
//! credentials) as pending and shows it as a QR code; [`confirm`] turns it on once a code
//! from the app matches, and hands out the recovery codes (only their hashes are kept).
//!
//! Signing in: a right password for an account with it on opens a [`challenge`] instead of
//! a session (a cookie for five minutes, five tries); [`answer`] takes a code from the app
//! — each works once — or an unused recovery code, and only then does a session start.
//! Guessing a code means guessing the password again every five tries, under the sign-in
//! throttle.

use rand::RngCore;

use crate::error::{AppError, AppResult};
use crate::server::accounts::totp;
use crate::server::audit::{self, Action, Actor};
use crate::server::ids::UserId;
use crate::server::{crypto, now_ms, AppState, Db};
use crate::types::{TwoFactorSetup, TwoFactorStatus};

/// How long a sign-in waits for its code.
pub const CHALLENGE_MS: i64 = 5 * 60 * 1000;
/// Wrong codes one challenge takes before the password must be entered again.
pub const CHALLENGE_TRIES: i64 = 5;
/// Recovery codes handed out at a time.
pub const RECOVERY_CODES: usize = 10;
/// The name of the cookie that carries a challenge between the two sign-in steps.
pub const CHALLENGE_COOKIE: &str = "sb_sign_in_challenge";

/// The instance setting by which admins require two-factor sign-in of everyone (read with
/// each session, in `sessions::find_session`).
pub const REQUIRED_SETTING: &str = "require_two_factor";

/// Whether everyone must sign in with a code.
pub async fn required(db: &Db) -> AppResult<bool> {
    Ok(crate::server::instance_settings::get(db, REQUIRED_SETTING)
        .await?
        .as_deref()
        == Some("1"))
}

/// Requires two-factor sign-in of everyone (or stops requiring it). Who has not set it up
/// then finds only Settings open until they do.
pub async fn set_required(db: &Db, by: &Actor, required: bool) -> AppResult<()> {
    // An admin without it would shut themselves out of everything but Settings.
    if let (true, Some(admin)) = (required, by.user_id()) {
        if !is_on(db, admin).await? {
            return Err(AppError::invalid(
                "Set up two-factor sign-in for yourself first (Settings), then require it of everyone.",
            ));
        }
    }
    crate::server::instance_settings::put(db, REQUIRED_SETTING, if required { "1" } else { "0" })
        .await?;
    let detail = if required {
        "required of everyone"
    } else {
        "optional"
    };
    audit::record(db.pool(), by, Action::TwoFactorRequirement, None, detail).await
}

/// Whether `user_id` must set up two-factor sign-in before anything but Settings (an admin
/// requires it and they have not). Per request, `sessions::find_session` reads the same in
/// its own statement.
pub async fn must_set_up(db: &Db, user_id: &UserId) -> AppResult<bool> {
    Ok(required(db).await? && !is_on(db, user_id).await?)
}

fn sealed_field(user_id: &UserId) -> String {
    format!("totp.{user_id}")
}

/// Whether the user signs in with a second factor: the authenticator app, or a passkey.
pub async fn is_on(db: &Db, user_id: &UserId) -> AppResult<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM two_factor WHERE user_id = $1 AND confirmed_at IS NOT NULL
         UNION ALL SELECT 1 FROM passkeys WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.is_some())
}

/// Whether the authenticator app is set up.
async fn app_is_on(db: &Db, user_id: &UserId) -> AppResult<bool> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM two_factor WHERE user_id = $1 AND confirmed_at IS NOT NULL")
            .bind(user_id)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.is_some())
}

pub async fn status(db: &Db, user_id: &UserId) -> AppResult<TwoFactorStatus> {
    let app = app_is_on(db, user_id).await?;
    let passkeys = super::passkeys::count(db, user_id).await?;
    let on = app || passkeys > 0;
    let (left,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(db.pool())
    .await?;
    Ok(TwoFactorStatus {
        on,
        app,
        passkeys,
        recovery_codes_left: if on { left } else { 0 },
    })
}

/// Keeps a new secret as pending (replacing an earlier pending one) and answers what the
/// authenticator app needs. Refused while two-factor sign-in is on (turn it off first).
pub async fn start(state: &AppState, user_id: &UserId, email: &str) -> AppResult<TwoFactorSetup> {
    if app_is_on(&state.db, user_id).await? {
        return Err(AppError::invalid(
            "The authenticator app is already set up. Turn it off first to move it to another app.",
        ));
    }
    let secret = totp::new_secret();
    let sealed = crate::server::carrier::config::seal(
        &state.secret,
        &sealed_field(user_id),
        &totp::secret_text(&secret),
    );
    sqlx::query(
        "INSERT INTO two_factor (user_id, secret, confirmed_at, last_step, created_at)
         VALUES ($1, $2, NULL, 0, $3)
         ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, confirmed_at = NULL,
             last_step = 0, created_at = excluded.created_at",
    )
    .bind(user_id)
    .bind(&sealed)
    .bind(now_ms())
    .execute(state.db.pool())
    .await?;
    let issuer = state
        .settings
        .public_url
        .host_str()
        .map(|host| format!("Switchboard ({host})"))
        .unwrap_or_else(|| "Switchboard".into());
    let url = totp::otpauth_url(&secret, &issuer, email);
    Ok(TwoFactorSetup {
        secret: totp::secret_text(&secret),
        qr_svg: totp::qr_svg(&url).unwrap_or_default(),
        url,
    })
}

/// The user's secret and the last step used, if any (`confirmed`: only once it is on).
async fn secret_of(
    state: &AppState,
    user_id: &UserId,
    confirmed: bool,
) -> AppResult<Option<(Vec<u8>, i64)>> {
    let row: Option<(String, Option<i64>, i64)> =
        sqlx::query_as("SELECT secret, confirmed_at, last_step FROM two_factor WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(state.db.pool())
            .await?;
    let Some((sealed, confirmed_at, last_step)) = row else {
        return Ok(None);
    };
    if confirmed_at.is_some() != confirmed {
        return Ok(None);
    }
    let text = crate::server::carrier::config::open(&state.secret, &sealed_field(user_id), &sealed)
        .ok_or_else(|| AppError::internal("a two-factor secret no longer opens"))?;
    let secret = totp::secret_from_text(&text)
        .ok_or_else(|| AppError::internal("a two-factor secret is not base32"))?;
    Ok(Some((secret, last_step)))
}

/// Takes the step a code matched, once: a second use of the same code (or an older one)
/// finds the step already taken.
async fn take_step(db: &Db, user_id: &UserId, step: i64) -> AppResult<bool> {
    let done =
        sqlx::query("UPDATE two_factor SET last_step = $1 WHERE user_id = $2 AND last_step < $1")
            .bind(step)
            .bind(user_id)
            .execute(db.pool())
            .await?;
    Ok(done.rows_affected() == 1)
}

fn unix_seconds() -> i64 {
    now_ms().div_euclid(1000)
}

/// Turns two-factor sign-in on with a code from the app; answers the recovery codes (shown
/// once).
pub async fn confirm(
    state: &AppState,
    by: &Actor,
    user_id: &UserId,
    code: &str,
) -> AppResult<Vec<String>> {
    let Some((secret, last_step)) = secret_of(state, user_id, false).await? else {
        return Err(AppError::invalid(
            "Start again: press \u{201c}Set up\u{201d} to get a new QR code.",
        ));
    };
    crate::server::throttle::take(
        &state.db,
        crate::server::throttle::SIGN_IN_CHANGES,
        user_id.as_str(),
    )
    .await?;
    let Some(step) = totp::matching_step(&secret, code, unix_seconds(), last_step) else {
        return Err(AppError::invalid(
            "That code doesn't match. Check the app shows Switchboard's code, and that your phone's clock is right.",
        ));
    };
    let codes = new_codes();
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE two_factor SET confirmed_at = $1, last_step = $2 WHERE user_id = $3")
        .bind(now_ms())
        .bind(step)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    replace_codes(&mut tx, user_id, &codes).await?;
    audit::record(
        &mut *tx,
        by,
        Action::TwoFactorOn,
        Some(user_id),
        "authenticator app",
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

/// Ten codes of 10 base32 characters (50 bits each), written `xxxxx-xxxxx`.
pub(crate) fn new_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 7];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let text = data_encoding::BASE32_NOPAD.encode(&bytes).to_lowercase();
            format!("{}-{}", &text[..5], &text[5..10])
        })
        .collect()
}

/// How a recovery code is stored and looked up: typed in any case, with or without dash.
fn code_hash(code: &str) -> String {
    let plain: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    crypto::hash_token(&plain)
}

pub(crate) async fn replace_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &UserId,
    codes: &[String],
) -> AppResult<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    for code in codes {
        sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash, used_at) VALUES ($1, $2, NULL)",
        )
        .bind(user_id)
        .bind(code_hash(code))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Voids the recovery codes of someone left with no second factor (neither the app nor a
/// passkey): they would otherwise outlive what they recover.
pub(crate) async fn forget_codes_without_factor(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &UserId,
) -> AppResult<()> {
    sqlx::query(
        "DELETE FROM recovery_codes WHERE user_id = $1
           AND NOT EXISTS (SELECT 1 FROM two_factor WHERE user_id = $1 AND confirmed_at IS NOT NULL)
           AND NOT EXISTS (SELECT 1 FROM passkeys WHERE user_id = $1)",
    )
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Turns the authenticator app off (the password is asked again). With no passkey left,
/// two-factor sign-in is then off.
pub async fn turn_off(db: &Db, by: &Actor, user_id: &UserId, password: &str) -> AppResult<()> {
    super::users::check_password(db, user_id, password).await?;
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM two_factor WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    forget_codes_without_factor(&mut tx, user_id).await?;
    audit::record(&mut *tx, by, Action::TwoFactorOff, Some(user_id), "").await?;
    tx.commit().await?;
    Ok(())
}

/// New recovery codes in place of the old (the password is asked again).
pub async fn renew_codes(
    db: &Db,
    by: &Actor,
    user_id: &UserId,
    password: &str,
) -> AppResult<Vec<String>> {
    super::users::check_password(db, user_id, password).await?;
    if !is_on(db, user_id).await? {
        return Err(AppError::invalid("Two-factor sign-in is off."));
    }
    let codes = new_codes();
    let mut tx = db.begin().await?;
    replace_codes(&mut tx, user_id, &codes).await?;
    audit::record(
        &mut *tx,
        by,
        Action::RecoveryCodesRenewed,
        Some(user_id),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

/// Opens a sign-in challenge for `user_id` (their password was right); answers the token
/// for the challenge cookie.
pub async fn challenge(db: &Db, user_id: &UserId) -> AppResult<String> {
    let token = crypto::random_token();
    let now = now_ms();
    sqlx::query("DELETE FROM sign_in_challenges WHERE expires_at < $1")
        .bind(now)
        .execute(db.pool())
        .await?;
    sqlx::query(
        "INSERT INTO sign_in_challenges (token_hash, user_id, tries, expires_at) VALUES ($1, $2, 0, $3)",
    )
    .bind(crypto::hash_token(&token))
    .bind(user_id)
    .bind(now + CHALLENGE_MS)
    .execute(db.pool())
    .await?;
    Ok(token)
}

pub const START_AGAIN: &str = "This sign-in has expired. Enter your email and password again.";

/// Answers a challenge with `code` (from the app, or a recovery code); answers whose
/// sign-in it was, and how it was proved, once right.
pub async fn answer(
    state: &AppState,
    token: &str,
    code: &str,
    by: &Actor,
) -> AppResult<(UserId, &'static str)> {
    let user_id = count_try(&state.db, token).await?;
    let code = code.trim();
    // A code from the app (if it is set up), else a recovery code (which passkey-only
    // accounts have too).
    let app_step = secret_of(state, &user_id, true)
        .await?
        .and_then(|(secret, last_step)| {
            totp::matching_step(&secret, code, unix_seconds(), last_step)
        });
    let proved = match app_step {
        Some(step) => take_step(&state.db, &user_id, step)
            .await?
            .then_some("with an authenticator code"),
        None => {
            let used = sqlx::query(
                "UPDATE recovery_codes SET used_at = $1
                 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
            )
            .bind(now_ms())
            .bind(&user_id)
            .bind(code_hash(code))
            .execute(state.db.pool())
            .await?;
            (used.rows_affected() == 1).then_some("with a recovery code")
        }
    };
    let Some(how) = proved else {
        audit::record(
            state.db.pool(),
            by,
            Action::SignInFailed,
            Some(&user_id),
            "wrong code",
        )
        .await?;
        return Err(AppError::invalid("That code doesn't match."));
    };
    close_challenge(&state.db, token).await?;
    Ok((user_id, how))
}

/// Counts one try at the challenge behind `token`; answers whose sign-in it is, or refuses
/// an expired or spent challenge. A try is counted before the answer is checked, so
/// parallel tries see each other.
pub async fn count_try(db: &Db, token: &str) -> AppResult<UserId> {
    let mut tx = db.begin().await?;
    let row: Option<(UserId, i64)> = sqlx::query_as(
        "UPDATE sign_in_challenges SET tries = tries + 1
         WHERE token_hash = $1 AND expires_at > $2 AND tries < $3
         RETURNING user_id, tries",
    )
    .bind(crypto::hash_token(token))
    .bind(now_ms())
    .bind(CHALLENGE_TRIES)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    row.map(|(user_id, _)| user_id)
        .ok_or_else(|| AppError::invalid(START_AGAIN))
}

/// Whose sign-in the challenge behind `token` is, while it can still be answered (no try
/// counted: asking the device for a passkey is not an answer).
pub async fn challenged_user(db: &Db, token: &str) -> AppResult<UserId> {
    let row: Option<(UserId,)> = sqlx::query_as(
        "SELECT user_id FROM sign_in_challenges
         WHERE token_hash = $1 AND expires_at > $2 AND tries < $3",
    )
    .bind(crypto::hash_token(token))
    .bind(now_ms())
    .bind(CHALLENGE_TRIES)
    .fetch_optional(db.pool())
    .await?;
    row.map(|(user_id,)| user_id)
        .ok_or_else(|| AppError::invalid(START_AGAIN))
}

/// The challenge was answered: it can't be used again.
pub async fn close_challenge(db: &Db, token: &str) -> AppResult<()> {
    sqlx::query("DELETE FROM sign_in_challenges WHERE token_hash = $1")
        .bind(crypto::hash_token(token))
        .execute(db.pool())
        .await?;
    Ok(())
}

pub fn challenge_cookie(settings: &crate::server::Settings, token: &str) -> String {
    let max_age = CHALLENGE_MS / 1000;
    super::sessions::cookie(settings, CHALLENGE_COOKIE, token, "/", "Strict", max_age)
}

pub fn clear_challenge_cookie(settings: &crate::server::Settings) -> String {
    super::sessions::cookie(settings, CHALLENGE_COOKIE, "", "/", "Strict", 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_distinct_and_read_in_any_case() {
        let codes = new_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        assert_eq!(code_hash(code), code_hash(&code.to_uppercase()));
        assert_eq!(code_hash(code), code_hash(&code.replace('-', "")));
        assert_ne!(code_hash(code), code_hash(&codes[1]));
    }
}
