//! RFC 8785 conformance of the generic canonicaliser and of the event fast path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mamori_event::{Event, canonical};
use proptest::prelude::*;
use serde_json::{Value, json};

fn canon_text(json_text: &str) -> String {
    let v: Value = serde_json::from_str(json_text).unwrap();
    String::from_utf8(canonical::to_vec(&v)).unwrap()
}

/// RFC 8785 §3.2.3: property sorting by UTF-16 code units.
#[test]
fn sorting_example() {
    let input = r#"{
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\ud83d\ude00": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let want = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
                \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
                \"\u{1f600}\":\"Emoji: Grinning Face\",\
                \"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
    assert_eq!(canon_text(input), want);

    // The same members inside an event's `raw` go through the fast path.
    let line = format!(
        r#"{{"time":"2026-01-05T09:12:00Z","kind":"logon","actor":{{"user":"u"}},"outcome":"success","raw":{input}}}"#
    );
    let event = Event::from_json(line.as_bytes()).unwrap();
    let canonical = String::from_utf8(event.canonical_json()).unwrap();
    assert!(
        canonical.contains(&format!("\"raw\":{want}")),
        "{canonical}"
    );
}

/// RFC 8785 §3.2.2 / §3.2.4: primitive serialisation (numbers, escaping, literals).
#[test]
fn primitives_example() {
    let input = r#"{
        "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
        "literals": [null, true, false]
    }"#;
    let want = "{\"literals\":[null,true,false],\
                \"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\
                \"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_eq!(canon_text(input), want);
}

/// RFC 8785 appendix B: sample number serialisations (IEEE 754 bit patterns).
#[test]
fn number_samples() {
    let samples: &[(u64, &str)] = &[
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x41b3de4355555556, "333333333.3333334"),
        (0x41b3de4355555557, "333333333.33333343"),
        (0xbecbf647612f3696, "-0.0000033333333333333333"),
        (0x43143ff3c1cb0959, "1424953923781206.2"),
    ];
    for &(bits, want) in samples {
        let f = f64::from_bits(bits);
        let v = Value::Number(serde_json::Number::from_f64(f).unwrap());
        assert_eq!(
            String::from_utf8(canonical::to_vec(&v)).unwrap(),
            want,
            "{bits:016x}"
        );
        // And the text parses back to the same double.
        let back: f64 = serde_json::from_str(want).unwrap();
        assert_eq!(
            back.to_bits(),
            if bits == 0x8000000000000000 { 0 } else { bits }
        );
    }
}

/// Integers: exact up to 2^53 in magnitude, beyond that the nearest double (as ES6's
/// `JSON.parse` then `JSON.stringify` would give).
#[test]
fn integers() {
    let cases: &[(Value, &str)] = &[
        (json!(0), "0"),
        (json!(-1), "-1"),
        (json!(9007199254740991u64), "9007199254740991"),
        (json!(9007199254740992u64), "9007199254740992"),
        (json!(9007199254740993u64), "9007199254740992"),
        (json!(-9007199254740993i64), "-9007199254740992"),
        (json!(u64::MAX), "18446744073709552000"),
        (json!(i64::MIN), "-9223372036854776000"),
        (json!(1e21), "1e+21"),
        (json!(1e20), "100000000000000000000"),
        (json!(4.0), "4"),
        (json!(-0.0), "0"),
        (json!(0.1), "0.1"),
        (json!(1e-7), "1e-7"),
        (json!(123456789012345680000.0), "123456789012345680000"),
    ];
    for (v, want) in cases {
        assert_eq!(
            String::from_utf8(canonical::to_vec(v)).unwrap(),
            *want,
            "{v}"
        );
    }
}

#[test]
fn string_escaping() {
    let s: String = (0u8..0x20)
        .map(char::from)
        .chain("\"\\/\u{7f}\u{80}\u{2028}é😀".chars())
        .collect();
    let mut out = Vec::new();
    canonical::write_string(&s, &mut out);
    let want = "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\
                \\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\
                \\\"\\\\/\u{7f}\u{80}\u{2028}é😀\"";
    assert_eq!(String::from_utf8(out).unwrap(), want);
}

#[test]
fn normalize_is_the_parse_of_the_canonical_text() {
    let mut v = json!({"a": [9007199254740993u64, -0.0, 4.0, 1.5, 1e21, u64::MAX, i64::MIN]});
    canonical::normalize(&mut v);
    let back: Value = serde_json::from_slice(&canonical::to_vec(&v)).unwrap();
    assert_eq!(v, back);
    assert_eq!(
        v,
        json!({"a": [9007199254740992u64, 0, 4, 1.5, 1e21, 18446744073709551616.0, -9223372036854775808.0]})
    );
}

fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        any::<char>(),
        prop::sample::select(vec![
            'a',
            'z',
            '\u{7f}',
            '\u{80}',
            '\u{ff}',
            '\u{d7ff}',
            '\u{e000}',
            '\u{ee00}',
            '\u{ffff}',
            '\u{fb33}',
            '\u{10000}',
            '\u{1f600}',
            '\u{10ffff}',
            '"',
            '\\',
            '\n',
            '\u{1f}'
        ]),
    ]
}

fn tricky_string() -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..6).prop_map(String::from_iter)
}

fn any_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_filter_map("finite", |bits| {
            serde_json::Number::from_f64(f64::from_bits(bits)).map(Value::Number)
        }),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The fast, transcoding-free comparison equals comparing UTF-16 code units.
    #[test]
    fn cmp_utf16_matches_utf16(a in tricky_string(), b in tricky_string()) {
        prop_assert_eq!(
            canonical::cmp_utf16(&a, &b),
            a.encode_utf16().cmp(b.encode_utf16())
        );
    }

    /// Every number's canonical text parses back to a number with the same canonical text,
    /// and `normalize` yields exactly that parsed value.
    #[test]
    fn numbers_are_fixed_points(v in any_number()) {
        let text = canonical::to_vec(&v);
        let back: Value = serde_json::from_slice(&text).unwrap();
        prop_assert_eq!(&canonical::to_vec(&back), &text);
        let mut normalized = v.clone();
        canonical::normalize(&mut normalized);
        prop_assert_eq!(normalized, back);
    }

    /// ECMAScript formatting agrees with Rust's shortest round-trip digits.
    #[test]
    fn float_digits_round_trip(bits in any::<u64>()) {
        let f = f64::from_bits(bits);
        prop_assume!(f.is_finite());
        let v = Value::Number(serde_json::Number::from_f64(f).unwrap());
        let text = String::from_utf8(canonical::to_vec(&v)).unwrap();
        let back: f64 = text.parse().unwrap();
        prop_assert_eq!(back, f);
    }
}
