//! Web Push: the instance's VAPID key (kept in the database, so instances share it), per-device
//! subscriptions, and delivery through the job queue (never on a webhook's request path).
//! Payloads are encrypted with aes128gcm and signed with VAPID by the `web-push` crate.

use crate::server::ids::{ConversationId, PushSubscriptionId, SessionId, UserId};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sqlx::{Any, Transaction};
use web_push::{
    ContentEncoding, SubscriptionInfo, Urgency, VapidSignatureBuilder, WebPushMessageBuilder,
};

use super::jobs::{self, Job};
use super::{crypto, now_ms, AppState, Db};
use crate::error::{AppError, AppResult};

/// The VAPID key pair (private raw scalar and public uncompressed point, base64url).
#[derive(Clone)]
pub struct VapidKeys {
    private: String,
    pub public: String,
}

impl std::fmt::Debug for VapidKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VapidKeys {{ public: {} }}", self.public)
    }
}

/// What the sealed private key is bound to (see `carrier::config::seal`).
const VAPID_FIELD: &str = "vapid.private_key";

/// Loads the instance's VAPID key, creating it on first start. Race-safe across instances:
/// the first insert wins and everyone reads that one back. The private key is sealed at
/// rest with the instance secret, like the carrier secrets: a copy of the database alone
/// can't sign pushes. A key stored in the clear by an older version is sealed on load.
pub async fn vapid_keys(db: &Db, secret: &[u8; 32]) -> AppResult<VapidKeys> {
    use super::carrier::config::{open, seal};
    let mut candidate = [0u8; 32];
    let private = loop {
        rand::rngs::OsRng.fill_bytes(&mut candidate);
        let encoded = URL_SAFE_NO_PAD.encode(candidate);
        if VapidSignatureBuilder::from_base64_no_sub(&encoded).is_ok() {
            break encoded;
        }
    };
    sqlx::query("INSERT INTO instance_settings (key, value) VALUES ('vapid_private_key', $1) ON CONFLICT (key) DO NOTHING")
        .bind(seal(secret, VAPID_FIELD, &private))
        .execute(db.pool())
        .await?;
    let (stored,): (String,) =
        sqlx::query_as("SELECT value FROM instance_settings WHERE key = 'vapid_private_key'")
            .fetch_one(db.pool())
            .await?;
    let private = match open(secret, VAPID_FIELD, &stored) {
        Some(private) => private,
        None if VapidSignatureBuilder::from_base64_no_sub(&stored).is_ok() => {
            sqlx::query("UPDATE instance_settings SET value = $1 WHERE key = 'vapid_private_key' AND value = $2")
                .bind(seal(secret, VAPID_FIELD, &stored))
                .bind(&stored)
                .execute(db.pool())
                .await?;
            stored
        }
        None => {
            return Err(AppError::internal(
                "the saved Web Push key can't be decrypted: was the instance secret changed?",
            ))
        }
    };
    let builder = VapidSignatureBuilder::from_base64_no_sub(&private)
        .map_err(|e| AppError::internal(format!("VAPID key: {e}")))?;
    Ok(VapidKeys {
        public: URL_SAFE_NO_PAD.encode(builder.get_public_key()),
        private,
    })
}

/// What the service worker shows (see public/sw.js).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub title: String,
    pub body: String,
    pub url: String,
    /// One tag per conversation, so a burst collapses into one notification.
    pub tag: String,
    pub unread: i64,
    /// For a call's tag: the call has ended, so its ringing alert goes (replaced by this
    /// one; with no title, only taken away). public/sw.js reads it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ended: bool,
}

