//! Correlation rules and filters against hand-written event streams: every correlation type of
//! the specification with its boundaries (at the threshold, just outside the timespan), group-by
//! and aliases, generate, chains, the re-arm rule, out-of-order events, state bounds, every
//! load error; filters applied, kept off other rules, refused on a log source mismatch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mamori_detect::sigma::{CorrelationHit, Correlator, Engine, EngineBuilder, EventSource};
use serde_json::{Map, Value, json};

const S: i64 = 1_000_000;

fn source() -> EventSource {
    EventSource {
        product: Some("windows".into()),
        service: Some("security".into()),
        categories: vec![],
    }
}

/// A detection rule named `name` matching `EventID: event_id`.
fn rule(name: &str, event_id: u32) -> String {
    format!(
        "title: {name}\nid: id-{name}\nname: {name}\nlogsource:\n    product: windows\n    service: security\ndetection:\n    selection:\n        EventID: {event_id}\n    condition: selection\n"
    )
}

/// An engine from documents joined with `---`; every document must load.
fn engine(docs: &[&str]) -> Engine {
    let mut builder = EngineBuilder::new();
    let added = builder.add_yaml("c.yml", &docs.join("---\n"));
    assert!(builder.errors().is_empty(), "{:?}", builder.errors());
    assert_eq!(added, docs.len());
    builder.build()
}

/// Runs `events` (time in microseconds, JSON object) through the evaluator and a correlator;
/// each event's id is its index in `events`.
fn run(engine: &Engine, events: &[(i64, Value)]) -> Vec<CorrelationHit> {
    let with_ids: Vec<(i64, u64, Value)> = (0u64..)
        .zip(events)
        .map(|(id, (time, event))| (*time, id, event.clone()))
        .collect();
    run_ids(engine, engine.correlator(), &with_ids)
}

/// Runs `events` (time in microseconds, the caller's event id, JSON object) through the
/// evaluator and `correlator`.
fn run_ids(
    engine: &Engine,
    mut correlator: Correlator<'_>,
    events: &[(i64, u64, Value)],
) -> Vec<CorrelationHit> {
    let mut evaluator = engine.evaluator();
    let mut hits = Vec::new();
    for (time, id, event) in events {
        let record: Map<String, Value> = event.as_object().cloned().unwrap();
        let matched = evaluator.evaluate(&record, &source()).to_vec();
        hits.extend(correlator.observe(*time, *id, &matched, &record));
    }
    hits
}

fn group(hit: &CorrelationHit) -> Vec<(&str, &str)> {
    hit.group
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn load_errors(text: &str) -> Vec<String> {
    let mut builder = EngineBuilder::new();
    builder.add_yaml("e.yml", text);
    builder.errors().iter().map(ToString::to_string).collect()
}

const FAILED_3_IN_10S: &str = "title: Many failed logins\nid: 0e95725d-7320-415d-80f7-004da920fc11\ncorrelation:\n    type: event_count\n    rules:\n        - failed\n    group-by:\n        - User\n    timespan: 10s\n    condition:\n        gte: 3\n";

#[test]
fn event_count_fires_at_the_threshold_within_the_timespan_inclusive() {
    let e = engine(&[FAILED_3_IN_10S, &rule("failed", 4625)]);
    assert_eq!(e.correlation_count(), 1);
    let info = e.correlation(0).unwrap();
    assert_eq!(info.kind, "event_count");
    assert_eq!(info.title, "Many failed logins");
    assert_eq!(info.origin.line, 1);
    let ev = |user: &str| json!({"EventID": 4625, "User": user});
    // Exactly at the threshold, first and last exactly one timespan apart: fires.
    let hits = run(&e, &[(0, ev("a")), (5 * S, ev("a")), (10 * S, ev("a"))]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].correlation, 0);
    assert_eq!(group(&hits[0]), [("User", "a")]);
    assert_eq!(
        (hits[0].first_us, hits[0].last_us, hits[0].value),
        (0, 10 * S, 3.0)
    );
    // One microsecond more and the first event is out of the window.
    let late = run(&e, &[(0, ev("a")), (5 * S, ev("a")), (10 * S + 1, ev("a"))]);
    assert!(late.is_empty(), "{late:?}");
    // Below the threshold, other users' events do not add up; unmatched events do not count.
    let split = run(
        &e,
        &[
            (0, ev("a")),
            (1, ev("b")),
            (2, ev("a")),
            (3, json!({"EventID": 4624, "User": "a"})),
            (4, json!({"EventID": 4625})),
        ],
    );
    assert!(split.is_empty(), "{split:?}");
}

#[test]
fn a_group_fires_once_per_window_and_rearms_after_a_timespan() {
    let e = engine(&[FAILED_3_IN_10S, &rule("failed", 4625)]);
    let ev = json!({"EventID": 4625, "User": "a"});
    let times = [0, 1, 2, 3, 4, 5, 12, 13, 14];
    let events: Vec<(i64, Value)> = times.iter().map(|t| (t * S, ev.clone())).collect();
    let hits = run(&e, &events);
    // Fires at 2 s; 3..=12 s are muted (12 s is exactly the end of the mute); at 13 s the
    // window holds 3, 4, 5, 12 and 13 s (the events of the first hit are not reused).
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!((hits[0].last_us, hits[0].value), (2 * S, 3.0));
    assert_eq!(
        (hits[1].first_us, hits[1].last_us, hits[1].value),
        (3 * S, 13 * S, 5.0)
    );
}

