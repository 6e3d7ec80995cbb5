//! Browser phones: a browser that takes phone-network calls through the carrier's WebRTC
//! SDK (Telnyx, Twilio). Each browser of a user gets a carrier credential of its own, made the
//! first time it asks, so the server can ring exactly the browser that pressed Answer (one
//! credential shared by two browsers rings only the last to sign in). The browser only
//! ever gets a short-lived token for its own credential, never a SIP password; the
//! credential's address takes calls from this carrier account only.

use sqlx::{Any, Transaction};

use crate::error::{AppError, AppResult};
use crate::server::carrier::config::CarrierKind;
use crate::server::carrier::{config, BrowserPhone, Carrier};
use crate::server::ids::UserId;
use crate::server::numbers::carrier_failure;
use crate::server::{crypto, instance_settings, now_ms, throttle, AppState};
use crate::types::BrowserPhoneSignIn;

/// Browsers one person may take calls in; a new one replaces the one set up longest ago.
pub const MAX_PER_USER: i64 = 10;
/// Sign-ins per person: each may make a credential at the carrier.
pub const SIGN_INS: throttle::Limit = throttle::Limit {
    action: "browser phone sign-ins",
    per_window: 30,
    window_ms: 60 * 60 * 1000,
};

/// A browser names itself with a random id it keeps: letters, digits and dashes.
fn check_device(device: &str) -> AppResult<()> {
    if device.len() < 8
        || device.len() > 64
        || !device
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(AppError::invalid(
            "This browser can't take phone calls. Reload the page.",
        ));
    }
    Ok(())
}

/// The token browser `device` of the user signs in to `carrier`'s SDK with (the carrier
/// of the call it answers, or of the user's numbers); its credential is made first if it
/// has none.
pub async fn sign_in(
    state: &AppState,
    user_id: &UserId,
    device: &str,
    carrier: &str,
) -> AppResult<BrowserPhoneSignIn> {
    check_device(device)?;
    let kind = match CarrierKind::parse(carrier) {
        Some(kind @ (CarrierKind::Telnyx | CarrierKind::Twilio)) => kind,
        Some(other) => {
            return Err(AppError::invalid(format!(
                "Calls through {} can't be taken in the browser yet.",
                other.label()
            )))
        }
        None => return Err(AppError::invalid("That carrier is not one we know.")),
    };
    let carrier = state.carrier_of(kind);
    throttle::take(&state.db, SIGN_INS, user_id.as_str()).await?;
    let credential = match credential_of(state, user_id, kind, device).await? {
        Some(id) => id,
        None => {
            let webhook_url = state.webhook_url(kind);
            let name = format!("Switchboard {}", &device[..8]);
            let made = carrier
                .new_browser_phone(&webhook_url, &name)
                .await
                .map_err(carrier_failure)?;
            keep(state, user_id, kind, device, &made).await?
        }
    };
    let setup = match carrier.browser_setup_name() {
        Some(name) => Some(setup_of(state, carrier.as_ref(), &name).await?),
        None => None,
    };
    let token = carrier
        .browser_phone_token(&credential, setup.as_deref())
        .await
        .map_err(carrier_failure)?;
    Ok(BrowserPhoneSignIn {
        carrier: kind.as_str().into(),
        token,
    })
}

/// What the carrier's browser phones need made once, kept sealed under `name` (it belongs
/// to the carrier account), made now if it is not kept yet, or if the kept one is gone at
/// the carrier (deleted there: Twilio's API key). Two first sign-ins at once may each make
/// one: the last kept wins, and tokens signed with either work.
async fn setup_of(state: &AppState, carrier: &dyn Carrier, name: &str) -> AppResult<String> {
    let key = format!("browser_setup.{name}");
    let field = key.as_str();
    if let Some(sealed) = instance_settings::get(&state.db, field).await? {
        let kept = config::open(&state.secret, field, &sealed).ok_or_else(|| {
            AppError::internal(format!(
                "the kept {field} can't be decrypted: was the instance secret changed?"
            ))
        })?;
        if !carrier.browser_setup_gone(&kept).await {
            return Ok(kept);
        }
        tracing::warn!(%field, "what browser phones sign in with is gone at the carrier: made again");
    }
    let made = carrier
        .browser_phones_setup()
        .await
        .map_err(carrier_failure)?;
    instance_settings::put(&state.db, field, &config::seal(&state.secret, field, &made)).await?;
    Ok(made)
}

