//! Lossless mapping between Mamori events and OCSF (Open Cybersecurity Schema Framework)
//! events, targeting OCSF [`OCSF_VERSION`].
//!
//! [`to_ocsf`] puts every Mamori field that has an exact OCSF home there (the home depends on
//! the event class: a file-copy's object is the OCSF `file`, an e-mail's subject is
//! `email.subject`, a USB stick is the `peripheral_device`, …) and everything else under
//! `unmapped`, using Mamori's own field names (`unmapped.object.labels`,
//! `unmapped.destination.kind`, `unmapped.raw`, `unmapped.nonce`, …). [`from_ocsf`] reads the
//! same places back, so `from_ocsf(&to_ocsf(e)) == e` for every event. The class table is in
//! `docs/events.md`.
//!
//! Attributes that OCSF requires but that are derived (captions, `type_uid`, `severity_id`,
//! `time` in milliseconds, `metadata`, `device.type_id`, `src_endpoint`, …) are written by
//! [`to_ocsf`] and ignored by [`from_ocsf`], which reads `time_dt` (full precision) and the
//! status/disposition attributes that encode the outcome.

use serde_json::{Map, Value, json};

use crate::error::EventError;
use crate::field;
use crate::kinds::{DestinationKind, Kind, Outcome};
use crate::model::Event;

/// The OCSF schema version produced: 1.7.0 is the first release with the Peripheral Activity
/// class (1010) used for `device.*` kinds.
pub const OCSF_VERSION: &str = "1.7.0";

/// Product name in `metadata.product`.
pub const PRODUCT_NAME: &str = "Mamori";

/// Which Mamori fields go where, by event class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Authentication,
    Peripheral,
    File,
    Process,
    Http,
    Email,
    Account,
    Group,
    Base,
}

/// The OCSF class and activity an event kind maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcsfClass {
    /// `category_uid`.
    pub category_uid: u32,
    /// `category_name`.
    pub category_name: &'static str,
    /// `class_uid`.
    pub class_uid: u32,
    /// `class_name`.
    pub class_name: &'static str,
    /// `activity_id` (99 = Other, with `activity_name` naming the activity).
    pub activity_id: u32,
    /// `activity_name`.
    pub activity_name: &'static str,
    family: Family,
}

impl OcsfClass {
    /// `type_uid` = `class_uid` × 100 + `activity_id`.
    pub fn type_uid(&self) -> u64 {
        u64::from(self.class_uid) * 100 + u64::from(self.activity_id)
    }
}

const fn class(
    category_uid: u32,
    category_name: &'static str,
    class_uid: u32,
    class_name: &'static str,
    family: Family,
    activity_id: u32,
    activity_name: &'static str,
) -> OcsfClass {
    OcsfClass {
        category_uid,
        category_name,
        class_uid,
        class_name,
        activity_id,
        activity_name,
        family,
    }
}

const SYSTEM: (u32, &str) = (1, "System Activity");
const IAM: (u32, &str) = (3, "Identity & Access Management");
const NETWORK: (u32, &str) = (4, "Network Activity");
const UNCATEGORIZED: (u32, &str) = (0, "Uncategorized");

