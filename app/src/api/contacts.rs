//! Contacts: listing and searching, one contact, saving, deleting (called by
//! public/contacts.js). CSV files go through plain routes (`server::contacts::routes`).

// `save_contact` takes a contact's fields as a form posts them, one argument each (the
// server macro's inner function carries no attribute of ours, so the allow is here).
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::error::AppError;
use crate::types::{CampaignPreview, CampaignReport, Contact};

/// The user's contacts by name, or those matching `query`.
#[server(endpoint = "contacts")]
pub async fn contacts(#[server(default)] query: String) -> Result<Vec<Contact>, AppError> {
    use crate::server::{contacts, context};
    let me = context::require_user()?;
    contacts::list(&context::state()?.db, &me.user_id(), &query).await
}

#[server(endpoint = "open_contact")]
pub async fn open_contact(id: String) -> Result<Contact, AppError> {
    use crate::server::ids::ContactId;
    use crate::server::{contacts, context};
    let me = context::require_user()?;
    contacts::get(&context::state()?.db, &me.user_id(), &ContactId::new(id)).await
}

/// Creates a contact (no `id`) or changes one; answers its id. `tags` are separated by
/// commas; custom fields come as two lists of the same length.
#[server(endpoint = "save_contact")]
pub async fn save_contact(
    #[server(default)] id: String,
    name: String,
    #[server(default)] numbers: Vec<String>,
    #[server(default)] email: String,
    #[server(default)] company: String,
    #[server(default)] notes: String,
    #[server(default)] tags: String,
    #[server(default)] field_names: Vec<String>,
    #[server(default)] field_values: Vec<String>,
) -> Result<String, AppError> {
    use crate::server::contacts::{self, ContactInput};
    use crate::server::context;
    use crate::server::ids::ContactId;
    let me = context::require_user()?;
    if field_names.len() != field_values.len() || field_names.len() > contacts::MAX_FIELDS {
        return Err(AppError::invalid(
            "Give each custom field a name and a value.",
        ));
    }
    let input = ContactInput {
        name,
        numbers,
        email,
        company,
        notes,
        tags: vec![tags],
        fields: field_names.into_iter().zip(field_values).collect(),
    };
    let id = (!id.is_empty()).then(|| ContactId::new(id));
    let saved = contacts::save(&context::state()?, &me.user_id(), id.as_ref(), input).await?;
    Ok(saved.into_string())
}

#[server(endpoint = "delete_contact")]
pub async fn delete_contact(id: String) -> Result<(), AppError> {
    use crate::server::ids::ContactId;
    use crate::server::{contacts, context};
    let me = context::require_user()?;
    contacts::delete(&context::state()?, &me.user_id(), &ContactId::new(id)).await
}

/// What a campaign from `number_id` to every contact (or those tagged `tag`) would send.
#[server(endpoint = "preview_campaign")]
pub async fn preview_campaign(
    number_id: String,
    body: String,
    #[server(default)] tag: String,
) -> Result<CampaignPreview, AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{campaigns, context};
    let me = context::require_user()?;
    campaigns::preview(
        &context::state()?.db,
        &me.user_id(),
        &NumberId::new(number_id),
        &body,
        &tag,
    )
    .await
}

/// Starts a campaign; answers its id.
#[server(endpoint = "start_campaign")]
pub async fn start_campaign(
    number_id: String,
    name: String,
    body: String,
    #[server(default)] tag: String,
) -> Result<String, AppError> {
    use crate::server::ids::NumberId;
    use crate::server::{campaigns, context};
    let me = context::require_user()?;
    campaigns::start(
        &context::state()?,
        &me.user_id(),
        &NumberId::new(number_id),
        &name,
        &body,
        &tag,
    )
    .await
}

/// The user's campaigns with what their texts became.
#[server(endpoint = "campaigns")]
pub async fn campaigns() -> Result<Vec<CampaignReport>, AppError> {
    use crate::server::{campaigns, context};
    let me = context::require_user()?;
    campaigns::reports(&context::state()?.db, &me.user_id()).await
}

/// Pauses, resumes or cancels a campaign (`action`: pause, resume, cancel).
#[server(endpoint = "campaign_control")]
pub async fn campaign_control(campaign_id: String, action: String) -> Result<(), AppError> {
    use crate::server::{campaigns, context};
    let me = context::require_user()?;
    campaigns::control(&context::state()?, &me.user_id(), &campaign_id, &action).await
}
