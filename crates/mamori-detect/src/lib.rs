//! Detection: Sigma rules run over events.
//!
//! - [`anomaly`]: person-day anomaly scores against the person's own history (robust baseline).
//! - [`sigma`]: rule loading, compilation and evaluation (the engine).
//! - [`context`]: what rules know beyond the event (HR status, after hours, host owner, history).
//! - [`event`]: Mamori's events as Sigma rules see them (`product: mamori`).
//! - [`features`]: person-day feature vectors (counts per person and local day) for analytics.
//! - [`windows`]: Windows event log records as Sigma rules see them (log source, field names).

pub mod anomaly;
pub mod context;
pub mod event;
pub mod features;
pub mod sigma;
pub mod windows;
