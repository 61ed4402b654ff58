//! Decisions as events, and stored events as requests.
//!
//! Every recorded decision becomes a `policy.decision` event (docs/events.md) whose outcome
//! is the [`Verdict`]: `success` (allowed), `warned`, `blocked` or `overridden`, with the
//! policy's name and revision, the deciding rule, every matching rule and the person's
//! justification in `raw`, so "who tried to copy what, and was stopped" is evidence in the
//! ledger. Back-tests run the other way: a stored activity becomes the request it would
//! have been ([`request_of_event`]).

use mamori_event::{
    Actor, Destination, EVENT_VERSION, Event, Kind, Object, Outcome, Process, Source,
};
use serde_json::{Map, Value, json};

use crate::engine::{Decision, ObjectFacts, Policy, ProcessFacts, Request, Verdict};
use crate::model::Channel;

/// The source name of decision events.
pub const SOURCE: &str = "mamori-policy";

/// The Windows-style instance id of a USB device, as events name devices.
pub fn device_id(device: &crate::UsbDevice) -> String {
    let mut id = format!(
        "USB\\VID_{}&PID_{}",
        device.vendor.to_ascii_uppercase(),
        device.product.to_ascii_uppercase()
    );
    if let Some(serial) = &device.serial {
        id.push('\\');
        id.push_str(serial);
    }
    id
}

/// The `policy.decision` event of `decision` on `request` (at `now` when the request has no
/// time). `decider` names who decided (an agent's host, `server`, `mailguard`).
pub fn decision_event(
    policy: &Policy,
    request: &Request,
    decision: &Decision,
    decider: &str,
    now: jiff::Timestamp,
) -> Event {
    let verdict = decision.verdict(request.justification.as_deref());
    let outcome = match verdict {
        Verdict::Allowed => Outcome::Success,
        Verdict::Warned => Outcome::Warned,
        Verdict::Blocked => Outcome::Blocked,
        Verdict::Overridden => Outcome::Overridden,
    };
    let rule_id = |index: usize| policy.rules().get(index).map(|r| r.id.clone());
    let mut raw = Map::new();
    raw.insert("policy".into(), json!(policy.name));
    raw.insert("revision".into(), json!(policy.revision));
    raw.insert("mode".into(), json!(policy.mode.as_str()));
    raw.insert("decider".into(), json!(decider));
    raw.insert("action".into(), json!(decision.action.as_str()));
    raw.insert("verdict".into(), json!(verdict.as_str()));
    if let Some(channel) = request.channel {
        raw.insert("channel".into(), json!(channel.as_str()));
    }
    if let Some(rule) = decision.rule.and_then(rule_id) {
        raw.insert("rule".into(), json!(rule));
    }
    if !decision.matched.is_empty() {
        let matched: Vec<Value> = decision
            .matched
            .iter()
            .filter_map(|i| rule_id(*i))
            .map(Value::from)
            .collect();
        raw.insert("matched".into(), Value::Array(matched));
    }
    if let Some((action, rule)) = decision.simulated {
        let mut would = Map::new();
        would.insert("action".into(), json!(action.as_str()));
        if let Some(rule) = rule.and_then(rule_id) {
            would.insert("rule".into(), json!(rule));
        }
        raw.insert("simulated".into(), Value::Object(would));
    }
    if let Some(reason) = request.justification.as_deref().map(str::trim)
        && !reason.is_empty()
    {
        raw.insert("justification".into(), json!(reason));
    }
    let findings = &request.object.findings;
    if findings.total() > 0 {
        raw.insert("findings".into(), json!(findings));
    }
    let person = &request.person;
    if person.departing {
        raw.insert("departing".into(), json!(true));
    }
    if let Some(risk) = person.risk {
        raw.insert("risk".into(), json!(risk.as_str()));
    }

    let object = object_of(&request.object);
    let destination = &request.destination;
    let destination = Destination {
        device_id: destination.device.as_ref().map(device_id),
        domain: destination.domain.clone(),
        external: None,
        kind: request.channel.and_then(Channel::destination_kind),
        name: destination.name.clone(),
        recipients: destination.recipients.clone(),
    };
    Event {
        actor: Actor {
            host: request.host.clone(),
            ip: None,
            process: request
                .process
                .as_ref()
                .map(process_of)
                .filter(|p| !p.is_empty()),
            session: None,
            user: request.user.clone(),
        },
        destination: (!destination.is_empty()).then_some(destination),
        kind: Kind::PolicyDecision,
        nonce: None,
        object: (!object.is_empty()).then_some(object),
        outcome,
        raw,
        source: Some(Source {
            name: Some(SOURCE.to_string()),
            reference: None,
        }),
        time: request.time.unwrap_or(now),
        v: EVENT_VERSION,
    }
}

