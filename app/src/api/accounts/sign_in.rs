//! Signing in and out, first-admin setup, accepting an invitation.
//! These back the pages that must work without JavaScript: on success they redirect,
//! on failure the error travels back in the URL (leptos form redirects).

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::{CurrentUser, InviteLookup, SetupLookup};
#[cfg(feature = "ssr")]
use crate::types::{CODE_PAGE, HOME};

/// Starts `user_id`'s session once every factor is proven (`how`: what the audit log says
/// of it) and sets its cookie; answers where the browser goes next: home, or Settings for
/// someone who must set up two-factor sign-in first.
#[cfg(feature = "ssr")]
async fn start_session(
    user_id: &crate::server::ids::UserId,
    how: &str,
) -> Result<&'static str, AppError> {
    use crate::server::accounts::{sessions, two_factor};
    use crate::server::context;
    let state = context::state()?;
    let meta = context::request_meta();
    let token = sessions::create_session(&state.db, &state.settings, user_id, &meta, how).await?;
    context::set_cookie(sessions::session_cookie(&state.settings, &token));
    let must_set_up = two_factor::must_set_up(&state.db, user_id).await?;
    Ok(if must_set_up { "/settings" } else { HOME })
}

/// [`start_session`], then on to where it lands (the form posts' way).
#[cfg(feature = "ssr")]
async fn start_session_and_go(
    user_id: &crate::server::ids::UserId,
    how: &str,
) -> Result<(), AppError> {
    leptos_axum::redirect(start_session(user_id, how).await?);
    Ok(())
}

#[server(endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    use crate::server::accounts::users;
    use crate::server::context;
    let state = context::state()?;
    match users::sign_in(&state, &email, &password, &context::request_meta()).await? {
        users::SignedIn::Password(user_id) => start_session_and_go(&user_id, "").await,
        users::SignedIn::NeedsCode(challenge) => {
            use crate::server::accounts::two_factor;
            context::set_cookie(two_factor::challenge_cookie(&state.settings, &challenge));
            leptos_axum::redirect(CODE_PAGE);
            Ok(())
        }
    }
}

/// The second step of a sign-in: a code from the authenticator app, or a recovery code.
#[server(endpoint = "sign_in_code")]
pub async fn sign_in_code(code: String) -> Result<(), AppError> {
    use crate::server::accounts::two_factor;
    use crate::server::context;
    let state = context::state()?;
    let Some(challenge) = context::cookie(two_factor::CHALLENGE_COOKIE) else {
        return Err(AppError::invalid(two_factor::START_AGAIN));
    };
    let (user_id, how) = two_factor::answer(&state, &challenge, &code, &context::actor()).await?;
    context::set_cookie(two_factor::clear_challenge_cookie(&state.settings));
    start_session_and_go(&user_id, how).await
}

/// "Use a passkey" on the code page: what the browser's prompt needs for the passkeys of
/// the account whose password was right.
#[server(endpoint = "start_passkey_challenge")]
pub async fn start_passkey_challenge() -> Result<crate::types::PasskeyOptions, AppError> {
    use crate::server::accounts::{passkeys, two_factor};
    use crate::server::context;
    let state = context::state()?;
    let Some(challenge) = context::cookie(two_factor::CHALLENGE_COOKIE) else {
        return Err(AppError::invalid(two_factor::START_AGAIN));
    };
    passkeys::start_second_factor(&state, &challenge).await
}

/// The passkey's answer to the code page's prompt; answers where to go once signed in.
#[server(endpoint = "finish_passkey_challenge")]
pub async fn finish_passkey_challenge(
    token: String,
    credential: String,
) -> Result<String, AppError> {
    use crate::server::accounts::{passkeys, two_factor};
    use crate::server::context;
    let state = context::state()?;
    let Some(challenge) = context::cookie(two_factor::CHALLENGE_COOKIE) else {
        return Err(AppError::invalid(two_factor::START_AGAIN));
    };
    let user_id =
        passkeys::finish_second_factor(&state, &context::actor(), &challenge, &token, &credential)
            .await?;
    context::set_cookie(two_factor::clear_challenge_cookie(&state.settings));
    Ok(start_session(&user_id, "with a passkey").await?.to_string())
}

