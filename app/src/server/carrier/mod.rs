//! One `Carrier` trait; features never ask which carrier is behind it.
//!
//! Carriers also talk back: inbound texts and delivery statuses arrive as [`CarrierEvent`]s,
//! from a verified webhook or from the sandbox, and take one ingestion path
//! (`messaging::ingest`).

pub mod errors;
pub mod sandbox;
pub mod telnyx;
pub mod telnyx_api;
pub mod twilio;
pub mod twilio_api;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::types::Capabilities;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberQuery {
    /// ISO country code, e.g. "US".
    pub country: String,
    pub area_code: Option<String>,
    /// Digits the number must contain.
    pub contains: Option<String>,
    pub needs: Capabilities,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailableNumber {
    pub e164: String,
    pub locality: String,
    pub capabilities: Capabilities,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchasedNumber {
    /// The carrier's id for the number (to update or release it).
    pub carrier_ref: String,
    pub capabilities: Capabilities,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    /// Our message id; carriers that support it use it to deduplicate retries.
    pub id: String,
    pub from: String,
    pub to: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub carrier_message_id: String,
}

/// How a carrier call failed, which decides what the job queue does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// 429: try again later.
    #[error("rate limited by the carrier")]
    RateLimited { retry_after_ms: Option<i64> },
    /// 5xx, timeouts, connection failures: worth retrying.
    #[error("carrier unavailable: {0}")]
    Transient(String),
    /// The carrier refused this request; retrying won't help. `code` is the carrier's own.
    #[error("carrier refused ({code}): {detail}")]
    Rejected { code: String, detail: String },
    /// Credentials or configuration are wrong.
    #[error("carrier configuration: {0}")]
    Config(String),
}

impl CarrierError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CarrierError::RateLimited { .. } | CarrierError::Transient(_)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Failed,
}

/// Something a carrier told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarrierEvent {
    Inbound {
        /// The carrier's event id: a redelivery carries the same one.
        event_id: String,
        carrier_message_id: String,
        from: String,
        to: String,
        body: String,
    },
    Status {
        event_id: String,
        carrier_message_id: String,
        status: DeliveryStatus,
        error_code: Option<String>,
    },
}

#[async_trait]
pub trait Carrier: Send + Sync {
    /// `sandbox`, `telnyx` or `twilio`.
    fn name(&self) -> &'static str;
    async fn search_numbers(
        &self,
        query: &NumberQuery,
    ) -> Result<Vec<AvailableNumber>, CarrierError>;
    /// Buys `e164` and points its messaging webhooks at `webhook_url`.
    async fn buy_number(
        &self,
        e164: &str,
        webhook_url: &str,
    ) -> Result<PurchasedNumber, CarrierError>;
    async fn release_number(&self, carrier_ref: &str) -> Result<(), CarrierError>;
    async fn send_message(&self, message: &OutboundMessage) -> Result<Accepted, CarrierError>;
    /// A cheap authenticated call, for Admin → Carrier's "test connection".
    async fn test_connection(&self) -> Result<(), CarrierError>;
    /// Messages per second one number may send (the carrier's documented long-code limit).
    fn sends_per_second(&self) -> f64;
}
