//! `mamori demo`: Mamori in one command. A simulated organisation with planted insiders
//! (`mamori-sim`) is imported, run through the insider rule pack and analysed into a data
//! directory of its own; one login per role gets a fresh password; then the server starts.
//!
//! Each step calls the function its own command uses (`import`, `rules run`, `analyze`,
//! `serve`), so the demo shows what those commands do rather than a parallel implementation.
//! What the binary needs from the repository (the rule pack and the example privacy
//! declarations) is compiled in, so the demo works from any directory. See docs/demo.md.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use mamori_store::DataDir;
use mamori_store::auth::Role;

use crate::BadInput;
use crate::cases::now_us;

#[derive(clap::Args)]
#[command(
    after_help = "The data directory is `mamori-demo` in the current directory unless \
    --data-dir is given on the command line; MAMORI_DATA_DIR is not used, so real data is never \
    mixed with simulated people. A directory prepared with the same --users, --days and --seed \
    is reused; any other existing directory is refused and left alone."
)]
pub struct DemoArgs {
    /// People in the simulated organisation (joiners included; at least 20).
    #[arg(long, default_value_t = 300)]
    users: u32,
    /// Days of simulated activity, ending in the week before the first run (at least 7).
    #[arg(long, default_value_t = 90)]
    days: u32,
    /// The simulation's seed: the same seed gives the same people and incidents.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the server listens; the console is at `/`.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Prepare the data directory and print the logins, then stop without serving.
    #[arg(long)]
    no_serve: bool,
}

/// The demo's data directory unless `--data-dir` says otherwise: apart from `mamori-data`, so
/// trying the demo never mixes simulated people into real data.
const DEFAULT_DATA_DIR: &str = "mamori-demo";

/// The file in the data directory that says what the demo prepared and whether it finished.
const MARKER: &str = "demo.json";

/// The simulation's output inside the data directory; its answer key stays there, so
/// `mamori eval --answers DIR/simulation/answers` can score the analysis.
const SIMULATION_DIR: &str = "simulation";

/// Where the embedded rule pack is written, so `rules run` and `analyze` read it as they read
/// any rule directory.
const RULES_DIR: &str = "rules/insider";

/// Who the demo is, in the access log.
const ACTOR: &str = "mamori demo";

/// One login per role that works the console (no `employee`: that role only sees its own
/// transparency page). Each user's name is the role's name.
const ROLES: [Role; 5] = [
    Role::Admin,
    Role::Analyst,
    Role::Investigator,
    Role::Approver,
    Role::Auditor,
];

/// Password characters that cannot be misread from a terminal (no 0/O, 1/l/I).
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// 16 characters of a 56-letter alphabet: about 93 bits.
const PASSWORD_CHARS: usize = 16;

/// The example declarations from docs/privacy.toml. They ask for dual control
/// (`[approvals] dual_control = true`), so revealing a person takes an investigator's
/// request and an approver's grant: the demo shows the safeguard, not a shortcut past it.
const PRIVACY_TOML: &str = include_str!("../../../docs/privacy.toml");

/// Embeds the rule files of `rules/insider` by name.
macro_rules! insider_rules {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../rules/insider/", $name)))),*]
    };
}

