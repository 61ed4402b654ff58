//! The policy's device part as Microsoft Defender for Endpoint Device Control XML
//! ("Removable Storage Access Control"): `Groups.xml` and `PolicyRules.xml`, the two files the
//! Group Policy settings "Define device control policy groups" and "Define device control
//! policy rules" point to (each `<Group>` and `<PolicyRule>` is also what an Intune OMA-URI
//! `…/PolicyGroups/{id}/GroupData` or `…/PolicyRules/{id}/RuleData` takes).
//!
//! Schema, from Microsoft Learn "Microsoft Defender for Endpoint Device Control Removable
//! Storage Access Control"
//! (<https://learn.microsoft.com/defender-endpoint/device-control-removable-storage-access-control>,
//! source `MicrosoftDocs/microsoft-365-docs`,
//! `microsoft-365/security/defender-endpoint/device-control-removable-storage-access-control.md`)
//! and the samples of <https://github.com/microsoft/mdatp-devicecontrol> (`Removable Storage
//! Access Control Samples/`, `Getting Started/Step 3/`):
//!
//! - a `<Group Id="{guid}" Type="Device">` has a `<MatchType>` (`MatchAny`: any descriptor;
//!   `MatchAll`: every descriptor) and a `<DescriptorIdList>` of `<PrimaryId>`
//!   (`RemovableMediaDevices`, `CdRomDevices`, `WpdDevices`), `<VID_PID>` (`0751_55E0` one
//!   product, `0751_` every product of the vendor), `<SerialNumberId>`… — case-sensitive;
//! - a `<PolicyRule Id="{guid}">` applies to media in every group of `<IncludedIdList>` and not
//!   in any group of `<ExcludedIdList>`; its `<Name>` is shown in the notification;
//! - each `<Entry Id="{guid}">` has a `<Type>` (`Allow`, `Deny`, `AuditAllowed`,
//!   `AuditDenied`), `<Options>` (Allow: 0 nothing, 4 no audit; Deny: 0 nothing, 4 no
//!   AuditDenied; AuditAllowed: 2 send event; AuditDenied: 1 notification, 2 event, 3 both) and
//!   an `<AccessMask>` (disk level 1 read, 2 write, 4 execute; file-system level 8 read, 16
//!   write, 32 execute — Windows portable devices (MTP) only have the file-system level);
//! - when entries of different rules conflict for the same media, the first one applies.
//!
//! The mapping (`docs/device-control.md`): one group of all removable media, one group per
//! allow-listed device; first one rule per allow-listed device (full access, or read-only when
//! `allowed_read_only` and `block`), then one rule for every other removable medium: `Deny` with
//! an `AuditDenied` notification (`block`), `Allow` with `AuditAllowed` events (`audit`), or
//! `Allow` (`allow`).
//!
//! Ids are GUIDs derived from the policy name and what the element is for, so compiling the
//! same policy again yields the same ids: Defender's reports keep naming the same rule, and
//! the output can be diffed.

use std::collections::HashSet;
use std::fmt::Write;

use sha2::{Digest, Sha256};

use crate::{Action, Policy};

/// Access mask bits (Learn, "AccessMask").
const DISK_READ: u32 = 1;
const DISK_WRITE: u32 = 2;
const DISK_EXECUTE: u32 = 4;
const FS_READ: u32 = 8;
const FS_WRITE: u32 = 16;
const FS_EXECUTE: u32 = 32;
/// Read at both levels: Microsoft's read-only sample (`Getting Started/Step 3`) allows 9.
const READ: u32 = DISK_READ | FS_READ;
/// Write and execute at both levels, so a phone (file-system level only) is covered too.
const WRITE_EXECUTE: u32 = DISK_WRITE | DISK_EXECUTE | FS_WRITE | FS_EXECUTE;
const ALL: u32 = READ | WRITE_EXECUTE;

/// `Options` of an `Allow` or `Deny` entry: nothing beyond the decision.
const OPTIONS_NONE: u32 = 0;
/// `Options` of an `AuditAllowed` entry: send an event.
const OPTIONS_SEND_EVENT: u32 = 2;
/// `Options` of an `AuditDenied` entry: show a notification and send an event.
const OPTIONS_NOTIFY_AND_SEND_EVENT: u32 = 3;

/// The two files of a Defender Device Control policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceControlXml {
    /// `Groups.xml`: the device groups ("Define device control policy groups").
    pub groups: String,
    /// `PolicyRules.xml`: the access rules ("Define device control policy rules").
    pub rules: String,
}