#[test]
fn every_comparison_and_ranges() {
    let with = |condition: &str| {
        let c = FAILED_3_IN_10S.replace("        gte: 3\n", condition);
        engine(&[&c, &rule("failed", 4625)])
    };
    let ev = json!({"EventID": 4625, "User": "a"});
    let stream = |n: i64| -> Vec<(i64, Value)> { (0..n).map(|t| (t * S, ev.clone())).collect() };
    let first_value = |e: &Engine, n| run(e, &stream(n)).first().map(|h| h.value);
    assert_eq!(first_value(&with("        gt: 3\n"), 5), Some(4.0));
    assert_eq!(first_value(&with("        eq: 2\n"), 5), Some(2.0));
    assert_eq!(first_value(&with("        lte: 2\n"), 5), Some(1.0));
    assert_eq!(first_value(&with("        lt: 1\n"), 5), None);
    assert_eq!(first_value(&with("        neq: 1\n"), 5), Some(2.0));
    // "101 to 200" style: both bounds must hold.
    assert_eq!(
        first_value(&with("        gt: 2\n        lte: 4\n"), 5),
        Some(3.0)
    );
    assert_eq!(
        first_value(&with("        gt: 5\n        lte: 9\n"), 5),
        None
    );
}

#[test]
fn value_count_counts_distinct_values_per_group() {
    // The specification's example, with a smaller threshold.
    let c = "title: Failed login\nid: 0e95725d-7320-415d-80f7-004da920fc12\ncorrelation:\n    type: value_count\n    rules:\n        - 5638f7c0-ac70-491d-8465-2a65075e0d86\n    group-by:\n        - ComputerName\n        - WorkstationName\n    timespan: 1d\n    condition:\n        field: User\n        gte: 3\n";
    let r = "title: failed\nid: 5638f7c0-ac70-491d-8465-2a65075e0d86\nlogsource:\n    product: windows\n    service: security\ndetection:\n    selection:\n        EventID: 4625\n    condition: selection\n";
    let e = engine(&[c, r]);
    let ev = |user: &str| json!({"EventID": 4625, "ComputerName": "dc", "WorkstationName": "ws", "User": user});
    let repeated = run(
        &e,
        &[
            (0, ev("x")),
            (S, ev("x")),
            (2 * S, ev("y")),
            (3 * S, ev("y")),
        ],
    );
    assert!(repeated.is_empty(), "{repeated:?}");
    let hits = run(
        &e,
        &[
            (0, ev("x")),
            (S, ev("x")),
            (2 * S, ev("y")),
            (3 * S, ev("z")),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].value, 3.0);
    assert_eq!(
        group(&hits[0]),
        [("ComputerName", "dc"), ("WorkstationName", "ws")]
    );
    // An event without the field is not a value.
    let missing = run(
        &e,
        &[
            (0, ev("x")),
            (S, ev("y")),
            (
                2 * S,
                json!({"EventID": 4625, "ComputerName": "dc", "WorkstationName": "ws"}),
            ),
        ],
    );
    assert!(missing.is_empty(), "{missing:?}");
}

const RECON: &str = "title: Recon\ncorrelation:\n    type: temporal\n    rules:\n        - recon_cmd_a\n        - recon_cmd_b\n        - recon_cmd_c\n    group-by:\n        - ComputerName\n        - User\n    timespan: 5m\n";

#[test]
fn temporal_needs_every_rule_in_any_order_within_the_timespan() {
    let e = engine(&[
        RECON,
        &rule("recon_cmd_a", 1),
        &rule("recon_cmd_b", 2),
        &rule("recon_cmd_c", 3),
    ]);
    let ev = |id: u32, user: &str| json!({"EventID": id, "ComputerName": "h", "User": user});
    let hits = run(
        &e,
        &[
            (0, ev(3, "u")),
            (S, ev(1, "u")),
            (2 * S, ev(1, "u")),
            (300 * S, ev(2, "u")),
        ],
    );
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        (hits[0].first_us, hits[0].last_us, hits[0].value),
        (0, 300 * S, 3.0)
    );
    // Just outside five minutes, or by another user: nothing.
    assert!(
        run(
            &e,
            &[(0, ev(3, "u")), (S, ev(1, "u")), (300 * S + 1, ev(2, "u"))]
        )
        .is_empty()
    );
    assert!(run(&e, &[(0, ev(3, "u")), (S, ev(1, "u")), (2 * S, ev(2, "v"))]).is_empty());
    // A condition relaxes "all": two of the three rules.
    let two = RECON.replace(
        "    timespan: 5m\n",
        "    timespan: 5m\n    condition:\n        gte: 2\n",
    );
    let e = engine(&[
        &two,
        &rule("recon_cmd_a", 1),
        &rule("recon_cmd_b", 2),
        &rule("recon_cmd_c", 3),
    ]);
    let hits = run(&e, &[(0, ev(3, "u")), (S, ev(3, "u")), (2 * S, ev(2, "u"))]);
    assert_eq!(hits.iter().map(|h| h.value).collect::<Vec<_>>(), [2.0]);
}

#[test]
fn temporal_ordered_needs_the_order_of_the_rules_list() {
    let c = "title: Brute force then success\ncorrelation:\n    type: temporal_ordered\n    rules:\n        - failed\n        - success\n    group-by:\n        - User\n    timespan: 1h\n";
    let e = engine(&[c, &rule("failed", 4625), &rule("success", 4624)]);
    let ev = |id: u32| json!({"EventID": id, "User": "u"});
    let hits = run(&e, &[(0, ev(4625)), (60 * S, ev(4624))]);
    assert_eq!(hits.len(), 1);
    assert_eq!(
        (hits[0].first_us, hits[0].last_us, hits[0].value),
        (0, 60 * S, 2.0)
    );
    // The wrong order does not fire.
    assert!(run(&e, &[(0, ev(4624)), (60 * S, ev(4625))]).is_empty());
    // Order is by event time, not arrival: the failure arrives late but happened first.
    let late = run(&e, &[(60 * S, ev(4624)), (10 * S, ev(4625))]);
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!((late[0].first_us, late[0].last_us), (10 * S, 60 * S));
    // Same events as plain temporal fire in either order.
    let e = engine(&[
        &c.replace("temporal_ordered", "temporal"),
        &rule("failed", 4625),
        &rule("success", 4624),
    ]);
    assert_eq!(run(&e, &[(0, ev(4624)), (60 * S, ev(4625))]).len(), 1);
}