/// The insider rule pack (`rules/insider`, without its tests). `tests/demo.rs` checks that
/// this list holds every rule file of the directory, so a new rule is not left out.
const INSIDER_RULES: &[(&str, &str)] = insider_rules![
    "mamori_account_change_by_departing_admin.yml",
    "mamori_account_group_add_privileged_by_departing_admin.yml",
    "mamori_activity_after_termination.yml",
    "mamori_agent_collection_interrupted.yml",
    "mamori_clipboard_classified_paste_to_external_web.yml",
    "mamori_egress_by_departing_employee.yml",
    "mamori_egress_classified_to_first_time_domain.yml",
    "mamori_egress_file_type_mismatch.yml",
    "mamori_egress_first_time_external_domain.yml",
    "mamori_egress_volume_daily.yml",
    "mamori_email_attachment_to_personal_address.yml",
    "mamori_email_lookalike_domain.yml",
    "mamori_email_many_external_recipients.yml",
    "mamori_file_access_sensitive_share_after_hours.yml",
    "mamori_file_change_program_directory_after_hours.yml",
    "mamori_file_copy_archive_to_removable_or_cloud.yml",
    "mamori_file_copy_classified_to_removable_or_cloud.yml",
    "mamori_file_copy_mass_to_removable.yml",
    "mamori_file_copy_source_code_to_removable_or_cloud.yml",
    "mamori_file_create_hacking_tool.yml",
    "mamori_file_delete_mass_on_share.yml",
    "mamori_http_browse_hacking_content.yml",
    "mamori_http_download_hacking_tool.yml",
    "mamori_http_leak_site_activity.yml",
    "mamori_http_upload_personal_cloud_storage.yml",
    "mamori_http_upload_webmail.yml",
    "mamori_logon_dormant_account.yml",
    "mamori_logon_to_other_users_pc.yml",
    "mamori_policy_decision_repeated_overrides.yml",
    "mamori_print_bulk_classified.yml",
    "mamori_process_start_stop_mamori_agent.yml",
    "mamori_seq_after_hours_logon_then_removable_copy.yml",
    "mamori_seq_grievance_then_mass_egress.yml",
    "mamori_seq_job_search_then_usb_copy.yml",
    "mamori_seq_other_pc_logon_then_external_mail.yml",
    "win_security_audit_log_cleared_or_policy_changed.yml",
    "win_system_eventlog_cleared.yml",
];

/// What `demo.json` records: the parameters a data directory was prepared with, and whether
/// preparing it finished. It is written before anything else, so a directory whose
/// preparation was interrupted is recognised as such rather than taken for a finished one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Marker {
    users: u32,
    days: u32,
    seed: u64,
    /// The first simulated day (YYYY-MM-DD).
    start: String,
    /// False until every preparation step has finished.
    complete: bool,
}

impl Marker {
    fn same_parameters(&self, args: &DemoArgs) -> bool {
        (self.users, self.days, self.seed) == (args.users, args.days, args.seed)
    }

    fn describe(&self) -> String {
        describe(self.users, self.days, self.seed)
    }

    fn read(dir: &Path) -> Option<Marker> {
        let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Replaces the marker in one step (write, sync, rename): a crash leaves the old one.
    fn write(&self, dir: &Path) -> anyhow::Result<()> {
        use std::io::Write;
        let path = dir.join(MARKER);
        let partial = dir.join(format!("{MARKER}.partial"));
        let mut file = std::fs::File::create(&partial)
            .with_context(|| format!("writing {}", partial.display()))?;
        file.write_all(serde_json::to_string_pretty(self)?.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&partial, &path).with_context(|| format!("writing {}", path.display()))
    }
}

fn describe(users: u32, days: u32, seed: u64) -> String {
    format!("{users} people × {days} days, seed {seed}")
}

/// The data directory: `--data-dir` when given on the command line, else `mamori-demo`.
/// `MAMORI_DATA_DIR` is deliberately not used: it usually names real data, and the demo
/// imports a made-up organisation.
pub fn data_dir(parsed: PathBuf) -> PathBuf {
    let matches = <crate::Cli as clap::CommandFactory>::command()
        .try_get_matches_from(std::env::args_os())
        .ok();
    let source = matches.as_ref().and_then(|m| m.value_source("data_dir"));
    if source == Some(clap::parser::ValueSource::CommandLine) {
        parsed
    } else {
        PathBuf::from(DEFAULT_DATA_DIR)
    }
}

pub fn run(dir: &Path, args: &DemoArgs, json: bool) -> anyhow::Result<ExitCode> {
    check_parameters(args)?;
    match state_of(dir)? {
        State::Ready(marker) if marker.same_parameters(args) => {
            eprintln!(
                "demo: reusing {} ({}, from {}); remove it to start afresh",
                dir.display(),
                marker.describe(),
                marker.start
            );
        }
        State::Ready(marker) => {
            return Err(BadInput(format!(
                "{} holds a demo of {}, not {}; remove it (rm -r {}) or choose another --data-dir",
                dir.display(),
                marker.describe(),
                describe(args.users, args.days, args.seed),
                dir.display()
            ))
            .into());
        }
        State::Interrupted => {
            return Err(BadInput(format!(
                "{} holds a demo whose preparation did not finish; remove it (rm -r {}) and run \
                 `mamori demo` again",
                dir.display(),
                dir.display()
            ))
            .into());
        }
        State::Foreign => {
            return Err(BadInput(format!(
                "{} exists and was not made by `mamori demo` (no finished {MARKER}); it is left \
                 alone: choose another --data-dir, or remove it if it holds nothing you need",
                dir.display()
            ))
            .into());
        }
        State::Absent => prepare(dir, args, json).with_context(|| {
            format!(
                "preparing {} stopped; remove it (rm -r {}) and run `mamori demo` again",
                dir.display(),
                dir.display()
            )
        })?,
    }
    let logins = reset_logins(dir)?;
    print_logins(dir, args, &logins, json)?;
    if args.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    let options = mamori_server::Options {
        data_dir: dir,
        listen: args.listen,
        privacy: None,
        tls: None,
        pseudonym_key: None,
    };
    match mamori_server::run(options) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) if error.is_config() => Err(BadInput(error.to_string()).into()),
        Err(error) => Err(error.into()),
    }
}

