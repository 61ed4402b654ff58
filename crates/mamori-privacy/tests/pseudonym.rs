//! Pseudonyms as a specification: what must never be visible, what must stay, and that a
//! granted reveal finds the person again.
//!
//! The throughput figures: `cargo test -p mamori-privacy --release --test pseudonym --
//! --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;
use std::hint::black_box;
use std::time::Instant;

use mamori_event::PersonRecord;
use mamori_privacy::PrivacyError;
use mamori_privacy::pseudonym::{Directory, PseudonymKey, Pseudonymiser};
use proptest::prelude::*;
use serde_json::{Value, json};

fn key(byte: u8) -> PseudonymKey {
    PseudonymKey::from_bytes([byte; 32])
}

fn day() -> jiff::civil::Date {
    jiff::civil::date(2024, 4, 1)
}

/// 田中 太郎, as HR writes him: Japanese name, romanised e-mail, a domain account.
fn tanaka() -> PersonRecord {
    let mut record = PersonRecord::new("E1001", day(), "田中 太郎");
    record.email = Some("taro.tanaka@example.co.jp".into());
    record.accounts = vec!["DTAA/TNK0001".into()];
    record
}

/// A CERT-style person: Latin name, account `ACM2278`.
fn beck() -> PersonRecord {
    let mut record = PersonRecord::new("ACM2278", day(), "Mona Beck");
    record.email = Some("Mona.Beck@dtaa.com".into());
    record.accounts = vec!["DTAA/ACM2278".into()];
    record
}

fn pseudonymiser(records: &[PersonRecord]) -> Pseudonymiser {
    Pseudonymiser::new(&key(1), &Directory::new(records).unwrap())
}

fn assert_absent(text: &str, identifiers: &[&str]) {
    let lower = text.to_lowercase();
    for identifier in identifiers {
        assert!(
            !lower.contains(&identifier.to_lowercase()),
            "{identifier:?} still in {text}"
        );
    }
}

#[test]
fn same_key_same_pseudonym_other_key_other_pseudonym() {
    let directory = Directory::new(&[tanaka()]).unwrap();
    let first = Pseudonymiser::new(&key(1), &directory);
    let again = Pseudonymiser::new(&key(1), &directory);
    let other = Pseudonymiser::new(&key(2), &directory);
    assert_eq!(first.person("E1001"), again.person("E1001"));
    assert_eq!(first.account("tanaka.t"), again.account("tanaka.t"));
    assert_eq!(first.text("PC-TANAKA"), again.text("PC-TANAKA"));
    assert_ne!(first.person("E1001"), other.person("E1001"));
    assert_ne!(first.host("PC-TANAKA"), other.host("PC-TANAKA"));
    assert_ne!(first.text("PC-TANAKA"), other.text("PC-TANAKA"));
}

#[test]
fn a_host_named_after_a_person_loses_the_name() {
    let japanese = pseudonymiser(&[tanaka()]);
    let out = japanese.text("PC-TANAKA");
    assert!(out.starts_with("PC-N-"), "{out}");
    assert_absent(&out, &["tanaka"]);

    let latin = pseudonymiser(&[PersonRecord::new("E1002", day(), "Taro Tanaka")]);
    let out = latin.text("PC-TANAKA");
    assert_absent(&out, &["tanaka"]);
    // The same name part, whatever the case, is the same pseudonym.
    assert_eq!(
        latin.text("pc-tanaka").as_ref(),
        out.replace("PC-", "pc-").as_str()
    );
}

#[test]
fn home_directories_of_unknown_users_become_accounts() {
    let p = pseudonymiser(&[]);
    for (path, user) in [
        (r"C:\Users\yamada\Desktop\a.docx", "yamada"),
        (r"d:\users\Yamada\x", "yamada"),
        ("C:/Users/yamada/Documents", "yamada"),
        ("/home/yamada/.ssh/id_rsa", "yamada"),
        ("/Users/yamada/Downloads/b.pdf", "yamada"),
        (r"\\fs01\users\yamada\share", "yamada"),
        (r"C:\Users\Hanako Yamada\Desktop", "Hanako Yamada"),
        ("ls /home/yamada", "yamada"),
    ] {
        let out = p.text(path);
        assert_absent(&out, &[user]);
        assert!(out.contains(&p.account(user)), "{path} → {out}");
    }
    assert_eq!(p.text(r"C:\Users\Public\a.txt"), r"C:\Users\Public\a.txt");
    assert_eq!(
        p.text("ls /home/yamada && echo done"),
        format!("ls /home/{} && echo done", p.account("yamada"))
    );
}

