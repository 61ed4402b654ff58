//! `mamori`: the command-line interface. Every operation of the platform is a subcommand here;
//! this is the only place that prints to stdout or decides exit codes
//! (0 ok, 1 failure, 2 bad usage or bad input).

mod agent;
mod analyze;
mod api_client;
mod bench;
mod cases;
mod demo;
mod eval;
mod evidence;
mod history;
mod hygiene;
mod import;
mod inspect;
mod mailguard;
mod policy;
mod progress;
mod retention;
mod review;
mod rules;
mod simulate;
mod users;
mod verify;
mod watchlist;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Ingest allocates and frees millions of small strings across threads (parsed on one, freed
/// on another), where glibc's allocator spent an eighth of all CPU; mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "mamori",
    version,
    about = "Mamori (守り): insider-risk and data-leak prevention"
)]
struct Cli {
    /// The data directory (store, ledger, keys).
    #[arg(
        long,
        global = true,
        env = "MAMORI_DATA_DIR",
        default_value = "mamori-data"
    )]
    data_dir: PathBuf,
    /// Print a machine-readable JSON summary on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the data directory and the ledger's signing key.
    Init {
        /// The events log's origin line (a schema-less URL naming this log, e.g.
        /// `log.example.co.jp/mamori/events`). Default: a random one.
        #[arg(long)]
        origin: Option<String>,
    },
    /// Import events.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Recompute every leaf and tile and check all signed checkpoints.
    Verify {
        /// Trust this note verifier key (file or text) instead of the data directory's own.
        #[arg(long)]
        key: Option<String>,
    },
    /// Show keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Export or verify evidence bundles.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Serve the JSON API (`/api/v1/...`: event ingest for agents, sign-in, alerts, persons and
    /// cases under pseudonyms, reveals, the access log), the ledgers' tiles (`/tlog/events/...`,
    /// `/tlog/access/...`) and the transparency page (`/transparency`); see docs/api.md.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The privacy declarations shown on `/transparency` (docs/privacy.md). Default:
        /// `privacy.toml` in the data directory, if it exists.
        #[arg(long)]
        privacy: Option<PathBuf>,
        /// Serve HTTPS with this certificate chain (PEM, leaf first); needs `--tls-key`.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// The key persons' pseudonyms are made with (created on first use). Keep it apart
        /// from the data, e.g. on another volume (default: `keys/pseudonym.key` in the data
        /// directory).
        #[arg(long)]
        pseudonym_key: Option<PathBuf>,
    },
    /// Measure throughput.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Check and run Sigma detection rules (see docs/rules.md).
    Rules(rules::RulesArgs),
    /// Behaviour analytics over stored history: person-day features scored against each
    /// person's own baseline, stored as person-day scores, with an alert for each high score
    /// (see docs/analytics.md).
    Analyze(analyze::AnalyzeArgs),
    /// Identity and access hygiene: leavers' accounts still enabled or used, rights added
    /// during notice, dormant, shared, generic and orphan accounts, privileged accounts without
    /// MFA, rights kept after a move, persons without accounts (docs/hygiene.md).
    Hygiene(hygiene::HygieneArgs),
    /// Try Mamori in one command: simulate an organisation with planted insiders, import,
    /// run the insider rules and analyse it into its own data directory (default
    /// `mamori-demo`, reused when prepared alike), print one login per role with a new
    /// password, and serve the console (docs/demo.md).
    Demo(demo::DemoArgs),
    /// What files hold: Japanese personal data (My Number, corporate numbers, cards, phones,
    /// postal codes, e-mail, bank and passport cues), confidentiality labels, secrets, source
    /// code and disguised file types, one line per finding (docs/inspect.md). Values only with
    /// `--show-values`.
    Inspect(inspect::InspectArgs),
    /// The outbound mail guard: an SMTP relay that checks every message (look-alike and
    /// first-time recipient domains, many outside addresses, name/address mismatch, sensitive
    /// content, departing and high-risk senders) and passes, delays, holds or rejects it;
    /// `check` runs the look-alike check offline (docs/mailguard.md).
    Mailguard(Box<mailguard::MailguardArgs>),
    /// The Linux endpoint agent: file activity (fanotify) with writes of classified files to
    /// removable media decided by the policy and denied where the kernel allows, USB
    /// authorisation, a local spool delivered at least once, heartbeats (docs/agent.md).
    Agent(Box<agent::AgentArgs>),
    /// Give the reason for a copy to removable media that a `justify` rule stopped, then copy
    /// again within 10 minutes; `--list` shows what awaits a reason (docs/agent.md).
    Justify(agent::justify::JustifyArgs),
    /// Prevention policies: check, decide, compile to USBGuard rules or Windows Device
    /// Control XML, back-test over the stored history, install (docs/policy.md).
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Write a synthetic organisation's activity with planted insiders and the answer key
    /// (CERT r4.2 layout or Mamori events; see docs/simulator.md).
    Simulate(simulate::SimulateArgs),
    /// Alerts: list them, dismiss one (docs/cases.md).
    #[command(subcommand)]
    Alerts(cases::AlertsCommand),
    /// Investigation cases opened from alerts (docs/cases.md).
    #[command(subcommand)]
    Cases(cases::CasesCommand),
    /// Person-day risk scores.
    #[command(subcommand)]
    Scores(cases::ScoresCommand),
    /// Who is on the departing-employee watch list on a day: since when, why, days left
    /// (docs/watchlist.md).
    Watchlist(watchlist::WatchlistArgs),
    /// Reports about one person or one manager's people; each is recorded in the access log.
    #[command(subcommand)]
    Report(watchlist::ReportCommand),
    /// Erase event bodies past the retention periods of `privacy.toml` (docs/privacy.md).
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Local users and their roles (docs/auth.md).
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Bearer tokens for the API and SCIM (docs/auth.md).
    #[command(subcommand)]
    Tokens(users::TokensCommand),
    /// Agents and forwarders that send events (docs/auth.md).
    #[command(subcommand)]
    Agents(users::AgentsCommand),
    /// Who read or changed alerts, cases and scores, newest first.
    AccessLog {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Detection quality against an answer key in the CERT layout (insiders.csv + incident
    /// files): recall within a daily review budget, time to detection, ROC AUC, against a
    /// random ranking.
    Eval {
        /// The answer key directory (holding insiders.csv).
        #[arg(long)]
        answers: PathBuf,
        /// Only this dataset's incidents (e.g. 4.2).
        #[arg(long)]
        dataset: Option<String>,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Newline-delimited JSON events (see docs/events.md); `-` reads standard input.
    Ndjson {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// A CMU SEI CERT Insider Threat data set directory, r4.2, r5.2 or r6.2 (docs/cert.md):
    /// LDAP snapshots become persons, activity files become events; an interrupted import
    /// resumes where it stopped.
    Cert {
        dir: PathBuf,
        /// UTC offset of the data set's local times, e.g. `-05:00`.
        #[arg(long, default_value = "+00:00")]
        utc_offset: String,
        /// An e-mail domain inside the organisation (repeatable; default `dtaa.com`).
        #[arg(long = "org-domain")]
        org_domains: Vec<String>,
    },
    /// HR records as CSV (docs/hr.md): time-versioned persons and their accounts.
    Hr { path: PathBuf },
    /// A directory's accounts as CSV (docs/accounts.md): an Active Directory, Entra ID or
    /// Google Workspace export as downloaded, or the canonical columns; the snapshot of its
    /// source, with group changes since the last one.
    Accounts {
        path: PathBuf,
        /// The directory the rows come from when they do not say (default: told from the
        /// export's column names).
        #[arg(long, value_parser = parse_account_source)]
        source: Option<mamori_event::AccountSource>,
    },
    /// Windows event logs (docs/evtx.md): `.evtx` files, or directories searched recursively
    /// for them; one event per record.
    Evtx {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Files, inspected (docs/inspect.md): one event per file with the labels found in
    /// `object.labels` and, per finding type, the count and keyed hashes of the values in
    /// `raw.content_findings` (never the values).
    Files {
        /// Files or directories (searched recursively, in name order).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The account the files belong to (`actor.user`).
        #[arg(long)]
        user: String,
        /// The computer they were on (`actor.host`).
        #[arg(long)]
        host: Option<String>,
        /// The events' kind.
        #[arg(long, default_value = "file.write")]
        kind: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print the events log's note verifier key.
    Show,
}

#[derive(Subcommand)]
enum EvidenceCommand {
    /// Export one person's events in a time range with proofs, as a self-verifying zip.
    Export {
        /// The person (for now: the account, `actor.user`).
        #[arg(long)]
        person: String,
        /// Start (inclusive), RFC 3339 or a date (YYYY-MM-DD, UTC).
        #[arg(long)]
        from: String,
        /// End (exclusive), RFC 3339 or a date (YYYY-MM-DD, UTC).
        #[arg(long)]
        to: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a bundle offline: no store, no network.
    Verify {
        file: PathBuf,
        /// Trust this note verifier key (file or text) instead of the one inside the bundle.
        #[arg(long)]
        key: Option<String>,
    },
}

fn parse_account_source(value: &str) -> Result<mamori_event::AccountSource, String> {
    value
        .parse()
        .map_err(|_| format!("{value:?} is not ad, entra, google or other"))
}

/// An error caused by the user's input rather than by the system: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MAMORI_LOG")
                // lopdf warns about every font it cannot fully parse (Chromium's Type 3
                // fonts, thousands of lines with the font dumped), although our own PDF
                // reader gets the text; what could not be read is reported as a problem.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,lopdf=error")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("mamori: {error:#}");
            if error.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let data_dir = cli.data_dir;
    match cli.command {
        Command::Init { origin } => init(&data_dir, origin, cli.json),
        Command::Import(ImportCommand::Ndjson { paths }) => {
            import::ndjson(&data_dir, &paths, cli.json)
        }
        Command::Import(ImportCommand::Cert {
            dir,
            utc_offset,
            org_domains,
        }) => {
            let utc_offset = parse_offset(&utc_offset)?;
            let options = import::CertImportOptions {
                utc_offset,
                organisation_domains: org_domains,
            };
            import::cert(&data_dir, &dir, &options, cli.json)
        }
        Command::Import(ImportCommand::Hr { path }) => import::hr(&data_dir, &path, cli.json),
        Command::Import(ImportCommand::Accounts { path, source }) => {
            import::accounts(&data_dir, &path, source, cli.json)
        }
        Command::Import(ImportCommand::Evtx { paths }) => import::evtx(&data_dir, &paths, cli.json),
        Command::Import(ImportCommand::Files {
            paths,
            user,
            host,
            kind,
        }) => import::files(
            &data_dir,
            &paths,
            &inspect::FileEvents {
                user: &user,
                host: host.as_deref(),
                kind: &kind,
            },
            cli.json,
        ),
        Command::Inspect(args) => inspect::run(&args, cli.json),
        Command::Mailguard(args) => mailguard::run(*args, cli.json),
        Command::Agent(args) => agent::run(*args),
        Command::Justify(args) => agent::justify::run(&args, cli.json),
        Command::Policy(command) => policy::run(&data_dir, command, cli.json),
        Command::Verify { key } => verify::run(&data_dir, key.as_deref(), cli.json),
        Command::Keys(KeysCommand::Show) => {
            let data = mamori_store::DataDir::open(&data_dir)?;
            println!("{}", data.verifier().to_vkey());
            Ok(ExitCode::SUCCESS)
        }
        Command::Evidence(EvidenceCommand::Export {
            person,
            from,
            to,
            out,
        }) => evidence::export(&data_dir, &person, &from, &to, &out, cli.json),
        Command::Evidence(EvidenceCommand::Verify { file, key }) => {
            evidence::verify(&file, key.as_deref(), cli.json)
        }
        Command::Serve {
            listen,
            privacy,
            tls_cert,
            tls_key,
            pseudonym_key,
        } => {
            let tls = tls_cert
                .as_deref()
                .zip(tls_key.as_deref())
                .map(|(cert, key)| mamori_server::TlsFiles { cert, key });
            let options = mamori_server::Options {
                data_dir: &data_dir,
                listen,
                privacy: privacy.as_deref(),
                tls,
                pseudonym_key: pseudonym_key.as_deref(),
            };
            match mamori_server::run(options) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(error) if error.is_config() => Err(BadInput(error.to_string()).into()),
                Err(error) => Err(error.into()),
            }
        }
        Command::Bench(command) => bench::run(command, cli.json),
        Command::Rules(command) => rules::run(&data_dir, command, cli.json),
        Command::Analyze(args) => analyze::run(&data_dir, &args, cli.json),
        Command::Hygiene(args) => hygiene::run(&data_dir, &args, cli.json),
        Command::Simulate(args) => simulate::run(args, cli.json),
        Command::Demo(args) => demo::run(&demo::data_dir(data_dir), &args, cli.json),
        Command::Alerts(command) => cases::alerts(&data_dir, command, cli.json),
        Command::Cases(command) => cases::cases(&data_dir, command, cli.json),
        Command::Scores(command) => cases::scores(&data_dir, command, cli.json),
        Command::Watchlist(args) => watchlist::list(&data_dir, &args, cli.json),
        Command::Report(command) => watchlist::report(&data_dir, command, cli.json),
        Command::Retention(command) => retention::run(&data_dir, command, cli.json),
        Command::Users(command) => users::users(&data_dir, command, cli.json),
        Command::Tokens(command) => users::tokens(&data_dir, command, cli.json),
        Command::Agents(command) => users::agents(&data_dir, command, cli.json),
        Command::AccessLog { limit } => cases::access_log(&data_dir, limit, cli.json),
        Command::Eval { answers, dataset } => {
            eval::run(&data_dir, &answers, dataset.as_deref(), cli.json)
        }
    }
}

/// A wrong privacy configuration is the user's to fix (exit code 2).
pub(crate) fn privacy_error(error: mamori_privacy::PrivacyError) -> anyhow::Error {
    match error {
        mamori_privacy::PrivacyError::Config(message) => BadInput(message).into(),
        other => other.into(),
    }
}

/// `+09:00`, `-05:00`, `Z`.
fn parse_offset(text: &str) -> anyhow::Result<jiff::tz::Offset> {
    let bad = || BadInput(format!("--utc-offset {text:?}: expected +HH:MM or -HH:MM"));
    if text == "Z" {
        return Ok(jiff::tz::Offset::UTC);
    }
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad().into()),
    };
    let (hours, minutes) = rest.split_once(':').ok_or_else(bad)?;
    let (hours, minutes): (i32, i32) = (
        hours.parse().map_err(|_| bad())?,
        minutes.parse().map_err(|_| bad())?,
    );
    if hours > 18 || minutes > 59 {
        return Err(bad().into());
    }
    Ok(jiff::tz::Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).map_err(|_| bad())?)
}

fn init(
    data_dir: &std::path::Path,
    origin: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if mamori_store::Paths::new(data_dir).events_key().exists() {
        // Never replace a key: checkpoints signed with it must stay verifiable.
        let data = mamori_store::DataDir::open(data_dir)?;
        if let Some(requested) = origin.filter(|o| o != data.origin()) {
            return Err(BadInput(format!(
                "{} is already initialised with origin {}, not {requested}",
                data_dir.display(),
                data.origin()
            ))
            .into());
        }
        if json {
            let summary = serde_json::json!({
                "data_dir": data_dir,
                "created": false,
                "origin": data.origin(),
                "verifier_key": data.verifier().to_vkey(),
            });
            println!("{summary}");
        } else {
            println!(
                "{} is already initialised; keeping its key",
                data_dir.display()
            );
            println!("{}", data.verifier().to_vkey());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let origin = match origin {
        Some(origin) => origin,
        None => {
            let mut id = [0u8; 6];
            getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("random: {e}"))?;
            format!("mamori.invalid/{}/events", hex::encode(id))
        }
    };
    let mut data =
        mamori_store::DataDir::init(data_dir, &origin).map_err(|e| BadInput(e.to_string()))?;
    let vkey = data.verifier().to_vkey();
    // The first administrator, with a one-time password shown only now.
    let now = cases::now_us();
    let password = data
        .store_mut()
        .add_user(ADMIN, mamori_store::auth::Role::Admin, now)?;
    data.record_access("mamori init", "users.add", "admin (admin)", now)?;
    if json {
        let summary = serde_json::json!({
            "data_dir": data_dir,
            "created": true,
            "origin": origin,
            "verifier_key": vkey,
            "admin_user": ADMIN,
            "admin_password": password,
        });
        println!("{summary}");
    } else {
        println!("initialised {}", data_dir.display());
        println!("events log origin: {origin}");
        println!("verifier key (publish it; auditors check checkpoints with it):");
        println!("{vkey}");
        println!("administrator {ADMIN:?}; one-time password, to be changed at first login:");
        println!("{password}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The first administrator's name, created by `mamori init`.
const ADMIN: &str = "admin";

/// Reads a note verifier key given as text or as a path to a file holding it.
pub fn read_verifier(key: &str) -> anyhow::Result<mamori_ledger::note::Verifier> {
    let path = std::path::Path::new(key);
    let text = if path.is_file() {
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
    } else {
        key.to_string()
    };
    mamori_ledger::note::Verifier::from_vkey(text.trim())
        .map_err(|e| BadInput(format!("verifier key: {e}")).into())
}

#[cfg(test)]
mod tests {
    /// Clap checks the definition of every command only when that command is parsed; this
    /// checks them all at once.
    #[test]
    fn the_command_line_definition_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