#[test]
fn aliases_group_by_differently_named_fields() {
    // The specification's field name aliases example.
    let internal_error = "title: internal error\nname: internal_error\nlogsource:\n    product: windows\n    service: security\ndetection:\n    selection:\n        http.response.status_code: 500\n    condition: selection\n";
    let connection = "title: new connection\nname: new_network_connection\nlogsource:\n    product: windows\n    service: security\ndetection:\n    selection:\n        event.category: network\n        event.type: connection\n        event.outcome: success\n    condition: selection\n";
    let c = "title: —\nid: —\ncorrelation:\n    type: temporal\n    rules:\n        - internal_error\n        - new_network_connection\n    group-by:\n        - internal_ip\n        - remote_ip\n    timespan: 10s\n    aliases:\n        internal_ip:\n            internal_error: destination.ip\n            new_network_connection: source.ip\n        remote_ip:\n            internal_error: source.ip\n            new_network_connection: destination.ip\n";
    let e = engine(&[internal_error, connection, c]);
    let error = json!({"http.response.status_code": 500, "source.ip": "203.0.113.9", "destination.ip": "10.0.0.5"});
    let conn = |src: &str, dst: &str| json!({"event.category": "network", "event.type": "connection", "event.outcome": "success", "source.ip": src, "destination.ip": dst});
    let hits = run(
        &e,
        &[(0, error.clone()), (5 * S, conn("10.0.0.5", "203.0.113.9"))],
    );
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        group(&hits[0]),
        [("internal_ip", "10.0.0.5"), ("remote_ip", "203.0.113.9")]
    );
    // The same addresses the other way round are another pair.
    assert!(run(&e, &[(0, error), (5 * S, conn("203.0.113.9", "10.0.0.5"))]).is_empty());
}

#[test]
fn value_sum_avg_and_percentile() {
    let website = rule("website_access", 80);
    let ev = |bytes: Value| json!({"EventID": 80, "SourceIP": "10.0.0.1", "User": "u", "bytes_sent": bytes});
    // The specification's value_sum example.
    let sum = "title: Possible Exfiltration to Website\ncorrelation:\n    type: value_sum\n    rules:\n        - website_access\n    group-by:\n        - SourceIP\n        - User\n    timespan: 1h\n    condition:\n        field: bytes_sent\n        gt: 1000000\n";
    let e = engine(&[sum, &website]);
    let hits = run(
        &e,
        &[
            (0, ev(json!(600_000))),
            (S, ev(json!("not a number"))),
            (2 * S, ev(json!("400000"))),
        ],
    );
    assert!(hits.is_empty(), "exactly 1000000 is not gt: {hits:?}");
    let hits = run(&e, &[(0, ev(json!(600_000))), (S, ev(json!(400_000.5)))]);
    assert_eq!(
        hits.iter().map(|h| h.value).collect::<Vec<_>>(),
        [1_000_000.5]
    );
    // Outside the hour the first transfer no longer counts.
    assert!(
        run(
            &e,
            &[(0, ev(json!(600_000))), (3600 * S + 1, ev(json!(400_001)))]
        )
        .is_empty()
    );

    let avg = sum
        .replace("value_sum", "value_avg")
        .replace("gt: 1000000", "gt: 500");
    let e = engine(&[&avg, &website]);
    let hits = run(
        &e,
        &[
            (0, ev(json!(100))),
            (S, ev(json!(800))),
            (2 * S, ev(json!(1000))),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert!((hits[0].value - 633.333).abs() < 0.001, "{hits:?}");

    // pySigma's `percentile` key: the window's 90th percentile (nearest rank) of bytes_sent.
    let p90 = sum
        .replace("value_sum", "value_percentile")
        .replace("gt: 1000000", "percentile: 90\n        gte: 1000");
    let e = engine(&[&p90, &website]);
    let small: Vec<(i64, Value)> = (0..9).map(|t| (t * S, ev(json!(10)))).collect();
    assert!(run(&e, &small).is_empty());
    let mut spike = small.clone();
    spike.push((9 * S, ev(json!(5000))));
    assert!(
        run(&e, &spike).is_empty(),
        "one large value in ten is the 100th, not 90th"
    );
    spike.push((10 * S, ev(json!(5000))));
    let hits = run(&e, &spike);
    assert_eq!(hits.iter().map(|h| h.value).collect::<Vec<_>>(), [5000.0]);
}

#[test]
fn value_percentile_as_the_specification_writes_it_finds_rare_values() {
    // The specification's example: a process name seen in at most 1 % of a computer's events.
    let c = "title: A computer spawned a processes name in the last 24h than 1% of all the processes.\ncorrelation:\n    type: value_percentile\n    rules:\n        - process_creation\n    group-by:\n        - ComputerName\n    timespan: 24h\n    condition:\n        field: image\n        lte: 1\n";
    let e = engine(&[c, &rule("process_creation", 1)]);
    let ev = |image: &str| json!({"EventID": 1, "ComputerName": "pc", "image": image});
    let mut events: Vec<(i64, Value)> = (0..99).map(|t| (t * S, ev("svchost.exe"))).collect();
    events.push((100 * S, ev("rare.exe")));
    let hits = run(&e, &events);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].value, 1.0);
    assert_eq!(hits[0].last_us, 100 * S);
    // After 49 common ones, the rare one is 2 %: not rare enough.
    let mut events: Vec<(i64, Value)> = (0..49).map(|t| (t * S, ev("svchost.exe"))).collect();
    events.push((100 * S, ev("rare.exe")));
    assert!(run(&e, &events).is_empty());
}

const EXAMPLE: &str = "title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
description: Detects multiple failed logins by a single user followed by a successful login of that user
references:
    - https://reference.com