#[test]
fn the_home_directory_is_the_actors_account() {
    let p = pseudonymiser(&[beck()]);
    let out = p.text(r"C:\Users\ACM2278\Desktop\plan.docx");
    assert_eq!(
        out,
        format!(r"C:\Users\{}\Desktop\plan.docx", p.account("DTAA/ACM2278"))
    );
}

#[test]
fn e_mail_addresses_in_subjects_keep_their_domain() {
    let p = pseudonymiser(&[]);
    let out = p.text("Fwd: from suzuki.ichiro@partner.example.com and k-sato@gmail.com");
    assert_absent(&out, &["suzuki", "ichiro", "k-sato"]);
    assert!(out.contains("@partner.example.com"), "{out}");
    assert!(
        out.contains("@gmail.com and") || out.ends_with("@gmail.com"),
        "{out}"
    );
    assert_eq!(
        p.email("Suzuki.Ichiro@partner.example.com"),
        p.text("suzuki.ichiro@partner.example.com")
    );
    let display = p.email("\"Ichiro Suzuki\" <suzuki.ichiro@partner.example.com>");
    assert_absent(&display, &["suzuki", "ichiro"]);
    assert!(display.ends_with("@partner.example.com>"), "{display}");
}

#[test]
fn a_japanese_name_inside_a_file_name() {
    let p = pseudonymiser(&[tanaka()]);
    let out = p.text("見積_田中様.xlsx");
    assert_absent(&out, &["田中"]);
    assert!(
        out.starts_with("見積_N-") && out.ends_with("様.xlsx"),
        "{out}"
    );
    let full = p.text("田中太郎の評価.pdf");
    assert_absent(&full, &["田中", "太郎"]);
}

#[test]
fn accounts_are_case_folded() {
    let p = pseudonymiser(&[beck()]);
    assert_eq!(p.account("ACM2278"), p.account("acm2278"));
    assert_eq!(p.account("DTAA/ACM2278"), p.account("acm2278"));
    let upper = p.text("ACM2278_report.docx");
    let lower = p.text("acm2278_report.docx");
    assert_eq!(upper, lower);
    assert_eq!(upper, format!("{}_report.docx", p.account("acm2278")));
}

#[test]
fn short_and_unknown_text_is_borrowed() {
    let p = pseudonymiser(&[tanaka(), beck()]);
    for text in [
        "C:/design/a.dwg",
        "見積書.pdf",
        "",
        "https://news.example.com/",
    ] {
        assert!(matches!(p.text(text), Cow::Borrowed(_)), "{text}");
    }
}

#[test]
fn shared_surnames_are_pseudonymised_but_not_revealed() {
    let mut hanako = PersonRecord::new("E2001", day(), "田中 花子");
    hanako.accounts = vec!["tanaka.h".into()];
    let p = pseudonymiser(&[tanaka(), hanako]);
    let out = p.text("田中さんへ");
    assert_absent(&out, &["田中"]);
    let surname = out.trim_end_matches("さんへ");
    assert!(surname.starts_with("N-"), "{out}");
    assert_eq!(p.reveal(surname), None);
    // 花子 is hers alone.
    let given = p.text("花子");
    assert_eq!(p.reveal(&given), Some("E2001"));
}

#[test]
fn reveal_finds_the_person_behind_a_pseudonym() {
    let p = pseudonymiser(&[tanaka(), beck()]);
    assert_eq!(p.reveal(&p.person("E1001")), Some("E1001"));
    assert_eq!(p.reveal(&p.person("acm2278")), Some("ACM2278"));
    assert_eq!(p.reveal(&p.account("dtaa/tnk0001")), Some("E1001"));
    assert_eq!(p.reveal(&p.account("ACM2278")), Some("ACM2278"));
    assert_eq!(p.reveal(&p.email("mona.beck@dtaa.com")), Some("ACM2278"));
    assert_eq!(p.reveal(&p.email("MONA.BECK@DTAA.COM")), Some("ACM2278"));
    // Same local part at another organisation: not our person.
    assert_eq!(p.reveal(&p.email("mona.beck@other.example")), None);
    assert_eq!(p.reveal(&p.person("E9999")), None);
    assert_eq!(p.reveal(&p.account("nobody")), None);
    assert_eq!(p.reveal(&p.host("PC-TANAKA")), None);
    assert_eq!(p.reveal(&p.person("E1001").to_lowercase()), Some("E1001"));
    assert_eq!(p.reveal("not a pseudonym"), None);
}

