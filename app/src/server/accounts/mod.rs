//! People and their access: accounts and passwords (`users`), sessions and the request's
//! identity (`sessions`), invitations (`invites`), the first admin (`setup`).

pub mod deletion;
pub mod invites;
pub mod sessions;
pub mod setup;
pub mod totp;
pub mod two_factor;
pub mod users;
