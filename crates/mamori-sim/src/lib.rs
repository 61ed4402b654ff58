//! # mamori-sim
//!
//! Mamori's **organisation simulator**: a synthetic company whose activity imitates the CMU
//! SEI CERT Insider Threat Test Dataset r4.2, with malicious insiders planted in it and the
//! ground truth written beside the data. Demos, tests and benchmarks run on it; nothing has to
//! be downloaded.
//!
//! ## Brief overview
//!
//! - [`org::Organisation`]: units, people (roles, supervisors, employment types, PCs, mail
//!   addresses, contacts, personality scores) and their [`habits::Habits`].
//! - [`scenario::Plan`]: decided once before the first day — joiners, benign leavers,
//!   layoffs, careless people, the malicious [`scenario::Incident`]s of five families
//!   (CERT r4.2 scenarios 1–3, r6.2 scenarios 4–5) with variants that defeat shortcuts, and
//!   leavers whose account is used after their last day ([`scenario::AfterExit`]).
//! - [`activity`]: a day of ordinary work for each person; [`scenario::scripted_day`] adds
//!   the incidents' rows. Each row is a [`record::Record`] with a CERT-style id.
//! - [`inventory::Directory`]: drawn after the plan — the directory's accounts as of the last
//!   day, with seeded hygiene problems (leavers' accounts left enabled, admins without MFA,
//!   dormant, orphan and shared desk accounts).
//! - [`write`]: the day's rows, sorted by time, go to a [`write::Sink`] — the CERT r4.2 files
//!   ([`write::cert`]) or Mamori events plus an HR file ([`write::ndjson`]) — tagged rows
//!   to the answer key ([`write::answers`]), and logons to the account inventory
//!   ([`write::accounts`], `accounts.csv` in both formats).
//!
//! Every random choice comes from a generator derived from the seed and the place it is used
//! (see [`rng`]), so a seed gives the same people, rows and ids in both formats, and output
//! is byte-identical from run to run. Rows are generated and written one day at a time:
//! memory does not grow with the number of days.
//!
//! It knows nothing of storage, ledgers, detection or HTTP; it depends on `mamori-event` only
//! for the HR and account inventory CSVs' column names (and `mamori-content` for content
//! features).
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let config = mamori_sim::Config { users: 40, days: 10, ..mamori_sim::Config::default() };
//! let summary = mamori_sim::simulate(&config, dir.path())?;
//! assert_eq!(summary.people, 40);
//! assert!(dir.path().join("logon.csv").exists());
//! assert!(dir.path().join("answers/insiders.csv").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod activity;
pub mod calendar;
mod error;
pub mod habits;
pub mod inventory;
pub mod org;
pub mod record;
pub mod rng;
pub mod scenario;
pub mod vocab;
pub mod write;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use jiff::civil::Date;

pub use error::SimError;

use crate::activity::{Day, person_day};
use crate::calendar::DayStamp;
use crate::inventory::Directory;
use crate::org::Organisation;
use crate::record::Record;
use crate::rng::{Stream, derive};
use crate::scenario::{Family, Leaving, Plan};
use crate::write::{FileStats, Sink};

/// How many insiders to plant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// About 5 % of staff (CERT r4.2 is a "dense needles" data set).
    #[default]
    Dense,
    /// About 0.4 % of staff, at least one of each family from 200 people on.
    Realistic,
}

impl std::str::FromStr for Profile {
    type Err = SimError;
    fn from_str(text: &str) -> Result<Self, SimError> {
        match text {
            "dense" => Ok(Profile::Dense),
            "realistic" => Ok(Profile::Realistic),
            other => Err(SimError::Config(format!(
                "unknown profile {other:?}, expected dense or realistic"
            ))),
        }
    }
}

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The CERT r4.2 files.
    #[default]
    Cert,
    /// Mamori events (`events.ndjson`) and `hr.csv`.
    Ndjson,
}

impl std::str::FromStr for Format {
    type Err = SimError;
    fn from_str(text: &str) -> Result<Self, SimError> {
        match text {
            "cert" => Ok(Format::Cert),
            "ndjson" => Ok(Format::Ndjson),
            other => Err(SimError::Config(format!(
                "unknown format {other:?}, expected cert or ndjson"
            ))),
        }
    }
}

/// A simulation's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub format: Format,
    pub profile: Profile,
    pub seed: u64,
    /// Number of people (including those who join during the period).
    pub users: u32,
    pub days: u32,
    pub start: Date,
    /// Web pages and mail bodies shorter than this many words get general words appended
    /// (CERT r4.2's pages have about 60; generated ones 8–30). 0 keeps the generated
    /// lengths. Drawn from a stream of their own: everything else stays as without it.
    pub content_words: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            format: Format::Cert,
            profile: Profile::Dense,
            seed: 1,
            users: 1000,
            days: 180,
            start: jiff::civil::date(2010, 1, 4),
            content_words: 0,
        }
    }
}

/// Fewest days a simulation covers.
pub const MIN_DAYS: u32 = 7;