/// One allow-listed device, as a group and a rule.
struct Allowed<'a> {
    /// What its ids derive from: vendor, product and serial, so reordering or renaming the
    /// devices keeps each one's ids.
    key: String,
    name: &'a str,
    vid_pid: String,
    serial: Option<&'a str>,
    group: String,
}

/// The policy's allow-listed devices and removable storage action as Defender Device Control
/// `Groups.xml` and `PolicyRules.xml`.
pub fn windows_device_control(policy: &Policy) -> DeviceControlXml {
    let id = |purpose: &str| guid(&policy.name, purpose);
    let control = &policy.device_control;
    let removable = id("group:removable-media");

    let mut seen = HashSet::new();
    let mut allowed = Vec::with_capacity(policy.devices.len());
    for device in &policy.devices {
        let product = device.product.as_deref();
        let key = format!(
            "{}:{}:{}",
            device.vendor,
            product.unwrap_or("*"),
            device.serial.as_deref().unwrap_or("*")
        );
        // The same device listed twice would be two groups with one id; the first name wins.
        if !seen.insert(key.clone()) {
            continue;
        }
        allowed.push(Allowed {
            group: id(&format!("group:device:{key}")),
            name: &device.name,
            // Windows writes the ids in upper case (`USB\VID_0951&PID_1666`) and descriptors are
            // case-sensitive; the policy holds them in lower case. A missing product is the
            // documented vendor-wide form `0951_`.
            vid_pid: format!(
                "{}_{}",
                device.vendor.to_ascii_uppercase(),
                product.unwrap_or("").to_ascii_uppercase()
            ),
            serial: device.serial.as_deref(),
            key,
        });
    }

    // Inside the root element: Defender reads comments there but not on the file's first line
    // (Learn, "Deploy and manage device control … using Group Policy").
    let header = |what: &str| {
        format!(
            "  <!-- {what} of the Mamori policy \"{}\", revision {}.\n       Generated by `mamori policy compile --target windows-device-control`: do not edit;\n       change the policy and compile it again (docs/device-control.md). -->\n",
            comment(&policy.name),
            policy.revision
        )
    };

    let mut groups = String::from("<Groups>\n");
    groups.push_str(&header("Defender Device Control groups"));
    group_open(&mut groups, &removable);
    let _ = writeln!(
        groups,
        "    <Name>{}</Name>",
        text(&format!("{}: all removable media", policy.name))
    );
    groups.push_str(
        "    <MatchType>MatchAny</MatchType>\n    <DescriptorIdList>\n      \
         <PrimaryId>RemovableMediaDevices</PrimaryId>\n      \
         <PrimaryId>CdRomDevices</PrimaryId>\n      \
         <PrimaryId>WpdDevices</PrimaryId>\n    </DescriptorIdList>\n  </Group>\n",
    );
    for device in &allowed {
        group_open(&mut groups, &device.group);
        let _ = writeln!(groups, "    <Name>{}</Name>", text(device.name));
        // MatchAll: the vendor/product and the serial must both match.
        groups.push_str("    <MatchType>MatchAll</MatchType>\n    <DescriptorIdList>\n");
        let _ = writeln!(groups, "      <VID_PID>{}</VID_PID>", text(&device.vid_pid));
        if let Some(serial) = device.serial {
            let _ = writeln!(
                groups,
                "      <SerialNumberId>{}</SerialNumberId>",
                text(serial)
            );
        }
        groups.push_str("    </DescriptorIdList>\n  </Group>\n");
    }
    groups.push_str("</Groups>\n");

    let mut rules = String::from("<PolicyRules>\n");
    rules.push_str(&header("Defender Device Control rules"));
    // A rule's included groups must all hold, so each allow-listed device has its own rule.
    // They come first: the first of conflicting entries applies.
    let read_only = control.removable_storage == Action::Block && control.allowed_read_only;
    for device in &allowed {
        let entry = |what: &str| id(&format!("entry:device:{}:{what}", device.key));
        let entries = if read_only {
            vec![
                Entry::new(entry("allow"), "Allow", OPTIONS_NONE, READ),
                Entry::new(entry("deny"), "Deny", OPTIONS_NONE, WRITE_EXECUTE),
                Entry::new(
                    entry("audit-denied"),
                    "AuditDenied",
                    OPTIONS_NOTIFY_AND_SEND_EVENT,
                    WRITE_EXECUTE,
                ),
            ]
        } else {
            vec![Entry::new(entry("allow"), "Allow", OPTIONS_NONE, ALL)]
        };
        let name = format!(
            "{}: {} ({})",
            policy.name,
            device.name,
            if read_only { "read-only" } else { "allowed" }
        );
        rule(
            &mut rules,
            &id(&format!("rule:device:{}", device.key)),
            &name,
            std::slice::from_ref(&device.group),
            &[],
            &entries,
        );
    }
    let entry = |what: &str| id(&format!("entry:removable-media:{what}"));
    let (name, entries) = match control.removable_storage {
        Action::Block => (
            // The rule's name is what the notification shows: the policy's message when it
            // has one.
            notification(policy),
            vec![
                Entry::new(entry("deny"), "Deny", OPTIONS_NONE, ALL),
                Entry::new(
                    entry("audit-denied"),
                    "AuditDenied",
                    OPTIONS_NOTIFY_AND_SEND_EVENT,
                    ALL,
                ),
            ],
        ),
        Action::Audit => (
            format!("{}: removable storage (audited)", policy.name),
            vec![
                Entry::new(entry("allow"), "Allow", OPTIONS_NONE, ALL),
                // Writes and executions, not reads: an event per read would drown the rest.
                Entry::new(
                    entry("audit-allowed"),
                    "AuditAllowed",
                    OPTIONS_SEND_EVENT,
                    WRITE_EXECUTE,
                ),
            ],
        ),
        // `allow` (validation refuses the others): an explicit Allow, so the result does not
        // depend on the machine's default enforcement.
        _ => (
            format!("{}: removable storage (allowed)", policy.name),
            vec![Entry::new(entry("allow"), "Allow", OPTIONS_NONE, ALL)],
        ),
    };
    let excluded: Vec<String> = allowed.iter().map(|d| d.group.clone()).collect();
    rule(
        &mut rules,
        &id("rule:removable-media"),
        &name,
        std::slice::from_ref(&removable),
        &excluded,
        &entries,
    );
    rules.push_str("</PolicyRules>\n");

    DeviceControlXml { groups, rules }
}