/// "Sign in with a passkey": what the browser's prompt needs to offer any passkey the
/// device keeps for this Switchboard.
#[server(endpoint = "start_passkey_sign_in")]
pub async fn start_passkey_sign_in() -> Result<crate::types::PasskeyOptions, AppError> {
    use crate::server::{accounts::passkeys, context};
    let state = context::state()?;
    passkeys::start_sign_in(&state, &context::request_meta()).await
}

/// The passkey's answer: signed in (no password needed); answers where to go.
#[server(endpoint = "finish_passkey_sign_in")]
pub async fn finish_passkey_sign_in(token: String, credential: String) -> Result<String, AppError> {
    use crate::server::{accounts::passkeys, context};
    let state = context::state()?;
    let user_id =
        passkeys::finish_sign_in(&state, &context::request_meta(), &token, &credential).await?;
    Ok(start_session(&user_id, "with a passkey (no password)")
        .await?
        .to_string())
}

#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::server::accounts::sessions;
    use crate::server::context;
    let state = context::state()?;
    if let Some(current) = context::authenticated() {
        sessions::end_session(&state.db, &current.session_id).await?;
        let me = current.user_id();
        let signed_out = crate::server::audit::Action::SignedOut;
        crate::server::audit::record(
            state.db.pool(),
            &context::actor(),
            signed_out,
            Some(&me),
            "",
        )
        .await?;
        state
            .bus
            .sessions_ended(&state.db, &current.user_id())
            .await;
    }
    context::set_cookie(sessions::clear_session_cookie(&state.settings));
    leptos_axum::redirect("/signin");
    Ok(())
}

/// Whether "Sign in with Google" is offered here, and what to say for the code a refused
/// Google sign-in came back with (`?google=<code>`; public/google.js shows both).
#[server(endpoint = "google_sign_in_offer")]
pub async fn google_sign_in_offer(
    #[server(default)] refused: String,
) -> Result<crate::types::GoogleOffer, AppError> {
    use crate::server::accounts::google;
    let state = crate::server::context::state()?;
    Ok(crate::types::GoogleOffer {
        available: google::available(&state).await?,
        refusal: google::Refusal::words(&refused).map(str::to_string),
    })
}

/// The signed-in user, or `None`.
#[server(endpoint = "signed_in_user")]
pub async fn signed_in_user() -> Result<Option<CurrentUser>, AppError> {
    Ok(crate::server::context::authenticated().map(|a| a.user))
}

#[server(endpoint = "check_setup")]
pub async fn check_setup(token: String) -> Result<SetupLookup, AppError> {
    let state = crate::server::context::state()?;
    crate::server::accounts::setup::lookup(&state.db, &token).await
}

#[server(endpoint = "complete_setup")]
pub async fn complete_setup(
    token: String,
    email: String,
    display_name: String,
    password: String,
) -> Result<(), AppError> {
    use crate::server::accounts::setup;
    use crate::server::context;
    let state = context::state()?;
    let user_id = setup::complete(
        &state,
        &context::actor(),
        &token,
        &email,
        &display_name,
        &password,
    )
    .await?;
    start_session_and_go(&user_id, "").await
}

#[server(endpoint = "check_invite")]
pub async fn check_invite(token: String) -> Result<InviteLookup, AppError> {
    let state = crate::server::context::state()?;
    crate::server::accounts::invites::lookup(&state, &token).await
}

/// `email` is ignored when the invitation names one.
#[server(endpoint = "accept_invite")]
pub async fn accept_invite(
    token: String,
    #[server(default)] email: String,
    display_name: String,
    password: String,
) -> Result<(), AppError> {
    use crate::server::accounts::invites;
    use crate::server::context;
    let state = context::state()?;
    let user_id = invites::accept(
        &state,
        &context::actor(),
        &token,
        &email,
        &display_name,
        &password,
    )
    .await?;
    start_session_and_go(&user_id, "").await
}
