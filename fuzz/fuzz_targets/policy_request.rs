//! Any bytes as a decision request (`POST /api/v1/decisions`, `mamori policy decide`): parsing
//! and `check` never panic, and a request they accept is decided by the example policy and
//! turned into its event and answer without panicking; the event is valid (it parses back).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mamori_event::Event;
use mamori_policy::{Policy, Request, answer, decision_event};

static POLICY: LazyLock<Option<Policy>> =
    LazyLock::new(|| Policy::from_toml(include_str!("../../docs/policy.toml")).ok());

fuzz_target!(|data: &[u8]| {
    let Some(policy) = POLICY.as_ref() else {
        return;
    };
    let Ok(request) = serde_json::from_slice::<Request>(data) else {
        return;
    };
    if request.check().is_err() {
        return;
    }
    let now = jiff::Timestamp::UNIX_EPOCH;
    let decision = policy.decide(&request, now);
    let _ = answer(policy, &request, &decision);
    let event = decision_event(policy, &request, &decision, "fuzz", now);
    let parsed = Event::from_json(&event.canonical_json());
    assert!(parsed.is_ok(), "{parsed:?}");
});
