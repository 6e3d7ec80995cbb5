//! The built-in sandbox carrier: fully offline, the default when no carrier is configured,
//! and the tests' double.
//!
//! It hands out numbers from the fictional 555-0100…555-0199 block. A text to a number owned
//! on this instance is delivered to that number's inbox (so two users can text each other);
//! a text to any other number goes queued → sent → delivered. Failures are made on demand by
//! the admin's Simulator. Everything it reports takes the same ingestion path as a webhook.
//!
//! Calls: the Simulator's outside phone calls our numbers through it, and is called through
//! it from here. The sandbox holds those calls as a carrier would, taking our commands
//! (`call_action`) and reporting what came of each as the carrier's webhook would
//! (`CallEvent`s, handled by calls/carrier.rs like Telnyx's); the outside phone's answer,
//! refusal and hang-up are reported the same way. Only the sound differs: no carrier
//! bridges it, the outside phone's page and the tab talk WebRTC to each other directly.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{
    Accepted, AvailableNumber, CallAction, CallEvent, Carrier, CarrierError, CarrierEvent,
    DeliveryStatus, MediaRef, NumberQuery, OutboundMessage, PurchasedNumber,
};
use crate::error::AppResult;
use crate::server::jobs::{self, Job};
use crate::server::{now_ms, Db};
use crate::types::{Capabilities, MediaLimits};
use sqlx::{Any, Transaction};

/// Area codes offered when a search names none: a spread of real North American ones.
const DEFAULT_AREA_CODES: &[&str] = &["212", "415", "312", "617", "206", "512", "303", "416"];

fn locality(area_code: &str) -> &'static str {
    match area_code {
        "212" => "New York, NY",
        "415" => "San Francisco, CA",
        "312" => "Chicago, IL",
        "617" => "Boston, MA",
        "206" => "Seattle, WA",
        "512" => "Austin, TX",
        "303" => "Denver, CO",
        "416" => "Toronto, ON",
        "604" => "Vancouver, BC",
        _ => "North America",
    }
}

pub struct Sandbox {
    db: Db,
    events: mpsc::UnboundedSender<CarrierEvent>,
    step: Duration,
    /// A carrier error code the next outbound text will fail with (armed by the Simulator).
    fail_next: std::sync::Mutex<Option<String>>,
    /// Woken when a call's report is queued, so the job that acts on it runs at once.
    jobs_waker: std::sync::Arc<jobs::Waker>,
}

impl Sandbox {
    /// `events` feeds the app's ingestion path; `step` is the delay between simulated
    /// statuses; `jobs_waker` is the job queue's, which runs what the sandbox reports of calls.
    pub fn new(
        db: Db,
        events: mpsc::UnboundedSender<CarrierEvent>,
        step: Duration,
        jobs_waker: std::sync::Arc<jobs::Waker>,
    ) -> Sandbox {
        Sandbox {
            db,
            events,
            step,
            fail_next: std::sync::Mutex::new(None),
            jobs_waker,
        }
    }

    /// Makes the next outbound text go sent → failed with the carrier error `code`.
    pub fn fail_next(&self, code: &str) {
        *self.fail_next.lock().unwrap_or_else(|e| e.into_inner()) = Some(code.to_string());
    }

    async fn owned(&self, e164: &str) -> Result<bool, CarrierError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT id FROM phone_numbers WHERE e164 = $1")
            .bind(e164)
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| CarrierError::Transient(e.to_string()))?;
        Ok(row.is_some())
    }
}

/// How the sandbox addresses the tab that pressed Answer on a call (a carrier: that
/// browser's SDK).
const TAB: &str = "tab:";

/// The address the sandbox "calls" to put a call through to browser tab `tab`.
pub fn tab_address(tab: &str) -> String {
    format!("{TAB}{tab}")
}

/// How long the outside phone rings before the sandbox gives up on it (a carrier's own
/// timeout on a call it places is the one our `Dial` asks for).
fn ring_ms(timeout_secs: u32) -> i64 {
    i64::from(timeout_secs.clamp(5, 120)) * 1000
}

