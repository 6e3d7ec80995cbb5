//! Settings → Notifications: this device's push subscription, the list of devices, a test.

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::{PushConfig, PushDevice};

#[server(endpoint = "push_settings")]
pub async fn push_settings() -> Result<PushConfig, AppError> {
    use crate::server::context;
    let me = context::require_user()?;
    let state = context::state()?;
    let (hidden,): (Option<i64>,) =
        sqlx::query_as("SELECT push_previews_hidden_at FROM users WHERE id = $1")
            .bind(&me.user.id)
            .fetch_one(state.db.pool())
            .await?;
    Ok(PushConfig {
        public_key: state.vapid.public.clone(),
        enabled: state.settings.push_contact.is_some(),
        previews_hidden: hidden.is_some(),
    })
}

/// Stores this browser's subscription (from `PushManager.subscribe`).
#[server(endpoint = "push_subscribe")]
pub async fn push_subscribe(
    endpoint: String,
    p256dh: String,
    auth: String,
) -> Result<(), AppError> {
    use crate::server::{context, push};
    let me = context::require_user()?;
    let state = context::state()?;
    let device = crate::device::describe(&context::request_meta().user_agent);
    push::subscribe(&state.db, &me.user.id, &endpoint, &p256dh, &auth, &device).await
}

#[server(endpoint = "push_devices")]
pub async fn push_devices() -> Result<Vec<PushDevice>, AppError> {
    use crate::server::context;
    let me = context::require_user()?;
    let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, device, created_at, last_used_at FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(&me.user.id)
    .fetch_all(context::state()?.db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, device, created_at, last_used_at)| PushDevice {
            id,
            device,
            created_at,
            last_used_at,
        })
        .collect())
}

/// Stops alerts to one device (by id from the list, or by the browser's own endpoint when it
/// unsubscribes). Another user's device is "not found".
#[server(endpoint = "push_remove")]
pub async fn push_remove(
    #[server(default)] subscription_id: String,
    #[server(default)] endpoint: String,
) -> Result<(), AppError> {
    use crate::server::context;
    let me = context::require_user()?;
    let done = sqlx::query(
        "DELETE FROM push_subscriptions WHERE user_id = $1 AND (id = $2 OR endpoint = $3)",
    )
    .bind(&me.user.id)
    .bind(&subscription_id)
    .bind(&endpoint)
    .execute(context::state()?.db.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("That device"));
    }
    Ok(())
}

/// Sends a test alert to every device of the user; returns how many.
#[server(endpoint = "push_test")]
pub async fn push_test() -> Result<usize, AppError> {
    use crate::server::{context, push};
    let me = context::require_user()?;
    let state = context::state()?;
    if state.settings.push_contact.is_none() {
        return Err(AppError::invalid(
            "Push alerts are off on this Switchboard. Ask your admin to set a push contact.",
        ));
    }
    let mut tx = state.db.begin().await?;
    let notification = push::Notification {
        title: "Switchboard".into(),
        body: "Test alert: notifications reach this device.".into(),
        url: "/settings".into(),
        tag: "test".into(),
        unread: 0,
    };
    let n = push::enqueue_for_user(&mut tx, &me.user.id, &notification, false).await?;
    tx.commit().await?;
    state.jobs_waker.notify_one();
    if n == 0 {
        return Err(AppError::invalid(
            "No device gets alerts yet. Enable them on this device first.",
        ));
    }
    Ok(n)
}

#[server(endpoint = "set_push_previews")]
pub async fn set_push_previews(hidden: bool) -> Result<(), AppError> {
    use crate::server::{context, now_ms};
    let me = context::require_user()?;
    sqlx::query("UPDATE users SET push_previews_hidden_at = $1 WHERE id = $2")
        .bind(if hidden { Some(now_ms()) } else { None })
        .bind(&me.user.id)
        .execute(context::state()?.db.pool())
        .await?;
    Ok(())
}
