//! Pages, by domain.

pub mod account;
pub mod admin;
pub mod auth;
pub mod layout;
pub mod placeholder;
pub mod widgets;
