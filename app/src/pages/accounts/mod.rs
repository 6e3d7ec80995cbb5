//! People and access: signing in (and setup and invitation links), Settings (devices,
//! password), and Admin → Invitations and Users.

pub mod admin;
pub mod settings;
pub mod sign_in;
