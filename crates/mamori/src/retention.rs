//! `mamori retention run`: erases the bodies of events older than the retention periods
//! `privacy.toml` declares (docs/privacy.md), except events held by a case under legal hold.
//! Rows and ledger entries stay, so `verify` and every other event's proofs still pass.

use std::path::Path;
use std::process::ExitCode;

use mamori_store::EventStore;
use serde_json::json;

use crate::BadInput;
use crate::cases::{Session, timestamp};
use crate::privacy::Privacy;

#[derive(clap::Subcommand)]
pub enum RetentionCommand {
    /// Erase what is past its retention period now.
    Run {
        /// The privacy declarations (default: `privacy.toml` in the data directory).
        #[arg(long)]
        privacy: Option<std::path::PathBuf>,
        /// Act as if it were this time (RFC 3339), e.g. to see what a date would erase.
        #[arg(long)]
        now: Option<String>,
    },
}

const DAY_US: i64 = 86_400_000_000;

pub fn run(data_dir: &Path, command: RetentionCommand, json: bool) -> anyhow::Result<ExitCode> {
    let RetentionCommand::Run { privacy, now } = command;
    let privacy = Privacy::of(data_dir, privacy.as_deref())?.ok_or_else(|| {
        BadInput(format!(
            "no retention periods: {} has no privacy.toml (docs/privacy.md)",
            data_dir.display()
        ))
    })?;
    let now_us = match now {
        Some(text) => text
            .parse::<jiff::Timestamp>()
            .map_err(|e| BadInput(format!("--now {text:?}: {e}")))?
            .as_microsecond(),
        None => crate::cases::now_us(),
    };
    let mut session = Session::open(data_dir)?;
    let actor = session.actor().to_string();
    let kinds = apply(session.store(), &privacy, now_us, &actor)?;
    let purged: u64 = kinds.iter().map(|k| k.outcome.purged).sum();
    let held: u64 = kinds.iter().map(|k| k.outcome.held).sum();
    if json {
        println!(
            "{}",
            json!({"now": timestamp(now_us), "kinds": kinds, "purged": purged, "held": held})
        );
    } else {
        for kind in &kinds {
            println!(
                "{}\tbefore {}\t{} erased\t{} held",
                kind.kind, kind.before, kind.outcome.purged, kind.outcome.held
            );
        }
        println!("{purged} event bodies erased, {held} kept under legal hold");
    }
    Ok(ExitCode::SUCCESS)
}

/// One event kind's retention run.
#[derive(serde::Serialize)]
pub struct KindRun {
    pub kind: mamori_event::Kind,
    pub retention_days: u32,
    /// Events from before this time were expired.
    pub before: String,
    #[serde(flatten)]
    pub outcome: mamori_store::Purged,
}

/// Applies the retention periods of `privacy` as of `as_of_us`, recording each kind's run in
/// the access log as `actor` (at the real time, as the rows' `purged_us`).
pub fn apply(
    store: &mut EventStore,
    privacy: &Privacy,
    as_of_us: i64,
    actor: &str,
) -> anyhow::Result<Vec<KindRun>> {
    let mut kinds = Vec::new();
    for item in &privacy.collected {
        let before_us = as_of_us.saturating_sub(i64::from(item.retention_days) * DAY_US);
        for kind in &item.kinds {
            let now_us = crate::cases::now_us();
            let outcome = store.purge(kind.as_str(), before_us, now_us)?;
            let before = timestamp(before_us);
            store.record_access(
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
