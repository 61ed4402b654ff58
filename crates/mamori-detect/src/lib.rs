//! Detection: Sigma rules run over events.
//!
//! - [`anomaly`]: person-day anomaly scores against the person's own history (robust baseline).
//! - [`sigma`]: rule loading, compilation and evaluation (the engine).
//! - [`context`]: what rules know beyond the event (HR status, after hours, host owner, history).
//! - [`event`]: Mamori's events as Sigma rules see them (`product: mamori`).
//! - [`explain`]: risk indicators, factors and alerts as sentences in English and Japanese.
//! - [`features`]: person-day feature vectors (counts per person and local day) for analytics.
//! - [`hunt`]: rules over a stream of stored events: matches, correlations, hits per rule.
//! - [`forest`]: an isolation forest over person-days (rare combinations in the organisation).
//! - [`peers`]: a person-day against the same day of the person's peer group.
//! - [`risk`]: indicators weighted by HR context, accumulated with decay into risk levels and alerts.
//! - [`windows`]: Windows event log records as Sigma rules see them (log source, field names).

pub mod anomaly;
pub mod context;
pub mod event;
pub mod explain;
pub mod features;
pub mod forest;
pub mod hunt;
pub mod peers;
pub mod risk;
pub mod sigma;
pub mod windows;