author: Florian Roth (Nextron Systems)
date: 2023-06-16
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
falsepositives:
    - Unlikely
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
description: Detects multiple failed logins within a certain amount of time
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
description: Detects a successful login
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
";

#[test]
fn the_specification_example_chains_correlations_in_one_file() {
    let mut builder = EngineBuilder::new();
    assert_eq!(builder.add_yaml("mr_example.yml", EXAMPLE), 4);
    assert!(builder.errors().is_empty(), "{:?}", builder.errors());
    let e = builder.build();
    assert_eq!((e.rule_count(), e.correlation_count()), (2, 2));
    let top = e.correlation(0).unwrap();
    assert_eq!(top.kind, "temporal_ordered");
    assert_eq!(top.level.as_deref(), Some("high"));
    assert_eq!(
        top.author.as_deref(),
        Some("Florian Roth (Nextron Systems)")
    );
    assert_eq!(
        e.correlation(1).unwrap().name.as_deref(),
        Some("multiple_failed_login")
    );
    assert_eq!(e.rule(0).unwrap().name.as_deref(), Some("failed_login"));
    // generate defaults to false: the rules only feed the correlations.
    assert!(e.rule_is_silent(0) && e.rule_is_silent(1));
    let ev = |id: u32, user: &str| json!({"EventID": id, "User": user});
    let mut events: Vec<(i64, Value)> = (0..10).map(|t| (t * S, ev(4625, "bob"))).collect();
    events.push((60 * S, ev(4624, "bob")));
    let hits = run(&e, &events);
    // Only the outer correlation is reported; the event count is an intermediate step.
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].correlation, 0);
    assert_eq!(group(&hits[0]), [("User", "bob")]);
    assert_eq!((hits[0].first_us, hits[0].last_us), (9 * S, 60 * S));
    // Nine failures are not "multiple" enough; a success before the failures is out of order.
    let mut nine: Vec<(i64, Value)> = (0..9).map(|t| (t * S, ev(4625, "bob"))).collect();
    nine.push((60 * S, ev(4624, "bob")));
    assert!(run(&e, &nine).is_empty());
    let mut before = vec![(0, ev(4624, "bob"))];
    before.extend((1..11).map(|t| (t * S, ev(4625, "bob"))));
    assert!(run(&e, &before).is_empty());
}

#[test]
fn generate_true_keeps_the_rules_and_intermediate_correlations_reported() {
    let text = EXAMPLE.replacen(
        "    timespan: 10m\nfalsepositives",
        "    timespan: 10m\n    generate: true\nfalsepositives",
        1,
    );
    let e = engine(&text.split("---\n").collect::<Vec<_>>());
    assert!(
        !e.rule_is_silent(1),
        "successful_login is referenced with generate: true"
    );
    assert!(
        e.rule_is_silent(0),
        "failed_login is referenced only by the event count"
    );
    let ev = |id: u32| json!({"EventID": id, "User": "bob"});
    let mut events: Vec<(i64, Value)> = (0..10).map(|t| (t * S, ev(4625))).collect();
    events.push((60 * S, ev(4624)));
    let hits = run(&e, &events);
    assert_eq!(
        hits.iter().map(|h| h.correlation).collect::<Vec<_>>(),
        [1, 0]
    );
    // A rule no correlation references is never silent.
    let e = engine(&[FAILED_3_IN_10S, &rule("failed", 4625), &rule("other", 1)]);
    assert!(e.rule_is_silent(0) && !e.rule_is_silent(1));
}

#[test]
fn out_of_order_events_within_the_window_count_and_stragglers_do_not() {
    let e = engine(&[FAILED_3_IN_10S, &rule("failed", 4625)]);
    let ev = json!({"EventID": 4625, "User": "a"});
    let hits = run(
        &e,
        &[
            (8 * S, ev.clone()),
            (3 * S, ev.clone()),
            (5 * S, ev.clone()),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].first_us, hits[0].last_us), (3 * S, 8 * S));
    // An event more than a timespan older than the group's newest is too late.
    let hits = run(
        &e,
        &[
            (20 * S, ev.clone()),
            (9 * S, ev.clone()),
            (21 * S, ev.clone()),
        ],
    );
    assert!(hits.is_empty(), "{hits:?}");
}

#[test]
fn state_stays_within_its_bounds() {
    let e = engine(&[FAILED_3_IN_10S, &rule("failed", 4625)]);
    let mut evaluator = e.evaluator();
    let mut correlator = e.correlator().with_max_groups(100);
    for i in 0..1000 {
        let record: Map<String, Value> = json!({"EventID": 4625, "User": format!("u{i}")})
            .as_object()
            .cloned()
            .unwrap();
        let matched = evaluator.evaluate(&record, &source()).to_vec();
        correlator.observe(i, i as u64, &matched, &record);
        assert!(
            correlator.group_count() <= 100,
            "{}",
            correlator.group_count()
        );
    }
    assert!(correlator.group_count() >= 90);
    // The most recently seen group survived eviction: two more of its events fire.
    let record: Map<String, Value> = json!({"EventID": 4625, "User": "u999"})
        .as_object()
        .cloned()
        .unwrap();
    let matched = evaluator.evaluate(&record, &source()).to_vec();
    assert!(correlator.observe(1000, 1000, &matched, &record).is_empty());
    assert_eq!(correlator.observe(1001, 1001, &matched, &record).len(), 1);
    // The least recently seen did not: its count starts over.
    let old: Map<String, Value> = json!({"EventID": 4625, "User": "u0"})
        .as_object()
        .cloned()
        .unwrap();
    assert!(correlator.observe(1002, 1002, &matched, &old).is_empty());
    assert!(correlator.observe(1003, 1003, &matched, &old).is_empty());

    // Groups whose window the stream has left behind are swept.
    let mut correlator = e.correlator();
    for i in 0..3000i64 {
        let record: Map<String, Value> = json!({"EventID": 4625, "User": format!("u{i}")})
            .as_object()
            .cloned()
            .unwrap();
        correlator.observe(i * S, i as u64, &matched, &record);
    }
    assert!(
        correlator.group_count() < 1100,
        "{}",
        correlator.group_count()
    );

    // Per group, at most max_entries_per_group events are kept: counts saturate there.
    let many = FAILED_3_IN_10S.replace("gte: 3", "gte: 5");
    let e = engine(&[&many, &rule("failed", 4625)]);
    let mut correlator = e.correlator().with_max_entries_per_group(4);
    let record: Map<String, Value> = json!({"EventID": 4625, "User": "a"})
        .as_object()
        .cloned()
        .unwrap();
    let matched = e.evaluator().evaluate(&record, &source()).to_vec();
    for i in 0..10 {
        assert!(
            correlator
                .observe(i, i as u64, &matched, &record)
                .is_empty()
        );
    }
}