/// Reports `event` as a carrier's webhook would: a job in `tx`, the commit of the change it
/// reports, so a crash loses neither (the job runs `calls::carrier::handle`, which acts on
/// an event id once).
async fn report(tx: &mut Transaction<'_, Any>, event: CallEvent) -> AppResult<()> {
    jobs::enqueue(tx, &Job::SandboxCallEvent { event }, now_ms()).await
}

impl Sandbox {
    /// Commits the sandbox's change and the report in `tx`, and has the job queue act on
    /// the report now rather than at its next look.
    async fn commit_report(&self, tx: Transaction<'_, Any>) -> AppResult<()> {
        tx.commit().await?;
        self.jobs_waker.notify_one();
        Ok(())
    }

    /// The outside phone picks up the sandbox's call `call_id` to it, which is reported
    /// (in the same commit: a crash loses neither). False when that call no longer rings
    /// (answered already, or ended).
    pub async fn outside_phone_answers(&self, call_id: &str) -> AppResult<bool> {
        let mut tx = self.db.begin().await?;
        let answered: Option<(String,)> = sqlx::query_as(
            "UPDATE sandbox_calls SET answered = 1 WHERE call_id = $1 AND answered = 0
             RETURNING state",
        )
        .bind(call_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((state,)) = answered else {
            return Ok(false);
        };
        let event = CallEvent::Answered {
            event_id: format!("{call_id}-answered"),
            call_id: call_id.into(),
            state,
        };
        report(&mut tx, event).await?;
        self.commit_report(tx).await?;
        Ok(true)
    }

    /// The outside phone, answering a forwarded call, presses `digits` after its whisper,
    /// which is reported (in the same commit). False when no whisper waits for a key.
    pub async fn outside_phone_presses(&self, call_id: &str, digits: &str) -> AppResult<bool> {
        let mut tx = self.db.begin().await?;
        let asked: Option<(String,)> = sqlx::query_as(
            "UPDATE sandbox_calls SET whisper = NULL WHERE call_id = $1 AND whisper IS NOT NULL
             RETURNING state",
        )
        .bind(call_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((state,)) = asked else {
            return Ok(false);
        };
        let event = CallEvent::Gathered {
            event_id: format!("{call_id}-keys"),
            call_id: call_id.into(),
            state,
            digits: digits.into(),
        };
        report(&mut tx, event).await?;
        self.commit_report(tx).await?;
        Ok(true)
    }

    /// The sandbox's call `call_id` to the outside phone ends, which is reported (in the
    /// same commit): the phone turned it down while it rang, or hung up, or (`no_answer`)
    /// its time to ring ran out. False when it had ended already (or, `no_answer`, was
    /// answered).
    pub async fn outside_phone_ends(&self, call_id: &str, no_answer: bool) -> AppResult<bool> {
        let mut tx = self.db.begin().await?;
        let ended: Option<(String, i64)> = sqlx::query_as(
            "DELETE FROM sandbox_calls WHERE call_id = $1 AND (answered = 0 OR $2 = 0)
             RETURNING state, answered",
        )
        .bind(call_id)
        .bind(i64::from(no_answer))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((state, answered)) = ended else {
            return Ok(false);
        };
        let event = CallEvent::HungUp {
            event_id: format!("{call_id}-ended"),
            call_id: call_id.into(),
            state,
            declined: answered == 0 && !no_answer,
        };
        report(&mut tx, event).await?;
        self.commit_report(tx).await?;
        Ok(true)
    }
}

#[async_trait]
impl Carrier for Sandbox {
    fn kind(&self) -> crate::server::carrier::config::CarrierKind {
        crate::server::carrier::config::CarrierKind::Sandbox
    }

    async fn search_numbers(
        &self,
        query: &NumberQuery,
    ) -> Result<Vec<AvailableNumber>, CarrierError> {
        if !matches!(query.country.as_str(), "US" | "CA") {
            return Ok(Vec::new());
        }
        let area_codes: Vec<String> = match &query.area_code {
            Some(code) => vec![code.clone()],
            None => DEFAULT_AREA_CODES.iter().map(|s| s.to_string()).collect(),
        };
        let owned: Vec<(String,)> = sqlx::query_as("SELECT e164 FROM phone_numbers")
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| CarrierError::Transient(e.to_string()))?;
        let owned: std::collections::HashSet<String> = owned.into_iter().map(|(e,)| e).collect();
        let mut found = Vec::new();
        'outer: for line in 0..100 {
            for code in &area_codes {
                let e164 = format!("+1{code}55501{line:02}");
                let digits = &e164[2..];
                if owned.contains(&e164)
                    || !query.contains.as_deref().is_none_or(|c| digits.contains(c))
                {
                    continue;
                }
                found.push(AvailableNumber {
                    e164,
                    locality: locality(code).to_string(),
                    capabilities: Capabilities::ALL,
                });
                if found.len() >= query.limit {
                    break 'outer;
                }
            }
        }
        Ok(found)
    }

