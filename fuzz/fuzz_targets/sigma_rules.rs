//! Any text as a Sigma rule file: loading never panics, every document is either a rule or an
//! error naming a line, and whatever loads evaluates on an event without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_detect::sigma::{EngineBuilder, EventSource};
use serde_json::{Map, Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = mamori_detect::sigma::yaml_documents("fuzz.yml", text);
    let mut builder = EngineBuilder::new();
    let added = builder.add_yaml("fuzz.yml", text);
    for error in builder.errors() {
        assert!(!error.reason.is_empty());
    }
    let engine = builder.build();
    assert_eq!(engine.rule_count(), added);
    let event: Map<String, Value> = json!({
        "EventID": 1, "Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami",
        "User": "DOM\\a", "DestinationIp": "10.1.2.3", "Size": 42, "Flag": true, "Empty": null,
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    let source = EventSource {
        product: Some("windows".into()),
        service: Some("sysmon".into()),
        categories: vec!["process_creation".into()],
    };
    let mut evaluator = engine.evaluator();
    for &index in evaluator.evaluate(&event, &source) {
        assert!(index < engine.rule_count());
    }
});