const fn file_activity(id: u32, name: &'static str) -> OcsfClass {
    class(
        SYSTEM.0,
        SYSTEM.1,
        1001,
        "File System Activity",
        Family::File,
        id,
        name,
    )
}
const fn process_activity(id: u32, name: &'static str) -> OcsfClass {
    class(
        SYSTEM.0,
        SYSTEM.1,
        1007,
        "Process Activity",
        Family::Process,
        id,
        name,
    )
}
const fn peripheral_activity(id: u32, name: &'static str) -> OcsfClass {
    class(
        SYSTEM.0,
        SYSTEM.1,
        1010,
        "Peripheral Activity",
        Family::Peripheral,
        id,
        name,
    )
}
const fn account_change(id: u32, name: &'static str) -> OcsfClass {
    class(
        IAM.0,
        IAM.1,
        3001,
        "Account Change",
        Family::Account,
        id,
        name,
    )
}
const fn authentication(id: u32, name: &'static str) -> OcsfClass {
    class(
        IAM.0,
        IAM.1,
        3002,
        "Authentication",
        Family::Authentication,
        id,
        name,
    )
}
const fn user_access(id: u32, name: &'static str) -> OcsfClass {
    class(
        IAM.0,
        IAM.1,
        3005,
        "User Access Management",
        Family::Account,
        id,
        name,
    )
}
const fn group_management(id: u32, name: &'static str) -> OcsfClass {
    class(
        IAM.0,
        IAM.1,
        3006,
        "Group Management",
        Family::Group,
        id,
        name,
    )
}
const fn http_activity(id: u32, name: &'static str) -> OcsfClass {
    class(
        NETWORK.0,
        NETWORK.1,
        4002,
        "HTTP Activity",
        Family::Http,
        id,
        name,
    )
}
const fn email_activity(id: u32, name: &'static str) -> OcsfClass {
    class(
        NETWORK.0,
        NETWORK.1,
        4009,
        "Email Activity",
        Family::Email,
        id,
        name,
    )
}
const fn base_event(name: &'static str) -> OcsfClass {
    class(
        UNCATEGORIZED.0,
        UNCATEGORIZED.1,
        0,
        "Base Event",
        Family::Base,
        99,
        name,
    )
}

/// The OCSF class and activity of an event kind.
pub const fn class_of(kind: Kind) -> OcsfClass {
    match kind {
        Kind::Logon => authentication(1, "Logon"),
        Kind::Logoff => authentication(2, "Logoff"),
        Kind::LogonFailed => authentication(1, "Logon"),
        Kind::DeviceConnect => peripheral_activity(1, "Connect"),
        Kind::DeviceDisconnect => peripheral_activity(2, "Disconnect"),
        Kind::FileOpen => file_activity(14, "Open"),
        Kind::FileRead => file_activity(2, "Read"),
        Kind::FileWrite => file_activity(3, "Update"),
        Kind::FileCreate => file_activity(1, "Create"),
        Kind::FileCopy => file_activity(99, "Copy"),
        Kind::FileMove => file_activity(99, "Move"),
        Kind::FileRename => file_activity(5, "Rename"),
        Kind::FileDelete => file_activity(4, "Delete"),
        Kind::Print => file_activity(99, "Print"),
        Kind::HttpRequest => http_activity(0, "Unknown"),
        Kind::HttpUpload => http_activity(6, "Post"),
        Kind::HttpDownload => http_activity(3, "Get"),
        Kind::EmailSend => email_activity(1, "Send"),
        Kind::EmailReceive => email_activity(2, "Receive"),
        Kind::ProcessStart => process_activity(1, "Launch"),
        Kind::ProcessStop => process_activity(2, "Terminate"),
        Kind::ClipboardCopy => base_event("Clipboard Copy"),
        Kind::ClipboardPaste => base_event("Clipboard Paste"),
        Kind::AccountCreate => account_change(1, "Create"),
        Kind::AccountDelete => account_change(6, "Delete"),
        Kind::AccountEnable => account_change(2, "Enable"),
        Kind::AccountDisable => account_change(5, "Disable"),
        Kind::AccountChange => account_change(99, "Change"),
        Kind::AccountPasswordReset => account_change(4, "Password Reset"),
        Kind::AccountGroupAdd => group_management(3, "Add User"),
        Kind::AccountGroupRemove => group_management(4, "Remove User"),
        Kind::AccountPrivilegeChange => user_access(99, "Privilege Change"),
        Kind::PolicyDecision => base_event("Policy Decision"),
        Kind::AgentStart => base_event("Agent Start"),
        Kind::AgentHeartbeat => base_event("Agent Heartbeat"),
        Kind::AgentStop => base_event("Agent Stop"),
        Kind::LogRecord => base_event("Log Record"),
    }
}

/// The Mamori kind of an OCSF class/activity (the first kind in [`Kind::ALL`] that maps to it;
/// for activity 99 "Other" the activity name must match too). `logon.failed` shares
/// Authentication/Logon with `logon`, so [`to_ocsf`] records it in `unmapped.kind`.
pub fn kind_of(class_uid: u64, activity_id: u64, activity_name: Option<&str>) -> Option<Kind> {
    Kind::ALL.iter().copied().find(|k| {
        let c = class_of(*k);
        u64::from(c.class_uid) == class_uid
            && u64::from(c.activity_id) == activity_id
            && (c.activity_id != 99 || activity_name == Some(c.activity_name))
    })
}