    async fn buy_number(
        &self,
        e164: &str,
        _webhook_url: &str,
    ) -> Result<PurchasedNumber, CarrierError> {
        if !crate::server::phone::is_fictional(e164) {
            return Err(CarrierError::Rejected {
                code: "sandbox-number".into(),
                detail: "the sandbox only has 555-01xx numbers".into(),
            });
        }
        Ok(PurchasedNumber {
            carrier_ref: format!("sbx-{e164}"),
            capabilities: Capabilities::ALL,
        })
    }

    async fn release_number(&self, _carrier_ref: &str) -> Result<(), CarrierError> {
        Ok(())
    }

    async fn send_message(&self, message: &OutboundMessage) -> Result<Accepted, CarrierError> {
        // Derived from our id, so a retried send is recognised rather than delivered twice.
        let carrier_message_id = format!("sbx-{}", message.id);
        let failure = self
            .fail_next
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let local = failure.is_none() && self.owned(&message.to).await?;
        let events = self.events.clone();
        let step = self.step;
        let (id, message) = (carrier_message_id.clone(), message.clone());
        tokio::spawn(async move {
            tokio::time::sleep(step).await;
            let _ = events.send(CarrierEvent::Status {
                event_id: format!("{id}-sent"),
                carrier_message_id: id.clone(),
                status: DeliveryStatus::Sent,
                error_code: None,
            });
            if local {
                let _ = events.send(CarrierEvent::Inbound {
                    event_id: format!("{id}-in"),
                    carrier_message_id: format!("{id}-in"),
                    from: message.from.clone(),
                    to: message.to.clone(),
                    body: message.body.clone(),
                    // The receiving side fetches the pictures from our expiring URLs, as a
                    // real carrier would.
                    media: message
                        .media_urls
                        .iter()
                        .map(|url| MediaRef {
                            url: url.clone(),
                            content_type: String::new(),
                        })
                        .collect(),
                });
            }
            tokio::time::sleep(step).await;
            let _ = events.send(CarrierEvent::Status {
                event_id: format!("{id}-final"),
                carrier_message_id: id,
                status: if failure.is_some() {
                    DeliveryStatus::Failed
                } else {
                    DeliveryStatus::Delivered
                },
                error_code: failure,
            });
        });
        Ok(Accepted { carrier_message_id })
    }

