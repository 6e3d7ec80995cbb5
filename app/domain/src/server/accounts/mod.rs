//! People and their access: accounts and passwords (`users`), sessions and the request's
//! identity (`sessions`), invitations (`invites`), the first admin (`setup`), second factors
//! (`two_factor` with `totp`, `passkeys`), Google sign-in (`google`) and closing accounts (`deletion`).

pub mod deletion;
pub mod google;
pub mod invites;
pub mod passkeys;
pub mod sessions;
pub mod setup;
pub mod totp;
pub mod two_factor;
pub mod users;