// ---------------------------------------------------------------------------------------------
// Placements: (Mamori field, OCSF path, conversion). Within one family no two placements share
// a path, and no derived attribute is written to a placement path, so the mapping inverts.

#[derive(Clone, Copy)]
enum Conv {
    /// The JSON value as is.
    Same,
    /// A hex SHA-256 <-> an OCSF fingerprint list `[{algorithm_id: 3, value}]`.
    Sha256,
}

type Placement = (&'static str, &'static [&'static str], Conv);

const ACTOR_PLACEMENTS: &[Placement] = &[
    (field::USER, &["actor", "user", "name"], Conv::Same),
    (field::SESSION, &["actor", "session", "uid"], Conv::Same),
    (field::HOST, &["device", "hostname"], Conv::Same),
    (field::IP, &["device", "ip"], Conv::Same),
];

const PROCESS_PLACEMENTS: &[Placement] = &[
    (field::NAME, &["actor", "process", "name"], Conv::Same),
    (field::PID, &["actor", "process", "pid"], Conv::Same),
    (
        field::PATH,
        &["actor", "process", "file", "path"],
        Conv::Same,
    ),
    (
        field::SHA256,
        &["actor", "process", "file", "hashes"],
        Conv::Sha256,
    ),
];

const SOURCE_PLACEMENTS: &[Placement] = &[(field::NAME, &["metadata", "log_name"], Conv::Same)];

const FILE_OBJECT: &[Placement] = &[
    (field::NAME, &["file", "name"], Conv::Same),
    (field::PATH, &["file", "path"], Conv::Same),
    (field::SIZE, &["file", "size"], Conv::Same),
    (field::EXTENSION, &["file", "ext"], Conv::Same),
    (field::SHA256, &["file", "hashes"], Conv::Sha256),
];

const HTTP_OBJECT: &[Placement] = &[
    (
        field::URL,
        &["http_request", "url", "url_string"],
        Conv::Same,
    ),
    (field::NAME, &["file", "name"], Conv::Same),
    (field::PATH, &["file", "path"], Conv::Same),
    (field::SIZE, &["file", "size"], Conv::Same),
    (field::EXTENSION, &["file", "ext"], Conv::Same),
    (field::SHA256, &["file", "hashes"], Conv::Sha256),
];

const PROCESS_OBJECT: &[Placement] = &[
    (field::NAME, &["process", "file", "name"], Conv::Same),
    (field::PATH, &["process", "file", "path"], Conv::Same),
    (field::SIZE, &["process", "file", "size"], Conv::Same),
    (field::EXTENSION, &["process", "file", "ext"], Conv::Same),
    (field::SHA256, &["process", "file", "hashes"], Conv::Sha256),
];

const EMAIL_OBJECT: &[Placement] = &[
    (field::SUBJECT, &["email", "subject"], Conv::Same),
    (field::SIZE, &["email", "size"], Conv::Same),
];

const ACCOUNT_OBJECT: &[Placement] = &[(field::NAME, &["user", "name"], Conv::Same)];

const PERIPHERAL_DESTINATION: &[Placement] = &[
    (field::NAME, &["peripheral_device", "name"], Conv::Same),
    (field::DEVICE_ID, &["peripheral_device", "uid"], Conv::Same),
];

const NETWORK_DESTINATION: &[Placement] = &[
    (field::NAME, &["dst_endpoint", "name"], Conv::Same),
    (field::DOMAIN, &["dst_endpoint", "domain"], Conv::Same),
];

const EMAIL_DESTINATION: &[Placement] = &[
    (field::RECIPIENTS, &["email", "to"], Conv::Same),
    (field::NAME, &["dst_endpoint", "name"], Conv::Same),
    (field::DOMAIN, &["dst_endpoint", "domain"], Conv::Same),
];

const GROUP_DESTINATION: &[Placement] = &[(field::NAME, &["group", "name"], Conv::Same)];

fn object_placements(family: Family) -> &'static [Placement] {
    match family {
        Family::File => FILE_OBJECT,
        Family::Http => HTTP_OBJECT,
        Family::Process => PROCESS_OBJECT,
        Family::Email => EMAIL_OBJECT,
        Family::Account | Family::Group => ACCOUNT_OBJECT,
        Family::Authentication | Family::Peripheral | Family::Base => &[],
    }
}

fn destination_placements(family: Family) -> &'static [Placement] {
    match family {
        Family::Peripheral => PERIPHERAL_DESTINATION,
        Family::Http | Family::Authentication => NETWORK_DESTINATION,
        Family::Email => EMAIL_DESTINATION,
        Family::Group => GROUP_DESTINATION,
        Family::File | Family::Process | Family::Account | Family::Base => &[],
    }
}