/// Refuses what the simulator would refuse, before a directory is created that would then
/// have to be removed by hand.
fn check_parameters(args: &DemoArgs) -> anyhow::Result<()> {
    if args.users < mamori_sim::org::MIN_USERS {
        return Err(BadInput(format!(
            "--users must be at least {}, got {}",
            mamori_sim::org::MIN_USERS,
            args.users
        ))
        .into());
    }
    if args.days < mamori_sim::MIN_DAYS {
        return Err(BadInput(format!(
            "--days must be at least {}, got {}",
            mamori_sim::MIN_DAYS,
            args.days
        ))
        .into());
    }
    Ok(())
}

/// What is at the data directory's path.
enum State {
    /// Nothing, or an empty directory.
    Absent,
    /// A demo that finished preparing.
    Ready(Marker),
    /// A demo whose preparation stopped before the end.
    Interrupted,
    /// Something else: never touched.
    Foreign,
}

fn state_of(dir: &Path) -> anyhow::Result<State> {
    if !dir.exists() {
        return Ok(State::Absent);
    }
    if !dir.is_dir() {
        return Ok(State::Foreign);
    }
    let mut entries =
        std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    if entries.next().is_none() {
        return Ok(State::Absent);
    }
    let partial = dir.join(format!("{MARKER}.partial"));
    if !dir.join(MARKER).exists() && !partial.exists() {
        return Ok(State::Foreign);
    }
    Ok(match Marker::read(dir) {
        Some(marker) if marker.complete => State::Ready(marker),
        _ => State::Interrupted,
    })
}

