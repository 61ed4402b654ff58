//! Retention: the bodies of events older than the periods `privacy.toml` declares are erased,
//! except events held by a case under legal hold. Rows and ledger entries stay, so `verify`
//! and every other event's proofs still pass (`EventStore::purge`).

use mamori_store::Appender;

use crate::{Privacy, PrivacyError};

const DAY_US: i64 = 86_400_000_000;

/// One event kind's retention run.
#[derive(Debug, serde::Serialize)]
pub struct KindRun {
    pub kind: mamori_event::Kind,
    pub retention_days: u32,
    /// Events from before this time were expired (RFC 3339).
    pub before: String,
    #[serde(flatten)]
    pub outcome: mamori_store::Purged,
}

/// Applies the retention periods of `privacy` as of `as_of_us`, recording each kind's run in
/// the access log as `actor` (at the real time, as the rows' `purged_us`).
pub fn apply(
    appender: &mut Appender<'_>,
    privacy: &Privacy,
    as_of_us: i64,
    actor: &str,
) -> Result<Vec<KindRun>, PrivacyError> {
    let mut kinds = Vec::new();
    for item in &privacy.collected {
        let before_us = as_of_us.saturating_sub(i64::from(item.retention_days) * DAY_US);
        for kind in &item.kinds {
            let now_us = jiff::Timestamp::now().as_microsecond();
            let outcome = appender
                .store_mut()
                .purge(kind.as_str(), before_us, now_us)?;
            let before = jiff::Timestamp::from_microsecond(before_us)
                .map_or_else(|_| before_us.to_string(), |t| t.to_string());
            appender.record_access(
                actor,
                "retention.purge",
                &format!(
                    "{kind} before {before}: {} erased, {} held",
                    outcome.purged, outcome.held
                ),
                now_us,
            )?;
            kinds.push(KindRun {
                kind: *kind,
                retention_days: item.retention_days,
                before,
                outcome,
            });
        }
    }
    Ok(kinds)
}