/// The browser phone of browser `device` of the user, if it signed in.
async fn kept<'c, E: sqlx::Executor<'c, Database = Any>>(
    db: E,
    user_id: &UserId,
    kind: CarrierKind,
    device: &str,
) -> AppResult<Option<BrowserPhone>> {
    let found: Option<(String, String)> = sqlx::query_as(
        "SELECT credential_id, sip_username FROM browser_phones
         WHERE user_id = $1 AND carrier = $2 AND device = $3",
    )
    .bind(user_id)
    .bind(kind.as_str())
    .bind(device)
    .fetch_optional(db)
    .await?;
    Ok(found.map(|(credential_id, sip_username)| BrowserPhone {
        credential_id,
        sip_username,
    }))
}

async fn credential_of(
    state: &AppState,
    user_id: &UserId,
    kind: CarrierKind,
    device: &str,
) -> AppResult<Option<String>> {
    let found = kept(state.db.pool(), user_id, kind, device).await?;
    Ok(found.map(|phone| phone.credential_id))
}

/// Keeps the credential `made` for the browser (the one kept first if two sign-ins of one
/// browser raced; the other is deleted at the carrier), replacing the user's oldest browser
/// when they have [`MAX_PER_USER`]. Answers the credential kept.
async fn keep(
    state: &AppState,
    user_id: &UserId,
    kind: CarrierKind,
    device: &str,
    made: &BrowserPhone,
) -> AppResult<String> {
    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO browser_phones
             (id, user_id, carrier, device, credential_id, sip_username, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id, carrier, device) DO NOTHING",
    )
    .bind(crypto::new_id())
    .bind(user_id)
    .bind(kind.as_str())
    .bind(device)
    .bind(&made.credential_id)
    .bind(&made.sip_username)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    let mut forget = Vec::new();
    if inserted {
        // The one just kept stays; of the others, the newest MAX_PER_USER - 1.
        let replaced: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, credential_id FROM browser_phones
             WHERE user_id = $1 AND NOT (carrier = $2 AND device = $3)
             ORDER BY created_at DESC, id DESC LIMIT 1000 OFFSET $4",
        )
        .bind(user_id)
        .bind(kind.as_str())
        .bind(device)
        .bind(MAX_PER_USER - 1)
        .fetch_all(&mut *tx)
        .await?;
        for (id, credential) in replaced {
            sqlx::query("DELETE FROM browser_phones WHERE id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            forget.push(credential);
        }
    } else {
        forget.push(made.credential_id.clone());
    }
    tx.commit().await?;
    // Best effort: a credential left at the carrier rings nothing (we never dial it again,
    // and only this server mints its tokens).
    let carrier = state.carrier_of(kind);
    for credential in forget {
        if let Err(e) = carrier.forget_browser_phone(&credential).await {
            tracing::warn!(error = %e, "an old browser credential was not deleted at the carrier");
        }
    }
    credential_of(state, user_id, kind, device)
        .await?
        .ok_or_else(|| AppError::invalid("This browser can't take phone calls. Try again."))
}

/// Stops the user's browsers taking phone-network calls: every browser phone of theirs goes
/// (deleted at the carrier too), and their calls go to forwarding or voicemail again.
/// Answers how many went.
pub async fn forget_all(state: &AppState, user_id: &UserId) -> AppResult<usize> {
    let gone: Vec<(String, String)> = sqlx::query_as(
        "DELETE FROM browser_phones WHERE user_id = $1 RETURNING carrier, credential_id",
    )
    .bind(user_id)
    .fetch_all(state.db.pool())
    .await?;
    for (carrier, credential) in &gone {
        let Some(kind) = CarrierKind::parse(carrier) else {
            continue;
        };
        if let Err(e) = state
            .carrier_of(kind)
            .forget_browser_phone(credential)
            .await
        {
            tracing::warn!(error = %e, "a browser credential was not deleted at the carrier");
        }
    }
    Ok(gone.len())
}

/// The address at which the carrier rings browser `device` of the user, if it signed in.
pub(super) async fn address(
    tx: &mut Transaction<'_, Any>,
    user_id: &UserId,
    kind: CarrierKind,
    device: &str,
) -> AppResult<Option<String>> {
    check_device(device)?;
    let found = kept(&mut **tx, user_id, kind, device).await?;
    Ok(found.map(|phone| BrowserPhone::address(kind, &phone.sip_username)))
}

/// Whether the user has a browser that can take calls through `kind`. On the sandbox,
/// every tab they are signed in on can (plain WebRTC: nothing to set up).
pub(super) async fn any(
    tx: &mut Transaction<'_, Any>,
    user_id: &UserId,
    kind: CarrierKind,
) -> AppResult<bool> {
    if kind == CarrierKind::Sandbox {
        return Ok(true);
    }
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM browser_phones WHERE user_id = $1 AND carrier = $2")
            .bind(user_id)
            .bind(kind.as_str())
            .fetch_one(&mut **tx)
            .await?;
    Ok(n > 0)
}
