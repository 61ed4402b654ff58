//! Proptest strategies for arbitrary events.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use mamori_event::{
    Actor, Destination, DestinationKind, Event, Kind, MAX_SAFE_INTEGER, Nonce, Object, Outcome,
    Process, Sha256Digest, Source, canonical,
};
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// Characters that stress escaping and UTF-16 ordering, plus anything.
pub fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range('a', 'z'),
        2 => any::<char>(),
        3 => prop::sample::select(vec![
            '\u{0}', '\u{8}', '\t', '\n', '\u{c}', '\r', '\u{1f}', ' ', '"', '\\', '/', '\u{7f}',
            '\u{80}', 'ö', '€', '社', '外', '秘', '\u{2028}', '\u{e000}', '\u{ffff}', '\u{fb33}',
            '\u{10000}', '😀', '\u{10ffff}',
        ]),
    ]
}

pub fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..8).prop_map(String::from_iter)
}

fn opt<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::weighted(0.6, s)
}

/// A number as it may appear in a programmatically built `raw` (not normalised).
pub fn any_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        (-1000i64..1000).prop_map(Number::from),
        any::<u64>().prop_map(Number::from),
        any::<i64>().prop_map(Number::from),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
        (-1e6f64..1e6).prop_filter_map("finite", Number::from_f64),
    ]
}

/// Any JSON value, with keys and strings that stress RFC 8785.
pub fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any_number().prop_map(Value::Number),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

pub fn raw(normalized: bool) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(text(), any_value(), 0..5).prop_map(move |m| {
        let mut map: Map<String, Value> = m.into_iter().collect();
        if normalized {
            map.values_mut().for_each(canonical::normalize);
        }
        map
    })
}

pub fn sha() -> impl Strategy<Value = Sha256Digest> {
    any::<[u8; 32]>().prop_map(Sha256Digest)
}

pub fn timestamp() -> impl Strategy<Value = jiff::Timestamp> {
    // 0000-01-01T00:00:00Z ..= 9999-12-30T22:00:00Z, plus a dense band around now.
    prop_oneof![
        (-62_167_219_200i64..=253_402_293_600, 0i32..1_000_000_000),
        (
            1_700_000_000i64..1_900_000_000,
            prop_oneof![Just(0i32), 0i32..1_000_000_000]
        ),
    ]
    .prop_map(|(s, n)| jiff::Timestamp::new(s, n).unwrap())
}

pub fn process() -> impl Strategy<Value = Process> {
    (opt(text()), opt(text()), opt(any::<u32>()), opt(sha())).prop_map(
        |(name, path, pid, sha256)| Process {
            name,
            path,
            pid,
            sha256,
        },
    )
}

pub fn actor() -> impl Strategy<Value = Actor> {
    (
        text().prop_map(|s| format!("U{s}")),
        opt(text()),
        opt(text()),
        opt(process().prop_filter("non-empty", |p| !p.is_empty())),
        opt(text()),
    )
        .prop_map(|(user, host, ip, process, session)| Actor {
            user,
            host,
            ip,
            process,
            session,
        })
}

pub fn object() -> impl Strategy<Value = Object> {
    (
        opt(text()),
        prop::collection::vec(text(), 0..3),
        opt(text()),
        opt(text()),
        opt(sha()),
        opt(0..=MAX_SAFE_INTEGER),
        opt(text()),
        opt(text()),
        opt(text()),
    )
        .prop_map(
            |(extension, labels, name, path, sha256, size, subject, r#type, url)| Object {
                extension,
                labels,
                name,
                path,
                sha256,
                size,
                subject,
                r#type,
                url,
            },
        )
}

pub fn destination() -> impl Strategy<Value = Destination> {
    (
        opt(text()),
        opt(text()),
        opt(any::<bool>()),
        opt(prop::sample::select(DestinationKind::ALL)),
        opt(text()),
        prop::collection::vec(text(), 0..3),
    )
        .prop_map(
            |(device_id, domain, external, kind, name, recipients)| Destination {
                device_id,
                domain,
                external,
                kind,
                name,
                recipients,
            },
        )
}

pub fn source() -> impl Strategy<Value = Source> {
    (opt(text()), opt(text())).prop_map(|(name, reference)| Source { name, reference })
}

/// An arbitrary valid event. With `normalized`, `raw` holds only canonical numbers (as parsing
/// yields); without, any numbers (as a program might build).
pub fn event(normalized: bool) -> impl Strategy<Value = Event> {
    (
        actor(),
        opt(destination().prop_filter("non-empty", |d| !d.is_empty())),
        prop::sample::select(Kind::ALL),
        opt(any::<[u8; 16]>().prop_map(Nonce)),
        opt(object().prop_filter("non-empty", |o| !o.is_empty())),
        prop::sample::select(Outcome::ALL),
        raw(normalized),
        opt(source().prop_filter("non-empty", |s| !s.is_empty())),
        timestamp(),
    )
        .prop_map(
            |(actor, destination, kind, nonce, object, outcome, raw, source, time)| Event {
                actor,
                destination,
                kind,
                nonce,
                object,
                outcome,
                raw,
                source,
                time,
                v: 1,
            },
        )
}
