//! The Sigma engine against hand-written rules and events: every modifier and condition form
//! of the specification, each with an event that must match and one that must not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use mamori_detect::sigma::{EngineBuilder, EventSource};
use serde_json::{Map, Value, json};

fn source() -> EventSource {
    EventSource {
        product: Some("windows".into()),
        service: Some("sysmon".into()),
        categories: vec!["process_creation".into()],
    }
}

/// Whether a rule with this `detection` (YAML, indented by 4) matches `event`.
fn matches(detection: &str, event: Value) -> bool {
    let yaml = format!(
        "title: t\nid: 1\nlogsource:\n    product: windows\n    category: process_creation\ndetection:\n{detection}"
    );
    let mut builder = EngineBuilder::new();
    assert_eq!(
        builder.add_yaml("t.yml", &yaml),
        1,
        "{:?}",
        builder.errors()
    );
    let engine = builder.build();
    let mut evaluator = engine.evaluator();
    let event: Map<String, Value> = event.as_object().cloned().unwrap();
    !evaluator.evaluate(&event, &source()).is_empty()
}

fn load_error(detection: &str) -> String {
    let yaml = format!("title: t\nlogsource:\n    product: windows\ndetection:\n{detection}");
    let mut builder = EngineBuilder::new();
    assert_eq!(builder.add_yaml("t.yml", &yaml), 0);
    builder.errors()[0].to_string()
}

#[test]
fn plain_values_are_case_insensitive_whole_values() {
    let d = "    sel:\n        Image: 'C:\\Windows\\cmd.exe'\n    condition: sel\n";
    assert!(matches(d, json!({"Image": "c:\\windows\\CMD.EXE"})));
    assert!(!matches(d, json!({"Image": "c:\\windows\\cmd.exe.bak"})));
    assert!(!matches(d, json!({"Other": "c:\\windows\\cmd.exe"})));
}

#[test]
fn wildcards_and_escapes() {
    let d = "    sel:\n        Image: '*\\prog?.exe'\n    condition: sel\n";
    assert!(matches(d, json!({"Image": "C:\\x\\progA.exe"})));
    assert!(!matches(d, json!({"Image": "C:\\x\\prog.exe"})));
    let d = "    sel:\n        CommandLine: 'a\\*b'\n    condition: sel\n";
    assert!(matches(d, json!({"CommandLine": "a*b"})));
    assert!(!matches(d, json!({"CommandLine": "axxb"})));
}

#[test]
fn contains_startswith_endswith_and_all() {
    let d = "    sel:\n        CommandLine|contains|all:\n            - ' -enc '\n            - 'hidden'\n    condition: sel\n";
    assert!(matches(
        d,
        json!({"CommandLine": "powershell -w HIDDEN -enc AAA"})
    ));
    assert!(!matches(d, json!({"CommandLine": "powershell -enc AAA"})));
    let d = "    sel:\n        Image|endswith:\n            - '\\a.exe'\n            - '\\b.exe'\n        ParentImage|startswith: 'C:\\Users\\'\n    condition: sel\n";
    assert!(matches(
        d,
        json!({"Image": "C:\\t\\b.exe", "ParentImage": "c:\\users\\x\\p.exe"})
    ));
    assert!(!matches(
        d,
        json!({"Image": "C:\\t\\c.exe", "ParentImage": "c:\\users\\x\\p.exe"})
    ));
}

#[test]
fn lists_of_maps_are_ored_and_keywords_search_every_value() {
    let d = "    sel:\n        - Image|endswith: '\\a.exe'\n        - Description: 'Test'\n    condition: sel\n";
    assert!(matches(d, json!({"Description": "test"})));
    assert!(!matches(d, json!({"Description": "tests"})));
    let d = "    keywords:\n        - 'event::clear'\n        - 'event::drop'\n    condition: keywords\n";
    assert!(matches(
        d,
        json!({"CommandLine": "mimikatz EVENT::drop exit"})
    ));
    assert!(!matches(d, json!({"CommandLine": "mimikatz exit"})));
    let d = "    keywords:\n        '|all':\n            - 'Oab'\n            - ' -ExternalUrl '\n    condition: keywords\n";
    assert!(matches(
        d,
        json!({"A": "Set-OabVirtualDirectory", "B": "x -ExternalUrl y"})
    ));
    assert!(!matches(d, json!({"A": "Set-OabVirtualDirectory"})));
}

