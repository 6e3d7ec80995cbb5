//! People and access: signing in, setup and invitation links (`sign_in`), the user's own
//! devices and password (`settings`), invitations and users for admins (`admin`).

pub mod admin;
pub mod settings;
pub mod sign_in;
