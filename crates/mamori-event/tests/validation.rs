//! Parsing and validation: accepted input, normalisation, and the exact error messages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mamori_event::{DestinationKind, Event, EventError, Kind, Nonce, Outcome, entry_digest};

/// The minimal input example of docs/events.md.
const MINIMAL: &str = r#"{"time":"2026-01-05T09:12:00Z","kind":"file.copy","actor":{"user":"ACM2278","host":"PC-1234"},"object":{"path":"C:/design/a.dwg","size":12345},"destination":{"kind":"removable"},"outcome":"success"}"#;

#[test]
fn minimal_example_parses() {
    let e = Event::from_json(MINIMAL.as_bytes()).unwrap();
    assert_eq!(e.v, 1);
    assert_eq!(e.kind, Kind::FileCopy);
    assert_eq!(e.account(), "ACM2278");
    assert_eq!(e.actor.host.as_deref(), Some("PC-1234"));
    let object = e.object.as_ref().unwrap();
    assert_eq!(object.path.as_deref(), Some("C:/design/a.dwg"));
    assert_eq!(object.size, Some(12345));
    assert_eq!(
        e.destination.as_ref().unwrap().kind,
        Some(DestinationKind::Removable)
    );
    assert_eq!(e.outcome, Outcome::Success);
    assert!(e.nonce.is_none() && e.raw.is_empty() && e.source.is_none());
    assert_eq!(
        String::from_utf8(e.canonical_json()).unwrap(),
        r#"{"actor":{"host":"PC-1234","user":"ACM2278"},"destination":{"kind":"removable"},"kind":"file.copy","object":{"path":"C:/design/a.dwg","size":12345},"outcome":"success","time":"2026-01-05T09:12:00Z","v":1}"#
    );
}

