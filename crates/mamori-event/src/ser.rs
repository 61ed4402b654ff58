//! Fast canonical serialisation of events: `serde_json`'s compact serializer with an
//! RFC 8785 number formatter, records that emit their members in canonical order, and an
//! adapter that emits `raw` objects in UTF-16 key order. No intermediate `Value`.

use std::cmp::Ordering;
use std::io;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};
use serde_json::{Map, Value};

use crate::canonical;
use crate::field;
use crate::model::{Actor, Destination, Event, Nonce, Object, Process, Sha256Digest, Source};

/// `serde_json` formatter that writes numbers per RFC 8785 (ECMAScript `Number::toString`).
/// Strings need no override: `serde_json` escapes exactly the characters `JSON.stringify`
/// escapes; the control-character escape is spelled out here to pin the lower-case hex.
pub(crate) struct Rfc8785Formatter;

/// 2^53: integers of at most this magnitude are written exactly.
const EXACT: u64 = 1 << 53;

fn write_double<W: ?Sized + io::Write>(w: &mut W, v: f64) -> io::Result<()> {
    if v.is_finite() {
        let mut buf = ryu_js::Buffer::new();
        w.write_all(buf.format_finite(v).as_bytes())
    } else {
        w.write_all(b"null")
    }
}

impl Formatter for Rfc8785Formatter {
    fn write_i64<W: ?Sized + io::Write>(&mut self, w: &mut W, v: i64) -> io::Result<()> {
        if v.unsigned_abs() <= EXACT {
            CompactFormatter.write_i64(w, v)
        } else {
            write_double(w, v as f64)
        }
    }
    fn write_u64<W: ?Sized + io::Write>(&mut self, w: &mut W, v: u64) -> io::Result<()> {
        if v <= EXACT {
            CompactFormatter.write_u64(w, v)
        } else {
            write_double(w, v as f64)
        }
    }
    fn write_i128<W: ?Sized + io::Write>(&mut self, w: &mut W, v: i128) -> io::Result<()> {
        match i64::try_from(v) {
            Ok(v) => self.write_i64(w, v),
            Err(_) => write_double(w, v as f64),
        }
    }
    fn write_u128<W: ?Sized + io::Write>(&mut self, w: &mut W, v: u128) -> io::Result<()> {
        match u64::try_from(v) {
            Ok(v) => self.write_u64(w, v),
            Err(_) => write_double(w, v as f64),
        }
    }
    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, v: f32) -> io::Result<()> {
        write_double(w, f64::from(v))
    }
    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, v: f64) -> io::Result<()> {
        write_double(w, v)
    }
    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let s: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => {
                let hex = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    crate::HEX[usize::from(byte >> 4)],
                    crate::HEX[usize::from(byte & 0xf)],
                ];
                return w.write_all(&hex);
            }
        };
        w.write_all(s)
    }
}

/// Appends the canonical JSON of `event` to `out`, with or without its nonce, and returns the
/// byte range of the nonce member (`,"nonce":"…"`) in `out` when one was written.
///
/// The top level is written by hand (its keys are fixed ASCII names, its order is fixed), which
/// also tells where the nonce member lies; member values go through `serde_json` with
/// [`Rfc8785Formatter`]. The test suite checks the result against the generic reference.
pub(crate) fn write_event(
    event: &Event,
    with_nonce: bool,
    out: &mut Vec<u8>,
) -> Option<(usize, usize)> {
    let e = event;
    out.push(b'{');
    member_key(out, field::ACTOR, true);
    value(out, &e.actor);
    if let Some(d) = e.destination.as_ref().filter(|d| !d.is_empty()) {
        member_key(out, field::DESTINATION, false);
        value(out, d);
    }
    member_key(out, field::KIND, false);
    plain_str(out, e.kind.as_str());
    let mut nonce_span = None;
    if let (true, Some(n)) = (with_nonce, &e.nonce) {
        let from = out.len();
        member_key(out, field::NONCE, false);
        out.push(b'"');
        out.extend_from_slice(&n.encode());
        out.push(b'"');
        nonce_span = Some((from, out.len()));
    }
    if let Some(o) = e.object.as_ref().filter(|o| !o.is_empty()) {
        member_key(out, field::OBJECT, false);
        value(out, o);
    }
    member_key(out, field::OUTCOME, false);
    plain_str(out, e.outcome.as_str());
    if !e.raw.is_empty() {
        member_key(out, field::RAW, false);
        value(out, &SortedMap(&e.raw));
    }
    if let Some(src) = e.source.as_ref().filter(|s| !s.is_empty()) {
        member_key(out, field::SOURCE, false);
        value(out, src);
    }
    member_key(out, field::TIME, false);
    plain_str(out, crate::time::format_rfc3339(e.time).as_str());
    member_key(out, field::V, false);
    value(out, &e.v);
    out.push(b'}');
    nonce_span
}

/// `,"key":` — keys are plain ASCII names that need no escaping.
fn member_key(out: &mut Vec<u8>, key: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// A string that needs no escaping (vocabulary names, timestamps).
fn plain_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

fn value<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, Rfc8785Formatter);
    // Writing to a Vec cannot fail, and every value here is serialisable.
    let _ = v.serialize(&mut ser);
}

