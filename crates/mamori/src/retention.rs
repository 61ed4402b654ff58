//! `mamori retention run`: erases the bodies of events older than the retention periods
//! `privacy.toml` declares (docs/privacy.md), except events held by a case under legal hold.
//! Rows and ledger entries stay, so `verify` and every other event's proofs still pass.

use std::path::Path;
use std::process::ExitCode;

use mamori_privacy::Privacy;
use serde_json::json;

use mamori_ingest::CHECKPOINT_INTERVAL;

use crate::BadInput;
use crate::cases::{Session, timestamp};

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

pub fn run(data_dir: &Path, command: RetentionCommand, json: bool) -> anyhow::Result<ExitCode> {
    let RetentionCommand::Run { privacy, now } = command;
    let privacy = Privacy::of(data_dir, privacy.as_deref())
        .map_err(crate::privacy_error)?
        .ok_or_else(|| {
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
    let kinds = session
        .data()
        .append_pipelined(CHECKPOINT_INTERVAL, |appender| {
            mamori_privacy::retention::apply(appender, &privacy, now_us, &actor)
        })?;
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