/// SHA-256 in OCSF's fingerprint `algorithm_id` enumeration.
const SHA256_ALGORITHM_ID: u64 = 3;

fn set_path(out: &mut Map<String, Value>, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = out;
    for p in parents {
        let slot = cur
            .entry((*p).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(next) = slot else {
            return;
        };
        cur = next;
    }
    cur.insert((*last).to_owned(), value);
}

fn get_path<'a>(v: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut cur = v.get(*first)?;
    for p in rest {
        cur = cur.as_object()?.get(*p)?;
    }
    Some(cur)
}

fn place(section: &mut Map<String, Value>, table: &[Placement], out: &mut Map<String, Value>) {
    for (name, path, conv) in table {
        if let Some(v) = section.remove(*name) {
            let v = match conv {
                Conv::Same => v,
                Conv::Sha256 => json!([{
                    "algorithm_id": SHA256_ALGORITHM_ID,
                    "algorithm": "SHA-256",
                    "value": v,
                }]),
            };
            set_path(out, path, v);
        }
    }
}

fn gather(
    ocsf: &Map<String, Value>,
    table: &[Placement],
    section: &mut Map<String, Value>,
) -> Result<(), EventError> {
    for (name, path, conv) in table {
        let Some(v) = get_path(ocsf, path) else {
            continue;
        };
        let v = match conv {
            Conv::Same => v.clone(),
            Conv::Sha256 => {
                let Some(list) = v.as_array() else {
                    return Err(EventError::new(
                        path.join("."),
                        "expected a fingerprint list",
                    ));
                };
                // Other algorithms (MD5, SHA-1, …) have no Mamori field: skipped.
                match list
                    .iter()
                    .find(|fp| {
                        fp.get("algorithm_id").and_then(Value::as_u64) == Some(SHA256_ALGORITHM_ID)
                    })
                    .and_then(|fp| fp.get("value"))
                {
                    Some(value) => value.clone(),
                    None => continue,
                }
            }
        };
        section.insert((*name).to_owned(), v);
    }
    Ok(())
}

/// Moves what is left of a Mamori section into `unmapped.<name>`.
fn leftover(unmapped: &mut Map<String, Value>, name: &str, section: Map<String, Value>) {
    if !section.is_empty() {
        unmapped.insert(name.to_owned(), Value::Object(section));
    }
}

/// Adds `unmapped.<name>` members to a section rebuilt from OCSF attributes; a `null` member
/// removes the field (its OCSF attribute was derived by [`to_ocsf`], not mapped).
fn merge_unmapped(
    section: &mut Map<String, Value>,
    unmapped: &Map<String, Value>,
    name: &str,
    skip: Option<&str>,
) -> Result<(), EventError> {
    match unmapped.get(name) {
        None => Ok(()),
        Some(Value::Object(extra)) => {
            for (k, v) in extra {
                if Some(k.as_str()) == skip {
                    continue;
                }
                // `null`: the Mamori field is absent; the OCSF attribute was derived.
                if v.is_null() {
                    section.remove(k);
                    continue;
                }
                if section.insert(k.clone(), v.clone()).is_some() {
                    return Err(EventError::new(
                        format!("unmapped.{name}.{k}"),
                        "also present in a mapped OCSF attribute",
                    ));
                }
            }
            Ok(())
        }
        Some(_) => Err(EventError::new(
            format!("unmapped.{name}"),
            "expected an object",
        )),
    }
}

