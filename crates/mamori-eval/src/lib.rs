//! # mamori-eval
//!
//! Holds Mamori's detection to a yardstick: reads an answer key in the official CERT layout
//! ([`answers`]) and computes, from the stored activity, scores and alerts, the figures a
//! security team cares about ([`metrics`]): recall of malicious insiders within a daily review
//! budget (top 0.5 % and 1 % of the persons active that day), days from the first malicious
//! event to detection and to the first alert, and person-day ROC AUC — each next to the same
//! figure for a random ranking, overall and per scenario.
//!
//! It knows nothing of SQLite: the `mamori eval` command reads the store and hands the
//! observations over.

pub mod answers;
pub mod metrics;

use std::path::Path;

pub use answers::{AnswerKey, AnswerRecord, Incident};
pub use metrics::{Observations, Options, Report, evaluate};

/// An answer key that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {reason}")]
pub struct EvalError {
    /// `file` or `file:line`.
    pub location: String,
    pub reason: String,
}

impl EvalError {
    fn file(path: &Path, reason: impl Into<String>) -> Self {
        EvalError {
            location: path.display().to_string(),
            reason: reason.into(),
        }
    }

    fn line(path: &Path, line: usize, reason: impl Into<String>) -> Self {
        EvalError {
            location: format!("{}:{line}", path.display()),
            reason: reason.into(),
        }
    }
}
