//! Settings → Notifications: this device's push subscription, the list of devices, a test.

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::{PushConfig, PushDevice};

#[server(endpoint = "push_settings")]
pub async fn push_settings() -> Result<PushConfig, AppError> {
    use crate::server::{context, push};
    let me = context::require_user()?;
    let state = context::state()?;
    Ok(PushConfig {
        public_key: state.vapid.public.clone(),
        enabled: state.settings.push_contact.is_some(),
        previews_hidden: push::previews_hidden(&state.db, &me.user_id()).await?,
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
    let device = push::Device {
        endpoint: &endpoint,
        p256dh: &p256dh,
        auth: &auth,
        name: &device,
    };
    push::subscribe(&state, &me.user_id(), &me.session_id, &device).await
}

#[server(endpoint = "push_devices")]
pub async fn push_devices() -> Result<Vec<PushDevice>, AppError> {
    use crate::server::{context, push};
    let me = context::require_user()?;
    push::devices(&context::state()?.db, &me.user_id()).await
}

/// Stops alerts to one device (by id from the list, or by the browser's own endpoint when it
/// unsubscribes). Another user's device is "not found".
#[server(endpoint = "push_remove")]
pub async fn push_remove(
    #[server(default)] subscription_id: String,
    #[server(default)] endpoint: String,
) -> Result<(), AppError> {
    use crate::server::{context, push};
    let me = context::require_user()?;
    push::remove(
        &context::state()?.db,
        &me.user_id(),
        &crate::server::ids::PushSubscriptionId::new(subscription_id),
        &endpoint,
    )
    .await
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
    crate::server::throttle::take(
        &state.db,
        crate::server::throttle::TEST_ALERTS,
        me.user.id.as_str(),
    )
    .await?;
    let mut tx = state.db.begin().await?;
    let notification = push::Notification {
        title: "Switchboard".into(),
        body: "Test alert: notifications reach this device.".into(),
        url: "/settings".into(),
        tag: "test".into(),
        unread: 0,
        ended: false,
    };
    let n = push::enqueue_for_user(&mut tx, &me.user_id(), &notification, false).await?;
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
    use crate::server::{context, push};
    let me = context::require_user()?;
    push::set_previews_hidden(&context::state()?.db, &me.user_id(), hidden).await
}
