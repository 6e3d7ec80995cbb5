//! The server's integration tests, in one test binary: each file below was its own binary,
//! and a warm test run after a one-line change spent most of its time linking eleven copies
//! of the app. Run one area with `cargo test -p switchboard --test integration calls::`.
#[macro_use]
mod common;

mod accounts;
mod audit;
mod backup;
mod calls;
mod carrier_apis;
mod carrier_calls;
mod carrier_settings;
mod carriers;
mod contacts;
mod crash;
mod deletion;
mod email;
mod export;
mod google;
mod hardening;
mod messaging;
mod outside_calls;
mod passkeys;
mod push;
mod retention;
mod startup;
mod two_factor;
