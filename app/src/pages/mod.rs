//! Pages, by domain.

pub mod account;
pub mod admin;
pub mod auth;
pub mod calls;
pub mod inbox;
pub mod layout;
pub mod numbers;
pub mod placeholder;
pub mod widgets;