#[test]
fn conditions_not_and_quantifiers() {
    let d = "    selection_a:\n        A: 1\n    selection_b:\n        B: 2\n    filter_x:\n        X: 'y'\n    condition: 1 of selection_* and not filter_x\n";
    assert!(matches(d, json!({"B": 2})));
    assert!(!matches(d, json!({"B": 2, "X": "Y"})));
    assert!(!matches(d, json!({"C": 2})));
    let d = "    s1:\n        A: 1\n    s2:\n        B: 2\n    _hidden:\n        C: 3\n    condition: all of them\n";
    assert!(matches(d, json!({"A": 1, "B": "2"})));
    assert!(!matches(d, json!({"A": 1})));
    let d = "    s1:\n        A: 1\n    s2:\n        B: 2\n    condition:\n        - s1\n        - s2\n";
    assert!(matches(d, json!({"B": 2})));
}

#[test]
fn null_empty_and_exists() {
    let d = "    sel:\n        A: 1\n    filter:\n        PasswordLastSet: null\n    condition: sel and not filter\n";
    assert!(matches(d, json!({"A": 1, "PasswordLastSet": "x"})));
    assert!(!matches(d, json!({"A": 1})));
    assert!(!matches(d, json!({"A": 1, "PasswordLastSet": null})));
    let d = "    sel:\n        A: ''\n    condition: sel\n";
    assert!(matches(d, json!({"A": ""})));
    assert!(!matches(d, json!({"A": "x"})));
    assert!(!matches(d, json!({})));
    let d = "    sel:\n        A|exists: true\n    condition: sel\n";
    assert!(matches(d, json!({"A": ""})));
    assert!(!matches(d, json!({"B": 1})));
    let d = "    sel:\n        A|exists: false\n    condition: sel\n";
    assert!(matches(d, json!({"B": 1})));
}

#[test]
fn numbers_compare_as_numbers() {
    let d = "    sel:\n        EventID: 4688\n    condition: sel\n";
    assert!(matches(d, json!({"EventID": 4688})));
    assert!(matches(d, json!({"EventID": "4688"})));
    assert!(!matches(d, json!({"EventID": 46880})));
    let d = "    sel:\n        Size|gte: 100\n        Size|lt: 200\n    condition: sel\n";
    assert!(matches(d, json!({"Size": 100})));
    assert!(matches(d, json!({"Size": "150"})));
    assert!(!matches(d, json!({"Size": 200})));
    assert!(!matches(d, json!({"Size": "big"})));
}

#[test]
fn regular_expressions_with_flags() {
    let d = "    sel:\n        CommandLine|re: '^cmd\\.exe /c [a-z]+$'\n    condition: sel\n";
    assert!(matches(d, json!({"CommandLine": "cmd.exe /c dir"})));
    assert!(
        !matches(d, json!({"CommandLine": "CMD.EXE /c dir"})),
        "re is case-sensitive"
    );
    let d = "    sel:\n        CommandLine|re|i: '^cmd\\.exe'\n    condition: sel\n";
    assert!(matches(d, json!({"CommandLine": "CMD.EXE /c dir"})));
    assert!(
        load_error("    sel:\n        A|re: '(unclosed'\n    condition: sel\n")
            .contains("invalid regular expression")
    );
}

#[test]
fn encodings_base64_offsets_and_utf16() {
    // "whoami" in UTF-16LE, base64 at some offset of a longer encoded command.
    let encoded = base64_of(&utf16le("xx whoami /all"));
    let d =
        "    sel:\n        CommandLine|wide|base64offset|contains: 'whoami'\n    condition: sel\n";
    assert!(matches(
        d,
        json!({"CommandLine": format!("powershell -enc {encoded}")})
    ));
    assert!(!matches(
        d,
        json!({"CommandLine": format!("powershell -enc {}", base64_of(&utf16le("xx hostname")))})
    ));
    let d = "    sel:\n        Payload|base64: 'secret'\n    condition: sel\n";
    assert!(matches(d, json!({"Payload": "c2VjcmV0"})));
}

#[test]
fn windash_accepts_every_dash() {
    let d = "    sel:\n        CommandLine|windash|contains: ' -exec bypass'\n    condition: sel\n";
    for dash in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(
            matches(
                d,
                json!({"CommandLine": format!("powershell {dash}exec bypass")})
            ),
            "{dash}"
        );
    }
    assert!(!matches(
        d,
        json!({"CommandLine": "powershell +exec bypass"})
    ));
}

