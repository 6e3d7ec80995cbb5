//! Pages, by domain (the same names as `api/` and `server/`).

pub mod accounts;
pub mod admin;
pub mod calls;
pub mod carrier;
pub mod contacts;
pub mod layout;
pub mod messaging;
pub mod numbers;
pub mod placeholder;
pub mod push;
pub mod simulator;
pub mod widgets;