impl Serialize for Event {
    /// The event as its canonical JSON *value*: members in canonical order, absent and empty
    /// members omitted, nonce included (used by `serde_json::to_value`, the OCSF mapping and
    /// the tests' reference path). [`Event::write_canonical`] writes the same bytes directly.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self;
        let mut m = s.serialize_map(None)?;
        // Members in RFC 8785 order (field::EVENT_FIELDS).
        m.serialize_entry(field::ACTOR, &e.actor)?;
        if let Some(d) = e.destination.as_ref().filter(|d| !d.is_empty()) {
            m.serialize_entry(field::DESTINATION, d)?;
        }
        m.serialize_entry(field::KIND, &e.kind)?;
        if let Some(n) = &e.nonce {
            m.serialize_entry(field::NONCE, n)?;
        }
        if let Some(o) = e.object.as_ref().filter(|o| !o.is_empty()) {
            m.serialize_entry(field::OBJECT, o)?;
        }
        m.serialize_entry(field::OUTCOME, &e.outcome)?;
        if !e.raw.is_empty() {
            m.serialize_entry(field::RAW, &SortedMap(&e.raw))?;
        }
        if let Some(src) = e.source.as_ref().filter(|s| !s.is_empty()) {
            m.serialize_entry(field::SOURCE, src)?;
        }
        m.serialize_entry(field::TIME, &TimeStr(e.time))?;
        m.serialize_entry(field::V, &e.v)?;
        m.end()
    }
}

struct TimeStr(jiff::Timestamp);

impl Serialize for TimeStr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(crate::time::format_rfc3339(self.0).as_str())
    }
}

fn opt<M: SerializeMap, T: Serialize>(
    m: &mut M,
    key: &'static str,
    value: &Option<T>,
) -> Result<(), M::Error> {
    match value {
        Some(v) => m.serialize_entry(key, v),
        None => Ok(()),
    }
}

fn list<M: SerializeMap>(m: &mut M, key: &'static str, value: &[String]) -> Result<(), M::Error> {
    if value.is_empty() {
        Ok(())
    } else {
        m.serialize_entry(key, value)
    }
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        opt(&mut m, field::HOST, &self.host)?;
        opt(&mut m, field::IP, &self.ip)?;
        opt(
            &mut m,
            field::PROCESS,
            &self.process.as_ref().filter(|p| !p.is_empty()),
        )?;
        opt(&mut m, field::SESSION, &self.session)?;
        m.serialize_entry(field::USER, &self.user)?;
        m.end()
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        opt(&mut m, field::NAME, &self.name)?;
        opt(&mut m, field::PATH, &self.path)?;
        opt(&mut m, field::PID, &self.pid)?;
        opt(&mut m, field::SHA256, &self.sha256)?;
        m.end()
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        opt(&mut m, field::EXTENSION, &self.extension)?;
        list(&mut m, field::LABELS, &self.labels)?;
        opt(&mut m, field::NAME, &self.name)?;
        opt(&mut m, field::PATH, &self.path)?;
        opt(&mut m, field::SHA256, &self.sha256)?;
        opt(&mut m, field::SIZE, &self.size)?;
        opt(&mut m, field::SUBJECT, &self.subject)?;
        opt(&mut m, field::TYPE, &self.r#type)?;
        opt(&mut m, field::URL, &self.url)?;
        m.end()
    }
}

impl Serialize for Destination {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        opt(&mut m, field::DEVICE_ID, &self.device_id)?;
        opt(&mut m, field::DOMAIN, &self.domain)?;
        opt(&mut m, field::EXTERNAL, &self.external)?;
        opt(&mut m, field::KIND, &self.kind)?;
        opt(&mut m, field::NAME, &self.name)?;
        list(&mut m, field::RECIPIENTS, &self.recipients)?;
        m.end()
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        opt(&mut m, field::NAME, &self.name)?;
        opt(&mut m, field::REF, &self.reference)?;
        m.end()
    }
}

impl Serialize for Nonce {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.encode();
        s.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.encode();
        s.serialize_str(std::str::from_utf8(&text).map_err(serde::ser::Error::custom)?)
    }
}

/// A JSON object whose members are emitted in RFC 8785 (UTF-16) key order, recursively.
struct SortedMap<'a>(&'a Map<String, Value>);

/// A JSON value whose objects are emitted in RFC 8785 key order.
struct SortedValue<'a>(&'a Value);

impl Serialize for SortedMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        // serde_json's Map iterates in byte order (BTreeMap), which is UTF-16 order unless
        // keys mix U+E000..=U+FFFF with supplementary characters; check, sort only if needed
        // (or if another crate enabled serde_json's `preserve_order`).
        let mut keys = self.0.keys();
        let in_order = match keys.next() {
            None => true,
            Some(first) => {
                let mut prev = first;
                keys.all(|k| {
                    let ok = canonical::cmp_utf16(prev, k) == Ordering::Less;
                    prev = k;
                    ok
                })
            }
        };
        if in_order {
            for (k, v) in self.0 {
                m.serialize_entry(k, &SortedValue(v))?;
            }
        } else {
            for (k, v) in canonical::sorted_members(self.0) {
                m.serialize_entry(k, &SortedValue(v))?;
            }
        }
        m.end()
    }
}

impl Serialize for SortedValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => SortedMap(map).serialize(s),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&SortedValue(item))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}
