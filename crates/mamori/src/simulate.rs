//! `mamori simulate`: write a synthetic organisation's activity with planted insiders
//! (`mamori-sim`), as CERT r4.2 files or as Mamori events.

use std::path::Path;
use std::process::ExitCode;

use mamori_sim::{Config, Format, Profile, SimError, Summary};

use crate::BadInput;

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Directory to write into (created if missing; files in it are replaced).
    #[arg(long)]
    out: std::path::PathBuf,
    /// `cert` (the CERT r4.2 files) or `ndjson` (events.ndjson + hr.csv).
    #[arg(long, default_value = "cert")]
    format: String,
    /// `dense` (about 5 % insiders, like CERT r4.2) or `realistic` (about 0.4 %).
    #[arg(long, default_value = "dense")]
    profile: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 1000)]
    users: u32,
    #[arg(long, default_value_t = 180)]
    days: u32,
    /// First day (YYYY-MM-DD).
    #[arg(long, default_value = "2010-01-04")]
    start: String,
    /// Pad web pages and mail bodies to at least this many words, as long as CERT r4.2's
    /// (about 60; for import benchmarks). 0 keeps the generated 8–30.
    #[arg(long, default_value_t = 0)]
    content_words: u32,
}

pub fn run(args: SimulateArgs, json: bool) -> anyhow::Result<ExitCode> {
    let bad = |e: SimError| BadInput(e.to_string());
    let config = Config {
        format: args.format.parse::<Format>().map_err(bad)?,
        profile: args.profile.parse::<Profile>().map_err(bad)?,
        seed: args.seed,
        users: args.users,
        days: args.days,
        start: args
            .start
            .parse()
            .map_err(|e| BadInput(format!("--start {:?}: {e}", args.start)))?,
        content_words: args.content_words,
    };
    let summary = match mamori_sim::simulate(&config, &args.out) {
        Ok(summary) => summary,
        Err(SimError::Config(message)) => return Err(BadInput(message).into()),
        Err(error) => return Err(error.into()),
    };
    if json {
        let mut value = serde_json::to_value(&summary)?;
        value["out"] = serde_json::json!(args.out);
        value["rows_per_second"] = rate(&summary).into();
        println!("{value}");
    } else {
        print_summary(&args.out, &summary);
    }
    Ok(ExitCode::SUCCESS)
}

fn rate(summary: &Summary) -> f64 {
    summary.rows as f64 / summary.seconds.max(1e-9)
}

fn print_summary(out: &Path, summary: &Summary) {
    println!("simulated {} people into {}", summary.people, out.display());
    let insiders: Vec<String> = summary
        .insiders
        .iter()
        .map(|(family, n)| format!("{family} {n}"))
        .collect();
    println!("insiders: {}", insiders.join(", "));
    println!(
        "benign: {} joiners, {} leavers, {} laid off, {} careless",
        summary.joiners, summary.benign_leavers, summary.laid_off, summary.careless
    );
    let case = |check: &str| summary.inventory_cases.get(check).copied().unwrap_or(0);
    println!(
        "hygiene: {} leavers' accounts used after the last day; {} accounts in accounts.csv with {} leavers' still enabled, {} admins without MFA, {} dormant, {} orphan, {} shared desk accounts",
        summary.after_exit,
        summary.accounts,
        case("leaver_account_enabled"),
        case("privileged_without_mfa"),
        case("dormant_account"),
        case("orphan_account"),
        case("shared_account")
    );
    for file in &summary.files {
        println!(
            "  {:<40} {:>12} rows {:>14} bytes",
            file.file, file.rows, file.bytes
        );
    }
    println!(
        "{} activity rows, {} bytes in {:.2}s ({:.0} rows/s)",
        summary.rows,
        summary.bytes,
        summary.seconds,
        rate(summary)
    );
}