/// Initialises, simulates, imports, runs the rules and the analysis, and writes the privacy
/// declarations; the marker is marked complete only at the very end.
fn prepare(dir: &Path, args: &DemoArgs, json: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let start = first_day(args.days)?;
    eprintln!(
        "demo: preparing {} ({}, dense profile, from {start})",
        dir.display(),
        describe(args.users, args.days, args.seed)
    );
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut marker = Marker {
        users: args.users,
        days: args.days,
        seed: args.seed,
        start: start.to_string(),
        complete: false,
    };
    marker.write(dir)?;

    let step = Instant::now();
    let mut data = DataDir::init(dir, &random_origin()?)?;
    eprintln!("demo: initialised the data directory ({})", seconds(step));

    let step = Instant::now();
    let simulation = dir.join(SIMULATION_DIR);
    let config = mamori_sim::Config {
        format: mamori_sim::Format::Ndjson,
        profile: mamori_sim::Profile::Dense,
        seed: args.seed,
        users: args.users,
        days: args.days,
        start,
        content_words: 0,
    };
    let summary = match mamori_sim::simulate(&config, &simulation) {
        Ok(summary) => summary,
        Err(mamori_sim::SimError::Config(message)) => return Err(BadInput(message).into()),
        Err(error) => return Err(error.into()),
    };
    let insiders: usize = summary.insiders.values().sum();
    eprintln!(
        "demo: simulated {} people, {insiders} of them insiders, {} events ({})",
        summary.people,
        summary.rows,
        seconds(step)
    );

    let step = Instant::now();
    let (outcome, rejected) = crate::import::store_hr(&mut data, &simulation.join("hr.csv"))?;
    if !rejected.is_empty() {
        eprintln!("demo: warning: {} HR rows not imported", rejected.len());
    }
    eprintln!(
        "demo: imported HR: {} person versions ({})",
        outcome.added + outcome.unchanged + outcome.replaced,
        seconds(step)
    );

    let step = Instant::now();
    let events = simulation.join("events.ndjson");
    let source = crate::import::open_ndjson(&events)?;
    let imported = crate::import::import_with_progress(&mut data, source)?;
    if imported.quarantined > 0 {
        eprintln!(
            "demo: warning: {} events quarantined ({})",
            imported.quarantined,
            imported
                .quarantine_file
                .as_ref()
                .map_or_else(String::new, |f| f.display().to_string())
        );
    }
    drop(data);
    // The events now live in the store; the file is as large again and no longer needed.
    std::fs::remove_file(&events).with_context(|| format!("removing {}", events.display()))?;
    eprintln!(
        "demo: imported {} events; ledger size {} ({})",
        imported.imported,
        imported.tree_size,
        seconds(step)
    );

    let step = Instant::now();
    let rules = write_rules(dir)?;
    let rules_arg = rules.clone().into_os_string();
    let rules_args: crate::rules::RulesArgs = parse_args("rules", &["run".into(), rules_arg])?;
    crate::rules::run(dir, rules_args, json)?;
    eprintln!(
        "demo: ran the insider rule pack ({} files) and stored its findings ({})",
        INSIDER_RULES.len(),
        seconds(step)
    );

    let step = Instant::now();
    let analyze_args: crate::analyze::AnalyzeArgs = parse_args("analyze", &[])?;
    crate::analyze::run(dir, &analyze_args, json)?;
    eprintln!("demo: analysed the history ({})", seconds(step));

    write_privacy(dir)?;
    marker.complete = true;
    marker.write(dir)?;
    eprintln!("demo: prepared in {}", seconds(started));
    Ok(())
}

/// The Monday on or before the day that leaves `days` days before today: the simulated
/// history ends in the past week. Recent dates matter: the server applies the retention
/// periods of `privacy.toml` (180 and 365 days) when it starts, and would erase the bodies of
/// events simulated years ago.
fn first_day(days: u32) -> anyhow::Result<jiff::civil::Date> {
    let today = jiff::tz::Offset::UTC
        .to_datetime(jiff::Timestamp::now())
        .date();
    let day = today
        .checked_sub(jiff::Span::new().days(i64::from(days)))
        .map_err(|e| BadInput(format!("--days {days}: {e}")))?;
    let back = i64::from(day.weekday().to_monday_zero_offset());
    Ok(day.checked_sub(jiff::Span::new().days(back))?)
}

/// A fresh origin line for the events log, as `mamori init` makes one.
fn random_origin() -> anyhow::Result<String> {
    let mut id = [0u8; 6];
    getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("random: {e}"))?;
    Ok(format!("mamori.invalid/demo-{}/events", hex::encode(id)))
}

