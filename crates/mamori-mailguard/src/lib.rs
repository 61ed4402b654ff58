//! # mamori-mailguard
//!
//! Mamori's **outbound mail guard**: an SMTP relay on the way out of the organisation
//! (Postfix `relayhost` / `content_filter` style) that checks every message before it leaves
//! and passes, delays, holds or rejects it, with a reason for each decision. It owns:
//!
//! - [`decision`] — what the rest of the crate agrees on: the [`decision::Envelope`] of a
//!   message, the [`decision::Decision`] taken about it and the [`decision::Guard`] that takes
//!   it.
//! - [`lookalike`] — look-alike recipient domains of the organisation's own and partner
//!   domains (edit distance, keyboard typos, homoglyphs and Unicode TR39 skeletons, IDN,
//!   hyphenation, TLD/SLD swaps on the public-suffix list); also behind
//!   `mamori mailguard check`.
//! - [`message`], [`checks`], [`policy`] — a message read (MIME, Japanese encodings,
//!   recipients, display names, attachments), the checks run on it, and the policy that turns
//!   their findings into a decision.
//! - [`notice`] — the note to the sender (and the approver) when a message is delayed or
//!   held: what, why and what next, in Japanese and English.
//! - [`smtp`], [`spool`], [`relay`] — the ESMTP server and client, the durable queue (a
//!   message is acknowledged only once it is on disk), and the relay that ties them: accept,
//!   decide, spool, deliver to the next hop with back-off, bounce on expiry.
//!
//! It knows nothing of the ledger, the store or HTTP: the binary connects the relay's events
//! to the server and the server's release/cancel actions back to the relay.

pub mod checks;
pub mod decision;
pub mod lookalike;
pub mod message;
pub mod notice;
pub mod policy;
pub mod relay;
pub mod smtp;
pub mod spool;