#[test]
fn references_resolve_across_files_and_prefer_the_same_file() {
    let mut builder = EngineBuilder::new();
    builder.add_yaml("mr.yml", FAILED_3_IN_10S);
    assert_eq!(
        builder.errors().len(),
        1,
        "not yet: the rule is in a later file"
    );
    builder.add_yaml("r.yml", &rule("failed", 4625));
    assert!(builder.errors().is_empty(), "{:?}", builder.errors());
    assert_eq!(builder.build().correlation_count(), 1);
    // Two files each define `failed`: a reference resolves to its own file's.
    let mut builder = EngineBuilder::new();
    builder.add_yaml(
        "a.yml",
        &format!("{FAILED_3_IN_10S}---\n{}", rule("failed", 4625)),
    );
    builder.add_yaml(
        "b.yml",
        &rule("failed", 4625).replace("id: id-failed", "id: other"),
    );
    assert!(builder.errors().is_empty(), "{:?}", builder.errors());
    // From a third file, it is ambiguous.
    builder.add_yaml(
        "c.yml",
        &FAILED_3_IN_10S.replace("id: 0e95725d-7320-415d-80f7-004da920fc11\n", ""),
    );
    let errors: Vec<String> = builder.errors().iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("c.yml:5: "), "{errors:?}");
    assert!(
        errors[0].contains("\"failed\" is ambiguous: it names a.yml:"),
        "{errors:?}"
    );
    assert_eq!(builder.build().correlation_count(), 1);
}

#[test]
fn load_errors_name_the_line_and_reason() {
    let base = FAILED_3_IN_10S;
    let r = rule("failed", 4625);
    let cases: Vec<(String, &str)> = vec![
        (
            base.replace("- failed", "- nosuch"),
            "e.yml:6: correlation.rules: no rule or correlation has the name or id \"nosuch\"",
        ),
        (
            base.replace("10s", "10w"),
            "e.yml:9: correlation.timespan: \"10w\" is not a number and a unit (s, m, h or d), such as 90m",
        ),
        (
            base.replace("10s", "0m"),
            "e.yml:9: correlation.timespan: \"0m\" is empty: a timespan must be positive",
        ),
        (
            base.replace("    timespan: 10s\n", ""),
            "e.yml:4: correlation has no timespan",
        ),
        (
            base.replace("    condition:\n        gte: 3\n", ""),
            "e.yml:4: correlation has no condition (event_count needs one, such as gte: 10)",
        ),
        (
            base.replace("gte: 3", "most: 3"),
            "e.yml:11: unknown correlation.condition key \"most\" (expected gt, gte, lt, lte, eq, neq or field)",
        ),
        (
            base.replace("gte: 3", "gte: many"),
            "e.yml:11: correlation.condition.gte must be a number",
        ),
        (
            base.replace("gte: 3", "field: User"),
            "e.yml:11: correlation.condition.field is only for value_count, value_sum, value_avg and value_percentile",
        ),
        (
            base.replace("event_count", "value_count"),
            "e.yml:11: correlation.condition has no field (the field whose values are aggregated)",
        ),
        (
            base.replace("event_count", "value_median"),
            "e.yml:4: unknown correlation type \"value_median\" (expected one of event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile)",
        ),
        (
            base.replace("    type: event_count\n", ""),
            "e.yml:4: correlation has no type",
        ),
        (
            base.replace("    group-by:\n        - User\n", ""),
            "e.yml:4: correlation has no group-by",
        ),
        (
            base.replace("    rules:\n        - failed\n", ""),
            "e.yml:4: correlation has no rules",
        ),
        (
            base.replace("        - failed\n", "        - failed\n        - failed\n"),
            "e.yml:7: correlation.rules: \"failed\" is listed twice",
        ),
        (
            base.replace("group-by", "groupby"),
            "e.yml:7: unknown key correlation.groupby",
        ),
        (
            base.replace(
                "    timespan: 10s\n",
                "    timespan: 10s\n    generate: maybe\n",
            ),
            "e.yml:10: generate must be true or false",
        ),
        (
            base.replace("title: Many failed logins\n", ""),
            "e.yml:1: the correlation has no title",
        ),
        (
            format!("{base}    aliases:\n        ip:\n            nosuch: SourceIp\n"),
            "e.yml:14: correlation.aliases.ip: \"nosuch\" is not one of the correlation's rules",
        ),
    ];
    for (text, expected) in &cases {
        let errors = load_errors(&format!("{text}---\n{r}"));
        assert_eq!(errors.len(), 1, "{expected}: {errors:?}");
        assert!(
            errors[0].starts_with(expected),
            "{} != {expected}",
            errors[0]
        );
    }
    // Chains: a cycle, and a correlation over one that did not load.
    let a = "title: a\nname: a\ncorrelation:\n    type: temporal\n    rules:\n        - b\n    group-by:\n        - User\n    timespan: 1m\n";
    let b = a
        .replace("title: a\nname: a", "title: b\nname: b")
        .replace("- b", "- a");
    let errors = load_errors(&format!("{a}---\n{b}"));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("leads back to this correlation (a cycle)")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with(
            "e.yml:6: correlation.rules: \"b\" is a correlation that could not be loaded"
        )),
        "{errors:?}"
    );
    let errors = load_errors(&format!("{a}---\n{}", b.replace("- a", "- nosuch")));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains(
            "e.yml:6: correlation.rules: \"b\" is a correlation that could not be loaded"
        )),
        "{errors:?}"
    );
}

