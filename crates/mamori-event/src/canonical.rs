//! RFC 8785 (JSON Canonicalization Scheme, JCS) over any [`serde_json::Value`].
//!
//! This module is the straightforward *reference*: it walks a `Value`, sorts every object's
//! members by the UTF-16 code units of their names, escapes strings exactly as ECMAScript's
//! `JSON.stringify`, and writes numbers as ECMAScript's `Number.prototype.toString`.
//! [`crate::Event::write_canonical`] produces the same bytes on a faster path (no `Value`);
//! the test suite checks that the two agree on arbitrary events.
//!
//! ## Numbers
//!
//! RFC 8785 §3.2.2.3: a JSON number is an IEEE 754 double, serialised per ECMAScript
//! (shortest round-trip digits, `1e+21` style exponents from 10^21 up and below 10^-6, `-0`
//! written `0`). An integer whose magnitude exceeds 2^53 is therefore first converted to the
//! nearest double, exactly as `JSON.parse` followed by `JSON.stringify` would do:
//! `9007199254740993` is written `9007199254740992`, and `2^64 - 1` is written
//! `18446744073709552000`. Integers up to 2^53 in magnitude are written exactly. Data that needs
//! larger exact integers must carry them as strings (RFC 8785 appendix D). Non-finite numbers
//! cannot occur in a `Value`.
//!
//! [`normalize`] rewrites a `Value`'s numbers to the value that parsing the canonical text back
//! yields, so that `normalize(v)` is a fixed point of "canonicalise, then parse". Events parsed
//! by [`crate::Event::from_json`] have their `raw` numbers normalised this way.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

/// 2^53: integers of at most this magnitude are exact doubles.
const EXACT: u64 = 1 << 53;

/// Appends the RFC 8785 canonical form of `v` to `out`.
pub fn write_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (i, (key, value)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(value, out);
            }
            out.push(b'}');
        }
    }
}

/// The RFC 8785 canonical form of `v`.
pub fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(v, &mut out);
    out
}

/// Writes a string as ECMAScript's `JSON.stringify` does: `"` and `\` escaped, control
/// characters below U+0020 as `\b \t \n \f \r` or lower-case `\u00xx`, everything else literal.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if u32::from(c) < 0x20 => {
                let b = u8::try_from(u32::from(c)).unwrap_or(0);
                out.extend_from_slice(b"\\u00");
                out.push(crate::HEX[usize::from(b >> 4)]);
                out.push(crate::HEX[usize::from(b & 0xf)]);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Writes a JSON number as ECMAScript's `Number.prototype.toString` (see the module docs for
/// integers beyond 2^53).
pub fn write_number(n: &Number, out: &mut Vec<u8>) {
    if let Some(u) = n.as_u64() {
        write_u64(u, out);
    } else if let Some(i) = n.as_i64() {
        write_i64(i, out);
    } else if let Some(f) = n.as_f64() {
        write_f64(f, out);
    }
}

pub(crate) fn write_u64(n: u64, out: &mut Vec<u8>) {
    if n <= EXACT {
        write_decimal(n, false, out);
    } else {
        // Nearest double, as ES6 would hold it (u64 -> f64 rounds to nearest, ties to even).
        write_f64(n as f64, out);
    }
}

pub(crate) fn write_i64(n: i64, out: &mut Vec<u8>) {
    if n.unsigned_abs() <= EXACT {
        write_decimal(n.unsigned_abs(), n < 0, out);
    } else {
        write_f64(n as f64, out);
    }
}

/// ECMAScript `Number.prototype.toString` of a double; non-finite values (which JSON cannot
/// carry) are written `null`, as `JSON.stringify` does.
pub(crate) fn write_f64(f: f64, out: &mut Vec<u8>) {
    if f.is_finite() {
        let mut buf = ryu_js::Buffer::new();
        out.extend_from_slice(buf.format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

fn write_decimal(mut n: u64, negative: bool, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Compares two strings by their UTF-16 code units (the RFC 8785 member order) without
/// transcoding. UTF-8 byte order equals code point order, which equals UTF-16 order except
/// between U+E000..=U+FFFF (UTF-8 lead bytes `EE`/`EF`) and supplementary characters (lead
/// bytes `F0`..`F4`, UTF-16 surrogates `D800`..`DFFF`, which sort *before* U+E000).
pub fn cmp_utf16(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    match x.iter().zip(y).position(|(p, q)| p != q) {
        None => x.len().cmp(&y.len()),
        Some(i) => {
            let (p, q) = (x[i], y[i]);
            let bmp_high = |c: u8| c == 0xEE || c == 0xEF;
            let supplementary = |c: u8| c >= 0xF0;
            if bmp_high(p) && supplementary(q) {
                Ordering::Greater
            } else if supplementary(p) && bmp_high(q) {
                Ordering::Less
            } else {
                p.cmp(&q)
            }
        }
    }
}

/// Rewrites every number in `v` to the value that parsing its canonical text yields (see the
/// module docs): an integer beyond ±2^53 becomes the integer spelled by its nearest double's
/// ECMAScript digits (`9007199254740993` → `9007199254740992`), a double written without
/// fraction or exponent becomes an integer (`4.0` → `4`), `-0` becomes `0`.
pub fn normalize(v: &mut Value) {
    match v {
        Value::Number(n) => *n = normalize_number(n),
        Value::Array(items) => items.iter_mut().for_each(normalize),
        Value::Object(map) => map.values_mut().for_each(normalize),
        _ => {}
    }
}

/// The canonical value of one number (see [`normalize`]).
pub fn normalize_number(n: &Number) -> Number {
    if let Some(u) = n.as_u64() {
        normalize_u64(u)
    } else if let Some(i) = n.as_i64() {
        normalize_i64(i)
    } else {
        n.as_f64()
            .and_then(normalize_f64)
            .unwrap_or_else(|| n.clone())
    }
}

pub(crate) fn normalize_u64(n: u64) -> Number {
    if n <= EXACT {
        Number::from(n)
    } else {
        normalize_f64(n as f64).unwrap_or_else(|| Number::from(n))
    }
}

pub(crate) fn normalize_i64(n: i64) -> Number {
    if n.unsigned_abs() <= EXACT {
        Number::from(n)
    } else {
        normalize_f64(n as f64).unwrap_or_else(|| Number::from(n))
    }
}

/// What `serde_json` parses the ECMAScript rendering of `f` into: when the rendering is plain
/// digits (no fraction, no exponent) that fit `u64`/`i64`, that integer (which, for magnitudes
/// beyond 2^53, is the shortest digits padded with zeros, not necessarily `f`'s exact value);
/// otherwise the double itself. `None` if `f` is not finite.
pub(crate) fn normalize_f64(f: f64) -> Option<Number> {
    if !f.is_finite() {
        return None;
    }
    let mut buf = ryu_js::Buffer::new();
    let text = buf.format_finite(f);
    if !text.contains(['.', 'e']) {
        if let Ok(u) = text.parse::<u64>() {
            return Some(Number::from(u));
        }
        if let Ok(i) = text.parse::<i64>() {
            return Some(Number::from(i));
        }
    }
    Number::from_f64(f)
}

/// Sorted view of a map's members in RFC 8785 order, borrowing (no copies of keys or values).
pub(crate) fn sorted_members(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut members: Vec<(&String, &Value)> = map.iter().collect();
    if !members
        .windows(2)
        .all(|w| cmp_utf16(w[0].0, w[1].0) == Ordering::Less)
    {
        members.sort_unstable_by(|a, b| cmp_utf16(a.0, b.0));
    }
    members
}