/// One `<Entry>`.
struct Entry {
    id: String,
    kind: &'static str,
    options: u32,
    access: u32,
}

impl Entry {
    fn new(id: String, kind: &'static str, options: u32, access: u32) -> Entry {
        Entry {
            id,
            kind,
            options,
            access,
        }
    }
}

fn group_open(out: &mut String, id: &str) {
    let _ = writeln!(out, "  <Group Id=\"{id}\" Type=\"Device\">");
    let _ = writeln!(
        out,
        "    <!-- {} -->",
        oma_uri("PolicyGroups", id, "GroupData")
    );
}

fn rule(
    out: &mut String,
    id: &str,
    name: &str,
    included: &[String],
    excluded: &[String],
    entries: &[Entry],
) {
    let _ = writeln!(out, "  <PolicyRule Id=\"{id}\">");
    let _ = writeln!(
        out,
        "    <!-- {} -->",
        oma_uri("PolicyRules", id, "RuleData")
    );
    let _ = writeln!(out, "    <Name>{}</Name>", text(name));
    out.push_str("    <IncludedIdList>\n");
    for group in included {
        let _ = writeln!(out, "      <GroupId>{group}</GroupId>");
    }
    out.push_str("    </IncludedIdList>\n");
    if excluded.is_empty() {
        out.push_str("    <ExcludedIdList></ExcludedIdList>\n");
    } else {
        out.push_str("    <ExcludedIdList>\n");
        for group in excluded {
            let _ = writeln!(out, "      <GroupId>{group}</GroupId>");
        }
        out.push_str("    </ExcludedIdList>\n");
    }
    for entry in entries {
        let _ = write!(
            out,
            "    <Entry Id=\"{}\">\n      <Type>{}</Type>\n      <Options>{}</Options>\n      \
             <AccessMask>{}</AccessMask>\n    </Entry>\n",
            entry.id, entry.kind, entry.options, entry.access
        );
    }
    out.push_str("  </PolicyRule>\n");
}

/// The Intune OMA-URI that takes the element with `id` (for `…/GroupData` or `…/RuleData`),
/// written beside it as Microsoft's samples do, for deployment without Group Policy.
fn oma_uri(kind: &str, id: &str, data: &str) -> String {
    let inner = id.trim_start_matches('{').trim_end_matches('}');
    format!("./Vendor/MSFT/Defender/Configuration/DeviceControl/{kind}/%7b{inner}%7d/{data}")
}