fn object_of(facts: &ObjectFacts) -> Object {
    let name = facts
        .path
        .as_deref()
        .and_then(|p| p.rsplit(['/', '\\']).next())
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    Object {
        extension: facts.extension.clone(),
        labels: facts.labels.clone(),
        name,
        path: facts.path.clone(),
        size: facts.size,
        ..Object::default()
    }
}

fn process_of(facts: &ProcessFacts) -> Process {
    Process {
        name: facts.name.clone(),
        path: facts.path.clone(),
        pid: facts.pid,
        sha256: None,
    }
}

/// The request a stored activity would have made, for back-tests; `None` when no channel
/// covers it (or it is itself a decision). Person facts are left for the caller to add.
pub fn request_of_event(event: &Event) -> Option<Request> {
    if event.kind == Kind::PolicyDecision {
        return None;
    }
    let destination = event.destination.as_ref();
    let channel = Channel::of_activity(event.kind, destination.and_then(|d| d.kind))?;
    let object = event.object.as_ref();
    let extension = object.and_then(|o| {
        o.extension.clone().or_else(|| {
            o.name
                .as_deref()
                .or(o.path.as_deref())
                .and_then(|n| n.rsplit_once('.'))
                .map(|(_, e)| e.to_string())
                .filter(|e| !e.is_empty() && !e.contains(['/', '\\']))
        })
    });
    let device = destination
        .and_then(|d| d.device_id.as_deref())
        .and_then(parse_device_id);
    Some(Request {
        channel: Some(channel),
        time: Some(event.time),
        user: event.actor.user.clone(),
        host: event.actor.host.clone(),
        person: Default::default(),
        object: ObjectFacts {
            path: object.and_then(|o| o.path.clone().or_else(|| o.name.clone())),
            labels: object.map(|o| o.labels.clone()).unwrap_or_default(),
            findings: Default::default(),
            extension,
            size: object.and_then(|o| o.size),
        },
        destination: crate::DestinationFacts {
            device,
            domain: destination.and_then(|d| d.domain.clone()),
            name: destination.and_then(|d| d.name.clone()),
            recipients: destination
                .map(|d| d.recipients.clone())
                .unwrap_or_default(),
        },
        process: event.actor.process.as_ref().map(|p| ProcessFacts {
            name: p.name.clone(),
            path: p.path.clone(),
            pid: p.pid,
        }),
        justification: None,
    })
}

/// `USB\VID_0951&PID_1666\SERIAL` (any case) as a device.
pub fn parse_device_id(id: &str) -> Option<crate::UsbDevice> {
    let upper = id.to_ascii_uppercase();
    let rest = upper.strip_prefix("USB\\VID_")?;
    let vendor = rest.get(..4)?;
    let rest = rest.get(4..)?.strip_prefix("&PID_")?;
    let product = rest.get(..4)?;
    let hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(vendor) || !hex(product) {
        return None;
    }
    // The serial keeps the case it was written in.
    let serial = id
        .get(r"USB\VID_0000&PID_0000".len()..)
        .and_then(|s| s.strip_prefix('\\'))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Some(crate::UsbDevice {
        vendor: vendor.to_ascii_lowercase(),
        product: product.to_ascii_lowercase(),
        serial,
    })
}

