//! Privacy by design: what the organisation declares to its employees (`privacy.toml`: the
//! responsible person, the purposes, what is collected and for how long, module
//! `declarations`), the retention periods applied to the store (module `retention`), and the
//! pseudonyms under which persons appear everywhere until a reveal (module `pseudonym`).
//!
//! Japan's APPI and the PPC's guidance on monitoring employees ask for a stated purpose, a
//! responsible person and rules set in advance; this crate is where those rules become what
//! the system does.

mod declarations;
pub mod pseudonym;
pub mod retention;

pub use declarations::{ApprovalRules, Collected, Privacy, Purpose, Text};

/// Errors of the privacy configuration and of applying it.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The configuration is wrong: the message names the file and the field.
    #[error("{0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] mamori_store::StoreError),
}
