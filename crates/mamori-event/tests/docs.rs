//! docs/events.md stays true: every kind, destination kind, outcome and field is documented,
//! every example parses, and the OCSF table and example match the code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use mamori_event::{DestinationKind, Event, Kind, Outcome, field, ocsf};
use serde_json::Value;

const DOC: &str = include_str!("../../../docs/events.md");

/// Bodies of the fenced code blocks with the given info string.
fn blocks(info: &str) -> Vec<&'static str> {
    let fence = format!("```{info}\n");
    DOC.split(fence.as_str())
        .skip(1)
        .map(|rest| rest.split("\n```").next().unwrap())
        .collect()
}

#[test]
fn every_name_is_documented() {
    for k in Kind::ALL {
        assert!(DOC.contains(&format!("| `{}` | ", k.as_str())), "kind {k}");
    }
    for k in DestinationKind::ALL {
        assert!(
            DOC.contains(&format!("| `{}` | ", k.as_str())),
            "destination kind {k}"
        );
    }
    for o in Outcome::ALL {
        assert!(
            DOC.contains(&format!("| `{}` | ", o.as_str())),
            "outcome {o}"
        );
    }
    let sections: [(&str, &[&str]); 5] = [
        ("actor.", field::ACTOR_FIELDS),
        ("actor.process.", field::PROCESS_FIELDS),
        ("object.", field::OBJECT_FIELDS),
        ("destination.", field::DESTINATION_FIELDS),
        ("source.", field::SOURCE_FIELDS),
    ];
    for f in field::EVENT_FIELDS {
        assert!(DOC.contains(&format!("| `{f}` | ")), "field {f}");
    }
    for (prefix, fields) in sections {
        for f in fields {
            let row = format!("`{prefix}{f}`");
            assert!(DOC.contains(&row), "field {row}");
        }
    }
}

#[test]
fn field_lists_are_in_canonical_order() {
    for list in [
        field::EVENT_FIELDS,
        field::ACTOR_FIELDS,
        field::PROCESS_FIELDS,
        field::OBJECT_FIELDS,
        field::DESTINATION_FIELDS,
        field::SOURCE_FIELDS,
    ] {
        assert!(list.windows(2).all(|w| w[0] < w[1]), "{list:?}");
        // Plain ASCII names: written without escaping by the fast path.
        assert!(list.iter().all(|f| {
            f.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
        }));
    }
}

#[test]
fn kind_examples_parse_and_cover_every_kind() {
    let examples = blocks("ndjson");
    assert_eq!(examples.len(), 1);
    let mut seen = BTreeSet::new();
    for line in examples[0].lines() {
        let e = Event::from_json(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert!(seen.insert(e.kind), "two examples of {}", e.kind);
        // Examples survive canonicalisation and OCSF.
        assert_eq!(Event::from_json(&e.canonical_json()).unwrap(), e);
        assert_eq!(ocsf::from_ocsf(&ocsf::to_ocsf(&e)).unwrap(), e);
    }
    assert_eq!(seen.len(), Kind::ALL.len());
}

#[test]
fn json_examples() {
    let json = blocks("json");
    let mut events = 0;
    for block in &json {
        let v: Value = serde_json::from_str(block).unwrap();
        if v.get("class_uid").is_some() {
            // The OCSF example is the mapping of the minimal input.
            let minimal = Event::from_json(json[0].as_bytes()).unwrap();
            let mut want = ocsf::to_ocsf(&minimal);
            want["metadata"]["product"]["version"] = "0.1.0".into();
            assert_eq!(
                v,
                want,
                "{}",
                serde_json::to_string(&ocsf::to_ocsf(&minimal)).unwrap()
            );
        } else {
            Event::from_json(block.as_bytes()).unwrap_or_else(|e| panic!("{block}: {e}"));
            events += 1;
        }
    }
    assert_eq!(events, 3);
    // The minimal example, exactly as the brief gives it, and its canonical form.
    assert_eq!(
        json[0],
        r#"{"time":"2026-01-05T09:12:00Z","kind":"file.copy","actor":{"user":"ACM2278","host":"PC-1234"},"object":{"path":"C:/design/a.dwg","size":12345},"destination":{"kind":"removable"},"outcome":"success"}"#
    );
    let minimal = Event::from_json(json[0].as_bytes()).unwrap();
    assert_eq!(minimal.canonical_json(), json[1].as_bytes());
}

#[test]
fn ocsf_table_matches_the_code() {
    for k in Kind::ALL {
        let c = ocsf::class_of(*k);
        let row = format!(
            "| `{}` | {} {} | {} {} | {} |",
            k.as_str(),
            c.class_uid,
            c.class_name,
            c.activity_id,
            c.activity_name,
            c.type_uid()
        );
        assert!(DOC.contains(&row), "missing OCSF row: {row}");
    }
    assert!(DOC.contains(&format!("**OCSF {}**", ocsf::OCSF_VERSION)));
}

/// Every error message in the validation table is what the parser says.
#[test]
fn validation_table_matches_the_code() {
    let base = r#""time":"2026-01-05T09:12:00Z","kind":"file.copy","outcome":"success""#;
    let cases = [
        (r#""actor":{"host":"PC-1"}"#, "actor.user: missing field"),
        (r#""actor":{"user":""}"#, "actor.user: must not be empty"),
        (
            r#""actor":{"user":"u"},"destination":{"kind":"usb"}"#,
            r#"destination.kind: unknown destination kind "usb""#,
        ),
        (
            r#""actor":{"user":"u"},"object":{"sha256":"abc"}"#,
            "object.sha256: expected 64 hex characters",
        ),
        (
            r#""actor":{"user":"u"},"object":{"size":"12"}"#,
            r#"object.size: invalid type: string "12", expected u64"#,
        ),
        (
            r#""actor":{"user":"u"},"raw":{"b":{"c":1,"c":2}}"#,
            "raw.b.c: duplicate key",
        ),
        (
            r#""actor":{"user":"u"},"v":2"#,
            "v: unsupported event version 2",
        ),
        (
            r#""actor":{"user":"u","hots":"x"}"#,
            "actor.hots: unknown field, expected one of: host, ip, process, session, user",
        ),
    ];
    for (members, message) in cases {
        let line = format!("{{{base},{members}}}");
        assert_eq!(
            Event::from_json(line.as_bytes()).unwrap_err().to_string(),
            message
        );
        assert!(DOC.contains(&format!("`{message}`")), "{message}");
    }
}