#[test]
fn the_latest_and_earlier_versions_all_count() {
    let mut before = PersonRecord::new("E3001", day(), "佐藤 花子");
    before.accounts = vec!["sato.h".into()];
    let mut after = PersonRecord::new("E3001", jiff::civil::date(2025, 6, 1), "鈴木 花子");
    after.accounts = vec!["suzuki.h".into()];
    let p = pseudonymiser(&[after, before]);
    assert_eq!(p.directory().len(), 1);
    assert_absent(
        &p.text("佐藤さんと鈴木さん sato.h suzuki.h"),
        &["佐藤", "鈴木", "sato", "suzuki"],
    );
    assert_eq!(p.reveal(&p.account("sato.h")), Some("E3001"));
}

/// An `email.send` by Tanaka to Beck and an outsider, with evtx-style `raw` fields.
fn realistic_event() -> Value {
    json!({
        "actor": {
            "host": "PC-TANAKA",
            "ip": "10.1.2.34",
            "process": {
                "name": "OUTLOOK.EXE",
                "path": r"C:\Users\TNK0001\AppData\Local\Microsoft\Office\OUTLOOK.EXE",
                "pid": 4312,
                "sha256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            },
            "session": "0x1f2e3d",
            "user": "DTAA/TNK0001"
        },
        "destination": {
            "domain": "partner-example.co",
            "external": true,
            "kind": "email",
            "recipients": ["Mona.Beck@dtaa.com", "Kenji Ito <k.ito@partner-example.co>"]
        },
        "kind": "email.send",
        "nonce": "AAECAwQFBgcICQoLDA0ODw",
        "object": {
            "extension": "xlsx",
            "labels": ["社外秘"],
            "name": "見積_田中.xlsx",
            "path": r"C:\Users\TNK0001\Documents\見積_田中.xlsx",
            "size": 80211,
            "subject": "Re: 見積書 (田中より) cc taro.tanaka@example.co.jp",
            "type": "application/vnd.ms-excel"
        },
        "outcome": "warned",
        "raw": {
            "Computer": "PC-TANAKA.dtaa.local",
            "EventID": 4663,
            "IpAddress": "10.1.2.34",
            "SubjectUserName": "TNK0001",
            "TargetLogonId": "0x1f2e3d",
            "from": "taro.tanaka@example.co.jp",
            "to": ["mona.beck@dtaa.com"],
            "nested": {"note": "sent for Tanaka-san", "list": ["PC-TANAKA", 3, true]},
            "E1001": "employee number as a key"
        },
        "source": {"name": "ndjson", "ref": "mail/E1001/77"},
        "time": "2026-01-05T09:20:11Z",
        "v": 1
    })
}

#[test]
fn an_event_keeps_no_identifier_of_the_person() {
    let p = pseudonymiser(&[tanaka(), beck()]);
    let mut event = realistic_event();
    p.event(&mut event);
    let serialised = serde_json::to_string(&event).unwrap();
    assert_absent(
        &serialised,
        &[
            "tanaka",
            "田中",
            "太郎",
            "TNK0001",
            "E1001",
            "10.1.2.34",
            "0x1f2e3d",
            "mona",
            "beck",
            "ACM2278",
            "k.ito",
            "Kenji Ito",
        ],
    );
    // What analysis needs is still there.
    assert_eq!(event["kind"], "email.send");
    assert_eq!(event["time"], "2026-01-05T09:20:11Z");
    assert_eq!(event["outcome"], "warned");
    assert_eq!(event["v"], 1);
    assert_eq!(event["nonce"], "AAECAwQFBgcICQoLDA0ODw");
    assert_eq!(event["destination"]["domain"], "partner-example.co");
    assert_eq!(event["destination"]["kind"], "email");
    assert_eq!(event["destination"]["external"], true);
    assert_eq!(event["object"]["extension"], "xlsx");
    assert_eq!(event["object"]["size"], 80211);
    assert_eq!(event["object"]["labels"], json!(["社外秘"]));
    assert_eq!(event["actor"]["process"]["pid"], 4312);
    assert_eq!(event["actor"]["process"]["name"], "OUTLOOK.EXE");
    assert_eq!(event["source"]["name"], "ndjson");
    assert_eq!(event["raw"]["EventID"], 4663);
    assert_eq!(event["raw"]["nested"]["list"][1], 3);
    let recipients = event["destination"]["recipients"].as_array().unwrap();
    assert!(
        recipients[1]
            .as_str()
            .unwrap()
            .ends_with("@partner-example.co>")
    );
    // Identity fields carry their class, and stay linkable.
    assert_eq!(event["actor"]["user"], p.account("DTAA/TNK0001"));
    assert_eq!(event["raw"]["SubjectUserName"], p.account("DTAA/TNK0001"));
    assert_eq!(event["actor"]["host"], p.host("PC-TANAKA"));
    assert_eq!(event["actor"]["ip"], p.ip("10.1.2.34"));
    assert_eq!(event["raw"]["IpAddress"], event["actor"]["ip"]);
    assert_eq!(event["raw"]["TargetLogonId"], event["actor"]["session"]);
    let path = event["object"]["path"].as_str().unwrap();
    assert!(
        path.starts_with(&format!(r"C:\Users\{}\", p.account("TNK0001"))),
        "{path}"
    );
    // The event is still a valid event.
    mamori_event::Event::from_value(event).unwrap();
}

#[test]
fn an_account_event_pseudonymises_the_affected_account() {
    let p = pseudonymiser(&[]);
    let mut event = json!({
        "actor": {"user": "admin01", "host": "DC-01"},
        "kind": "account.create",
        "object": {"name": "tmp-user", "type": "account"},
        "destination": {"name": "Domain Admins"},
        "outcome": "success",
        "time": "2026-01-05T10:00:00Z",
        "v": 1
    });
    p.event(&mut event);
    assert_eq!(event["object"]["name"], p.account("tmp-user"));
    assert_eq!(event["object"]["type"], "account");
    assert_eq!(event["destination"]["name"], "Domain Admins");
}

#[test]
fn key_file_is_created_private_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys").join("pseudonym.key");
    let created = PseudonymKey::load_or_create(&path).unwrap();
    let loaded = PseudonymKey::load_or_create(&path).unwrap();
    let directory = Directory::new(&[]).unwrap();
    assert_eq!(
        Pseudonymiser::new(&created, &directory).person("E1"),
        Pseudonymiser::new(&loaded, &directory).person("E1")
    );
    let contents = std::fs::read_to_string(&path).unwrap();
    assert_eq!(contents.len(), 65);
    assert!(contents.ends_with('\n'));
    assert!(contents[..64].bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(format!("{created:?}"), "PseudonymKey(..)");
}

#[test]
fn a_malformed_key_file_is_an_error_naming_the_path_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    for (name, contents) in [
        ("short.key", "abcd\n"),
        ("not-hex.key", &format!("{}\n", "zz".repeat(32))),
        ("empty.key", ""),
        ("long.key", &format!("{}\n", "ab".repeat(33))),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        let error = PseudonymKey::load_or_create(&path).unwrap_err();
        assert!(matches!(error, PrivacyError::Config(_)), "{error:?}");
        assert!(error.to_string().contains(name), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), contents);
    }
    let path = dir.path().join("crlf.key");
    std::fs::write(&path, format!("{}\r\n", "AB".repeat(32))).unwrap();
    PseudonymKey::load_or_create(&path).unwrap();
}

/// Characters that separate tokens (never ASCII letters).
const SEPARATORS: &[&str] = &[
    " ", "/", "\\", "_", "-", ".", ",", "(", ")", "[", "]", "=", "\u{3000}", "様", "\t", "7",
    "2024", ":", "'", "\"",
];

/// Filler that cannot spell a Latin name.
fn filler() -> impl Strategy<Value = String> {
    "[0-9 ./\\\\_:=あ-んア-ン見積書]{0,12}"
}

/// A Latin name with a letter Crockford base32 lacks (`i`, `l`, `o`, `u`), so it cannot
/// appear inside a pseudonym by chance.
fn latin_name() -> impl Strategy<Value = String> {
    "[a-z]{1,4}[ilou][a-z]{1,4}"
}

/// How a name is written in the text.
fn written(name: &str, style: u8) -> String {
    match style % 4 {
        0 => name.to_owned(),
        1 => name.to_ascii_uppercase(),
        2 => {
            let mut chars = name.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        }
        _ => name
            .chars()
            .map(|c| char::from_u32(u32::from(c.to_ascii_uppercase()) + 0xFEE0).unwrap())
            .collect(),
    }
}

proptest! {
    #[test]
    fn embedded_names_never_survive(
        given in latin_name(),
        family in latin_name(),
        account in "[a-z]{2,5}[ilou][0-9]{0,4}[a-z]",
        pieces in prop::collection::vec(
            (filler(), 0usize..3, 0u8..4, 0..SEPARATORS.len(), 0..SEPARATORS.len()),
            1..5,
        ),
        tail in filler(),
    ) {
        let mut record = PersonRecord::new("E42", day(), format!("{given} {family}"));
        record.accounts = vec![account.clone()];
        let p = pseudonymiser(&[record]);
        let names = [given, family, account];
        let mut text = String::new();
        for (fill, which, style, before, after) in &pieces {
            text.push_str(fill);
            text.push_str(SEPARATORS[*before]);
            text.push_str(&written(&names[*which], *style));
            text.push_str(SEPARATORS[*after]);
        }
        text.push_str(&tail);

        let out = p.text(&text);
        let folded: String = out
            .chars()
            .map(|c| {
                let c = if ('\u{FF01}'..='\u{FF5E}').contains(&c) {
                    char::from_u32(u32::from(c) - 0xFEE0).unwrap()
                } else {
                    c
                };
                c.to_ascii_lowercase()
            })
            .collect();
        for name in &names {
            prop_assert!(!folded.contains(name.as_str()), "{name:?} in {out:?} (from {text:?})");
        }
        prop_assert_eq!(p.text(&text), out);
    }

    #[test]
    fn any_text_is_handled_and_deterministic(text in "\\PC{0,80}") {
        let p = pseudonymiser(&[tanaka(), beck()]);
        let first = p.text(&text);
        prop_assert_eq!(first, p.text(&text));
    }
}

/// 10,000 CERT-like persons with a Japanese or Latin name, two accounts and an e-mail.
fn organisation(persons: usize) -> Vec<PersonRecord> {
    const FAMILY: &[&str] = &[
        "田中", "佐藤", "鈴木", "高橋", "伊藤", "渡辺", "山本", "中村",
    ];
    const GIVEN: &[&str] = &[
        "太郎", "花子", "一郎", "美咲", "健太", "陽菜", "翔太", "結衣",
    ];
    (0..persons)
        .map(|i| {
            let name = if i % 2 == 0 {
                format!("{} {}", FAMILY[i % 8], GIVEN[i / 8 % 8])
            } else {
                format!("Given{i} Family{}", i / 3)
            };
            let mut record = PersonRecord::new(format!("ACM{i:05}"), day(), name);
            record.accounts = vec![format!("DTAA/ACM{i:05}"), format!("user.{i}")];
            record.email = Some(format!("person.{i}@dtaa.com"));
            record
        })
        .collect()
}

#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn throughput() {
    let records = organisation(10_000);
    let start = Instant::now();
    let directory = Directory::new(&records).unwrap();
    let built = start.elapsed();
    let start = Instant::now();
    let p = Pseudonymiser::new(&key(1), &directory);
    let keyed = start.elapsed();
    println!(
        "directory of {} persons, {} matched identifiers: {built:?}; pseudonymiser: {keyed:?}",
        directory.len(),
        directory.matched_identifiers()
    );

    let texts = [
        (
            "path, no identifier",
            r"C:\design\engine\part-1234\assembly-drawing-v2.dwg",
        ),
        (
            "path, home + name",
            r"C:\Users\ACM00042\Documents\見積_田中様_2026.xlsx",
        ),
        (
            "subject with address",
            "Re: 見積書の件 (person.17@dtaa.com より転送)",
        ),
        (
            "long path, home + name",
            r"C:\Users\ACM00042\AppData\Roaming\Microsoft\Windows\Recent\見積_田中様_2026年度.xlsx.lnk",
        ),
        ("host", "PC-TANAKA"),
    ];
    for (label, text) in texts {
        let rounds = 200_000;
        let start = Instant::now();
        for _ in 0..rounds {
            black_box(p.text(black_box(text)));
        }
        let per = start.elapsed().as_nanos() / rounds;
        println!("text, {label} ({} bytes): {per} ns", text.len());
    }

    let event = realistic_event();
    let rounds = 50_000;
    let start = Instant::now();
    for _ in 0..rounds {
        let mut copy = event.clone();
        p.event(&mut copy);
        black_box(copy);
    }
    let per = start.elapsed().as_nanos() / rounds;
    println!("event (clone + pseudonymise, realistic e-mail event): {per} ns");

    let rounds = 200_000;
    let start = Instant::now();
    for i in 0..rounds {
        black_box(p.account(black_box(if i % 2 == 0 { "ACM00042" } else { "x" })));
    }
    let per = start.elapsed().as_nanos() / rounds;
    println!("account: {per} ns");
}
