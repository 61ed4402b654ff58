//! Validating deserialisation of the event model.
//!
//! Hand-written (rather than derived) so that field names come from [`crate::field`], unknown
//! and duplicate fields are reported *at their own path* (the error is raised while reading the
//! offending member's value, which `serde_path_to_error` records), and every check happens while
//! parsing, without a second pass.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::canonical::{normalize_f64, normalize_i64, normalize_u64};
use crate::field;
use crate::kinds::{DestinationKind, Kind, Outcome};
use crate::model::{
    Actor, Destination, EVENT_VERSION, Event, MAX_SAFE_INTEGER, Nonce, Object, Process,
    Sha256Digest, Source,
};

/// Reads a map key and returns the matching known name (no allocation), or `None`.
struct FieldSeed(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Option<&'static str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldSeed {
    type Value = Option<&'static str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().copied().find(|name| *name == s))
    }
}

/// A value "deserialiser" that always fails with the given reason. Used as the seed of a member's
/// value so that the failure is recorded at the member's own path.
struct Reject(String);

impl<'de> DeserializeSeed<'de> for Reject {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
        Err(de::Error::custom(self.0))
    }
}

fn reject<'de, A: MapAccess<'de>, T>(map: &mut A, reason: String) -> Result<T, A::Error> {
    map.next_value_seed(Reject(reason.clone()))?;
    Err(de::Error::custom(reason))
}

fn unknown<'de, A: MapAccess<'de>, T>(
    map: &mut A,
    known: &'static [&'static str],
) -> Result<T, A::Error> {
    reject(
        map,
        format!("unknown field, expected one of: {}", known.join(", ")),
    )
}

/// Reads the current member's value into `slot`, rejecting a second occurrence.
fn put<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return reject(map, "duplicate field".to_owned());
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| de::Error::missing_field(name))
}

// ---------------------------------------------------------------------------------------------
// Leaf values with their own validation.

/// `actor.user`: a non-empty string.
struct UserName(String);

impl<'de> Deserialize<'de> for UserName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Err(de::Error::custom("must not be empty"));
        }
        Ok(UserName(s))
    }
}

/// `object.size`: an integer in 0..=2^53-1.
struct SafeSize(u64);

impl<'de> Deserialize<'de> for SafeSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        if n > MAX_SAFE_INTEGER {
            return Err(de::Error::custom(format!(
                "{n} is larger than {MAX_SAFE_INTEGER} (2^53 - 1), the largest integer a JSON \
                 number carries exactly (RFC 8785)"
            )));
        }
        Ok(SafeSize(n))
    }
}

/// `time`: strict RFC 3339.
struct Time(jiff::Timestamp);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Time;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Time, E> {
                crate::time::parse_rfc3339(s)
                    .map(Time)
                    .ok_or_else(|| E::custom(format!("invalid RFC 3339 timestamp {s:?}")))
            }
        }
        d.deserialize_str(V)
    }
}