#[test]
fn cidr_cased_neq_and_fieldref() {
    let d = "    sel:\n        DestinationIp|cidr:\n            - '10.0.0.0/8'\n            - 'fd00::/8'\n    condition: sel\n";
    assert!(matches(d, json!({"DestinationIp": "10.2.3.4"})));
    assert!(matches(d, json!({"DestinationIp": "fd12::1"})));
    assert!(!matches(d, json!({"DestinationIp": "192.168.1.1"})));
    let d = "    sel:\n        A|cased: 'MiXed'\n    condition: sel\n";
    assert!(matches(d, json!({"A": "MiXed"})));
    assert!(!matches(d, json!({"A": "mixed"})));
    let d = "    sel:\n        A|neq:\n            - 'x'\n            - 'y'\n    condition: sel\n";
    assert!(matches(d, json!({"A": "z"})));
    assert!(!matches(d, json!({"A": "Y"})));
    let d = "    sel:\n        User|fieldref: ParentUser\n    condition: sel\n";
    assert!(matches(
        d,
        json!({"User": "DOM\\a", "ParentUser": "dom\\A"})
    ));
    assert!(!matches(
        d,
        json!({"User": "DOM\\a", "ParentUser": "DOM\\b"})
    ));
}

#[test]
fn date_parts() {
    let d = "    sel:\n        Time|hour|gte: 22\n    condition: sel\n";
    assert!(matches(d, json!({"Time": "2024-01-02T23:10:00Z"})));
    assert!(!matches(d, json!({"Time": "2024-01-02T09:10:00Z"})));
}

#[test]
fn logsource_routes_rules() {
    let yaml = "title: t\nlogsource:\n    product: windows\n    service: security\ndetection:\n    sel:\n        A: 1\n    condition: sel\n";
    let mut builder = EngineBuilder::new();
    builder.add_yaml("t.yml", yaml);
    let engine = builder.build();
    let mut evaluator = engine.evaluator();
    let event: Map<String, Value> = json!({"A": 1}).as_object().cloned().unwrap();
    assert!(evaluator.evaluate(&event, &source()).is_empty());
    let security = EventSource {
        product: Some("windows".into()),
        service: Some("security".into()),
        categories: vec![],
    };
    assert_eq!(evaluator.evaluate(&event, &security), &[0]);
}

#[test]
fn load_errors_name_the_line_and_reason() {
    let error = load_error("    sel:\n        A|nosuch: 1\n    condition: sel\n");
    assert!(error.starts_with("t.yml:6: "), "{error}");
    assert!(
        error.contains("unknown value modifier \"nosuch\""),
        "{error}"
    );
    let error = load_error("    sel:\n        A: 1\n    condition: sel and other\n");
    assert!(
        error.contains("no search identifier named \"other\""),
        "{error}"
    );
    let error = load_error("    sel:\n        A|expand: '%Admins%'\n    condition: sel\n");
    assert!(error.contains("placeholder"), "{error}");
    let mut builder = EngineBuilder::new();
    builder.add_yaml("bad.yml", "title: [unclosed\n");
    assert!(builder.errors()[0].to_string().starts_with("bad.yml:"));
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Every rule of the insider pack that can produce a finding has a Japanese title
/// (`title_ja`), so alerts read fully in Japanese.
#[test]
fn the_insider_pack_has_japanese_titles() {
    let pack = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/insider");
    let mut builder = EngineBuilder::new();
    // The rule files, not their `tests/` cases.
    for entry in std::fs::read_dir(&pack).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml") {
            builder.add_path(&path).unwrap();
        }
    }
    assert!(builder.errors().is_empty(), "{:?}", builder.errors());
    let engine = builder.build();
    let mut missing = Vec::new();
    for i in 0..engine.rule_count() {
        let rule = engine.rule(i).unwrap();
        if !engine.rule_is_silent(i) && rule.title_ja.is_none() {
            missing.push(rule.title.clone());
        }
    }
    for i in 0..engine.correlation_count() {
        let correlation = engine.correlation(i).unwrap();
        if correlation.title_ja.is_none() {
            missing.push(correlation.title.clone());
        }
    }
    assert!(missing.is_empty(), "no title_ja: {missing:?}");
    let ja = (0..engine.rule_count())
        .filter_map(|i| engine.rule(i)?.title_ja.clone())
        .find(|t| t == "他人に割り当てられた PC へのログオン");
    assert!(ja.is_some());
}
