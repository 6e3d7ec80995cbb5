//! Numbers: search, buy, name, release; admins list all and set limits.

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::{NumberOffer, OwnedNumber};

#[server(endpoint = "search_numbers")]
pub async fn search_numbers(
    country: String,
    #[server(default)] area_code: String,
    #[server(default)] contains: String,
    #[server(default)] sms: bool,
    #[server(default)] mms: bool,
    #[server(default)] voice: bool,
) -> Result<Vec<NumberOffer>, AppError> {
    use crate::server::{context, numbers};
    use crate::types::Capabilities;
    context::require_user()?;
    let state = context::state()?;
    numbers::search(
        &state,
        &country,
        &area_code,
        &contains,
        Capabilities { sms, mms, voice },
    )
    .await
}

#[server(endpoint = "buy_number")]
pub async fn buy_number(e164: String) -> Result<OwnedNumber, AppError> {
    use crate::server::{context, numbers};
    let me = context::require_user()?;
    numbers::buy(&context::state()?, &context::actor(), &me.user_id(), &e164).await
}

#[server(endpoint = "my_numbers")]
pub async fn my_numbers() -> Result<Vec<OwnedNumber>, AppError> {
    use crate::server::{context, numbers};
    let me = context::require_user()?;
    numbers::list_own(&context::state()?.db, &me.user_id()).await
}

/// How calls to the user's number ring: for how long, and do-not-disturb — now, or outside
/// the number's business hours (`outside_hours`; `do_not_disturb` wins when both are set);
/// and the phone calls from the phone network ring instead (`forward_to`, '' for none),
/// after ringing the user's browsers `forward_after_secs` (0: at once; -1: together with
/// them, `types::FORWARD_WITH_BROWSERS`).
#[server(endpoint = "set_call_routing")]
pub async fn set_call_routing(
    number_id: String,
    ring_seconds: i64,
    #[server(default)] do_not_disturb: bool,
    #[server(default)] outside_hours: bool,
    #[server(default)] forward_to: String,
    #[server(default)] forward_after_secs: i64,
) -> Result<(), AppError> {
    use crate::server::ids::NumberId;
    use crate::server::messaging::auto_reply::DoNotDisturb;
    use crate::server::{context, numbers};
    let me = context::require_user()?;
    let mode = match (do_not_disturb, outside_hours) {
        (true, _) => DoNotDisturb::On,
        (false, true) => DoNotDisturb::OutsideHours,
        (false, false) => DoNotDisturb::Off,
    };
    numbers::set_call_routing(
        &context::state()?,
        &me.user_id(),
        &NumberId::new(number_id),
        numbers::CallRouting {
            ring_seconds,
            do_not_disturb: mode,
            forward_to: &forward_to,
            forward_after_secs,
        },
    )
    .await
}

/// How each of the user's numbers answers texts by itself (public/numbers.js).
#[server(endpoint = "texting_settings")]
pub async fn texting_settings() -> Result<Vec<crate::types::NumberTexting>, AppError> {
    use crate::server::{context, numbers};
    let me = context::require_user()?;
    numbers::texting(&context::state()?.db, &me.user_id()).await
}

/// Replaces the number's keyword rules (three lists of one length, in the rules' order).
#[server(endpoint = "set_reply_rules")]
pub async fn set_reply_rules(
    number_id: String,
    #[server(default)] matching: Vec<String>,
    #[server(default)] keywords: Vec<String>,
    #[server(default)] replies: Vec<String>,
) -> Result<(), AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{context, messaging::auto_reply};
    use crate::types::ReplyRule;
    let me = context::require_user()?;
    if matching.len() != keywords.len() || keywords.len() != replies.len() {
        return Err(AppError::invalid("Give each rule a keyword and a reply."));
    }
    if matching.len() > auto_reply::MAX_RULES {
        return Err(AppError::invalid(format!(
            "A number can have at most {} keyword rules.",
            auto_reply::MAX_RULES
        )));
    }
    let rules = matching
        .into_iter()
        .zip(keywords)
        .zip(replies)
        .map(|((matching, keyword), reply)| ReplyRule {
            matching,
            keyword,
            reply,
        })
        .collect();
    auto_reply::set_rules(
        &context::state()?,
        &me.user_id(),
        &NumberId::new(number_id),
        rules,
    )
    .await
}

/// When the number's away message answers, its words, and business hours.
#[server(endpoint = "set_away")]
pub async fn set_away(
    number_id: String,
    away_mode: String,
    #[server(default)] away_text: String,
    #[server(default)] business_days: Vec<i64>,
    opens: String,
    closes: String,
    time_zone: String,
) -> Result<(), AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{context, messaging::auto_reply};
    let me = context::require_user()?;
    auto_reply::set_away(
        &context::state()?,
        &me.user_id(),
        &NumberId::new(number_id),
        auto_reply::AwayInput {
            mode: &away_mode,
            text: &away_text,
            days: &business_days,
            opens: &opens,
            closes: &closes,
            time_zone: &time_zone,
        },
    )
    .await
}

/// What would answer `text` on the number now, in plain words ("try a text").
#[server(endpoint = "try_auto_reply")]
pub async fn try_auto_reply(number_id: String, text: String) -> Result<String, AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{context, messaging::auto_reply};
    let me = context::require_user()?;
    auto_reply::try_text(
        &context::state()?.db,
        &me.user_id(),
        &NumberId::new(number_id),
        &text,
    )
    .await
}

/// What a HELP text to the number is answered with ('' for the default).
#[server(endpoint = "set_help_text")]
pub async fn set_help_text(
    number_id: String,
    #[server(default)] help_text: String,
) -> Result<(), AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{context, numbers};
    let me = context::require_user()?;
    numbers::set_help_text(
        &context::state()?,
        &me.user_id(),
        &NumberId::new(number_id),
        &help_text,
    )
    .await
}

#[server(endpoint = "rename_number")]
pub async fn rename_number(
    number_id: String,
    #[server(default)] name: String,
) -> Result<(), AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{context, numbers};
    let me = context::require_user()?;
    numbers::rename(
        &context::state()?,
        &me.user_id(),
        &NumberId::new(number_id),
        &name,
    )
    .await
}

/// `confirm` must be "release": a plain form can't release a number by one stray click.
#[server(endpoint = "release_number")]
pub async fn release_number(
    number_id: String,
    #[server(default)] confirm: String,
) -> Result<(), AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{context, numbers};
    let me = context::require_user()?;
    if confirm != "release" {
        return Err(AppError::invalid(
            "Tick the box to confirm you want to release this number.",
        ));
    }
    numbers::release(
        &context::state()?,
        &context::actor(),
        &me.user_id(),
        &NumberId::new(number_id),
    )
    .await
}

#[server(endpoint = "all_numbers")]
pub async fn all_numbers() -> Result<Vec<OwnedNumber>, AppError> {
    use crate::server::{context, numbers};
    context::require_admin()?;
    numbers::list_all(&context::state()?.db).await
}

#[server(endpoint = "set_number_quota")]
pub async fn set_number_quota(user_id: String, quota: i64) -> Result<(), AppError> {
    use crate::server::ids::UserId;
    use crate::server::{context, numbers};
    context::require_admin()?;
    numbers::set_quota(&context::state()?.db, &UserId::new(user_id), quota).await
}