/// The notification text for a denied medium: the policy's message (Japanese and English
/// when both are given), else a plain statement.
fn notification(policy: &Policy) -> String {
    let message = &policy.device_control.message;
    let (ja, en) = (message.ja.trim(), message.en.trim());
    match (ja.is_empty(), en.is_empty()) {
        (false, false) => format!("{ja} / {en}"),
        (false, true) => ja.to_string(),
        (true, false) => en.to_string(),
        (true, true) => format!(
            "{}: removable storage that is not allow-listed is blocked",
            policy.name
        ),
    }
}

/// A deterministic GUID for `purpose` in the policy named `policy`: the first 16 bytes of
/// SHA-256 over both, marked as an RFC 9562 version 8 (custom) UUID, in braces as Defender
/// writes them. Policy names have no control characters, so the line feed separates.
pub(crate) fn guid(policy: &str, purpose: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"mamori-policy device control\n");
    hasher.update(policy.as_bytes());
    hasher.update(b"\n");
    hasher.update(purpose.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{{{}-{}-{}-{}-{}}}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `value` as XML character data: `&`, `<`, `>` and `"` escaped, and characters XML 1.0
/// cannot carry at all (most C0 controls, U+FFFE, U+FFFF) replaced by U+FFFD.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// `value` inside an XML comment, which may not contain `--` nor end with `-`; also on one
/// line.
fn comment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut last = None;
    for c in value.chars() {
        let c = if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' {
            ' '
        } else {
            c
        };
        if c == '-' && last == Some('-') {
            out.push(' ');
        }
        out.push(c);
        last = Some(c);
    }
    if last == Some('-') {
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    use crate::compile::test_policy as policy;

    const DEVICES: &str = r#"
        [[devices]]
        name = "経理 <\"暗号化\"> & USB"
        vendor = "0951"
        product = "16af"
        serial = "SN1"
        [[devices]]
        name = "Vendor only"
        vendor = "ABCD"
        [[devices]]
        name = "Twice"
        vendor = "0951"
        product = "16AF"
        serial = "SN1"
    "#;

    /// The entries (type, options, mask) of the rule named `name`.
    fn entries(rules: &str, name: &str) -> Vec<(String, u32, u32)> {
        let start = rules.find(&format!("<Name>{name}</Name>")).unwrap();
        let end = start + rules[start..].find("</PolicyRule>").unwrap();
        let between = |text: &str, tag: &str| -> Vec<String> {
            text.split(&format!("<{tag}>"))
                .skip(1)
                .map(|s| s[..s.find('<').unwrap()].to_string())
                .collect()
        };
        let body = &rules[start..end];
        let types = between(body, "Type");
        let options = between(body, "Options");
        let masks = between(body, "AccessMask");
        types
            .into_iter()
            .zip(options)
            .zip(masks)
            .map(|((t, o), m)| (t, o.parse().unwrap(), m.parse().unwrap()))
            .collect()
    }

    #[test]
    fn guids_are_deterministic_and_distinct() {
        let a = guid("p", "group:removable-media");
        assert_eq!(a, guid("p", "group:removable-media"));
        assert_ne!(a, guid("q", "group:removable-media"));
        assert_ne!(a, guid("p", "group:device:x"));
        assert_eq!(a.len(), 38);
        assert!(a.starts_with('{') && a.ends_with('}'));
        let parts: Vec<&str> = a[1..37].split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'), "version 8: {a}");
        assert!(
            matches!(&parts[3][..1], "8" | "9" | "a" | "b"),
            "variant: {a}"
        );
        assert!(a.chars().all(|c| "{}-0123456789abcdef".contains(c)));
    }

    #[test]
    fn text_and_comments_are_escaped() {
        assert_eq!(
            text("a&b<c>d\"e'日"),
            "a&amp;b&lt;c&gt;d&quot;e'日".to_string()
        );
        assert_eq!(text("a\u{1}b"), "a\u{fffd}b");
        assert_eq!(comment("a--b---c-"), "a- -b- - -c- ");
        assert_eq!(comment("x\ny"), "x y");
    }

    #[test]
    fn block_denies_all_but_the_allow_listed_devices() {
        let xml = windows_device_control(&policy(DEVICES, "removable_storage = \"block\""));
        // The duplicate device is dropped: two groups, the first name kept.
        assert_eq!(xml.groups.matches("<Group ").count(), 3);
        assert!(!xml.groups.contains("Twice"));
        assert!(
            xml.groups
                .contains("<Name>経理 &lt;&quot;暗号化&quot;&gt; &amp; USB</Name>")
        );
        assert!(
            xml.groups.contains(
                "<VID_PID>0951_16AF</VID_PID>\n      <SerialNumberId>SN1</SerialNumberId>"
            )
        );
        // Vendor only: the documented vendor-wide form.
        assert!(
            xml.groups
                .contains("<VID_PID>ABCD_</VID_PID>\n    </DescriptorIdList>")
        );
        assert!(xml.groups.contains("<PrimaryId>WpdDevices</PrimaryId>"));

        assert_eq!(
            entries(&xml.rules, "p: Vendor only (allowed)"),
            [("Allow".to_string(), 0, 63)]
        );
        let deny = "p: removable storage that is not allow-listed is blocked";
        assert_eq!(
            entries(&xml.rules, deny),
            [
                ("Deny".to_string(), 0, 63),
                ("AuditDenied".to_string(), 3, 63)
            ]
        );
        // The allow rules come first, and the deny rule excludes both devices' groups.
        assert!(xml.rules.find("Vendor only").unwrap() < xml.rules.find(deny).unwrap());
        let excluded = &xml.rules[xml.rules.find("<ExcludedIdList>\n").unwrap()..];
        let excluded = &excluded[..excluded.find("</ExcludedIdList>").unwrap()];
        assert_eq!(excluded.matches("<GroupId>").count(), 2);
        assert_eq!(xml.rules.matches("<PolicyRule ").count(), 3);
    }

    #[test]
    fn read_only_allows_reading_and_denies_the_rest() {
        let xml = windows_device_control(&policy(
            DEVICES,
            "removable_storage = \"block\"\nallowed_read_only = true\nmessage.ja = \"許可されていないUSBです\"",
        ));
        assert_eq!(
            entries(&xml.rules, "p: Vendor only (read-only)"),
            [
                ("Allow".to_string(), 0, 9),
                ("Deny".to_string(), 0, 54),
                ("AuditDenied".to_string(), 3, 54)
            ]
        );
        // The message is the deny rule's name, which the notification shows.
        assert_eq!(entries(&xml.rules, "許可されていないUSBです").len(), 2);
    }

    #[test]
    fn audit_allows_and_audits_writes() {
        let xml = windows_device_control(&policy(
            DEVICES,
            "removable_storage = \"audit\"\nallowed_read_only = true",
        ));
        assert!(!xml.rules.contains("<Type>Deny</Type>"));
        assert_eq!(
            entries(&xml.rules, "p: removable storage (audited)"),
            [
                ("Allow".to_string(), 0, 63),
                ("AuditAllowed".to_string(), 2, 54)
            ]
        );
        // Read-only only restricts allow-listed devices when the others are blocked.
        assert_eq!(
            entries(&xml.rules, "p: Vendor only (allowed)"),
            [("Allow".to_string(), 0, 63)]
        );
    }

    #[test]
    fn allow_denies_nothing() {
        let xml = windows_device_control(&policy(DEVICES, "removable_storage = \"allow\""));
        assert!(!xml.rules.contains("Deny"));
        assert!(!xml.rules.contains("Audit"));
        assert_eq!(
            entries(&xml.rules, "p: removable storage (allowed)"),
            [("Allow".to_string(), 0, 63)]
        );
    }

    #[test]
    fn no_devices() {
        let xml = windows_device_control(&policy("", "removable_storage = \"block\""));
        assert_eq!(xml.groups.matches("<Group ").count(), 1);
        assert_eq!(xml.rules.matches("<PolicyRule ").count(), 1);
        assert!(xml.rules.contains("<ExcludedIdList></ExcludedIdList>"));
    }

    #[test]
    fn ids_follow_the_device_not_its_position() {
        let swapped = r#"
            [[devices]]
            name = "Vendor only, renamed"
            vendor = "abcd"
            [[devices]]
            name = "x"
            vendor = "0951"
            product = "16af"
            serial = "SN1"
        "#;
        let a = windows_device_control(&policy(DEVICES, "removable_storage = \"block\""));
        let b = windows_device_control(&policy(swapped, "removable_storage = \"block\""));
        let ids = |xml: &str| -> Vec<String> {
            let mut ids: Vec<String> = xml
                .split("Id=\"")
                .skip(1)
                .map(|s| s[..38].to_string())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(&a.groups), ids(&b.groups));
        assert_eq!(ids(&a.rules), ids(&b.rules));
        assert_eq!(
            a,
            windows_device_control(&policy(DEVICES, "removable_storage = \"block\""))
        );
    }
}