const FILTER: &str = "title: Filter Administrator account\ndescription: The valid administrator account start with adm_\nlogsource:\n    category: process_creation\n    product: windows\nfilter:\n    rules:\n        - 6f3e2987-db24-4c78-a860-b4f4095a7095 # Data Compressed - rar.exe\n        - df0841c0-9846-4e9f-ad8a-7df91571771b # Login on jump host\n    selection:\n        User|startswith: 'adm_'\n    condition: selection\n";

fn process_rule(id: &str, category: &str) -> String {
    format!(
        "title: rule {id}\nid: {id}\nlogsource:\n    product: windows\n    category: {category}\ndetection:\n    selection:\n        Image|endswith: '\\rar.exe'\n    condition: selection\n"
    )
}

fn matching(e: &Engine, user: &str) -> Vec<usize> {
    let record: Map<String, Value> = json!({"Image": "C:\\bin\\rar.exe", "User": user})
        .as_object()
        .cloned()
        .unwrap();
    let process = EventSource {
        product: Some("windows".into()),
        service: None,
        categories: vec!["process_creation".into(), "file_event".into()],
    };
    e.evaluator().evaluate(&record, &process).to_vec()
}

#[test]
fn filters_exclude_matches_of_the_rules_they_name_only() {
    // The specification's example, with a rule it names, one it names on another log source,
    // and one it does not name.
    let mut builder = EngineBuilder::new();
    builder.add_yaml("mf.yml", FILTER);
    builder.add_yaml(
        "r1.yml",
        &process_rule("6f3e2987-db24-4c78-a860-b4f4095a7095", "process_creation"),
    );
    builder.add_yaml(
        "r2.yml",
        &process_rule("df0841c0-9846-4e9f-ad8a-7df91571771b", "file_event"),
    );
    builder.add_yaml("r3.yml", &process_rule("other", "process_creation"));
    let errors: Vec<String> = builder.errors().iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "mf.yml:9: filter \"Filter Administrator account\" is not applied to rule \"df0841c0-9846-4e9f-ad8a-7df91571771b\": its logsource (product: windows, category: file_event) is not within the filter's (product: windows, category: process_creation)"
        ]
    );
    let e = builder.build();
    assert_eq!(matching(&e, "alice"), [0, 1, 2]);
    assert_eq!(
        matching(&e, "adm_alice"),
        [1, 2],
        "filtered from rule 0 only"
    );
    // The same with the prefilter off (the filter's negation must not confuse it).
    let mut builder = EngineBuilder::new().without_prefilter();
    builder.add_yaml("mf.yml", FILTER);
    builder.add_yaml(
        "r1.yml",
        &process_rule("6f3e2987-db24-4c78-a860-b4f4095a7095", "process_creation"),
    );
    let e = builder.build();
    assert_eq!(matching(&e, "adm_alice"), Vec::<usize>::new());
    assert_eq!(matching(&e, "bob"), [0]);
}