fn take_object(map: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    match map.remove(key) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Translates an event into an OCSF event (a JSON object). Lossless: see [`from_ocsf`].
pub fn to_ocsf(e: &Event) -> Value {
    let class = class_of(e.kind);
    let mut out = Map::new();
    let mut unmapped = Map::new();

    // Classification.
    out.insert("activity_id".into(), class.activity_id.into());
    out.insert("activity_name".into(), class.activity_name.into());
    out.insert("category_uid".into(), class.category_uid.into());
    out.insert("category_name".into(), class.category_name.into());
    out.insert("class_uid".into(), class.class_uid.into());
    out.insert("class_name".into(), class.class_name.into());
    out.insert("type_uid".into(), class.type_uid().into());
    out.insert(
        "type_name".into(),
        format!("{}: {}", class.class_name, class.activity_name).into(),
    );
    out.insert("severity_id".into(), 1.into());
    out.insert("severity".into(), "Informational".into());
    if kind_of(
        class.class_uid.into(),
        class.activity_id.into(),
        Some(class.activity_name),
    ) != Some(e.kind)
    {
        unmapped.insert(field::KIND.into(), e.kind.as_str().into());
    }

    // Time: milliseconds (OCSF `time`) and the exact instant (`time_dt`, datetime profile).
    out.insert("time".into(), e.time.as_millisecond().into());
    out.insert(
        "time_dt".into(),
        crate::time::format_rfc3339(e.time).as_str().into(),
    );

    // Outcome.
    let (status_id, status) = match e.outcome {
        Outcome::Success | Outcome::Warned | Outcome::Overridden => (1, "Success"),
        Outcome::Failure | Outcome::Blocked => (2, "Failure"),
    };
    out.insert("status_id".into(), status_id.into());
    out.insert("status".into(), status.into());
    let disposition = match e.outcome {
        Outcome::Success | Outcome::Failure => None,
        Outcome::Blocked => Some((2, "Denied", 2, "Blocked")),
        Outcome::Warned => Some((1, "Allowed", 19, "Alert")),
        Outcome::Overridden => Some((1, "Allowed", 99, OVERRIDDEN)),
    };
    if let Some((action_id, action, disposition_id, disposition)) = disposition {
        out.insert("action_id".into(), action_id.into());
        out.insert("action".into(), action.into());
        out.insert("disposition_id".into(), disposition_id.into());
        out.insert("disposition".into(), disposition.into());
    }

    out.insert(
        "metadata".into(),
        json!({
            "version": OCSF_VERSION,
            "product": {
                "name": PRODUCT_NAME,
                "vendor_name": PRODUCT_NAME,
                "version": env!("CARGO_PKG_VERSION"),
            },
            "uid": crate::to_hex(&e.identity()),
            "profiles": ["host", "datetime"],
        }),
    );

    // The Mamori event as JSON; each section is taken apart below.
    let mut mamori = match serde_json::to_value(e) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };

    let mut actor = take_object(&mut mamori, field::ACTOR);
    let mut process = take_object(&mut actor, field::PROCESS);
    let process_name = process.get(field::NAME).cloned();
    let process_path = process
        .get(field::PATH)
        .and_then(Value::as_str)
        .map(str::to_owned);
    place(&mut process, PROCESS_PLACEMENTS, &mut out);
    place(&mut actor, ACTOR_PLACEMENTS, &mut out);
    if !process.is_empty() {
        actor.insert(field::PROCESS.into(), Value::Object(process));
    }
    leftover(&mut unmapped, field::ACTOR, actor);

    let mut object = take_object(&mut mamori, field::OBJECT);
    let object_name = object.get(field::NAME).cloned();
    place(&mut object, object_placements(class.family), &mut out);
    // OCSF requires `file.name`: derive it from the path, and record in `unmapped` that the
    // Mamori object has no name (`null`).
    let file: Option<&[&str]> = match class.family {
        Family::File | Family::Http => Some(&["file"]),
        Family::Process => Some(&["process", "file"]),
        _ => None,
    };
    if let Some(file) = file {
        let with = |leaf: &'static str| [file, &[leaf][..]].concat();
        let derived = match get_path(&out, &with("name")) {
            Some(_) => None,
            None => get_path(&out, &with("path"))
                .and_then(Value::as_str)
                .map(|path| basename(path).to_owned()),
        };
        if let Some(name) = derived {
            set_path(&mut out, &with("name"), name.into());
            object.insert(field::NAME.into(), Value::Null);
        }
    }
    leftover(&mut unmapped, field::OBJECT, object);

    let mut destination = take_object(&mut mamori, field::DESTINATION);
    place(
        &mut destination,
        destination_placements(class.family),
        &mut out,
    );
    // OCSF requires `peripheral_device` (with a `name`) in Peripheral Activity.
    if class.family == Family::Peripheral
        && get_path(&out, &["peripheral_device", "name"]).is_none()
    {
        let name = get_path(&out, &["peripheral_device", "uid"])
            .cloned()
            .unwrap_or_else(|| "Unknown".into());
        set_path(&mut out, &["peripheral_device", "name"], name);
        destination.insert(field::NAME.into(), Value::Null);
    }
    leftover(&mut unmapped, field::DESTINATION, destination);

    let mut source = take_object(&mut mamori, field::SOURCE);
    place(&mut source, SOURCE_PLACEMENTS, &mut out);
    leftover(&mut unmapped, field::SOURCE, source);

    if let Some(raw) = mamori.remove(field::RAW) {
        unmapped.insert(field::RAW.into(), raw);
    }
    if let Some(nonce) = mamori.remove(field::NONCE) {
        unmapped.insert(field::NONCE.into(), nonce);
    }

    // Derived attributes OCSF requires or recommends (never read back).
    if let Some(Value::Object(device)) = out.get_mut("device") {
        device.insert("type_id".into(), 0.into());
        device.insert("type".into(), "Unknown".into());
        if matches!(class.category_uid, 3 | 4) {
            let mut endpoint = Map::new();
            for key in ["hostname", "ip"] {
                if let Some(v) = device.get(key) {
                    endpoint.insert(key.into(), v.clone());
                }
            }
            out.insert("src_endpoint".into(), Value::Object(endpoint));
        }
    }
    if let Some(path) = process_path {
        let name = match process_name {
            Some(name) => name,
            None => basename(&path).into(),
        };
        set_path(&mut out, &["actor", "process", "file", "name"], name);
    }
    if let (Family::Process, Some(name)) = (class.family, object_name) {
        set_path(&mut out, &["process", "name"], name);
    }
    for path in [
        &["file"][..],
        &["process", "file"][..],
        &["actor", "process", "file"][..],
    ] {
        if get_path(&out, path).is_some_and(Value::is_object) {
            let mut type_path = path.to_vec();
            type_path.push("type_id");
            set_path(&mut out, &type_path, 0.into());
        }
    }
    if class.family == Family::Peripheral {
        let (type_id, type_name) = match e.destination.as_ref().and_then(|d| d.kind) {
            Some(DestinationKind::Removable) => (1, "External Storage"),
            Some(DestinationKind::Printer) => (4, "Printer"),
            _ => (0, "Unknown"),
        };
        set_path(&mut out, &["peripheral_device", "type_id"], type_id.into());
        set_path(&mut out, &["peripheral_device", "type"], type_name.into());
    }

    if !unmapped.is_empty() {
        out.insert("unmapped".into(), Value::Object(unmapped));
    }
    Value::Object(out)
}

