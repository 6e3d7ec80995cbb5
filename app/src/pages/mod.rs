//! Pages, by domain (the same names as `api/` and `server/`).
//!
//! Data a page loads is shown in a `Transition`, never a `Suspense`: when it loads again (a
//! form sent, a live event) the page is updated in place. A `Suspense` took its part off the
//! page meanwhile ("Loading…" for a moment), and with it the focus and whatever was being
//! typed there. One kind of boundary also keeps the browser bundle smaller.

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