#[test]
fn invalid_filters_say_why() {
    let cases: Vec<(String, &str)> = vec![
        (FILTER.replace("    selection:\n        User|startswith: 'adm_'\n", ""), "e.yml:7: filter has no selection"),
        (FILTER.replace("    condition: selection\n", ""), "e.yml:7: filter has no condition"),
        (FILTER.replace("    condition: selection\n", "    condition: selection and other\n"), "e.yml:12: condition \"selection and other\": no search identifier named \"other\""),
        (FILTER.replace("logsource:\n    category: process_creation\n    product: windows\n", ""), "e.yml:1: the filter has no logsource"),
        (FILTER.replace("User|startswith", "User|nosuch"), "e.yml:11: filter.selection: unknown value modifier \"nosuch\""),
        (FILTER.replace("    rules:\n        - 6f3e2987-db24-4c78-a860-b4f4095a7095 # Data Compressed - rar.exe\n        - df0841c0-9846-4e9f-ad8a-7df91571771b # Login on jump host\n", ""), "e.yml:7: filter has no rules (the rules to filter)"),
        (FILTER.replace("df0841c0-9846-4e9f-ad8a-7df91571771b", "nosuch"), "e.yml:9: filter.rules: no rule or correlation has the name or id \"nosuch\""),
    ];
    let rules = format!(
        "{}---\n{}",
        process_rule("6f3e2987-db24-4c78-a860-b4f4095a7095", "process_creation"),
        process_rule("df0841c0-9846-4e9f-ad8a-7df91571771b", "process_creation")
    );
    assert!(load_errors(&format!("{FILTER}---\n{rules}")).is_empty());
    for (text, expected) in &cases {
        let errors = load_errors(&format!("{text}---\n{rules}"));
        assert_eq!(errors.len(), 1, "{expected}: {errors:?}");
        assert!(
            errors[0].starts_with(expected),
            "{} != {expected}",
            errors[0]
        );
    }
    // A filter naming a correlation.
    let errors = load_errors(&format!(
        "{}---\n{FAILED_3_IN_10S}---\n{}",
        FILTER
            .replace(
                "6f3e2987-db24-4c78-a860-b4f4095a7095",
                "0e95725d-7320-415d-80f7-004da920fc11"
            )
            .replace(
                "        - df0841c0-9846-4e9f-ad8a-7df91571771b # Login on jump host\n",
                ""
            ),
        rule("failed", 4625)
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("e.yml:8: filter.rules: \"0e95725d-7320-415d-80f7-004da920fc11\" is a correlation; filters apply to detection rules"), "{errors:?}");
}

/// The events of each hit.
fn events(hits: &[CorrelationHit]) -> Vec<Vec<u64>> {
    hits.iter().map(|h| h.events.clone()).collect()
}

#[test]
fn hits_name_the_counted_events_and_not_those_out_of_the_window() {
    let e = engine(&[FAILED_3_IN_10S, &rule("failed", 4625)]);
    let ev = |user: &str| json!({"EventID": 4625, "User": user});
    // Another user's event and an unmatched one are not counted.
    let hits = run_ids(
        &e,
        e.correlator(),
        &[
            (0, 11, ev("a")),
            (S, 12, ev("b")),
            (2 * S, 13, json!({"EventID": 4624, "User": "a"})),
            (5 * S, 14, ev("a")),
            (10 * S, 15, ev("a")),
        ],
    );
    assert_eq!(events(&hits), [vec![11, 14, 15]]);
    // The first event drops out of the window before the third arrives; ids are the caller's,
    // not in time order of arrival.
    let hits = run_ids(
        &e,
        e.correlator(),
        &[
            (0, 900, ev("a")),
            (5 * S, 7, ev("a")),
            (10 * S + 1, 500, ev("a")),
            (12 * S, 3, ev("a")),
        ],
    );
    assert_eq!(events(&hits), [vec![3, 7, 500]]);
    // After a hit its events are not reused: the re-armed hit names only later ones.
    let times = [0, 1, 2, 3, 4, 5, 12, 13, 14];
    let stream: Vec<(i64, Value)> = times.iter().map(|t| (t * S, ev("a"))).collect();
    assert_eq!(
        events(&run(&e, &stream)),
        [vec![0, 1, 2], vec![3, 4, 5, 6, 7]]
    );
}

#[test]
fn value_count_hits_name_the_events_whose_values_were_counted() {
    let c = "title: Many users\ncorrelation:\n    type: value_count\n    rules:\n        - failed\n    group-by:\n        - Host\n    timespan: 10s\n    condition:\n        field: User\n        gte: 3\n";
    let e = engine(&[c, &rule("failed", 4625)]);
    let ev = |user: &str| json!({"EventID": 4625, "Host": "h", "User": user});
    let hits = run(
        &e,
        &[
            (0, ev("old")),
            (20 * S, ev("x")),
            (21 * S, json!({"EventID": 4625, "Host": "h"})),
            (22 * S, ev("x")),
            (23 * S, ev("y")),
            (
                24 * S,
                json!({"EventID": 4625, "Host": "other", "User": "q"}),
            ),
            (25 * S, ev("z")),
        ],
    );
    // Not the event out of the window, the one without a value or the other host's.
    assert_eq!(events(&hits), [vec![1, 3, 4, 6]]);
}

#[test]
fn temporal_hits_name_the_latest_event_of_each_rule() {
    let e = engine(&[
        RECON,
        &rule("recon_cmd_a", 1),
        &rule("recon_cmd_b", 2),
        &rule("recon_cmd_c", 3),
    ]);
    let ev = |id: u32| json!({"EventID": id, "ComputerName": "h", "User": "u"});
    let hits = run(
        &e,
        &[
            (0, ev(1)),
            (10 * S, ev(3)),
            (20 * S, ev(1)),
            (30 * S, ev(3)),
            (310 * S, ev(2)),
        ],
    );
    // a at 0 s is out of the window (and older than a at 20 s), c at 10 s is older.
    assert_eq!(events(&hits), [vec![2, 3, 4]]);
    // Out of order: a late, older `a` does not replace the latest one.
    let hits = run(
        &e,
        &[
            (20 * S, ev(1)),
            (10 * S, ev(1)),
            (30 * S, ev(3)),
            (40 * S, ev(2)),
        ],
    );
    assert_eq!(events(&hits), [vec![0, 2, 3]]);
}

#[test]
fn temporal_ordered_hits_name_the_in_order_sequence() {
    let c = "title: Recon in order\ncorrelation:\n    type: temporal_ordered\n    rules:\n        - recon_cmd_a\n        - recon_cmd_b\n        - recon_cmd_c\n    group-by:\n        - User\n    timespan: 1m\n";
    let e = engine(&[
        c,
        &rule("recon_cmd_a", 1),
        &rule("recon_cmd_b", 2),
        &rule("recon_cmd_c", 3),
    ]);
    let ev = |id: u32| json!({"EventID": id, "User": "u"});
    let hits = run(
        &e,
        &[
            (0, ev(1)),       // 0: a, out of the window at the end
            (70 * S, ev(2)),  // 1: b before any a in the window: not in the sequence
            (80 * S, ev(1)),  // 2: a
            (90 * S, ev(3)),  // 3: c before b: not in the sequence
            (95 * S, ev(2)),  // 4: b
            (100 * S, ev(3)), // 5: c
        ],
    );
    assert_eq!(events(&hits), [vec![2, 4, 5]]);
    // Arrival order does not matter, event time does.
    let hits = run(&e, &[(30 * S, ev(3)), (10 * S, ev(1)), (20 * S, ev(2))]);
    assert_eq!(events(&hits), [vec![0, 1, 2]]);
    // With a condition, the in-order prefix that satisfied it.
    let two = c.replace(
        "    timespan: 1m\n",
        "    timespan: 1m\n    condition:\n        gte: 2\n",
    );
    let e = engine(&[
        &two,
        &rule("recon_cmd_a", 1),
        &rule("recon_cmd_b", 2),
        &rule("recon_cmd_c", 3),
    ]);
    let hits = run(&e, &[(0, ev(3)), (S, ev(1)), (2 * S, ev(2))]);
    assert_eq!(events(&hits), [vec![1, 2]]);
}

#[test]
fn value_aggregate_hits_name_the_events_whose_numbers_were_aggregated() {
    let website = rule("website_access", 80);
    let ev = |bytes: Value| json!({"EventID": 80, "SourceIP": "10.0.0.1", "bytes_sent": bytes});
    let sum = "title: Exfiltration\ncorrelation:\n    type: value_sum\n    rules:\n        - website_access\n    group-by:\n        - SourceIP\n    timespan: 1h\n    condition:\n        field: bytes_sent\n        gt: 1000\n";
    let stream = [
        (0, ev(json!(100))),                   // 0: out of the window
        (7200 * S, ev(json!(500))),            // 1
        (7201 * S, ev(json!("not a number"))), // 2: not aggregated
        (7202 * S, json!({"EventID": 80, "SourceIP": "10.0.0.1"})), // 3: no value
        (7203 * S, ev(json!(600))),            // 4
    ];
    let e = engine(&[sum, &website]);
    let hits = run(&e, &stream);
    assert_eq!(hits.iter().map(|h| h.value).collect::<Vec<_>>(), [1100.0]);
    assert_eq!(events(&hits), [vec![1, 4]]);
    let avg = sum
        .replace("value_sum", "value_avg")
        .replace("gt: 1000", "gt: 540");
    let e = engine(&[&avg, &website]);
    let hits = run(&e, &stream);
    assert_eq!(events(&hits), [vec![1, 4]]);
    let p50 = sum
        .replace("value_sum", "value_percentile")
        .replace("gt: 1000", "percentile: 50\n        gte: 500");
    let e = engine(&[&p50, &website]);
    let hits = run(&e, &stream);
    assert_eq!(
        events(&hits),
        [vec![1]],
        "fires on the first value in the window"
    );
    // The specification's value_percentile: the share of this event's value in the window.
    let share = sum
        .replace("value_sum", "value_percentile")
        .replace("gt: 1000", "lte: 25");
    let e = engine(&[&share, &website]);
    let hits = run(
        &e,
        &[
            (0, ev(json!("rare"))),
            (7200 * S, ev(json!("a"))),
            (7201 * S, ev(json!("a"))),
            (7202 * S, ev(json!("a"))),
            (7203 * S, ev(json!("rare"))),
        ],
    );
    assert_eq!(events(&hits), [vec![1, 2, 3, 4]]);
}

#[test]
fn chained_hits_name_the_child_hits_events() {
    let e = {
        let mut builder = EngineBuilder::new();
        builder.add_yaml("mr_example.yml", EXAMPLE);
        assert!(builder.errors().is_empty(), "{:?}", builder.errors());
        builder.build()
    };
    let ev = |id: u32| json!({"EventID": id, "User": "bob"});
    // An old failure out of the child's window, ten failures, another user's, the success.
    let mut stream = vec![(0, 100, ev(4625))];
    stream.extend((0..10).map(|i| (700 * S + i as i64 * S, i, ev(4625))));
    stream.push((720 * S, 200, json!({"EventID": 4625, "User": "eve"})));
    stream.push((760 * S, 10, ev(4624)));
    let hits = run_ids(&e, e.correlator(), &stream);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].events, (0..=10).collect::<Vec<u64>>());
    // Bounded by the per-group entry cap: the highest ids are kept.
    let three = EXAMPLE.replace("gte: 10", "gte: 3");
    let mut builder = EngineBuilder::new();
    builder.add_yaml("mr_example.yml", &three);
    let e = builder.build();
    let hits = run_ids(
        &e,
        e.correlator().with_max_entries_per_group(3),
        &[
            (0, 40, ev(4625)),
            (S, 41, ev(4625)),
            (2 * S, 42, ev(4625)),
            (3 * S, 43, ev(4624)),
        ],
    );
    assert_eq!(events(&hits), [vec![41, 42, 43]]);
}

