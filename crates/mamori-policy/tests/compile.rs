//! The native compilers against their references:
//!
//! - golden files: `tests/golden/policy.toml` compiles byte for byte to `usbguard.conf`,
//!   `Groups.xml` and `PolicyRules.xml` beside it. After an intended change, regenerate them
//!   with `MAMORI_BLESS=1 cargo test -p mamori-policy --test compile` and review the diff;
//! - USBGuard's own parser (`usbguard-rule-parser`, Debian package `usbguard`) reads every
//!   compiled rules file, for each `removable_storage` value, and rejects a broken one. Without
//!   the binary the test fails, unless `MAMORI_SKIP_USBGUARD=1`;
//! - quick-xml reads the Defender XML: well-formed, names round-trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use mamori_policy::Policy;
use mamori_policy::compile::{usbguard, windows_device_control};
use quick_xml::Reader;
use quick_xml::events::Event;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn golden_policy() -> Policy {
    let text = std::fs::read_to_string(golden_dir().join("policy.toml")).unwrap();
    Policy::from_toml(&text).unwrap()
}

/// Compares `actual` with the golden file `name`, or writes it when `MAMORI_BLESS=1`.
fn golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var("MAMORI_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (MAMORI_BLESS=1 cargo test -p mamori-policy --test compile writes it)",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the compiled output from line {}:\n  expected: {:?}\n  actual:   {:?}\n\
             If the change is intended: MAMORI_BLESS=1 cargo test -p mamori-policy --test compile",
            path.display(),
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line),
        );
    }
}

#[test]
fn golden_usbguard() {
    golden("usbguard.conf", &usbguard(&golden_policy()));
}

#[test]
fn golden_windows_device_control() {
    let xml = windows_device_control(&golden_policy());
    golden("Groups.xml", &xml.groups);
    golden("PolicyRules.xml", &xml.rules);
}

/// The golden policy with `[device_control]` replaced.
fn policy_with(removable_storage: &str, read_only: bool) -> Policy {
    let text = std::fs::read_to_string(golden_dir().join("policy.toml")).unwrap();
    let head = &text[..text.find("[device_control]").unwrap()];
    Policy::from_toml(&format!(
        "{head}[device_control]\nremovable_storage = \"{removable_storage}\"\nallowed_read_only = {read_only}\n"
    ))
    .unwrap()
}

fn every_variant() -> Vec<(String, Policy)> {
    let mut out = vec![("golden".to_string(), golden_policy())];
    for action in ["allow", "audit", "block"] {
        for read_only in [false, true] {
            out.push((
                format!("{action}, read-only {read_only}"),
                policy_with(action, read_only),
            ));
        }
    }
    let none = Policy::from_toml(
        "format = 1\nname = \"n\"\nrevision = 1\n[device_control]\nremovable_storage = \"block\"\n",
    )
    .unwrap();
    out.push(("no devices".to_string(), none));
    out
}

/// `usbguard-rule-parser`, or `None` when it is absent and `MAMORI_SKIP_USBGUARD=1`.
fn rule_parser() -> Option<PathBuf> {
    let fixed = PathBuf::from("/usr/bin/usbguard-rule-parser");
    let found = if fixed.is_file() {
        Some(fixed)
    } else {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("usbguard-rule-parser"))
                .find(|p| p.is_file())
        })
    };
    if found.is_none() {
        if std::env::var("MAMORI_SKIP_USBGUARD").as_deref() == Ok("1") {
            eprintln!("usbguard-rule-parser absent: skipped (MAMORI_SKIP_USBGUARD=1)");
            return None;
        }
        panic!(
            "usbguard-rule-parser not found: `apt-get install usbguard` (or set \
             MAMORI_SKIP_USBGUARD=1 to skip this test)"
        );
    }
    found
}

/// Runs the parser on `text`; its exit status and standard output.
fn parse(parser: &Path, dir: &Path, text: &str) -> (bool, String) {
    let file = dir.join("rules.conf");
    std::fs::write(&file, text).unwrap();
    let output = Command::new(parser).arg("-f").arg(&file).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn usbguard_parser_accepts_every_compiled_file() {
    let Some(parser) = rule_parser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (what, policy) in every_variant() {
        let text = usbguard(&policy);
        let (ok, stdout) = parse(&parser, dir.path(), &text);
        assert!(
            ok,
            "{what}: usbguard-rule-parser refused:\n{text}\n{stdout}"
        );
        // The parser prints each rule back in USBGuard's canonical form: the compiler writes
        // that form already, so every rule comes back unchanged.
        let rules: Vec<&str> = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let printed: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("OUTPUT: "))
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(rules, printed, "{what}");
    }
}

#[test]
fn usbguard_parser_rejects_a_broken_file() {
    let Some(parser) = rule_parser() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let text = usbguard(&golden_policy());
    for broken in [
        "allow id 0951:1666 serial \"unterminated\n",
        "allow id 0951:1666 label \"bad \\q escape\"\n",
        "permit id 0951:1666\n",
    ] {
        let (ok, _) = parse(&parser, dir.path(), &format!("{text}{broken}"));
        assert!(!ok, "usbguard-rule-parser accepted {broken:?}");
    }
}

/// Reads `xml` with quick-xml to its end; the text of every `<Name>`.
fn read_xml(what: &str, xml: &str) -> Vec<String> {
    let mut reader = Reader::from_str(xml);
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut roots = 0usize;
    let mut name: Option<String> = None;
    loop {
        match reader.read_event() {
            Err(e) => panic!(
                "{what}: not well-formed at {}: {e}\n{xml}",
                reader.error_position()
            ),
            Ok(Event::Eof) => break,
            Ok(Event::Start(start)) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
                if start.name().as_ref() == "Name" {
                    name = Some(String::new());
                }
            }
            Ok(Event::End(end)) => {
                depth -= 1;
                if end.name().as_ref() == "Name" {
                    let raw = name.take().unwrap();
                    names.push(quick_xml::escape::unescape(&raw).unwrap().into_owned());
                }
            }
            Ok(Event::Text(text)) => {
                if let Some(name) = &mut name {
                    name.push_str(&text.into_inner());
                }
            }
            // Only names hold escaped text (`&amp;`…); anywhere else it would be a mistake.
            Ok(Event::GeneralRef(reference)) => {
                let name = name.as_mut().expect("a reference outside <Name>");
                name.push('&');
                name.push_str(&reference.into_inner());
                name.push(';');
            }
            Ok(Event::Comment(_)) => {}
            Ok(other) => panic!("{what}: unexpected {other:?}"),
        }
    }
    assert_eq!(depth, 0, "{what}");
    assert_eq!(roots, 1, "{what}: one root element");
    names
}

#[test]
fn defender_xml_is_well_formed() {
    for (what, policy) in every_variant() {
        let xml = windows_device_control(&policy);
        let groups = read_xml(&format!("{what}: Groups.xml"), &xml.groups);
        read_xml(&format!("{what}: PolicyRules.xml"), &xml.rules);
        assert!(xml.groups.starts_with("<Groups>\n"));
        assert!(xml.rules.starts_with("<PolicyRules>\n"));
        // Every device name comes back from the XML as written in the policy.
        for device in &policy.devices {
            assert!(groups.contains(&device.name), "{what}: {:?}", device.name);
        }
    }
}