#[test]
fn full_example_round_trips() {
    let line = r#"{"v":1,
      "time":"2026-01-05T18:12:00.120+09:00",
      "kind":"file.copy",
      "actor":{"user":"ACM2278","host":"PC-1234","ip":"10.0.0.5","process":{"name":"explorer.exe","path":"C:/Windows/explorer.exe","pid":4312,"sha256":"AB0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCD"},"session":"0x3e7"},
      "object":{"path":"C:/design/a.dwg","url":"https://x.example/a","subject":"s","name":"a.dwg","size":12345,"sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","type":"dwg","extension":"dwg","labels":["社外秘"]},
      "destination":{"kind":"removable","name":"KINGSTON DT","domain":"example.com","device_id":"USB\\VID_0951&PID_1666\\60A44C3FAE5A","external":true,"recipients":["a@b.example"]},
      "outcome":"success",
      "source":{"name":"ndjson","ref":"{X1D9-S0ES98JV-5357PWMI}"},
      "raw":{"EventID":4663,"TargetFilename":"C:\\design\\a.dwg","nested":{"b":[1,2.5,null,true],"a":"x"}},
      "nonce":"AAECAwQFBgcICQoLDA0ODw"}"#;
    let e = Event::from_json(line.as_bytes()).unwrap();
    let canonical = e.canonical_json();
    let text = String::from_utf8(canonical.clone()).unwrap();
    assert!(
        text.contains(r#""time":"2026-01-05T09:12:00.12Z""#),
        "{text}"
    );
    assert!(text.contains(
        r#""sha256":"ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd""#
    ));
    assert!(text.contains(r#""raw":{"EventID":4663,"TargetFilename":"C:\\design\\a.dwg","nested":{"a":"x","b":[1,2.5,null,true]}}"#), "{text}");
    assert!(text.contains(r#""nonce":"AAECAwQFBgcICQoLDA0ODw""#));
    assert!(text.contains(r#""source":{"name":"ndjson","ref":"{X1D9-S0ES98JV-5357PWMI}"}"#));
    let back = Event::from_json(&canonical).unwrap();
    assert_eq!(back, e);
    assert_eq!(back.canonical_json(), canonical);
    assert_eq!(
        e.nonce.unwrap().as_bytes(),
        &core::array::from_fn::<u8, 16, _>(|i| i as u8)
    );
}

#[test]
fn example_files_parse() {
    let good = include_str!("../../../docs/examples/events.ndjson");
    for line in good.lines().filter(|l| !l.trim().is_empty()) {
        Event::from_json(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    let bad = include_str!("../../../docs/examples/bad-lines.ndjson");
    let results: Vec<Result<Event, EventError>> = bad
        .lines()
        .map(|l| Event::from_json(l.as_bytes()))
        .collect();
    assert_eq!(results.len(), 6);
    assert!(results[0].is_ok() && results[5].is_ok());
    let errors: Vec<String> = results[1..5]
        .iter()
        .map(|r| r.as_ref().unwrap_err().to_string())
        .collect();
    assert_eq!(
        errors[0],
        r#"time: invalid RFC 3339 timestamp "2026-01-05T24:00:00Z""#
    );
    assert_eq!(errors[1], r#"kind: unknown kind "file.cpy""#);
    assert!(
        errors[2].starts_with("destnation: unknown field, expected one of: actor,"),
        "{}",
        errors[2]
    );
    assert_eq!(errors[3], "expected ident at line 1 column 2");
}

fn err(line: &str) -> EventError {
    Event::from_json(line.as_bytes()).unwrap_err()
}

/// `line` with `member` spliced into a valid event (after replacing `key`'s member if given).
fn with(members: &str) -> String {
    format!(r#"{{"time":"2026-01-05T09:12:00Z","kind":"file.copy","outcome":"success",{members}}}"#)
}

fn assert_error(line: &str, field: &str, reason: &str) {
    let e = err(line);
    assert_eq!(
        (e.field.as_str(), e.reason.as_str()),
        (field, reason),
        "{line}"
    );
    assert_eq!(e.to_string(), format!("{field}: {reason}"));
}

#[test]
fn error_messages_name_field_and_reason() {
    let actor = r#""actor":{"user":"ACM2278"}"#;
    assert_error(
        &with(r#""actor":{"host":"PC-1"}"#),
        "actor.user",
        "missing field",
    );
    assert_error(
        &with(r#""actor":{"user":""}"#),
        "actor.user",
        "must not be empty",
    );
    assert_error(
        r#"{"time":"2026-13-01","kind":"logon","actor":{"user":"u"},"outcome":"success"}"#,
        "time",
        r#"invalid RFC 3339 timestamp "2026-13-01""#,
    );
    assert_error(
        r#"{"time":"2026-01-05T09:12:00Z","kind":"file.cpy","actor":{"user":"u"},"outcome":"success"}"#,
        "kind",
        r#"unknown kind "file.cpy""#,
    );
    assert_error(
        &with(&format!(r#"{actor},"destination":{{"kind":"usb"}}"#)),
        "destination.kind",
        r#"unknown destination kind "usb""#,
    );
    assert_error(
        &with(&format!(r#"{actor},"object":{{"sha256":"abc"}}"#)),
        "object.sha256",
        "expected 64 hex characters",
    );
    assert_error(
        &with(&format!(
            r#"{actor},"object":{{"sha256":"{}"}}"#,
            "g".repeat(64)
        )),
        "object.sha256",
        "expected 64 hex characters",
    );
    assert_error(
        &with(&format!(r#"{actor},"object":{{"size":"12"}}"#)),
        "object.size",
        r#"invalid type: string "12", expected u64"#,
    );
    assert_error(
        &with(&format!(r#"{actor},"object":{{"size":-1}}"#)),
        "object.size",
        "invalid value: integer `-1`, expected u64",
    );
    assert_error(
        &with(&format!(r#"{actor},"object":{{"size":9007199254740992}}"#)),
        "object.size",
        "9007199254740992 is larger than 9007199254740991 (2^53 - 1), the largest integer a JSON number carries exactly (RFC 8785)",
    );
    assert_error(
        &with(&format!(r#"{actor},"object":{{"labels":["a",5]}}"#)),
        "object.labels[1]",
        "invalid type: integer `5`, expected a string",
    );
    assert_error(
        &with(r#""actor":{"user":"u","process":{"pid":4294967296}}"#),
        "actor.process.pid",
        "invalid value: integer `4294967296`, expected u32",
    );
    assert_error(
        &with(&format!(r#"{actor},"outcome2":"x""#)),
        "outcome2",
        "unknown field, expected one of: actor, destination, kind, nonce, object, outcome, raw, source, time, v",
    );
    assert_error(
        &with(r#""actor":{"user":"u","hots":"x"}"#),
        "actor.hots",
        "unknown field, expected one of: host, ip, process, session, user",
    );
    assert_error(
        &with(&format!(r#"{actor},"kind":"logon""#)),
        "kind",
        "duplicate field",
    );
    assert_error(
        &with(&format!(r#"{actor},"raw":{{"a":1,"b":{{"c":1,"c":2}}}}"#)),
        "raw.b.c",
        "duplicate key",
    );
    assert_error(
        &with(&format!(r#"{actor},"raw":[1]"#)),
        "raw",
        "invalid type: sequence, expected a JSON object",
    );
    assert_error(
        &with(&format!(r#"{actor},"v":2"#)),
        "v",
        "unsupported event version 2",
    );
    assert_error(
        &with(&format!(r#"{actor},"v":"1""#)),
        "v",
        r#"invalid type: string "1", expected event version 1"#,
    );
    assert_error(
        &with(&format!(r#"{actor},"nonce":"short""#)),
        "nonce",
        "expected 22 characters of unpadded base64url (16 bytes)",
    );
    assert_error(
        &with(&format!(r#"{actor},"outcome":"ok""#)),
        "outcome",
        "duplicate field",
    );
    assert_error(
        r#"{"time":"2026-01-05T09:12:00Z","kind":"logon","actor":{"user":"u"},"outcome":"ok"}"#,
        "outcome",
        r#"unknown outcome "ok""#,
    );
    assert_error(
        &with(r#""actor":"u""#),
        "actor",
        r#"invalid type: string "u", expected an actor object"#,
    );
    assert_error(
        r#"{"kind":"logon","actor":{"user":"u"},"outcome":"success"}"#,
        "time",
        "missing field",
    );
    assert_error(
        r#"{"time":"2026-01-05T09:12:00Z","kind":"logon","outcome":"success"}"#,
        "actor",
        "missing field",
    );
    assert_error(
        r#"{"time":"2026-01-05T09:12:00Z","actor":{"user":"u"},"outcome":"success"}"#,
        "kind",
        "missing field",
    );
    assert_error(
        r#"{"time":"2026-01-05T09:12:00Z","kind":"logon","actor":{"user":"u"}}"#,
        "outcome",
        "missing field",
    );
}

#[test]
fn syntax_errors_have_no_field() {
    for (line, reason) in [
        ("not json at all", "expected ident at line 1 column 2"),
        ("", "EOF while parsing a value at line 1 column 0"),
        (
            "[]",
            "invalid type: sequence, expected a Mamori event object",
        ),
    ] {
        let e = err(line);
        assert_eq!(e.field, "", "{line}");
        assert_eq!(e.reason, reason, "{line}");
        assert_eq!(e.to_string(), reason);
    }
    let e = err(&format!("{MINIMAL} x"));
    assert_eq!(e.field, "");
    assert!(e.reason.starts_with("trailing characters"), "{e}");
    let e = err(r#"{"time":"2026-01-05T09:12:00Z","kind":"logon","actor":{"user":"u""#);
    assert!(e.reason.starts_with("EOF while parsing"), "{e}");
}

#[test]
fn accepted_variations() {
    // Nulls read as absent; empty sub-objects are dropped; v:1 accepted; whitespace around.
    let line = format!(
        "  {}\r\n",
        with(
            r#""v":1,"actor":{"user":"u","host":null,"process":{}},"object":{},"destination":{"kind":null,"recipients":null},"source":null,"raw":null,"nonce":null"#
        )
    );
    let e = Event::from_json(line.as_bytes()).unwrap();
    assert_eq!(e.actor.host, None);
    assert_eq!(e.actor.process, None);
    assert_eq!(e.object, None);
    assert_eq!(e.destination, None);
    assert!(e.raw.is_empty());
    let plain = Event::from_json(with(r#""actor":{"user":"u"}"#).as_bytes()).unwrap();
    assert_eq!(e, plain);
    assert_eq!(e.identity(), plain.identity());

    // Any offset, normalised to UTC.
    let a = Event::from_json(
        with(r#""actor":{"user":"u"}"#)
            .replace("09:12:00Z", "18:12:00+09:00")
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(a.time, plain.time);
    assert_eq!(a.canonical_json(), plain.canonical_json());
}

#[test]
fn raw_numbers_are_normalised() {
    let e = Event::from_json(
        with(r#""actor":{"user":"u"},"raw":{"big":9007199254740993,"f":4.0,"z":-0.0,"x":1e400}"#)
            .as_bytes(),
    );
    // 1e400 is not a double: rejected by the JSON parser.
    assert!(e.unwrap_err().reason.starts_with("number out of range"));
    let e = Event::from_json(
        with(r#""actor":{"user":"u"},"raw":{"big":9007199254740993,"f":4.0,"z":-0.0}"#).as_bytes(),
    )
    .unwrap();
    assert_eq!(
        serde_json::Value::Object(e.raw.clone()),
        serde_json::json!({"big": 9007199254740992u64, "f": 4, "z": 0})
    );
    let text = String::from_utf8(e.canonical_json()).unwrap();
    assert!(
        text.contains(r#""raw":{"big":9007199254740992,"f":4,"z":0}"#),
        "{text}"
    );
}

#[test]
fn nonce_identity_and_digest() {
    let mut a = Event::from_json(MINIMAL.as_bytes()).unwrap();
    let mut b = a.clone();
    let identity = a.identity();
    a.ensure_nonce();
    b.ensure_nonce();
    let (na, nb) = (a.nonce.unwrap(), b.nonce.unwrap());
    assert_ne!(na, nb);
    // ensure_nonce keeps an existing nonce.
    a.ensure_nonce();
    assert_eq!(a.nonce, Some(na));
    // Identity ignores the nonce; the entry digest does not.
    assert_eq!(a.identity(), identity);
    assert_eq!(b.identity(), identity);
    let (ca, cb) = (a.canonical_json(), b.canonical_json());
    assert_ne!(entry_digest(&ca), entry_digest(&cb));
    assert_ne!(entry_digest(&ca), identity);
    let mut out = Vec::new();
    assert_eq!(
        a.write_canonical_with_digests(&mut out),
        (identity, entry_digest(&ca))
    );
    assert_eq!(out, ca);
    // Nonce text form.
    let text = na.to_string();
    assert_eq!(text.len(), 22);
    assert_eq!(text.parse::<Nonce>().unwrap(), na);
    assert!(
        String::from_utf8(ca)
            .unwrap()
            .contains(&format!(r#","nonce":"{text}","#))
    );
    // A nonce whose last character carries non-zero unused bits is not canonical: rejected.
    assert!("AAAAAAAAAAAAAAAAAAAAAB".parse::<Nonce>().is_err());
    assert!("AAAAAAAAAAAAAAAAAAAAAA".parse::<Nonce>().is_ok());
    assert!("AAAAAAAAAAAAAAAAAAAA+A".parse::<Nonce>().is_err());
}

#[test]
fn vocabularies() {
    for k in Kind::ALL {
        assert_eq!(k.as_str().parse::<Kind>().unwrap(), *k);
    }
    assert_eq!(Kind::ALL.len(), 37);
    for k in DestinationKind::ALL {
        assert_eq!(k.as_str().parse::<DestinationKind>().unwrap(), *k);
    }
    for k in Outcome::ALL {
        assert_eq!(k.as_str().parse::<Outcome>().unwrap(), *k);
    }
    assert_eq!(
        "file.cpy".parse::<Kind>().unwrap_err().to_string(),
        r#"unknown kind "file.cpy""#
    );
}