/// The OCSF `disposition` caption used for [`Outcome::Overridden`] (`disposition_id` 99).
const OVERRIDDEN: &str = "Overridden";

fn outcome_of(o: &Map<String, Value>) -> Result<Outcome, EventError> {
    let disposition_id = o.get("disposition_id").and_then(Value::as_u64);
    match disposition_id {
        Some(2) => return Ok(Outcome::Blocked),
        Some(19) => return Ok(Outcome::Warned),
        Some(99) if o.get("disposition").and_then(Value::as_str) == Some(OVERRIDDEN) => {
            return Ok(Outcome::Overridden);
        }
        _ => {}
    }
    match o.get("status_id").and_then(Value::as_u64) {
        Some(1) => Ok(Outcome::Success),
        Some(2) => Ok(Outcome::Failure),
        Some(other) => Err(EventError::new(
            "status_id",
            format!("no Mamori outcome for status_id {other}"),
        )),
        None => Err(EventError::new("status_id", "missing field")),
    }
}

fn u64_field(o: &Map<String, Value>, name: &str) -> Result<u64, EventError> {
    match o.get(name) {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| EventError::new(name, "expected a non-negative integer")),
        None => Err(EventError::new(name, "missing field")),
    }
}

/// Translates an OCSF event back into a Mamori event, validating it as
/// [`Event::from_json`] does. Inverse of [`to_ocsf`]; also reads OCSF events from other
/// producers when their class/activity has a Mamori kind (unknown `unmapped` members other than
/// Mamori's own sections are ignored).
pub fn from_ocsf(v: &Value) -> Result<Event, EventError> {
    let o = v
        .as_object()
        .ok_or_else(|| EventError::new("", "expected an OCSF event object"))?;
    let empty = Map::new();
    let unmapped = match o.get("unmapped") {
        None => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => return Err(EventError::new("unmapped", "expected an object")),
    };

    let kind = match unmapped.get(field::KIND) {
        Some(Value::String(s)) => s
            .parse::<Kind>()
            .map_err(|e| EventError::new("unmapped.kind", e.to_string()))?,
        Some(_) => return Err(EventError::new("unmapped.kind", "expected a string")),
        None => {
            let class_uid = u64_field(o, "class_uid")?;
            let activity_id = u64_field(o, "activity_id")?;
            let activity_name = o.get("activity_name").and_then(Value::as_str);
            kind_of(class_uid, activity_id, activity_name).ok_or_else(|| {
                EventError::new(
                    "class_uid",
                    format!("no Mamori kind for class_uid {class_uid} activity_id {activity_id}"),
                )
            })?
        }
    };
    let family = class_of(kind).family;

    let mut ev = Map::new();
    ev.insert(field::KIND.into(), kind.as_str().into());
    let time = match (o.get("time_dt"), o.get("time")) {
        (Some(Value::String(s)), _) => s.clone(),
        (Some(_), _) => return Err(EventError::new("time_dt", "expected a string")),
        (None, Some(ms)) => {
            let ts = ms
                .as_i64()
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .ok_or_else(|| EventError::new("time", "expected milliseconds since 1970"))?;
            crate::time::format_rfc3339(ts).as_str().to_owned()
        }
        (None, None) => return Err(EventError::new("time", "missing field")),
    };
    ev.insert(field::TIME.into(), time.into());
    ev.insert(field::OUTCOME.into(), outcome_of(o)?.as_str().into());

    let unmapped_actor = match unmapped.get(field::ACTOR) {
        Some(Value::Object(a)) => a.clone(),
        _ => Map::new(),
    };
    let mut process = Map::new();
    gather(o, PROCESS_PLACEMENTS, &mut process)?;
    merge_unmapped(&mut process, &unmapped_actor, field::PROCESS, None)?;
    let mut actor = Map::new();
    gather(o, ACTOR_PLACEMENTS, &mut actor)?;
    merge_unmapped(&mut actor, unmapped, field::ACTOR, Some(field::PROCESS))?;
    if !process.is_empty() {
        actor.insert(field::PROCESS.into(), Value::Object(process));
    }
    ev.insert(field::ACTOR.into(), Value::Object(actor));

    for (name, table) in [
        (field::OBJECT, object_placements(family)),
        (field::DESTINATION, destination_placements(family)),
        (field::SOURCE, SOURCE_PLACEMENTS),
    ] {
        let mut section = Map::new();
        gather(o, table, &mut section)?;
        merge_unmapped(&mut section, unmapped, name, None)?;
        if !section.is_empty() {
            ev.insert(name.into(), Value::Object(section));
        }
    }
    for name in [field::RAW, field::NONCE] {
        if let Some(v) = unmapped.get(name) {
            ev.insert(name.into(), v.clone());
        }
    }
    Event::from_value(Value::Object(ev))
}
