//! Server functions, by domain. Each checks who is asking before anything else.

pub mod account;
pub mod admin;
pub mod auth;
pub mod carrier;
pub mod messaging;
pub mod numbers;
pub mod push;
pub mod simulator;
