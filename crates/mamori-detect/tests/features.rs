//! Person-day features against hand-written events: one test per feature group with exact
//! values, day boundaries at a non-UTC offset, the person rule, distinct counts, drain
//! semantics (late events rejected), the memory bound, and the documentation table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::civil::{Date, date};
use jiff::tz::Offset;
use mamori_detect::context::{ContextOptions, Enricher};
use mamori_detect::features::{DayFeatures, FEATURES, Feature, FeatureBuilder, FeatureOptions};
use mamori_event::{Event, PersonRecord};
use serde_json::{Map, Value, json};

/// An event of `kind` by `user` at `time` (UTC), with `extra` members (JSON, each
/// followed by a comma, or empty).
fn ev(time: &str, kind: &str, user: &str, extra: &str) -> Event {
    let line = format!(
        r#"{{"time":"{time}","kind":"{kind}","actor":{{"user":"{user}","host":"PC-1"}},{extra}"outcome":"success"}}"#
    );
    Event::from_json(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// An event whose actor has its own `host`.
fn ev_on(time: &str, kind: &str, user: &str, host: &str) -> Event {
    let line = format!(
        r#"{{"time":"{time}","kind":"{kind}","actor":{{"user":"{user}","host":"{host}"}},"outcome":"success"}}"#
    );
    Event::from_json(line.as_bytes()).unwrap()
}

fn ctx(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn tokyo() -> FeatureBuilder {
    FeatureBuilder::new(FeatureOptions {
        utc_offset: Offset::constant(9),
    })
}

/// The single row of `rows` for `person` on `day`.
fn row<'a>(rows: &'a [DayFeatures], person: &str, day: Date) -> &'a DayFeatures {
    let found: Vec<_> = rows
        .iter()
        .filter(|r| r.person == person && r.day == day)
        .collect();
    assert_eq!(found.len(), 1, "rows for {person} on {day}: {rows:?}");
    found[0]
}

/// Asserts the listed features exactly, and every other count (NaN-free feature) zero.
fn assert_values(row: &DayFeatures, expected: &[(Feature, f64)]) {
    for feature in FEATURES {
        let want = expected
            .iter()
            .find(|(f, _)| f == feature)
            .map(|(_, v)| *v)
            .unwrap_or(match feature {
                Feature::LogonFirstMinute | Feature::LogonLastMinute => f64::NAN,
                _ => 0.0,
            });
        let got = row.get(*feature);
        if want.is_nan() {
            assert!(got.is_nan(), "{}: want NaN, got {got}", feature.name());
        } else {
            assert_eq!(got, want, "{}", feature.name());
        }
    }
}

#[test]
fn logons_in_local_days() {
    let mut b = tokyo();
    let p1 = |extra: Value| {
        let mut c = ctx(json!({"person": "P1", "after_hours": false, "weekend": false}));
        c.extend(ctx(extra));
        c
    };
    // Out of order within the day on purpose.
    // 12:45Z = 21:45 local (1305), after hours, own PC written in another case.
    b.add(
        &ev_on("2024-03-05T12:45:00Z", "logon", "ACM1", "pc-1"),
        &p1(json!({"after_hours": true, "host_is_own": true})),
    );
    // 00:30Z = 09:30 local (570).
    b.add(
        &ev_on("2024-03-05T00:30:00Z", "logon", "ACM1", "PC-1"),
        &p1(json!({"host_is_own": true})),
    );
    // The previous UTC day, 08:10 local (490) on 2024-03-05: someone else's PC.
    b.add(
        &ev_on("2024-03-04T23:10:00Z", "logon", "ACM1", "PC-9"),
        &p1(json!({"host_is_own": false})),
    );
    // 23:59 local (1439), the same other PC again (counted once).
    b.add(
        &ev_on("2024-03-05T14:59:59Z", "logon", "ACM1", "PC-9"),
        &p1(json!({"host_is_own": false, "after_hours": true})),
    );
    // A shared PC (no owner in the context): a host, but not "not own".
    b.add(
        &ev_on("2024-03-05T03:00:00Z", "logon", "ACM1", "PC-SHARED"),
        &p1(json!({})),
    );
    b.add(
        &ev("2024-03-05T01:00:00Z", "logon.failed", "ACM1", ""),
        &p1(json!({})),
    );
    // A logoff counts as an event only.
    b.add(
        &ev("2024-03-05T09:00:00Z", "logoff", "ACM1", ""),
        &p1(json!({})),
    );
    // 15:00Z is midnight local: the next day, minute 0.
    b.add(
        &ev_on("2024-03-05T15:00:00Z", "logon", "ACM1", "PC-1"),
        &p1(json!({"after_hours": true, "host_is_own": true})),
    );
    // Saturday.
    b.add(
        &ev_on("2024-03-09T01:00:00Z", "logon", "ACM1", "PC-1"),
        &p1(json!({"after_hours": true, "weekend": true, "host_is_own": true})),
    );
    let rows = b.finish();
    assert_eq!(rows.len(), 3);
    assert_values(
        row(&rows, "P1", date(2024, 3, 5)),
        &[
            (Feature::Events, 7.0),
            (Feature::Logons, 5.0),
            (Feature::LogonFirstMinute, 490.0),
            (Feature::LogonLastMinute, 1439.0),
            (Feature::LogonsAfterHours, 2.0),
            (Feature::LogonsFailed, 1.0),
            (Feature::LogonHosts, 3.0),
            (Feature::LogonHostsNotOwn, 1.0),
        ],
    );
    assert_values(
        row(&rows, "P1", date(2024, 3, 6)),
        &[
            (Feature::Events, 1.0),
            (Feature::Logons, 1.0),
            (Feature::LogonFirstMinute, 0.0),
            (Feature::LogonLastMinute, 0.0),
            (Feature::LogonsAfterHours, 1.0),
            (Feature::LogonHosts, 1.0),
        ],
    );
    assert_values(
        row(&rows, "P1", date(2024, 3, 9)),
        &[
            (Feature::Events, 1.0),
            (Feature::Logons, 1.0),
            (Feature::LogonFirstMinute, 600.0),
            (Feature::LogonLastMinute, 600.0),
            (Feature::LogonsAfterHours, 1.0),
            (Feature::LogonsWeekend, 1.0),
            (Feature::LogonHosts, 1.0),
        ],
    );
}

#[test]
fn removable_devices() {
    let mut b = tokyo();
    let day = "2024-03-05T02:00:00Z";
    let late = ctx(json!({"after_hours": true}));
    let normal = ctx(json!({"after_hours": false}));
    b.add(
        &ev(
            day,
            "device.connect",
            "A",
            r#""destination":{"kind":"removable"},"#,
        ),
        &late,
    );
    // No destination kind: counted (CERT and most agents only report storage devices).
    b.add(&ev(day, "device.connect", "A", ""), &normal);
    // A printer is not removable media.
    b.add(
        &ev(
            day,
            "device.connect",
            "A",
            r#""destination":{"kind":"printer"},"#,
        ),
        &late,
    );
    b.add(
        &ev(
            day,
            "device.disconnect",
            "A",
            r#""destination":{"kind":"removable"},"#,
        ),
        &late,
    );
    let rows = b.finish();
    assert_values(
        row(&rows, "A", date(2024, 3, 5)),
        &[
            (Feature::Events, 4.0),
            (Feature::DeviceConnects, 2.0),
            (Feature::DeviceConnectsAfterHours, 1.0),
        ],
    );
}

#[test]
fn files() {
    let mut b = tokyo();
    let t = "2024-03-05T02:00:00Z";
    let none = Map::new();
    let adds = [
        (
            "file.copy",
            r#""object":{"path":"C:\\Design\\A.dwg","labels":["社外秘"]},"destination":{"kind":"removable"},"#,
            none.clone(),
        ),
        // The same file, other spelling; label with spaces and capitals.
        (
            "file.copy",
            r#""object":{"path":"c:/design/a.DWG","labels":[" Confidential "]},"destination":{"kind":"removable"},"#,
            none.clone(),
        ),
        (
            "file.move",
            r#""object":{"path":"C:/x/report.zip"},"destination":{"kind":"network_share"},"#,
            none.clone(),
        ),
        (
            "file.write",
            r#""object":{"name":"notes.txt"},"destination":{"kind":"cloud"},"#,
            none.clone(),
        ),
        (
            "file.open",
            r#""object":{"path":"C:/x/b.docx","labels":["SECRET"]},"#,
            ctx(json!({"type_mismatch": true})),
        ),
        // Not a classification label; a type that matches.
        (
            "file.open",
            r#""object":{"path":"C:/x/b.docx","labels":["公開"]},"#,
            ctx(json!({"type_mismatch": false})),
        ),
        // A delete on removable media moves nothing there; still a distinct file.
        (
            "file.delete",
            r#""object":{"path":"E:/old.c"},"destination":{"kind":"removable"},"#,
            none.clone(),
        ),
        // Nothing to identify the file by.
        (
            "file.read",
            r#""object":{"size":10},"destination":{"kind":"removable"},"#,
            none.clone(),
        ),
        // Not a file event.
        (
            "process.start",
            r#""object":{"path":"C:/Tools/7z.exe","labels":["secret"]},"#,
            none.clone(),
        ),
    ];
    for (kind, extra, context) in &adds {
        assert!(b.add(&ev(t, kind, "A", extra), context));
    }
    let rows = b.finish();
    assert_values(
        row(&rows, "A", date(2024, 3, 5)),
        &[
            (Feature::Events, 9.0),
            (Feature::RemovableCopies, 2.0),
            (Feature::CloudOrShareCopies, 2.0),
            (Feature::DistinctFiles, 5.0),
            (Feature::ClassifiedFiles, 2.0),
            (Feature::TypeMismatchedFiles, 1.0),
            (Feature::ArchiveOrSourceFiles, 3.0),
        ],
    );
}

#[test]
fn web() {
    let mut b = tokyo();
    let t = "2024-03-05T02:00:00Z";
    let none = Map::new();
    let adds = [
        (
            "http.request",
            r#""destination":{"kind":"web","domain":"www.LinkedIn.com"},"#,
        ),
        (
            "http.request",
            r#""destination":{"kind":"web","domain":"news.example.com"},"raw":{"content_categories":["hacking","job_search"]},"#,
        ),
        (
            "http.upload",
            r#""destination":{"kind":"cloud","domain":"drive.example.net"},"#,
        ),
        // No destination: the URL's host.
        (
            "http.upload",
            r#""object":{"url":"https://mail.google.com/mail/u/0/"},"#,
        ),
        (
            "http.download",
            r#""destination":{"kind":"web","domain":"wikileaks.org"},"#,
        ),
        // Not box.com.
        (
            "http.request",
            r#""destination":{"kind":"web","domain":"xbox.com"},"#,
        ),
        (
            "http.upload",
            r#""destination":{"kind":"web","domain":"pastebin.com"},"#,
        ),
        // CERT r4/r5: a request to a cloud service, recognised by its domain.
        (
            "http.request",
            r#""destination":{"kind":"web","domain":"www.dropbox.com"},"#,
        ),
    ];
    for (kind, extra) in adds {
        b.add(&ev(t, kind, "A", extra), &none);
    }
    let rows = b.finish();
    assert_values(
        row(&rows, "A", date(2024, 3, 5)),
        &[
            (Feature::Events, 8.0),
            (Feature::WebVisits, 8.0),
            (Feature::WebDownloads, 1.0),
            (Feature::WebUploads, 3.0),
            (Feature::JobSearchVisits, 2.0),
            (Feature::CloudStorageVisits, 2.0),
            (Feature::CloudStorageUploads, 1.0),
            (Feature::WebmailVisits, 1.0),
            (Feature::WebmailUploads, 1.0),
            (Feature::LeakOrHackingVisits, 3.0),
            (Feature::LeakOrHackingUploads, 1.0),
        ],
    );
}

#[test]
fn email() {
    let mut b = tokyo();
    let t = "2024-03-05T02:00:00Z";
    b.add(
        &ev(
            t,
            "email.send",
            "A",
            r#""destination":{"kind":"email","recipients":["x@dtaa.com","me@GMAIL.com","y@docomo.ne.jp","z@gmail.com.evil.io"]},"raw":{"attachments":[{"name":"a.zip","size":1000},{"name":"b.pdf","size":24},{"name":"c"}]},"#,
        ),
        &ctx(json!({"external_recipients": 3, "first_domain": true})),
    );
    // CERT r4: a count only.
    b.add(
        &ev(
            t,
            "email.send",
            "A",
            r#""destination":{"kind":"email","recipients":["z@dtaa-com.net"]},"raw":{"attachment_count":2},"#,
        ),
        &ctx(json!({"external_recipients": 1, "first_domain": false, "lookalike_of": "dtaa.com"})),
    );
    // Received mail is not sent mail.
    b.add(
        &ev(
            t,
            "email.receive",
            "A",
            r#""destination":{"kind":"email","recipients":["a@gmail.com"]},"raw":{"attachment_count":9},"#,
        ),
        &ctx(json!({"external_recipients": 1, "first_domain": true})),
    );
    let rows = b.finish();
    assert_values(
        row(&rows, "A", date(2024, 3, 5)),
        &[
            (Feature::Events, 3.0),
            (Feature::EmailsSent, 2.0),
            (Feature::EmailExternalRecipients, 4.0),
            (Feature::EmailPersonalRecipients, 2.0),
            (Feature::EmailAttachments, 5.0),
            (Feature::EmailAttachmentBytes, 1024.0),
            (Feature::EmailNewDomains, 1.0),
            (Feature::EmailLookalikeDomains, 1.0),
        ],
    );
}

#[test]
fn prints_findings_and_account_changes() {
    let mut b = tokyo();
    let t = "2024-03-05T02:00:00Z";
    let p = ctx(json!({"person": "P1"}));
    b.add(&ev(t, "print", "ACM1", r#""raw":{"Pages":12},"#), &p);
    // The Windows importer keeps event data as strings.
    b.add(
        &ev(
            t,
            "print",
            "ACM1",
            r#""object":{"name":"x.pdf","labels":["極秘"]},"raw":{"Pages":"3"},"#,
        ),
        &p,
    );
    b.add(&ev(t, "print", "ACM1", ""), &p);
    b.add(
        &ev(
            t,
            "account.group_add",
            "ACM1",
            r#""object":{"name":"B"},"destination":{"kind":"local","name":"Domain Admins"},"#,
        ),
        &p,
    );
    b.add(
        &ev(
            t,
            "account.password_reset",
            "ACM1",
            r#""object":{"name":"C"},"#,
        ),
        &p,
    );
    assert!(b.add_rule_finding("P1", "2024-03-05T14:59:59Z".parse().unwrap()));
    // Midnight in Tokyo: the next day.
    assert!(b.add_rule_finding("P1", "2024-03-05T15:00:00Z".parse().unwrap()));
    let rows = b.finish();
    assert_values(
        row(&rows, "P1", date(2024, 3, 5)),
        &[
            (Feature::Events, 5.0),
            (Feature::Prints, 3.0),
            (Feature::PrintPages, 15.0),
            (Feature::ClassifiedPrints, 1.0),
            (Feature::AccountChanges, 2.0),
            (Feature::RuleFindings, 1.0),
        ],
    );
    assert_values(
        row(&rows, "P1", date(2024, 3, 6)),
        &[(Feature::RuleFindings, 1.0)],
    );
}

#[test]
fn person_from_context_else_account() {
    let mut b = tokyo();
    let t = "2024-03-05T02:00:00Z";
    b.add(&ev(t, "logon", "ACM1", ""), &ctx(json!({"person": "P1"})));
    b.add(
        &ev(t, "logon", "ACM1-admin", ""),
        &ctx(json!({"person": "P1"})),
    );
    b.add(&ev(t, "logon", "ACM1", ""), &Map::new());
    // A non-string person is not a person.
    b.add(&ev(t, "logon", "ACM2", ""), &ctx(json!({"person": null})));
    let rows = b.finish();
    let keys: Vec<_> = rows.iter().map(|r| r.person.as_str()).collect();
    assert_eq!(keys, ["ACM1", "ACM2", "P1"]);
    assert_eq!(row(&rows, "P1", date(2024, 3, 5)).get(Feature::Logons), 2.0);
    assert_eq!(
        row(&rows, "ACM1", date(2024, 3, 5)).get(Feature::Logons),
        1.0
    );
}

#[test]
fn drain_emits_closed_days_sorted_and_rejects_late_events() {
    let mut b = tokyo();
    let none = Map::new();
    // Day 2024-03-06 (local) arrives first for one person.
    assert!(b.add(&ev("2024-03-06T01:00:00Z", "logon", "Z", ""), &none));
    assert!(b.add(&ev("2024-03-05T01:00:00Z", "logon", "Y", ""), &none));
    assert!(b.add(&ev("2024-03-05T02:00:00Z", "logon", "X", ""), &none));
    // 2024-03-06T16:00Z is 2024-03-07 local.
    assert!(b.add(&ev("2024-03-06T16:00:00Z", "logon", "X", ""), &none));
    assert_eq!(b.open_rows(), 4);

    let first = b.drain_before(date(2024, 3, 6));
    let keys: Vec<_> = first.iter().map(|r| (r.day, r.person.as_str())).collect();
    assert_eq!(keys, [(date(2024, 3, 5), "X"), (date(2024, 3, 5), "Y")]);
    assert_eq!(b.open_rows(), 2);

    // A late event and a late finding for the drained day: rejected, counted, never emitted.
    assert!(!b.add(&ev("2024-03-05T03:00:00Z", "logon", "X", ""), &none));
    assert!(!b.add_rule_finding("X", "2024-03-05T03:00:00Z".parse().unwrap()));
    assert_eq!(b.late(), 2);
    // Draining an earlier day again changes nothing and does not reopen days.
    assert!(b.drain_before(date(2024, 3, 1)).is_empty());
    assert!(!b.add(&ev("2024-03-05T04:00:00Z", "logon", "X", ""), &none));
    assert_eq!(b.late(), 3);
    // The open days still take events.
    assert!(b.add(&ev("2024-03-06T02:00:00Z", "logon", "Z", ""), &none));

    let rest = b.finish();
    let keys: Vec<_> = rest.iter().map(|r| (r.day, r.person.as_str())).collect();
    assert_eq!(keys, [(date(2024, 3, 6), "Z"), (date(2024, 3, 7), "X")]);
    assert_eq!(rest[0].get(Feature::Logons), 2.0);
    assert!(
        first
            .iter()
            .chain(&rest)
            .all(|r| r.values.len() == FEATURES.len())
    );
}

#[test]
fn nothing_is_kept_after_drain() {
    let mut b = tokyo();
    let none = Map::new();
    let start = date(2024, 1, 1);
    for d in 0..30 {
        let day = start.checked_add(jiff::Span::new().days(d)).unwrap();
        for i in 0..500 {
            let extra = format!(r#""object":{{"path":"C:/f/{i}.zip"}},"#);
            let time = format!("{day}T01:00:00Z");
            b.add(
                &ev(&time, "file.open", &format!("U{}", i % 5), &extra),
                &none,
            );
        }
        assert_eq!(b.open_rows(), 5);
        let next = day.tomorrow().unwrap();
        let rows = b.drain_before(next);
        assert_eq!(rows.len(), 5);
        assert!(rows.iter().all(|r| r.get(Feature::DistinctFiles) == 100.0));
        assert!(
            rows.iter()
                .all(|r| r.get(Feature::ArchiveOrSourceFiles) == 100.0)
        );
        assert_eq!(b.open_rows(), 0, "day {day} left state behind");
    }
    assert!(b.finish().is_empty());
}

#[test]
fn with_the_enricher() {
    // The context the Enricher computes feeds the builder; both at +09:00.
    let person = PersonRecord {
        person_id: "P1".into(),
        valid_from: date(2020, 1, 1),
        name: "P1".into(),
        email: Some("p1@dtaa.com".into()),
        business_unit: None,
        functional_unit: None,
        department: None,
        team: None,
        role: None,
        supervisor: None,
        employment_type: None,
        hire_date: None,
        notice_date: None,
        termination_date: None,
        priority: false,
        accounts: vec!["ACM1".into()],
    };
    let mut enricher = Enricher::new(
        vec![person],
        ContextOptions {
            utc_offset: Offset::constant(9),
            ..ContextOptions::default()
        },
    );
    enricher.learn_host_owners([("PC-1", "ACM1"), ("PC-2", "ACM2")].into_iter());
    let mut b = tokyo();
    let events = [
        // 21:30 local: after hours; on another person's PC.
        ev_on("2024-03-05T12:30:00Z", "logon", "ACM1", "PC-2"),
        ev(
            "2024-03-05T12:40:00Z",
            "email.send",
            "ACM1",
            r#""destination":{"kind":"email","recipients":["me@gmail.com","x@dtaa.com"]},"#,
        ),
        ev(
            "2024-03-05T12:50:00Z",
            "email.send",
            "ACM1",
            r#""destination":{"kind":"email","recipients":["me@gmail.com"]},"#,
        ),
    ];
    for e in &events {
        let context = enricher.context(e);
        b.add(e, &context);
    }
    let rows = b.finish();
    assert_values(
        row(&rows, "P1", date(2024, 3, 5)),
        &[
            (Feature::Events, 3.0),
            (Feature::Logons, 1.0),
            (Feature::LogonFirstMinute, 1290.0),
            (Feature::LogonLastMinute, 1290.0),
            (Feature::LogonsAfterHours, 1.0),
            (Feature::LogonHosts, 1.0),
            (Feature::LogonHostsNotOwn, 1.0),
            (Feature::EmailsSent, 2.0),
            (Feature::EmailExternalRecipients, 2.0),
            (Feature::EmailPersonalRecipients, 2.0),
            (Feature::EmailNewDomains, 1.0),
        ],
    );
}

#[test]
fn documentation_lists_every_feature_in_order() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/analytics.md"
    ))
    .unwrap();
    // The feature table: rows `| \`name\` | …` between the markers.
    let table = doc
        .split("<!-- features:start -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- features:end -->").next())
        .expect("feature table markers");
    let names: Vec<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let expected: Vec<&str> = FEATURES.iter().map(|f| f.name()).collect();
    assert_eq!(names, expected);
    // The Japanese section names every feature too.
    let japanese = doc.split("## 日本語").nth(1).expect("日本語 section");
    for f in FEATURES {
        assert!(
            japanese.contains(&format!("`{}`", f.name())),
            "{} missing in 日本語",
            f.name()
        );
    }
}