#[test]
fn hit_events_never_exceed_the_entry_cap() {
    let e = engine(&[
        RECON,
        &rule("recon_cmd_a", 1),
        &rule("recon_cmd_b", 2),
        &rule("recon_cmd_c", 3),
    ]);
    let ev = |id: u32| json!({"EventID": id, "ComputerName": "h", "User": "u"});
    let stream = [(0, 7, ev(1)), (S, 9, ev(2)), (2 * S, 8, ev(3))];
    let hits = run_ids(&e, e.correlator().with_max_entries_per_group(2), &stream);
    assert_eq!(events(&hits), [vec![8, 9]]);
    let hits = run_ids(&e, e.correlator(), &stream);
    assert_eq!(events(&hits), [vec![7, 8, 9]]);
}

#[test]
fn a_chain_keeps_at_most_the_entry_cap_of_child_events_per_group() {
    let pair = "title: Two failures\nname: pair\ncorrelation:\n    type: event_count\n    rules:\n        - failed\n    group-by:\n        - User\n    timespan: 10s\n    condition:\n        gte: 2\n";
    let twice = "title: Two pairs\ncorrelation:\n    type: event_count\n    rules:\n        - pair\n    group-by:\n        - User\n    timespan: 1h\n    condition:\n        gte: 2\n";
    let e = engine(&[twice, pair, &rule("failed", 4625)]);
    let ev = json!({"EventID": 4625, "User": "u"});
    let stream = [
        (0, 0, ev.clone()),
        (S, 1, ev.clone()),
        (12 * S, 2, ev.clone()),
        (13 * S, 3, ev.clone()),
    ];
    let hits = run_ids(&e, e.correlator(), &stream);
    assert_eq!(events(&hits), [vec![0, 1, 2, 3]]);
    assert_eq!(hits[0].value, 2.0);
    // With a cap of 3, the group keeps only 3 child events: the oldest pair's are forgotten
    // (the pair still counts).
    let hits = run_ids(&e, e.correlator().with_max_entries_per_group(3), &stream);
    assert_eq!(events(&hits), [vec![2, 3]]);
    assert_eq!(hits[0].value, 2.0);
}