/// Writes the embedded rule pack into the data directory; its path.
fn write_rules(dir: &Path) -> anyhow::Result<PathBuf> {
    let rules = dir.join(RULES_DIR);
    std::fs::create_dir_all(&rules).with_context(|| format!("creating {}", rules.display()))?;
    for (name, text) in INSIDER_RULES {
        let path = rules.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(rules)
}

/// Writes `privacy.toml` and reads it back as the server will, so a declaration the server
/// would refuse stops the preparation rather than the first start.
fn write_privacy(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join("privacy.toml");
    std::fs::write(&path, PRIVACY_TOML).with_context(|| format!("writing {}", path.display()))?;
    let privacy = mamori_privacy::Privacy::load(&path)
        .map_err(crate::privacy_error)?
        .ok_or_else(|| anyhow::anyhow!("{}: not written", path.display()))?;
    if !privacy.approvals.dual_control {
        anyhow::bail!(
            "the embedded privacy declarations turn dual control off; the demo needs it on"
        );
    }
    Ok(())
}

/// Parses `args` as the command line of the command `name` would be parsed, so each step
/// runs with exactly the defaults that command documents (`--utc-offset`, `--working-hours`,
/// the risk configuration) and no second copy of them can drift.
fn parse_args<T: clap::Args + clap::FromArgMatches>(
    name: &'static str,
    args: &[OsString],
) -> anyhow::Result<T> {
    let command = T::augment_args(clap::Command::new(name).no_binary_name(true));
    let matches = command
        .try_get_matches_from(args)
        .with_context(|| format!("demo: the arguments of `{name}`"))?;
    Ok(T::from_arg_matches(&matches)?)
}

/// A demo user and their new password.
struct Login {
    name: String,
    role: Role,
    password: String,
}

/// Makes sure each role has its user, gives each a new random password that needs no change
/// at first sign-in (they are demo accounts), and ends their sessions: whoever signed in with
/// an earlier run's password is signed out. Only the passwords' hashes are stored.
fn reset_logins(dir: &Path) -> anyhow::Result<Vec<Login>> {
    let mut data = DataDir::open(dir)?;
    let now = now_us();
    let mut logins = Vec::with_capacity(ROLES.len());
    for role in ROLES {
        let name = role.as_str();
        let existing = data.store().user(name)?;
        let role = match existing {
            Some(user) => user.role,
            None => {
                data.store_mut().add_user(name, role, now)?;
                let target = format!("{name} ({})", role.as_str());
                data.record_access(ACTOR, "users.add", &target, now)?;
                role
            }
        };
        let password = new_password()?;
        data.store_mut().set_password(name, &password)?;
        let ended = data.store_mut().end_sessions_of(name, None)?;
        data.record_access(
            ACTOR,
            "users.password",
            &format!("{name}: new demo password, {ended} sessions ended"),
            now,
        )?;
        logins.push(Login {
            name: name.to_string(),
            role,
            password,
        });
    }
    Ok(logins)
}

/// [`PASSWORD_CHARS`] characters drawn uniformly from [`PASSWORD_ALPHABET`] (bytes that would
/// bias the draw are skipped).
fn new_password() -> anyhow::Result<String> {
    let size = PASSWORD_ALPHABET.len();
    let limit = 256 - 256 % size;
    let mut password = String::with_capacity(PASSWORD_CHARS);
    let mut bytes = [0u8; 64];
    while password.len() < PASSWORD_CHARS {
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random: {e}"))?;
        for &byte in &bytes {
            if usize::from(byte) < limit && password.len() < PASSWORD_CHARS {
                password.push(char::from(PASSWORD_ALPHABET[usize::from(byte) % size]));
            }
        }
    }
    Ok(password)
}

/// The console's address as the user types it (the port chosen by the system when it is 0
/// is printed by the server itself).
fn console_url(listen: SocketAddr) -> String {
    format!("http://{listen}/")
}

fn print_logins(dir: &Path, args: &DemoArgs, logins: &[Login], json: bool) -> anyhow::Result<()> {
    if json {
        let users: Vec<_> = logins
            .iter()
            .map(|l| serde_json::json!({"name": l.name, "role": l.role, "password": l.password}))
            .collect();
        let summary = serde_json::json!({
            "data_dir": dir,
            "users": args.users, "days": args.days, "seed": args.seed,
            "url": console_url(args.listen),
            "serving": !args.no_serve,
            "logins": users,
        });
        println!("{summary}");
        return Ok(());
    }
    println!();
    println!(
        "Mamori demo: {} ({})",
        dir.display(),
        describe(args.users, args.days, args.seed)
    );
    println!();
    println!("  {:<14} {:<14} password", "name", "role");
    for login in logins {
        println!(
            "  {:<14} {:<14} {}",
            login.name,
            login.role.as_str(),
            login.password
        );
    }
    println!();
    println!("New passwords on every run of `mamori demo`; the earlier ones stop working.");
    println!("Revealing a person takes an investigator's request and the approver's grant.");
    if args.no_serve {
        println!(
            "console: {} once served (`mamori demo` without --no-serve)",
            console_url(args.listen)
        );
    } else if args.listen.port() == 0 {
        println!("console: at the address of the serving line below, path /");
    } else {
        println!("console: {}", console_url(args.listen));
    }
    Ok(())
}

fn seconds(since: Instant) -> String {
    format!("{:.1} s", since.elapsed().as_secs_f64())
}
