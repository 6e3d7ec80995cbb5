//! Conversations and messages.

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::{
    CannedReply, ConversationSummary, EmailRepliesView, EmailSettingsView, MediaLimits, SearchHit,
    Thread,
};

#[server(endpoint = "conversations")]
pub async fn conversations() -> Result<Vec<ConversationSummary>, AppError> {
    use crate::server::{context, messaging};
    let me = context::require_user()?;
    messaging::list(&context::state()?.db, &me.user_id()).await
}

#[server(endpoint = "unread_count")]
pub async fn unread_count() -> Result<i64, AppError> {
    use crate::server::{context, messaging};
    let me = context::require_user()?;
    messaging::unread_total(&context::state()?.db, &me.user_id()).await
}

/// Opens a conversation; `mark_read` clears its unread count.
#[server(endpoint = "open_thread")]
pub async fn open_thread(
    conversation_id: String,
    #[server(default)] mark_read: bool,
) -> Result<Thread, AppError> {
    use crate::server::ids::ConversationId;
    use crate::server::{context, messaging};
    let me = context::require_user()?;
    let state = context::state()?;
    let mut thread = messaging::thread(
        &state.db,
        &me.user_id(),
        &ConversationId::new(&conversation_id),
    )
    .await?;
    if mark_read && thread.conversation.unread > 0 {
        messaging::mark_read(&state, &me.user_id(), &ConversationId::new(conversation_id)).await?;
        thread.conversation.unread = 0;
    }
    Ok(thread)
}

/// Sends a text (an MMS with `media`: ids of pictures uploaded to `/media`); answers with the
/// conversation's id. Without JavaScript, lands on the thread.
#[server(endpoint = "send_message")]
pub async fn send_message(
    number_id: String,
    to: String,
    #[server(default)] body: String,
    #[server(default)] media: Vec<String>,
) -> Result<String, AppError> {
    use crate::server::ids::{MediaId, NumberId};
    use crate::server::{context, messaging};
    let me = context::require_user()?;
    let media: Vec<MediaId> = media.into_iter().map(MediaId::new).collect();
    let conversation_id = messaging::send(
        &context::state()?,
        &me.user_id(),
        &NumberId::new(number_id),
        &to,
        &body,
        &media,
    )
    .await?;
    leptos_axum::redirect(&format!("/inbox/{conversation_id}"));
    Ok(conversation_id.into_string())
}

#[server(endpoint = "delete_conversation")]
pub async fn delete_conversation(conversation_id: String) -> Result<(), AppError> {
    use crate::server::ids::ConversationId;
    use crate::server::{context, messaging};
    let me = context::require_user()?;
    messaging::delete(
        &context::state()?,
        &me.user_id(),
        &ConversationId::new(conversation_id),
    )
    .await?;
    leptos_axum::redirect("/inbox");
    Ok(())
}

#[server(endpoint = "search_messages")]
pub async fn search_messages(query: String) -> Result<Vec<SearchHit>, AppError> {
    use crate::server::{context, messaging};
    let me = context::require_user()?;
    messaging::search(&context::state()?.db, &me.user_id(), &query).await
}

/// What one MMS may carry with the carrier in use (the composer checks before uploading).
#[server(endpoint = "mms_limits")]
pub async fn mms_limits() -> Result<MediaLimits, AppError> {
    use crate::server::context;
    context::require_user()?;
    Ok(context::state()?.carrier().media_limits())
}

/// The user's canned replies (public/canned.js).
#[server(endpoint = "canned_replies")]
pub async fn canned_replies() -> Result<Vec<CannedReply>, AppError> {
    use crate::server::{context, messaging::canned};
    let me = context::require_user()?;
    canned::list(&context::state()?.db, &me.user_id()).await
}

/// Creates (no `id`) or changes a canned reply; answers its id.
#[server(endpoint = "save_canned_reply")]
pub async fn save_canned_reply(
    #[server(default)] id: String,
    shortcut: String,
    body: String,
) -> Result<String, AppError> {
    use crate::server::{context, messaging::canned};
    let me = context::require_user()?;
    canned::save(&context::state()?.db, &me.user_id(), &id, &shortcut, &body).await
}

#[server(endpoint = "delete_canned_reply")]
pub async fn delete_canned_reply(id: String) -> Result<(), AppError> {
    use crate::server::{context, messaging::canned};
    let me = context::require_user()?;
    canned::delete(&context::state()?.db, &me.user_id(), &id).await
}

/// Admin → Email: the SMTP server texts are forwarded through (public/admin.js).
#[server(endpoint = "email_settings")]
pub async fn email_settings() -> Result<EmailSettingsView, AppError> {
    use crate::server::{context, email};
    context::require_admin()?;
    email::view(&context::state()?.db).await
}

/// Saves the SMTP server (admins); an empty `password` keeps the saved one.
#[server(endpoint = "save_email_settings")]
pub async fn save_email_settings(
    host: String,
    port: i64,
    security: String,
    #[server(default)] username: String,
    #[server(default)] password: String,
    from: String,
) -> Result<(), AppError> {
    use crate::server::{context, email};
    context::require_admin()?;
    let state = context::state()?;
    email::save(
        &state.db,
        &state.secret,
        email::SmtpInput {
            host: &host,
            port,
            security: &security,
            username: &username,
            password: &password,
            from: &from,
        },
    )
    .await
}

/// Admin → Email: replies by email (the inbound address and the mail server's key).
#[server(endpoint = "email_replies")]
pub async fn email_replies() -> Result<EmailRepliesView, AppError> {
    use crate::server::{context, email};
    context::require_admin()?;
    email::replies::view(&context::state()?).await
}

/// Turns replies by email on at `address` ('' turns them off); `new_key` replaces the key.
#[server(endpoint = "save_email_replies")]
pub async fn save_email_replies(
    #[server(default)] address: String,
    #[server(default)] new_key: bool,
) -> Result<(), AppError> {
    use crate::server::{context, email};
    context::require_admin()?;
    let state = context::state()?;
    email::replies::save(&state.db, &state.secret, &address, new_key).await
}

/// Admin → Text price: what one text segment costs, for campaign estimates ('' if unset).
#[server(endpoint = "segment_price")]
pub async fn segment_price() -> Result<String, AppError> {
    use crate::server::{campaigns, context};
    context::require_admin()?;
    let price = campaigns::segment_price(&context::state()?.db).await?;
    Ok(price.map(|p| p.to_text()).unwrap_or_default())
}

/// Sets the price of one text segment (`0.0079 USD`; '' forgets it). Admins only.
#[server(endpoint = "set_segment_price")]
pub async fn set_segment_price(#[server(default)] price: String) -> Result<(), AppError> {
    use crate::server::{campaigns, context};
    context::require_admin()?;
    campaigns::set_segment_price(&context::state()?.db, &price).await
}

/// Sends a test email to `to` through the saved server (admins).
#[server(endpoint = "send_test_email")]
pub async fn send_test_email(to: String) -> Result<(), AppError> {
    use crate::server::{context, email};
    let me = context::require_admin()?;
    email::send_test(&context::state()?, &me.user_id(), &to).await
}

/// Where the user's number forwards its inbound texts by email ('' for nowhere).
#[server(endpoint = "set_forward_email")]
pub async fn set_forward_email(
    number_id: String,
    #[server(default)] email: String,
) -> Result<(), AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{context, email as forwarding};
    let me = context::require_user()?;
    forwarding::set_forward(
        &context::state()?,
        &me.user_id(),
        &NumberId::new(number_id),
        &email,
    )
    .await
}
