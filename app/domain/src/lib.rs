//! Switchboard's domain, beneath the pages: the types server functions answer with, errors,
//! validation and SMS segments (compiled for the server and the browser alike), and behind
//! the `ssr` feature everything the server does (`server`: storage, accounts, carriers,
//! calls, messaging, jobs). The `app` crate re-exports these modules under the same names,
//! so `app::server::…` and, inside `app`, `crate::types::…` name what is here.
//!
//! A crate of its own so that a change to a page recompiles the pages only: the server's
//! logic is most of the code and changes far less often than what it looks like.

pub mod device;
pub mod error;
pub mod sms;
pub mod types;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod server;