/// Whether `payload` (a queued [`Notification`]) is a call's ringing alert for a call that
/// no longer rings.
pub async fn rings_for_a_call_gone(db: &Db, payload: &str) -> AppResult<bool> {
    let Some((session_id, false)) = call_alert(payload) else {
        return Ok(false);
    };
    // A carrier call no longer ringing browsers (gone on to the forwarding phone) is gone
    // for them too.
    let state: Option<(String, i64)> = sqlx::query_as(
        "SELECT state, CASE WHEN carrier_call IS NOT NULL AND rings_browsers = 0 THEN 1 ELSE 0 END
         FROM call_sessions WHERE id = $1",
    )
    .bind(session_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(state.is_none_or(|(state, moved_on)| state != "ringing" || moved_on == 1))
}

/// Queues `notification` for every device of `user_id`, inside the caller's transaction.
/// `urgent` is for calls (push services deliver those first).
pub async fn enqueue_for_user(
    tx: &mut Transaction<'_, Any>,
    user_id: &UserId,
    notification: &Notification,
    urgent: bool,
) -> AppResult<usize> {
    let devices: Vec<(PushSubscriptionId,)> =
        sqlx::query_as("SELECT id FROM push_subscriptions WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(&mut **tx)
            .await?;
    let payload = serde_json::to_string(notification).map_err(AppError::internal)?;
    for (subscription_id,) in &devices {
        let job = Job::Push {
            subscription_id: subscription_id.clone(),
            payload: payload.clone(),
            urgent,
        };
        jobs::enqueue(tx, &job, now_ms()).await?;
    }
    Ok(devices.len())
}

/// The alert for an inbound text: the sender, a preview (unless the user hides previews),
/// a link to the conversation. Hook for missed calls and voicemail: build a `Notification`
/// the same way and call [`enqueue_for_user`] with `urgent: true`.
/// What an inbound text's alert says: who sent it and the start of what they wrote.
pub struct InboundAlert<'a> {
    pub sender: &'a str,
    pub preview: &'a str,
}

pub async fn notify_inbound(
    tx: &mut Transaction<'_, Any>,
    user_id: &UserId,
    conversation_id: &ConversationId,
    alert: InboundAlert<'_>,
) -> AppResult<()> {
    let InboundAlert { sender, preview } = alert;
    let (hidden, unread): (Option<i64>, i64) = sqlx::query_as(
        "SELECT push_previews_hidden_at, (SELECT CAST(COALESCE(SUM(unread), 0) AS BIGINT) FROM conversations WHERE user_id = $1)
         FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    let notification = Notification {
        title: sender.to_string(),
        body: if hidden.is_some() {
            "New message".to_string()
        } else {
            preview.to_string()
        },
        url: format!("/inbox/{conversation_id}"),
        tag: format!("conversation-{conversation_id}"),
        unread,
        ended: false,
    };
    enqueue_for_user(tx, user_id, &notification, false).await?;
    Ok(())
}

/// Devices one user may have alerts on.
pub const MAX_DEVICES_PER_USER: i64 = 10;

/// A browser's push subscription, as `PushManager.subscribe` gave it.
pub struct Device<'a> {
    pub endpoint: &'a str,
    pub p256dh: &'a str,
    pub auth: &'a str,
    /// What Settings calls it ("Chrome on Android").
    pub name: &'a str,
}

/// Stores a device's subscription for the session that turned it on: when that session
/// ends, so do the alerts. The endpoint must be an https URL on a public address (the
/// server will post to it).
pub async fn subscribe(
    state: &AppState,
    user_id: &UserId,
    session_id: &SessionId,
    device: &Device<'_>,
) -> AppResult<()> {
    let Device {
        endpoint,
        p256dh,
        auth,
        name,
    } = *device;
    if endpoint.len() > 2048 {
        return Err(AppError::invalid(
            "This browser's push subscription is not usable. Try again.",
        ));
    }
    let url = url::Url::parse(endpoint)
        .map_err(|_| AppError::invalid("This browser's push subscription is not usable."))?;
    if let Err(why) = super::safe_http::check_resolved(&url, state.settings.fetch_reach).await {
        tracing::warn!(%why, "push endpoint refused");
        return Err(AppError::invalid(format!(
            "This push service can't be used: {why}."
        )));
    }
    let valid_keys = URL_SAFE_NO_PAD
        .decode(p256dh.trim_end_matches('='))
        .map(|k| k.len() == 65)
        .unwrap_or(false)
        && URL_SAFE_NO_PAD
            .decode(auth.trim_end_matches('='))
            .map(|k| k.len() == 16)
            .unwrap_or(false);
    if !valid_keys || name.len() > 200 {
        return Err(AppError::invalid(
            "This browser's push subscription is not usable. Try again.",
        ));
    }
    let mut tx = state.db.begin().await?;
    // An endpoint belongs to one device; re-subscribing (or another account on the same
    // browser) takes it over.
    sqlx::query("DELETE FROM push_subscriptions WHERE endpoint = $1")
        .bind(endpoint)
        .execute(&mut *tx)
        .await?;
    let (devices,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM push_subscriptions WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
    if devices >= MAX_DEVICES_PER_USER {
        return Err(AppError::invalid(format!(
            "Alerts are on for {MAX_DEVICES_PER_USER} devices already. Turn one off in the list first."
        )));
    }
    sqlx::query(
        "INSERT INTO push_subscriptions (id, user_id, session_id, endpoint, p256dh, auth, device, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(crypto::new_id())
    .bind(user_id)
    .bind(session_id)
    .bind(endpoint)
    .bind(p256dh)
    .bind(auth)
    .bind(name)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug)]
pub enum Delivery {
    Delivered,
    /// 404/410: the subscription is gone; it was removed.
    Gone,
    /// 429/5xx/network: worth retrying.
    Retry(String),
    /// Anything else: logged and dropped.
    Refused(String),
}

/// Sends one queued notification to one device.
pub async fn deliver(
    state: &AppState,
    subscription_id: &PushSubscriptionId,
    payload: &str,
    urgent: bool,
) -> AppResult<Delivery> {
    let row: Option<(String, String, String)> =
        sqlx::query_as("SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE id = $1")
            .bind(subscription_id)
            .fetch_optional(state.db.pool())
            .await?;
    let Some((endpoint, p256dh, auth)) = row else {
        return Ok(Delivery::Gone);
    };
    let Some(contact) = state.settings.push_contact.as_deref() else {
        return Ok(Delivery::Refused(
            "push is off: SWITCHBOARD_PUSH_CONTACT is not set".into(),
        ));
    };
    let info = SubscriptionInfo::new(endpoint, p256dh, auth);
    let message = (|| {
        let mut signature = VapidSignatureBuilder::from_base64(&state.vapid.private, &info)?;
        signature.add_claim("sub", contact);
        let mut builder = WebPushMessageBuilder::new(&info);
        builder.set_ttl(ttl_secs(urgent));
        builder.set_urgency(if urgent || settles_a_ringing_alert(payload) {
            Urgency::High
        } else {
            Urgency::Normal
        });
        builder.set_payload(ContentEncoding::Aes128Gcm, payload.as_bytes());
        builder.set_vapid_signature(signature.build()?);
        builder.build()
    })();
    let message = match message {
        Ok(m) => m,
        Err(e) => {
            return Ok(Delivery::Refused(format!(
                "cannot build the push message: {e}"
            )))
        }
    };
    let request = web_push::request_builder::build_request::<Vec<u8>>(message);
    let mut outgoing = state.push_http().post(request.uri().to_string());
    for (name, value) in request.headers() {
        outgoing = outgoing.header(name.as_str(), value.as_bytes());
    }
    let response = match outgoing.body(request.into_body()).send().await {
        Ok(r) => r,
        Err(e) => return Ok(Delivery::Retry(format!("push service unreachable: {e}"))),
    };
    let status = response.status().as_u16();
    Ok(match status {
        200..=299 => {
            sqlx::query("UPDATE push_subscriptions SET last_used_at = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(subscription_id)
                .execute(state.db.pool())
                .await?;
            Delivery::Delivered
        }
        404 | 410 => {
            sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
                .bind(subscription_id)
                .execute(state.db.pool())
                .await?;
            Delivery::Gone
        }
        429 | 500..=599 => Delivery::Retry(format!("push service answered {status}")),
        _ => Delivery::Refused(format!(
            "push service answered {status}: {}",
            response.text().await.unwrap_or_default()
        )),
    })
}

/// Whether the user hides message text in alerts.
pub async fn previews_hidden(db: &Db, user_id: &UserId) -> AppResult<bool> {
    let (hidden,): (Option<i64>,) =
        sqlx::query_as("SELECT push_previews_hidden_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(db.pool())
            .await?;
    Ok(hidden.is_some())
}

pub async fn set_previews_hidden(db: &Db, user_id: &UserId, hidden: bool) -> AppResult<()> {
    sqlx::query("UPDATE users SET push_previews_hidden_at = $1 WHERE id = $2")
        .bind(if hidden { Some(now_ms()) } else { None })
        .bind(user_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// The user's devices that get alerts, oldest first.
pub async fn devices(db: &Db, user_id: &UserId) -> AppResult<Vec<crate::types::PushDevice>> {
    let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, device, created_at, last_used_at FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, device, created_at, last_used_at)| crate::types::PushDevice {
                id,
                device,
                created_at,
                last_used_at,
            },
        )
        .collect())
}

/// Removes one of the user's devices, by id or by its push endpoint; another user's is
/// "not found".
pub async fn remove(
    db: &Db,
    user_id: &UserId,
    subscription_id: &PushSubscriptionId,
    endpoint: &str,
) -> AppResult<()> {
    let done = sqlx::query(
        "DELETE FROM push_subscriptions WHERE user_id = $1 AND (id = $2 OR endpoint = $3)",
    )
    .bind(user_id)
    .bind(subscription_id)
    .bind(endpoint)
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("That device"));
    }
    Ok(())
}

/// Whether `payload` replaces a call's ringing alert (missed, answered elsewhere,
/// declined): sent as promptly as the ring itself (a phone asleep would otherwise show the
/// ringing alert of a call long answered until it woke), though kept a day like a text.
fn settles_a_ringing_alert(payload: &str) -> bool {
    matches!(call_alert(payload), Some((_, true)))
}

/// The call a queued alert (`payload`) is about, and whether it says the call ended; None
/// for any other alert.
fn call_alert(payload: &str) -> Option<(String, bool)> {
    let alert = serde_json::from_str::<Notification>(payload).ok()?;
    let session_id = alert.tag.strip_prefix("call-")?;
    Some((session_id.to_string(), alert.ended))
}

/// How long a push service keeps an alert for a device that is offline: a day for texts
/// and voicemail; for a ringing call, no longer than a call rings (a phone that comes back
/// online an hour later must not ring for a call long gone).
fn ttl_secs(urgent: bool) -> u32 {
    if urgent {
        120
    } else {
        24 * 60 * 60
    }
}

#[cfg(test)]
mod ttl_tests {
    #[test]
    fn a_ringing_alert_lives_no_longer_than_the_longest_ring() {
        let longest = crate::types::RING_CHOICES
            .iter()
            .max()
            .copied()
            .unwrap_or(0);
        assert!(i64::from(super::ttl_secs(true)) <= longest.max(30));
        assert!(super::ttl_secs(true) >= 30, "long enough to reach a phone");
        assert_eq!(super::ttl_secs(false), 86_400);
    }

    #[test]
    fn what_settles_a_ringing_alert_goes_as_promptly_as_the_ring() {
        let alert = |tag: &str, ended: bool| {
            serde_json::to_string(&super::Notification {
                title: "Missed call from Ada".into(),
                body: String::new(),
                url: "/calls".into(),
                tag: tag.into(),
                unread: 0,
                ended,
            })
            .unwrap()
        };
        assert!(super::settles_a_ringing_alert(&alert("call-1", true)));
        assert!(!super::settles_a_ringing_alert(&alert("call-1", false)));
        assert!(!super::settles_a_ringing_alert(&alert(
            "conversation-1",
            false
        )));
        assert!(!super::settles_a_ringing_alert("not json"));
    }
}