/// What a simulation produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub people: usize,
    /// Insiders per family name.
    pub insiders: BTreeMap<&'static str, usize>,
    pub joiners: usize,
    pub benign_leavers: usize,
    pub laid_off: usize,
    pub careless: usize,
    /// Leavers whose account is used after their last day (`answers/hygiene.csv`).
    pub after_exit: usize,
    /// Rows of `accounts.csv` (the directory's accounts on the last day).
    pub accounts: usize,
    /// Seeded inventory cases per `mamori hygiene` check (`answers/hygiene.csv`); a desk
    /// account counts under `generic_account_name` and `shared_account`.
    pub inventory_cases: BTreeMap<&'static str, usize>,
    pub files: Vec<FileStats>,
    /// Activity rows (all data files, not LDAP, HR or answers).
    pub rows: u64,
    pub bytes: u64,
    pub seconds: f64,
}

/// Runs a simulation and writes it into `out` (created if missing).
pub fn simulate(config: &Config, out: &Path) -> Result<Summary, SimError> {
    let started = Instant::now();
    if config.days < MIN_DAYS {
        return Err(SimError::Config(format!(
            "--days must be at least {MIN_DAYS}, got {}",
            config.days
        )));
    }
    let last_day = config
        .start
        .checked_add(jiff::Span::new().days(i64::from(config.days) - 1))
        .map_err(|e| SimError::Config(format!("--start/--days: {e}")))?;
    std::fs::create_dir_all(out).map_err(SimError::io(out))?;
    let mut org = Organisation::build(
        &mut derive(config.seed, Stream::Organisation, 0, 0),
        config.users,
        config.start,
        last_day,
    )?;
    let plan = Plan::draw(
        &mut derive(config.seed, Stream::Plan, 0, 0),
        &mut org,
        config.profile,
        config.days,
    )?;
    // After the plan and from a stream of its own: the rest of the output stays as it was.
    let directory = Directory::draw(config.seed, &mut org, &plan);
    let mut sink: Box<dyn Sink> = match config.format {
        Format::Cert => Box::new(write::cert::CertSink::create(out, &org)?),
        Format::Ndjson => Box::new(write::ndjson::NdjsonSink::create(out, &org, config.seed)?),
    };
    let mut answers = write::answers::Answers::new(&plan, &org);
    let mut inventory = write::accounts::Inventory::new(&org);
    // Generation and writing overlap: one thread makes the days, this one writes them.
    let (sender, receiver) = std::sync::mpsc::sync_channel::<(Date, Vec<Record>)>(2);
    std::thread::scope(|scope| -> Result<(), SimError> {
        let (org, plan) = (&org, &plan);
        scope.spawn(move || {
            let mut date = config.start;
            for index in 0..config.days {
                let mut records = generate_day(&Day::new(org, plan, config.seed, index, date));
                if config.content_words > 0 {
                    let mut filler = derive(config.seed, Stream::Filler, u64::from(index), 0);
                    for record in &mut records {
                        record.pad_content(&mut filler, config.content_words as usize);
                    }
                }
                if sender.send((date, records)).is_err() {
                    return; // the writer stopped on an error
                }
                date = date.tomorrow().unwrap_or(date);
            }
        });
        for (date, records) in receiver {
            let stamp = DayStamp::new(date);
            sink.write_day(org, &stamp, &records)?;
            answers.observe(org, &stamp, &records)?;
            inventory.observe(date, &records);
        }
        Ok(())
    })?;
    let mut files = sink.finish()?;
    let rows = files
        .iter()
        .filter(|f| is_activity_file(&f.file))
        .map(|f| f.rows)
        .sum();
    let accounts = inventory.write(out, &org, &directory, config.format, config.seed)?;
    let account_rows = accounts.rows as usize;
    files.push(accounts);
    files.extend(answers.write(out, &org, &plan, &directory)?);
    let bytes = files.iter().map(|f| f.bytes).sum();
    let count = |leaving: Leaving| {
        org.people
            .iter()
            .filter(|p| plan.person(p.index).leaving == Some(leaving))
            .count()
    };
    Ok(Summary {
        people: org.people.len(),
        insiders: Family::ALL
            .iter()
            .map(|f| (f.name(), plan.count(*f)))
            .collect(),
        joiners: org
            .people
            .iter()
            .filter(|p| plan.person(p.index).joiner)
            .count(),
        benign_leavers: count(Leaving::Benign),
        laid_off: count(Leaving::LaidOff),
        careless: org
            .people
            .iter()
            .filter(|p| !plan.person(p.index).careless_days.is_empty())
            .count(),
        after_exit: plan.after_exit.len(),
        accounts: account_rows,
        inventory_cases: directory.cases(&org),
        files,
        rows,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// All rows of one day, sorted by time.
pub fn generate_day(day: &Day) -> Vec<Record> {
    let mut records = Vec::new();
    for person in &day.org.people {
        person_day(day, person, &mut records);
    }
    scenario::scripted_day(day, &mut records);
    // Stable: rows of the same second keep their (deterministic) generation order.
    records.sort_by_key(|record| record.second);
    records
}

fn is_activity_file(name: &str) -> bool {
    matches!(
        name,
        "logon.csv" | "device.csv" | "file.csv" | "http.csv" | "email.csv" | "events.ndjson"
    )
}