/// `v`: must be 1.
struct Version(u32);

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "event version {EVENT_VERSION}")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Version, E> {
                if n == u64::from(EVENT_VERSION) {
                    Ok(Version(EVENT_VERSION))
                } else {
                    Err(E::custom(format!("unsupported event version {n}")))
                }
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Version, E> {
                Err(E::custom(format!("unsupported event version {n}")))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Version, E> {
                Err(E::custom(format!("unsupported event version {n}")))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Sha256Digest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("64 hex characters")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Sha256Digest, E> {
                s.parse()
                    .map_err(|e: crate::EventError| E::custom(e.reason))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Nonce {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Nonce;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a nonce string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Nonce, E> {
                s.parse()
                    .map_err(|e: crate::EventError| E::custom(e.reason))
            }
        }
        d.deserialize_str(V)
    }
}

// ---------------------------------------------------------------------------------------------
// `raw`: any JSON object, duplicate keys rejected, numbers normalised to their RFC 8785 value.

/// A JSON value read for `raw`.
struct RawValue(Value);

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<RawValue, E> {
        Ok(RawValue(Value::Bool(b)))
    }
    fn visit_i64<E>(self, n: i64) -> Result<RawValue, E> {
        Ok(RawValue(Value::Number(normalize_i64(n))))
    }
    fn visit_u64<E>(self, n: u64) -> Result<RawValue, E> {
        Ok(RawValue(Value::Number(normalize_u64(n))))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<RawValue, E> {
        normalize_f64(n)
            .map(|n| RawValue(Value::Number(n)))
            .ok_or_else(|| E::custom("number is not finite"))
    }
    fn visit_str<E>(self, s: &str) -> Result<RawValue, E> {
        Ok(RawValue(Value::String(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<RawValue, E> {
        Ok(RawValue(Value::String(s)))
    }
    fn visit_unit<E>(self) -> Result<RawValue, E> {
        Ok(RawValue(Value::Null))
    }
    fn visit_none<E>(self) -> Result<RawValue, E> {
        Ok(RawValue(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        RawValue::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(RawValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(RawValue(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawValue, A::Error> {
        raw_map(map).map(|m| RawValue(Value::Object(m)))
    }
}

fn raw_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Map<String, Value>, A::Error> {
    let mut out = Map::new();
    while let Some(key) = map.next_key::<String>()? {
        // One lookup per key: the entry both detects a duplicate and takes the value.
        match out.entry(key) {
            serde_json::map::Entry::Occupied(_) => {
                return reject(&mut map, "duplicate key".to_owned());
            }
            serde_json::map::Entry::Vacant(slot) => {
                let RawValue(v) = map.next_value()?;
                slot.insert(v);
            }
        }
    }
    Ok(out)
}

/// The `raw` member: a JSON object (or `null`, read as empty).
struct RawObject(Map<String, Value>);

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawObject, A::Error> {
                raw_map(map).map(RawObject)
            }
        }
        d.deserialize_map(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Records.

macro_rules! record_deserialize {
    ($ty:ty, $expecting:literal, $visit:ident) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$ty, A::Error> {
                        $visit(map)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

record_deserialize!(Event, "a Mamori event object", visit_event);
record_deserialize!(Actor, "an actor object", visit_actor);
record_deserialize!(Process, "a process object", visit_process);
record_deserialize!(Object, "an object object", visit_object);
record_deserialize!(Destination, "a destination object", visit_destination);
record_deserialize!(Source, "a source object", visit_source);

fn visit_event<'de, A: MapAccess<'de>>(mut map: A) -> Result<Event, A::Error> {
    let mut actor: Option<Actor> = None;
    let mut destination: Option<Option<Destination>> = None;
    let mut kind: Option<Kind> = None;
    let mut nonce: Option<Option<Nonce>> = None;
    let mut object: Option<Option<Object>> = None;
    let mut outcome: Option<Outcome> = None;
    let mut raw: Option<Option<RawObject>> = None;
    let mut source: Option<Option<Source>> = None;
    let mut time: Option<Time> = None;
    let mut v: Option<Version> = None;
    while let Some(key) = map.next_key_seed(FieldSeed(field::EVENT_FIELDS))? {
        match key {
            Some(field::ACTOR) => put(&mut map, &mut actor)?,
            Some(field::DESTINATION) => put(&mut map, &mut destination)?,
            Some(field::KIND) => put(&mut map, &mut kind)?,
            Some(field::NONCE) => put(&mut map, &mut nonce)?,
            Some(field::OBJECT) => put(&mut map, &mut object)?,
            Some(field::OUTCOME) => put(&mut map, &mut outcome)?,
            Some(field::RAW) => put(&mut map, &mut raw)?,
            Some(field::SOURCE) => put(&mut map, &mut source)?,
            Some(field::TIME) => put(&mut map, &mut time)?,
            Some(field::V) => put(&mut map, &mut v)?,
            _ => return unknown(&mut map, field::EVENT_FIELDS),
        }
    }
    Ok(Event {
        time: required(time, field::TIME)?.0,
        kind: required(kind, field::KIND)?,
        actor: required(actor, field::ACTOR)?,
        outcome: required(outcome, field::OUTCOME)?,
        destination: destination.flatten().filter(|d| !d.is_empty()),
        nonce: nonce.flatten(),
        object: object.flatten().filter(|o| !o.is_empty()),
        raw: raw.flatten().map(|r| r.0).unwrap_or_default(),
        source: source.flatten().filter(|s| !s.is_empty()),
        v: v.map_or(EVENT_VERSION, |v| v.0),
    })
}

fn visit_actor<'de, A: MapAccess<'de>>(mut map: A) -> Result<Actor, A::Error> {
    let mut host: Option<Option<String>> = None;
    let mut ip: Option<Option<String>> = None;
    let mut process: Option<Option<Process>> = None;
    let mut session: Option<Option<String>> = None;
    let mut user: Option<UserName> = None;
    while let Some(key) = map.next_key_seed(FieldSeed(field::ACTOR_FIELDS))? {
        match key {
            Some(field::HOST) => put(&mut map, &mut host)?,
            Some(field::IP) => put(&mut map, &mut ip)?,
            Some(field::PROCESS) => put(&mut map, &mut process)?,
            Some(field::SESSION) => put(&mut map, &mut session)?,
            Some(field::USER) => put(&mut map, &mut user)?,
            _ => return unknown(&mut map, field::ACTOR_FIELDS),
        }
    }
    Ok(Actor {
        user: required(user, field::USER)?.0,
        host: host.flatten(),
        ip: ip.flatten(),
        process: process.flatten().filter(|p| !p.is_empty()),
        session: session.flatten(),
    })
}

fn visit_process<'de, A: MapAccess<'de>>(mut map: A) -> Result<Process, A::Error> {
    let mut name: Option<Option<String>> = None;
    let mut path: Option<Option<String>> = None;
    let mut pid: Option<Option<u32>> = None;
    let mut sha256: Option<Option<Sha256Digest>> = None;
    while let Some(key) = map.next_key_seed(FieldSeed(field::PROCESS_FIELDS))? {
        match key {
            Some(field::NAME) => put(&mut map, &mut name)?,
            Some(field::PATH) => put(&mut map, &mut path)?,
            Some(field::PID) => put(&mut map, &mut pid)?,
            Some(field::SHA256) => put(&mut map, &mut sha256)?,
            _ => return unknown(&mut map, field::PROCESS_FIELDS),
        }
    }
    Ok(Process {
        name: name.flatten(),
        path: path.flatten(),
        pid: pid.flatten(),
        sha256: sha256.flatten(),
    })
}

fn visit_object<'de, A: MapAccess<'de>>(mut map: A) -> Result<Object, A::Error> {
    let mut extension: Option<Option<String>> = None;
    let mut labels: Option<Option<Vec<String>>> = None;
    let mut name: Option<Option<String>> = None;
    let mut path: Option<Option<String>> = None;
    let mut sha256: Option<Option<Sha256Digest>> = None;
    let mut size: Option<Option<SafeSize>> = None;
    let mut subject: Option<Option<String>> = None;
    let mut r#type: Option<Option<String>> = None;
    let mut url: Option<Option<String>> = None;
    while let Some(key) = map.next_key_seed(FieldSeed(field::OBJECT_FIELDS))? {
        match key {
            Some(field::EXTENSION) => put(&mut map, &mut extension)?,
            Some(field::LABELS) => put(&mut map, &mut labels)?,
            Some(field::NAME) => put(&mut map, &mut name)?,
            Some(field::PATH) => put(&mut map, &mut path)?,
            Some(field::SHA256) => put(&mut map, &mut sha256)?,
            Some(field::SIZE) => put(&mut map, &mut size)?,
            Some(field::SUBJECT) => put(&mut map, &mut subject)?,
            Some(field::TYPE) => put(&mut map, &mut r#type)?,
            Some(field::URL) => put(&mut map, &mut url)?,
            _ => return unknown(&mut map, field::OBJECT_FIELDS),
        }
    }
    Ok(Object {
        extension: extension.flatten(),
        labels: labels.flatten().unwrap_or_default(),
        name: name.flatten(),
        path: path.flatten(),
        sha256: sha256.flatten(),
        size: size.flatten().map(|s| s.0),
        subject: subject.flatten(),
        r#type: r#type.flatten(),
        url: url.flatten(),
    })
}

fn visit_destination<'de, A: MapAccess<'de>>(mut map: A) -> Result<Destination, A::Error> {
    let mut device_id: Option<Option<String>> = None;
    let mut domain: Option<Option<String>> = None;
    let mut external: Option<Option<bool>> = None;
    let mut kind: Option<Option<DestinationKind>> = None;
    let mut name: Option<Option<String>> = None;
    let mut recipients: Option<Option<Vec<String>>> = None;
    while let Some(key) = map.next_key_seed(FieldSeed(field::DESTINATION_FIELDS))? {
        match key {
            Some(field::DEVICE_ID) => put(&mut map, &mut device_id)?,
            Some(field::DOMAIN) => put(&mut map, &mut domain)?,
            Some(field::EXTERNAL) => put(&mut map, &mut external)?,
            Some(field::KIND) => put(&mut map, &mut kind)?,
            Some(field::NAME) => put(&mut map, &mut name)?,
            Some(field::RECIPIENTS) => put(&mut map, &mut recipients)?,
            _ => return unknown(&mut map, field::DESTINATION_FIELDS),
        }
    }
    Ok(Destination {
        device_id: device_id.flatten(),
        domain: domain.flatten(),
        external: external.flatten(),
        kind: kind.flatten(),
        name: name.flatten(),
        recipients: recipients.flatten().unwrap_or_default(),
    })
}

fn visit_source<'de, A: MapAccess<'de>>(mut map: A) -> Result<Source, A::Error> {
    let mut name: Option<Option<String>> = None;
    let mut reference: Option<Option<String>> = None;
    while let Some(key) = map.next_key_seed(FieldSeed(field::SOURCE_FIELDS))? {
        match key {
            Some(field::NAME) => put(&mut map, &mut name)?,
            Some(field::REF) => put(&mut map, &mut reference)?,
            _ => return unknown(&mut map, field::SOURCE_FIELDS),
        }
    }
    Ok(Source {
        name: name.flatten(),
        reference: reference.flatten(),
    })
}
