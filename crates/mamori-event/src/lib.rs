//! # mamori-event
//!
//! Mamori's **event model**, its **RFC 8785 canonical JSON** form and its **OCSF mapping**.
//!
//! This crate owns exactly three things:
//!
//! 1. **The event model** ([`Event`] and its parts): what one observed action of one account
//!    looks like (who, when, what kind of action, on what object, towards which destination,
//!    with what outcome), how it is parsed from one JSON line ([`Event::from_json`]) and how
//!    it is validated (unknown fields rejected, every error naming the field path and the reason).
//! 2. **Canonical JSON** ([`Event::write_canonical`], module [`canonical`]): the single byte
//!    form of an event per RFC 8785 (JSON Canonicalization Scheme), its [`Event::identity`]
//!    (the import de-duplication key, nonce excluded) and its [`entry_digest`] (what a ledger
//!    stores, nonce included).
//! 3. **The OCSF mapping** (module [`ocsf`]): a lossless translation to and from the Open
//!    Cybersecurity Schema Framework.
//!
//! It knows nothing of storage, ledgers or HTTP: those crates build on the bytes and digests
//! defined here. The field-by-field reference is `docs/events.md`.
//!
//! ```
//! use mamori_event::{Event, entry_digest};
//!
//! let line = br#"{"time":"2026-01-05T18:12:00+09:00","kind":"file.copy",
//!     "actor":{"user":"ACM2278","host":"PC-1234"},"object":{"path":"C:/design/a.dwg","size":12345},
//!     "destination":{"kind":"removable"},"outcome":"success"}"#;
//! let mut event = Event::from_json(line)?;
//! assert_eq!(event.account(), "ACM2278");
//! let identity = event.identity(); // same for every import of this line
//! event.ensure_nonce(); // 128 random bits, so the digest cannot be guessed back
//! let canonical = event.canonical_json();
//! assert!(canonical.starts_with(br#"{"actor":{"host":"PC-1234","user":"ACM2278"}"#));
//! let entry = entry_digest(&canonical);
//! assert_ne!(entry, identity);
//! # Ok::<(), mamori_event::EventError>(())
//! ```

pub mod canonical;
mod de;
mod error;
pub mod field;
mod identity;
mod kinds;
mod level;
mod model;
pub mod ocsf;
mod ser;
mod time;

pub use error::EventError;
pub use identity::{
    ACCOUNT_CSV_COLUMNS, AccountRecord, AccountSource, EmploymentType, HR_CSV_COLUMNS,
    PRIVILEGED_GROUPS, PersonRecord, is_privileged_group,
};
pub use kinds::{DestinationKind, Kind, Outcome, ParseNameError};
pub use level::Level;
pub use model::{
    Actor, Destination, EVENT_VERSION, Event, MAX_SAFE_INTEGER, Nonce, Object, Process,
    Sha256Digest, Source,
};

use sha2::Digest as _;

/// SHA-256 of an event's canonical JSON (nonce included): the event's ledger entry.
///
/// `canonical_json` must be the output of [`Event::write_canonical`] (or
/// [`Event::canonical_json`]); this function hashes the bytes as given.
pub fn entry_digest(canonical_json: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(canonical_json).into()
}

/// Lower-case hexadecimal form of a digest (for logs, OCSF `metadata.uid`, file names).
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

pub(crate) const HEX: &[u8; 16] = b"0123456789abcdef";