    /// Carries `action` out at once and reports what came of it. The greeting and the
    /// recording are the outside phone's page's to hear and make (it leaves its voicemail
    /// once the call is missed); a tab called to take the call answers at once (its
    /// Answer button was pressed); a phone called is the outside phone, which rings until
    /// it answers, refuses or hangs up, or the `Dial`'s time runs out; joining calls needs
    /// nothing, their sound being direct (or, between two outside phones, none).
    async fn call_action(
        &self,
        call_id: &str,
        action: &CallAction,
        command_id: &str,
        state: &str,
    ) -> Result<Option<String>, CarrierError> {
        let failed = |e: &dyn std::fmt::Debug| CarrierError::Transient(format!("{e:?}"));
        let event_id = format!("sbx-{command_id}");
        let (call_id, state) = (call_id.to_string(), state.to_string());
        // The carrier's own change and its report, in one commit.
        let mut tx = self.db.begin().await.map_err(|e| failed(&e))?;
        let (placed, event) = match action {
            CallAction::Answer => (
                None,
                Some(CallEvent::Answered {
                    event_id,
                    call_id,
                    state,
                }),
            ),
            CallAction::Speak { .. } | CallAction::Play { .. } => (
                None,
                Some(CallEvent::SpeakEnded {
                    event_id,
                    call_id,
                    state,
                }),
            ),
            CallAction::HangUp => {
                // A call to the outside phone stops ringing there, or ends. Its end carries
                // the state it was last handed (a carrier keeps a call's state when a
                // command sets none).
                let kept: Option<(String,)> =
                    sqlx::query_as("DELETE FROM sandbox_calls WHERE call_id = $1 RETURNING state")
                        .bind(&call_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(|e| failed(&e))?;
                let state = match kept {
                    Some((kept,)) if state.is_empty() => kept,
                    _ => state,
                };
                let ended = CallEvent::HungUp {
                    event_id,
                    call_id,
                    state,
                    declined: false,
                };
                (None, Some(ended))
            }
            CallAction::RecordVoicemail { .. } | CallAction::Bridge { .. } => (None, None),
            CallAction::Dial { to, .. } if to.starts_with(TAB) => {
                let placed = format!("sbx-call-{command_id}");
                let answered = CallEvent::Answered {
                    event_id,
                    call_id: placed.clone(),
                    state,
                };
                (Some(placed), Some(answered))
            }
            CallAction::Dial {
                to,
                from,
                timeout_secs,
                ..
            } if to.starts_with('+') => {
                let placed = format!("sbx-call-{command_id}");
                sqlx::query(
                    "INSERT INTO sandbox_calls (call_id, phone, caller_id, state, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (call_id) DO NOTHING",
                )
                .bind(&placed)
                .bind(to)
                .bind(from)
                .bind(&state)
                .bind(now_ms())
                .execute(&mut *tx)
                .await
                .map_err(|e| failed(&e))?;
                let ring_ended = Job::SandboxRingEnded {
                    call_id: placed.clone(),
                };
                jobs::enqueue(&mut tx, &ring_ended, now_ms() + ring_ms(*timeout_secs))
                    .await
                    .map_err(|e| failed(&e))?;
                (Some(placed), None)
            }
            // The whisper of a call forwarded to the outside phone, which it answered: shown
            // there, with its keys (`outside_phone_presses`).
            CallAction::AskForKey { text } => {
                let asked = sqlx::query(
                    "UPDATE sandbox_calls SET whisper = $1 WHERE call_id = $2 AND answered = 1",
                )
                .bind(text)
                .bind(&call_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| failed(&e))?;
                if asked.rows_affected() == 0 {
                    return Err(CarrierError::Rejected {
                        code: "sandbox-calls".into(),
                        detail: "that call is not answered on the outside phone".into(),
                    });
                }
                (None, None)
            }
            CallAction::Dial { .. } => {
                return Err(CarrierError::Rejected {
                    code: "sandbox-calls".into(),
                    detail: "the sandbox calls only the outside phone and our tabs".into(),
                })
            }
        };
        if let Some(event) = event {
            report(&mut tx, event).await.map_err(|e| failed(&e))?;
        }
        self.commit_report(tx).await.map_err(|e| failed(&e))?;
        Ok(placed)
    }

    async fn test_connection(&self) -> Result<(), CarrierError> {
        Ok(())
    }

    fn sends_per_second(&self) -> f64 {
        10.0
    }

    fn media_limits(&self) -> MediaLimits {
        // Twilio's, the more generous of the two real carriers: try anything offline.
        MediaLimits::TWILIO
    }

    /// The Simulator's pictures come as `data:` URLs (nothing to host); the rest over HTTP.
    async fn fetch_media(
        &self,
        http: &reqwest::Client,
        url: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, CarrierError> {
        if let Some(rest) = url.strip_prefix("data:") {
            use base64::Engine;
            let refuse = |detail: &str| CarrierError::Rejected {
                code: "media-unreadable".into(),
                detail: detail.into(),
            };
            let (_, data) = rest
                .split_once(";base64,")
                .ok_or_else(|| refuse("not a base64 data URL"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|_| refuse("bad base64"))?;
            if bytes.len() > max_bytes {
                return Err(CarrierError::media_too_large(max_bytes));
            }
            return Ok(bytes);
        }
        super::download(&http.get(url), max_bytes).await
    }
}
