//! End-to-end properties of a simulation: determinism, the answer key joins the data, LDAP
//! agrees with the truth, events are valid Mamori events, the HR file has the right header.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mamori_sim::{Config, Format, Profile, simulate};

fn config(format: Format, seed: u64, users: u32, days: u32) -> Config {
    Config {
        format,
        profile: Profile::Dense,
        seed,
        users,
        days,
        ..Config::default()
    }
}

/// One dense simulation per format, shared by the tests of this file.
fn dense(format: Format) -> &'static Path {
    static CERT: OnceLock<tempfile::TempDir> = OnceLock::new();
    static NDJSON: OnceLock<tempfile::TempDir> = OnceLock::new();
    let cell = match format {
        Format::Cert => &CERT,
        Format::Ndjson => &NDJSON,
    };
    cell.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        simulate(&config(format, 42, 210, 40), dir.path()).unwrap();
        dir
    })
    .path()
}

/// Every file under `dir`, relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    files
}

fn truth(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("answers/truth.ndjson"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn the_same_seed_gives_byte_identical_output_and_another_seed_does_not() {
    for format in [Format::Cert, Format::Ndjson] {
        let (a, b, c) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        simulate(&config(format, 7, 60, 14), a.path()).unwrap();
        simulate(&config(format, 7, 60, 14), b.path()).unwrap();
        simulate(&config(format, 8, 60, 14), c.path()).unwrap();
        let (first, second, other) = (tree(a.path()), tree(b.path()), tree(c.path()));
        assert!(first.len() > 5);
        assert_eq!(first, second, "{format:?}: same seed, different output");
        let activity = if format == Format::Cert {
            "logon.csv"
        } else {
            "events.ndjson"
        };
        assert_ne!(
            first[Path::new(activity)],
            other[Path::new(activity)],
            "{format:?}: seed ignored"
        );
    }
}

#[test]
fn both_formats_hold_the_same_rows_under_the_same_ids() {
    let cert = dense(Format::Cert);
    let mut cert_ids = HashSet::new();
    for file in [
        "logon.csv",
        "device.csv",
        "file.csv",
        "http.csv",
        "email.csv",
    ] {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(cert.join(file))
            .unwrap();
        for row in reader.records() {
            assert!(
                cert_ids.insert(row.unwrap()[0].to_string()),
                "duplicate id in {file}"
            );
        }
    }
    let events = std::fs::read_to_string(dense(Format::Ndjson).join("events.ndjson")).unwrap();
    let event_ids: HashSet<String> = events
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["source"]["ref"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(cert_ids.len(), events.lines().count());
    assert_eq!(cert_ids, event_ids);
    assert_eq!(
        std::fs::read(cert.join("answers/insiders.csv")).unwrap(),
        std::fs::read(dense(Format::Ndjson).join("answers/insiders.csv")).unwrap()
    );
}

#[test]
fn every_family_is_present_and_answer_rows_are_the_data_rows_byte_for_byte() {
    let dir = dense(Format::Cert);
    let mut data_lines: HashMap<&str, HashSet<String>> = HashMap::new();
    for kind in ["logon", "device", "file", "http", "email"] {
        let text = std::fs::read_to_string(dir.join(format!("{kind}.csv"))).unwrap();
        data_lines.insert(kind, text.lines().skip(1).map(str::to_string).collect());
    }
    let insiders = std::fs::read_to_string(dir.join("answers/insiders.csv")).unwrap();
    let mut lines = insiders.lines();
    assert_eq!(
        lines.next(),
        Some("dataset,scenario,details,user,start,end")
    );
    let mut families = HashSet::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let [dataset, scenario, details, user, start, end] = fields[..] else {
            panic!("bad insiders row {line}")
        };
        assert_eq!(dataset, "4.2");
        assert_eq!(details, format!("r4.2-{scenario}-{user}.csv"));
        assert_eq!(start.len(), 19, "{start}");
        assert!(
            start[6..10].parse::<u32>().is_ok() && &start[2..3] == "/" && &start[10..11] == " "
        );
        families.insert(scenario.to_string());
        let answer =
            std::fs::read_to_string(dir.join(format!("answers/r4.2-{scenario}/{details}")))
                .unwrap();
        assert!(!answer.is_empty(), "{details} is empty");
        let mut first_time = None;
        let mut last_time = None;
        for row in answer.lines() {
            let (kind, data_row) = row.split_once(',').unwrap();
            assert!(
                data_lines[kind].contains(data_row),
                "{details}: row not in {kind}.csv: {data_row}"
            );
            let time = data_row.split(',').nth(1).unwrap().to_string();
            first_time.get_or_insert(time.clone());
            last_time = Some(time);
        }
        assert_eq!(first_time.as_deref(), Some(start), "{details}");
        assert_eq!(last_time.as_deref(), Some(end), "{details}");
    }
    let expected: HashSet<String> = (1..=5).map(|n| n.to_string()).collect();
    assert_eq!(families, expected);
    // Variants that defeat shortcuts are there too.
    let truth = truth(dir);
    let has = |predicate: &dyn Fn(&serde_json::Value) -> bool| truth.iter().any(predicate);
    assert!(has(&|t| t["malicious"] == true
        && t["variants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "stays")));
    assert!(has(&|t| t["malicious"] == true
        && t["variants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "slow")));
    assert!(has(&|t| t["label"] == "benign_leaver"));
    assert!(has(
        &|t| t["label"] == "careless" && !t["ids"].as_array().unwrap().is_empty()
    ));
    assert!(has(&|t| t["malicious"] == false
        && t["traits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "after_hours_worker")));
    assert!(has(&|t| t["malicious"] == false
        && t["traits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "usb_heavy")));
}

#[test]
fn ldap_snapshots_agree_with_hire_and_termination_dates() {
    let dir = dense(Format::Cert);
    let mut snapshots = BTreeMap::new();
    for entry in std::fs::read_dir(dir.join("LDAP")).unwrap() {
        let path = entry.unwrap().path();
        let month = path.file_stem().unwrap().to_string_lossy().into_owned(); // YYYY-MM
        let mut reader = csv::Reader::from_path(&path).unwrap();
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            [
                "employee_name",
                "user_id",
                "email",
                "role",
                "business_unit",
                "functional_unit",
                "department",
                "team",
                "supervisor"
            ]
        );
        let users: HashSet<String> = reader
            .records()
            .map(|r| r.unwrap()[1].to_string())
            .collect();
        snapshots.insert(month, users);
    }
    assert_eq!(snapshots.len(), 2); // 4 Jan – 12 Feb 2010
    // Taken at the end of each month (the period's last day, 12 Feb, in the last).
    let taken = |month: &str| {
        if month == "2010-01" {
            "2010-01-31"
        } else {
            "2010-02-12"
        }
    };
    let mut leavers = 0;
    for person in truth(dir) {
        let user = person["user"].as_str().unwrap();
        let hired = person["hire_date"].as_str().unwrap();
        let left = person["termination_date"].as_str();
        leavers += usize::from(left.is_some());
        for (month, users) in &snapshots {
            let day = taken(month);
            let expected = hired <= day && left.is_none_or(|last| day <= last);
            assert_eq!(
                users.contains(user),
                expected,
                "{user} in LDAP/{month}.csv (hired {hired}, left {left:?})"
            );
        }
    }
    assert!(leavers > 5);
}

#[test]
fn every_event_line_is_a_valid_mamori_event_from_the_simulator() {
    let dir = dense(Format::Ndjson);
    let text = std::fs::read_to_string(dir.join("events.ndjson")).unwrap();
    let mut kinds = HashSet::new();
    let mut categories_seen = HashSet::new();
    for (number, line) in text.lines().enumerate() {
        let event = mamori_event::Event::from_json(line.as_bytes())
            .unwrap_or_else(|e| panic!("line {}: {e}: {line}", number + 1));
        let source = event.source.as_ref().unwrap();
        assert_eq!(source.name.as_deref(), Some("sim"));
        kinds.insert(event.kind.as_str());
        // Content is kept only as features, never as text (data minimisation).
        assert!(!event.raw.contains_key("content"), "line {}", number + 1);
        if matches!(
            event.kind.as_str(),
            "http.request" | "email.send" | "file.copy"
        ) {
            assert!(
                event.raw["content_hmac"].as_str().unwrap().len() == 64,
                "line {}",
                number + 1
            );
            assert!(
                event.raw["content_words"].as_u64().unwrap() > 0,
                "line {}",
                number + 1
            );
        }
        if let Some(categories) = event.raw.get("content_categories") {
            categories_seen.extend(categories.as_array().unwrap().iter().map(|c| c.to_string()));
        }
    }
    // The planted job hunts and leaks show up as keyword categories.
    assert!(categories_seen.len() >= 3, "{categories_seen:?}");
    for kind in [
        "logon",
        "logoff",
        "device.connect",
        "device.disconnect",
        "file.copy",
        "http.request",
        "http.upload",
        "http.download",
        "email.send",
    ] {
        assert!(kinds.contains(kind), "no {kind} event");
    }
}

#[test]
fn hr_csv_has_the_documented_header_and_a_version_per_notice() {
    let dir = dense(Format::Ndjson);
    let mut reader = csv::Reader::from_path(dir.join("hr.csv")).unwrap();
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        mamori_event::HR_CSV_COLUMNS
    );
    let mut versions: HashMap<String, Vec<csv::StringRecord>> = HashMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        versions.entry(row[0].to_string()).or_default().push(row);
    }
    assert_eq!(versions.len(), 210);
    let with_notice = versions.values().filter(|rows| rows.len() == 2).count();
    assert!(with_notice > 5);
    for rows in versions.values().filter(|rows| rows.len() == 2) {
        assert_eq!(
            &rows[1][1], &rows[1][12],
            "second version starts on the notice date"
        );
        assert!(
            !rows[1][13].is_empty(),
            "termination date given with notice"
        );
        assert!(rows[0][12].is_empty());
    }
}

#[test]
fn realistic_profile_plants_one_of_each_family_in_200_people() {
    let dir = tempfile::tempdir().unwrap();
    let summary = simulate(
        &Config {
            profile: Profile::Realistic,
            users: 200,
            days: 45,
            seed: 3,
            ..Config::default()
        },
        dir.path(),
    )
    .unwrap();
    assert_eq!(
        summary.insiders.values().copied().collect::<Vec<_>>(),
        vec![1; 5],
        "{:?}",
        summary.insiders
    );
}

#[test]
fn a_short_period_never_repeats_a_row() {
    // Windows are squeezed into 7 days, so planned days fold onto each other.
    let dir = tempfile::tempdir().unwrap();
    simulate(&config(Format::Ndjson, 1, 40, 7), dir.path()).unwrap();
    let text = std::fs::read_to_string(dir.path().join("events.ndjson")).unwrap();
    let mut ids = HashSet::new();
    for line in text.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            ids.insert(event["source"]["ref"].as_str().unwrap().to_string()),
            "repeated: {line}"
        );
    }
}

#[test]
fn padded_content_is_as_long_as_asked_and_changes_nothing_else() {
    let (plain, padded) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let small = config(Format::Cert, 5, 40, 10);
    simulate(&small, plain.path()).unwrap();
    let long = Config {
        content_words: 60,
        ..small
    };
    simulate(&long, padded.path()).unwrap();
    for file in ["logon.csv", "device.csv", "file.csv"] {
        let read = |dir: &Path| std::fs::read(dir.join(file)).unwrap();
        assert!(read(plain.path()) == read(padded.path()), "{file} changed");
    }
    for (file, content) in [("http.csv", 5), ("email.csv", 10)] {
        let rows = |dir: &Path| -> Vec<csv::StringRecord> {
            let mut reader = csv::Reader::from_path(dir.join(file)).unwrap();
            reader.records().map(Result::unwrap).collect()
        };
        let (before, after) = (rows(plain.path()), rows(padded.path()));
        assert!(!before.is_empty());
        assert_eq!(before.len(), after.len(), "{file}");
        for (before, after) in before.iter().zip(&after) {
            // Same row, content extended by general words to 60 words.
            assert_eq!(before.len(), after.len());
            for column in 0..content {
                assert_eq!(before[column], after[column], "{file}");
            }
            assert!(after[content].starts_with(&before[content]), "{file}");
            let words = |row: &csv::StringRecord| row[content].split_ascii_whitespace().count();
            assert_eq!(words(after), words(before).max(60), "{file}");
        }
    }
    // Deterministic like the rest.
    let again = tempfile::tempdir().unwrap();
    simulate(&long, again.path()).unwrap();
    let read = |dir: &Path| std::fs::read(dir.join("http.csv")).unwrap();
    assert!(read(padded.path()) == read(again.path()));
}

/// The leavers whose account is used after the last day: every row of theirs after the last
/// day is in `answers/hygiene/` (and nothing else is), each case has a use after the end of the
/// month too (what monthly LDAP snapshots can show), a borrowed account is used on the
/// colleague's own PC, and the truth marks both people.
#[test]
fn accounts_used_after_the_last_day_are_in_the_hygiene_key() {
    let dir = tempfile::tempdir().unwrap();
    simulate(&config(Format::Cert, 9, 150, 120), dir.path()).unwrap();
    let truth: HashMap<String, serde_json::Value> = truth(dir.path())
        .into_iter()
        .map(|t| (t["user"].as_str().unwrap().to_owned(), t))
        .collect();
    let mut key = csv::Reader::from_path(dir.path().join("answers/hygiene.csv")).unwrap();
    let cases: Vec<csv::StringRecord> = key
        .records()
        .map(Result::unwrap)
        .filter(|case| &case[0] == "account_used_after_termination")
        .collect();
    assert!(cases.len() >= 2, "{cases:?}");
    let variants: HashSet<&str> = cases.iter().map(|c| &c[1]).collect();
    assert_eq!(variants, HashSet::from(["returns", "borrowed"]));

    // `MM/DD/YYYY …` → `YYYY-MM-DD`
    let day = |stamp: &str| format!("{}-{}-{}", &stamp[6..10], &stamp[0..2], &stamp[3..5]);
    // Every row after its user's last day, by user: (id, pc).
    let mut after_last_day: HashMap<String, HashSet<(String, String)>> = HashMap::new();
    for file in [
        "logon.csv",
        "device.csv",
        "file.csv",
        "http.csv",
        "email.csv",
    ] {
        let mut reader = csv::Reader::from_path(dir.path().join(file)).unwrap();
        for row in reader.records() {
            let row = row.unwrap();
            // Desk accounts (`reception`) are nobody's own: they have no last day.
            let Some(last) = truth
                .get(&row[2])
                .and_then(|person| person["termination_date"].as_str())
            else {
                continue;
            };
            if day(&row[1]).as_str() > last {
                after_last_day
                    .entry(row[2].to_owned())
                    .or_default()
                    .insert((row[0].to_owned(), row[3].to_owned()));
            }
        }
    }
    let mut pcs_of: HashMap<String, HashMap<String, usize>> = HashMap::new();
    let mut logons = csv::Reader::from_path(dir.path().join("logon.csv")).unwrap();
    for row in logons.records() {
        let row = row.unwrap();
        *pcs_of
            .entry(row[2].to_owned())
            .or_default()
            .entry(row[3].to_owned())
            .or_default() += 1;
    }
    let own_pc = |user: &str| {
        pcs_of[user]
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(pc, _)| pc.clone())
            .unwrap()
    };

    for case in &cases {
        let (user, by, last) = (&case[2], &case[3], &case[4]);
        let text =
            std::fs::read_to_string(dir.path().join("answers/hygiene").join(&case[8])).unwrap();
        let planted: HashSet<(String, String)> = text
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                assert_eq!(fields[3], user, "{line}");
                assert!(day(fields[2]).as_str() > last, "{line} on or before {last}");
                (fields[1].to_owned(), fields[4].to_owned())
            })
            .collect();
        assert_eq!(planted.len(), case[7].parse::<usize>().unwrap());
        assert_eq!(
            after_last_day.remove(user).unwrap_or_default(),
            planted,
            "{user}: the rows after the last day are exactly the planted ones"
        );
        let month_end = last
            .parse::<jiff::civil::Date>()
            .unwrap()
            .last_of_month()
            .to_string();
        assert!(
            day(&case[6]) > month_end,
            "{case:?}: a use after {month_end}"
        );
        let used_on: HashSet<&String> = planted.iter().map(|(_, pc)| pc).collect();
        if by.is_empty() {
            assert_eq!(used_on, HashSet::from([&own_pc(user)]), "{case:?}");
        } else {
            assert_eq!(used_on, HashSet::from([&own_pc(by)]), "{case:?}");
            let traits = truth[by]["traits"].as_array().unwrap();
            assert!(traits.iter().any(|t| t == "uses_a_leavers_account"));
        }
        let traits = truth[user]["traits"].as_array().unwrap();
        assert!(traits.iter().any(|t| t == "account_used_after_exit"));
    }
    assert!(
        after_last_day.is_empty(),
        "no other account is used after its owner left: {after_last_day:?}"
    );
}

/// `MM/DD/YYYY HH:MM:SS` → `YYYY-MM-DDTHH:MM:SS`
fn iso_time(cert: &str) -> String {
    format!(
        "{}-{}-{}T{}",
        &cert[6..10],
        &cert[0..2],
        &cert[3..5],
        &cert[11..]
    )
}

/// The latest logon per account in the data: from `logon.csv`, or the `logon` events.
fn last_logons(dir: &Path, format: Format) -> HashMap<String, String> {
    let mut last: HashMap<String, String> = HashMap::new();
    let mut note = |user: &str, time: String| {
        let entry = last.entry(user.to_owned()).or_default();
        if time > *entry {
            *entry = time;
        }
    };
    match format {
        Format::Cert => {
            let mut reader = csv::Reader::from_path(dir.join("logon.csv")).unwrap();
            for row in reader.records() {
                let row = row.unwrap();
                if &row[4] == "Logon" {
                    note(&row[2], iso_time(&row[1]));
                }
            }
        }
        Format::Ndjson => {
            let text = std::fs::read_to_string(dir.join("events.ndjson")).unwrap();
            for line in text.lines() {
                let event: serde_json::Value = serde_json::from_str(line).unwrap();
                if event["kind"] == "logon" {
                    let time = event["time"].as_str().unwrap();
                    let local = time.strip_suffix("+00:00").unwrap();
                    note(event["actor"]["user"].as_str().unwrap(), local.to_owned());
                }
            }
        }
    }
    last
}

/// `accounts.csv` describes the directory on the last day: one account per person (with the
/// person id of the format's HR data, enabled while employed, the last logon the data shows),
/// the dormant, orphan and desk accounts of the key, and exactly the seeded problems — nothing
/// else that a hygiene check would report.
#[test]
fn the_inventory_has_every_account_the_seeded_cases_and_the_datas_last_logons() {
    for format in [Format::Cert, Format::Ndjson] {
        let dir = tempfile::tempdir().unwrap();
        let summary = simulate(&config(format, 9, 150, 120), dir.path()).unwrap();
        // 120 days from 4 January 2010.
        let (first_day, last_day) = ("2010-01-04", "2010-05-03");
        let threshold = "2010-02-02"; // 90 days before the last day
        let truth: HashMap<String, serde_json::Value> = truth(dir.path())
            .into_iter()
            .map(|t| (t["user"].as_str().unwrap().to_owned(), t))
            .collect();
        let mut reader = csv::Reader::from_path(dir.path().join("accounts.csv")).unwrap();
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            mamori_event::ACCOUNT_CSV_COLUMNS
        );
        let rows: BTreeMap<String, csv::StringRecord> = reader
            .records()
            .map(|row| {
                let row = row.unwrap();
                (row[0].to_owned(), row)
            })
            .collect();
        assert_eq!(
            rows.len(),
            summary.accounts,
            "{format:?}: one row per account"
        );

        // The key's inventory cases, by check.
        let mut key = csv::Reader::from_path(dir.path().join("answers/hygiene.csv")).unwrap();
        let mut cases: BTreeMap<String, Vec<csv::StringRecord>> = BTreeMap::new();
        for case in key.records() {
            let case = case.unwrap();
            cases.entry(case[0].to_owned()).or_default().push(case);
        }
        for check in [
            "leaver_account_enabled",
            "privileged_without_mfa",
            "dormant_account",
            "orphan_account",
            "generic_account_name",
            "shared_account",
        ] {
            let planted = cases.get(check).map_or(0, Vec::len);
            assert!(planted >= 1, "{format:?}: no {check} in the key");
            assert_eq!(planted, summary.inventory_cases[check], "{check}");
        }
        let seeded = |check: &str, account: &str| {
            cases
                .get(check)
                .is_some_and(|list| list.iter().any(|case| &case[2] == account))
        };

        // One row per person, and the extra accounts are the key's.
        let people: HashSet<&String> = truth.keys().collect();
        let extra: HashSet<&String> = rows.keys().filter(|a| !people.contains(a)).collect();
        assert_eq!(rows.len() - extra.len(), truth.len(), "{format:?}");
        let key_extra: HashSet<&String> = ["dormant_account", "orphan_account", "shared_account"]
            .iter()
            .flat_map(|check| cases[*check].iter().map(|case| &case[2]))
            .map(|account| rows.get_key_value(account).unwrap().0)
            .collect();
        assert_eq!(extra, key_extra, "{format:?}");

        let logons = last_logons(dir.path(), format);
        let mut compared = 0;
        for (account, row) in &rows {
            let (person_id, enabled, created, last_logon, mfa, privileged, groups) = (
                &row[2], &row[4], &row[5], &row[6], &row[7], &row[8], &row[9],
            );
            assert_eq!(&row[1], "ad");
            assert_eq!(created.len(), 19, "{row:?}");
            assert!(
                truth.contains_key(account) || *created < *first_day,
                "{row:?}"
            );
            let groups: Vec<&str> = groups.split(';').collect();
            assert_eq!(
                privileged == "true",
                groups.contains(&"Domain Admins"),
                "{row:?}"
            );
            if let Some(person) = truth.get(account) {
                let expected_id = match format {
                    Format::Cert => account.as_str(),
                    Format::Ndjson => person["person_id"].as_str().unwrap(),
                };
                assert_eq!(person_id, expected_id);
                assert_eq!(&row[3], person["name"].as_str().unwrap());
                let hired = person["hire_date"].as_str().unwrap();
                assert!(*created <= *format!("{hired}T23:59:59"), "{row:?}");
                let left = person["termination_date"].as_str();
                let employed = left.is_none_or(|last| last >= last_day);
                assert_eq!(
                    enabled == "true",
                    employed || seeded("leaver_account_enabled", account),
                    "{format:?} {row:?} (left {left:?})"
                );
                assert_eq!(
                    groups.contains(&"Domain Admins"),
                    person["role"] == "ITAdmin",
                    "{row:?}"
                );
                assert!(groups.iter().any(|g| g.starts_with("dept-")), "{row:?}");
                assert!(
                    groups.contains(&format!("role-{}", person["role"].as_str().unwrap()).as_str())
                );
            }
            // The last logon is the data's, wherever the data has one; a person without a
            // logon in the period last signed in before it. (Contractors signed in from
            // laptops no agent watches: no events.)
            match logons.get(account) {
                Some(time) => {
                    assert_eq!(last_logon, time, "{format:?} {account}");
                    compared += 1;
                }
                None if truth.contains_key(account) => {
                    assert!(*last_logon < *first_day, "{row:?}")
                }
                None => {}
            }
            // Nothing but the seeded cases for the inventory checks to find.
            if enabled != "true" {
                continue;
            }
            assert_eq!(
                privileged == "true" && mfa == "false",
                seeded("privileged_without_mfa", account),
                "{format:?} {row:?}"
            );
            let dormant = if last_logon.is_empty() {
                *created < *threshold
            } else {
                *last_logon < *threshold
            };
            assert_eq!(
                dormant,
                seeded("dormant_account", account),
                "{format:?} {row:?}"
            );
            assert_eq!(
                person_id.is_empty(),
                seeded("orphan_account", account),
                "{format:?} {row:?}"
            );
            if let Some(person) = truth.get(account) {
                let left = person["termination_date"].as_str();
                assert_eq!(
                    left.is_some_and(|last| last < last_day),
                    seeded("leaver_account_enabled", account),
                    "{format:?} {row:?}"
                );
            }
        }
        assert!(compared > 100, "{compared}");

        // The seeded values.
        for case in &cases["leaver_account_enabled"] {
            let person = &truth[&case[2]];
            assert_eq!(person["termination_date"], case[4].to_owned());
            // Gone from a monthly snapshot before the last day too (the CERT layout only
            // knows the first month whose snapshot misses the leaver).
            let month_end = case[4]
                .parse::<jiff::civil::Date>()
                .unwrap()
                .tomorrow()
                .unwrap()
                .last_of_month()
                .to_string();
            assert!(*month_end < *last_day, "{case:?}");
        }
        for case in &cases["privileged_without_mfa"] {
            assert_eq!(truth[&case[2]]["role"], "ITAdmin");
        }
        for case in &cases["dormant_account"] {
            let row = &rows[&case[2]];
            assert!(case[2].starts_with("adm-"), "{case:?}");
            // An existing employee's second account, unused during the period.
            let owner = if format == Format::Cert {
                truth[&row[2]].clone()
            } else {
                truth
                    .values()
                    .find(|t| t["person_id"] == row[2])
                    .unwrap()
                    .clone()
            };
            assert_eq!(case[2], format!("adm-{}", owner["user"].as_str().unwrap()));
            assert!(!logons.contains_key(&case[2]), "{case:?}: no events");
        }
        for case in &cases["orphan_account"] {
            assert!(case[2].starts_with("ext-"), "{case:?}");
            assert!(!logons.contains_key(&case[2]), "{case:?}: no events");
        }
        for case in &cases["shared_account"] {
            let account = &case[2];
            assert!(seeded("generic_account_name", account));
            assert!(logons.contains_key(account), "{account}: used in the data");
            let row = &rows[account];
            assert_eq!(&row[7], "false", "desk accounts have no second factor");
            // Owned by a manager; used on the desks' own PCs, each on three days or more.
            let owner = truth
                .values()
                .find(|t| match format {
                    Format::Cert => t["user"] == row[2],
                    Format::Ndjson => t["person_id"] == row[2],
                })
                .unwrap();
            assert_eq!(owner["role"], "Manager");
            let desks: Vec<&str> = case[3].split(';').collect();
            assert!((2..=3).contains(&desks.len()), "{case:?}");
            let text =
                std::fs::read_to_string(dir.path().join("answers/hygiene").join(&case[8])).unwrap();
            let mut days_on: HashMap<String, HashSet<String>> = HashMap::new();
            for line in text.lines() {
                let fields: Vec<&str> = line.split(',').collect();
                assert_eq!(fields[3], account, "{line}");
                if fields[0] == "logon" && fields[5] == "Logon" {
                    days_on
                        .entry(fields[4].to_owned())
                        .or_default()
                        .insert(fields[2][..10].to_owned());
                }
            }
            assert_eq!(text.lines().count(), case[7].parse::<usize>().unwrap());
            assert_eq!(days_on.len(), desks.len(), "{case:?}: {days_on:?}");
            assert!(days_on.values().all(|days| days.len() >= 3), "{days_on:?}");
        }
    }
}
