//! The terms the checks, the policy and the relay share: a message's envelope, the decision
//! taken about it, and the guard that takes it.

use std::net::SocketAddr;

use serde::Serialize;

/// The SMTP envelope of one message, as the client gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Envelope {
    /// The reverse path (`MAIL FROM`), empty for a bounce (`<>`).
    pub mail_from: String,
    /// The forward paths (`RCPT TO`), in the order given.
    pub rcpt_to: Vec<String>,
    /// What the client said in `EHLO`/`HELO`.
    pub helo: String,
    pub client: SocketAddr,
    /// `SMTPUTF8` was asked for in `MAIL FROM`.
    pub smtputf8: bool,
    /// `BODY=8BITMIME` was asked for in `MAIL FROM`.
    pub body_8bit: bool,
}

/// What happens to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Delivered at once.
    Pass,
    /// Delivered after `minutes` unless the sender cancels it first.
    Delay { minutes: u32 },
    /// Held until the sender confirms (release) or cancels it; expires (bounced) otherwise.
    HoldForSender,
    /// Held until an approver (the sender's supervisor, when known) releases it.
    HoldForApproval { approver: Option<String> },
    /// Refused at the end of `DATA` (SMTP 550): never stored, never delivered.
    Reject,
}

impl Action {
    /// The action's name in events and reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Pass => "pass",
            Action::Delay { .. } => "delay",
            Action::HoldForSender => "hold_sender",
            Action::HoldForApproval { .. } => "hold_approval",
            Action::Reject => "reject",
        }
    }
}

/// One check's finding: why a decision is what it is, in English and Japanese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// The check's name (`lookalike_domain`, `first_external_domain`, `many_external`, …).
    pub check: &'static str,
    /// What was found, for the sender and the log (`example.co.jp` → `examp1e.co.jp`: …).
    pub en: String,
    pub ja: String,
}

/// The decision about one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub action: Action,
    /// Every finding, also those that did not change the action (they are logged).
    pub reasons: Vec<Reason>,
    /// Move the To and Cc recipients to Bcc: the headers are rewritten, the envelope is kept,
    /// so every recipient still receives the message but none sees the others.
    pub move_to_bcc: bool,
}

impl Decision {
    /// Delivered at once, with nothing found.
    pub fn pass() -> Decision {
        Decision {
            action: Action::Pass,
            reasons: Vec::new(),
            move_to_bcc: false,
        }
    }
}

/// Takes the decision about a message. Called once per message, after `DATA` and before the
/// client is answered: it must be quick (the relay's added latency budget is 5 ms at the
/// 99th percentile for a 100 kB message) and must not fail — a guard that cannot read a
/// message decides so, with a reason.
pub trait Guard: Send + Sync {
    fn decide(&self, envelope: &Envelope, message: &[u8]) -> Decision;

    /// Called by the relay once the next hop has accepted `message` (the bytes delivered,
    /// after any header rewriting) for `envelope`. A guard that learns from what is sent
    /// (first-time domains, display names) learns here, so that only mail that actually left
    /// counts — not mail that was held, cancelled or bounced. Must not fail; the relay does
    /// not wait for anything it says. The default learns nothing.
    fn delivered(&self, envelope: &Envelope, message: &[u8]) {
        let _ = (envelope, message);
    }
}
