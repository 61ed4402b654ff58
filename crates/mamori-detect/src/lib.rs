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
//! - [`hygiene`]: identity and access hygiene — leavers' accounts, rights added during notice,
//!   dormant, shared, generic and orphan accounts, privileged accounts without MFA.
//! - [`peers`]: a person-day against the same day of the person's peer group.
//! - [`review`]: the per-manager access review — each report's accounts, groups, last use and
//!   the latest keep/revoke decision.
//! - [`risk`]: indicators weighted by HR context, accumulated with decay into risk levels and alerts.
//! - [`watchlist`]: the departing-employee watch list (entry at notice, exit after the last day
//!   plus a grace period) and the look-back summary of a leaver's activity, by category.
//! - [`windows`]: Windows event log records as Sigma rules see them (log source, field names).

pub mod anomaly;
pub mod context;
pub mod event;
pub mod explain;
pub mod features;
pub mod forest;
pub mod hunt;
pub mod hygiene;
pub mod peers;
pub mod review;
pub mod risk;
pub mod sigma;
pub mod watchlist;
pub mod windows;
