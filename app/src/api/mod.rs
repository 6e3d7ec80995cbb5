//! Server functions, by domain (the same names as `pages/` and `server/`). Each checks who
//! is asking before anything else.

pub mod accounts;
pub mod calls;
pub mod carrier;
pub mod contacts;
pub mod messaging;
pub mod numbers;
pub mod push;
pub mod simulator;
