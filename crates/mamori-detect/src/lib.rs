//! Detection: Sigma rules run over events.
//!
//! - [`sigma`]: rule loading, compilation and evaluation (the engine).
//! - [`windows`]: Windows event log records as Sigma rules see them (log source, field names).

pub mod sigma;
pub mod windows;