/// The JSON answer of a decision (`POST /api/v1/decisions`, `mamori policy decide`;
/// docs/policy.md, "Decisions").
pub fn answer(policy: &Policy, request: &Request, decision: &Decision) -> Value {
    let rule_id = |index: usize| policy.rules().get(index).map(|r| r.id.as_str());
    let verdict = decision.verdict(request.justification.as_deref());
    json!({
        "action": decision.action.as_str(),
        "verdict": verdict.as_str(),
        "permitted": verdict.permits(),
        "rule": decision.rule.and_then(rule_id),
        "matched": decision.matched.iter().filter_map(|i| rule_id(*i)).collect::<Vec<_>>(),
        "simulated": decision.simulated.map(|(action, rule)| json!({
            "action": action.as_str(),
            "rule": rule.and_then(rule_id),
        })),
        "message": policy.message(decision),
        "policy": {
            "name": policy.name,
            "revision": policy.revision,
            "mode": policy.mode.as_str(),
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{Action, UsbDevice};

    fn policy() -> Policy {
        Policy::from_toml(
            r#"format = 1
            name = "acme"
            revision = 7
            [[rules]]
            id = "usb-classified"
            action = "justify"
            message.ja = "理由を入力してください。"
            when.channels = ["removable_media"]
            when.labels = ["社外秘"]"#,
        )
        .unwrap()
    }

    #[test]
    fn a_decision_event_is_a_valid_event_carrying_the_evidence() {
        let policy = policy();
        let now: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let mut request: Request = serde_json::from_value(json!({
            "channel": "removable_media", "user": "ACM2278", "host": "pc-1",
            "object": {"path": "/home/acm2278/設計/a.dwg", "labels": ["社外秘"], "extension": "dwg",
                       "findings": {"my_number": 2}},
            "destination": {"device": {"vendor": "0951", "product": "1666", "serial": "x1"},
                            "name": "/media/usb0"},
            "process": {"name": "cp", "pid": 4242},
        }))
        .unwrap();
        let decision = policy.decide(&request, now);
        assert_eq!(decision.action, Action::Justify);
        let event = decision_event(&policy, &request, &decision, "pc-1", now);
        assert_eq!(event.kind, Kind::PolicyDecision);
        assert_eq!(event.outcome, Outcome::Blocked);
        assert_eq!(event.time, now);
        assert_eq!(event.raw["rule"], "usb-classified");
        assert_eq!(event.raw["revision"], 7);
        assert_eq!(event.raw["findings"], json!({"my_number": 2}));
        let destination = event.destination.as_ref().unwrap();
        assert_eq!(
            destination.device_id.as_deref(),
            Some("USB\\VID_0951&PID_1666\\x1")
        );
        assert_eq!(
            event.object.as_ref().unwrap().name.as_deref(),
            Some("a.dwg")
        );
        // What the ledger stores parses back to the same event.
        let parsed = Event::from_json(&event.canonical_json()).unwrap();
        assert_eq!(parsed, event);

        request.justification = Some(" 客先への納品 ".into());
        let event = decision_event(&policy, &request, &decision, "pc-1", now);
        assert_eq!(event.outcome, Outcome::Overridden);
        assert_eq!(event.raw["justification"], "客先への納品");

        let answer = answer(&policy, &request, &decision);
        assert_eq!(answer["verdict"], "overridden");
        assert_eq!(answer["permitted"], true);
        assert_eq!(answer["message"]["ja"], "理由を入力してください。");
        assert_eq!(
            answer["policy"],
            json!({"name": "acme", "revision": 7, "mode": "enforce"})
        );
    }

    #[test]
    fn stored_activity_becomes_the_request_it_would_have_made() {
        let event = Event::from_json(
            r#"{"time":"2026-01-05T18:12:00+09:00","kind":"file.copy",
            "actor":{"user":"ACM2278","host":"PC-1234"},
            "object":{"path":"C:/design/a.DWG","labels":["社外秘"]},
            "destination":{"kind":"removable","device_id":"USB\\VID_0951&PID_1666\\60a44c"},
            "outcome":"success"}"#
                .as_bytes(),
        )
        .unwrap();
        let request = request_of_event(&event).unwrap();
        assert_eq!(request.channel, Some(Channel::RemovableMedia));
        assert_eq!(request.object.extension.as_deref(), Some("DWG"));
        assert_eq!(
            request.destination.device,
            Some(UsbDevice {
                vendor: "0951".into(),
                product: "1666".into(),
                serial: Some("60a44c".into()),
            })
        );
        let decision = policy().decide(&request, jiff::Timestamp::now());
        assert_eq!(decision.action, Action::Justify);

        let logon = Event::from_json(
            br#"{"time":"2026-01-05T09:00:00Z","kind":"logon","actor":{"user":"u"},"outcome":"success"}"#,
        )
        .unwrap();
        assert!(request_of_event(&logon).is_none());
        assert_eq!(parse_device_id("USB\\VID_0951&PID_16"), None);
        assert_eq!(
            parse_device_id("usb\\vid_0951&pid_1666").unwrap().serial,
            None
        );
    }
}
