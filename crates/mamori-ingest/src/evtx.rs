//! EVTX: Windows event log files, one event per record (mapping in `docs/evtx.md`).
//!
//! The file is read a chunk (64 KiB, at most a few hundred records) at a time: memory stays
//! constant whatever the file size. Each record is rendered as JSON by the `evtx` crate, its
//! `EventData` / `UserData` fields are flattened into `raw`, and a known Security, Sysmon or
//! PrintService event id picks a specific kind; every other record becomes `log.record`.
//! A damaged chunk or record becomes a rejection naming the file and the record id; a file that
//! is not EVTX at all becomes one rejection.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::sync::Arc;

use evtx::{EvtxParser, IntoIterChunks, ParserSettings};
use mamori_event::{
    Actor, Destination, DestinationKind, Event, Kind, Object, Outcome, Process,
    Source as EventSource,
};
use serde_json::{Map, Value};

use crate::{Location, Rejected, Source};

/// The file header; chunks follow it.
const FILE_HEADER_BYTES: u64 = 4096;
/// Every chunk has this size.
const CHUNK_BYTES: u64 = 65536;

/// The user of a record that names none (no user field, no security id).
pub const NO_USER: &str = "-";

/// `raw` keys the importer adds from the record's `System` part.
pub const RAW_CHANNEL: &str = "Channel";
pub const RAW_EVENT_ID: &str = "EventID";
pub const RAW_PROVIDER: &str = "Provider";
pub const RAW_COMPUTER: &str = "Computer";

/// Reads the records of one `.evtx` file.
pub struct EvtxSource {
    file: String,
    chunks: Option<IntoIterChunks<BufReader<File>>>,
    settings: Arc<ParserSettings>,
    pending: VecDeque<Result<Event, Rejected>>,
    total_bytes: Option<u64>,
    chunks_read: u64,
    /// Why the end of the file is not whole chunks, reported after its last record.
    truncated: Option<String>,
}

impl EvtxSource {
    /// Opens `path`. Only an unreadable file is an error: a file that is not EVTX yields one
    /// rejection.
    pub fn open(path: &Path) -> io::Result<EvtxSource> {
        let file = File::open(path)?;
        let total_bytes = file.metadata().ok().map(|m| m.len());
        let name = path.display().to_string();
        let settings = Arc::new(ParserSettings::new().indent(false));
        let mut pending = VecDeque::new();
        let mut truncated = None;
        let chunks = match EvtxParser::from_read_seek(BufReader::new(file)) {
            Ok(parser) => {
                truncated = truncation(parser.header().chunk_count, total_bytes);
                Some(parser.with_configuration((*settings).clone()).into_chunks())
            }
            Err(error) => {
                pending.push_back(Err(Rejected {
                    location: Location {
                        file: name.clone(),
                        line: 0,
                    },
                    reason: format!("not an EVTX file: {}", error_chain(&error)),
                    raw: Vec::new(),
                }));
                None
            }
        };
        Ok(EvtxSource {
            file: name,
            chunks,
            settings,
            pending,
            total_bytes,
            chunks_read: 0,
            truncated,
        })
    }

    fn reject(&self, record_id: u64, reason: String) -> Result<Event, Rejected> {
        Err(Rejected {
            location: Location {
                file: self.file.clone(),
                line: record_id,
            },
            reason,
            raw: Vec::new(),
        })
    }

    /// Reads the next chunk's records into `self.pending`; `false` at the end of the file.
    fn read_chunk(&mut self) -> bool {
        let Some(chunks) = self.chunks.as_mut() else {
            return false;
        };
        let Some(chunk) = chunks.next() else {
            self.chunks = None;
            if let Some(reason) = self.truncated.take() {
                let rejection = self.reject(0, reason);
                self.pending.push_back(rejection);
                return true;
            }
            return false;
        };
        self.chunks_read += 1;
        let mut data = match chunk {
            Ok(data) => data,
            Err(error) => {
                let rejection = self.reject(0, format!("damaged chunk: {}", error_chain(&error)));
                self.pending.push_back(rejection);
                return true;
            }
        };
        let mut chunk = match data.parse(self.settings.clone()) {
            Ok(chunk) => chunk,
            Err(error) => {
                let rejection = self.reject(0, format!("damaged chunk: {}", error_chain(&error)));
                self.pending.push_back(rejection);
                return true;
            }
        };
        let mut out = Vec::new();
        for record in chunk.iter() {
            let record = match record {
                Ok(record) => record,
                Err(error) => {
                    out.push((record_id_of(&error), Err(error_chain(&error))));
                    continue;
                }
            };
            let record_id = record.event_record_id;
            match record.into_json_value() {
                Ok(serialized) => out.push((record_id, Ok(serialized.data))),
                Err(error) => out.push((record_id, Err(error_chain(&error)))),
            }
        }
        for (record_id, rendered) in out {
            let result = match rendered {
                Ok(value) => match event_of_record(&value) {
                    Ok(event) => Ok(event),
                    Err(reason) => self.reject(record_id, reason),
                },
                Err(reason) => self.reject(record_id, format!("damaged record: {reason}")),
            };
            self.pending.push_back(result);
        }
        true
    }
}

impl Source for EvtxSource {
    fn name(&self) -> &'static str {
        "evtx"
    }

    fn input(&self) -> &str {
        &self.file
    }

    fn next_record(&mut self) -> Option<io::Result<Result<Event, Rejected>>> {
        loop {
            if let Some(record) = self.pending.pop_front() {
                return Some(Ok(record));
            }
            if !self.read_chunk() {
                return None;
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        let read = FILE_HEADER_BYTES + self.chunks_read * CHUNK_BYTES;
        self.total_bytes.map_or(read, |total| read.min(total))
    }

    fn total_bytes(&self) -> Option<u64> {
        self.total_bytes
    }
}

/// Why a file of `file_bytes` whose header names `header_chunks` chunks is cut short, if it is:
/// the `evtx` crate silently skips a partial last chunk.
fn truncation(header_chunks: u16, file_bytes: Option<u64>) -> Option<String> {
    let body = file_bytes?.saturating_sub(FILE_HEADER_BYTES);
    let whole_chunks = body / CHUNK_BYTES;
    let partial = body % CHUNK_BYTES;
    if partial == 0 && whole_chunks >= u64::from(header_chunks) {
        return None;
    }
    Some(format!(
        "truncated file: the header names {header_chunks} chunks of {CHUNK_BYTES} bytes, the file \
         holds {whole_chunks} whole chunks and {partial} more bytes, whose records are not read"
    ))
}

/// An error and its causes, `: `-separated (the `evtx` crate's top messages are generic).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

fn record_id_of(error: &evtx::err::EvtxError) -> u64 {
    match error {
        evtx::err::EvtxError::FailedToParseRecord { record_id, .. } => *record_id,
        _ => 0,
    }
}

/// The Mamori event of one record rendered as JSON (`{"Event": {"System": …, "EventData": …}}`).
pub fn event_of_record(record: &Value) -> Result<Event, String> {
    let event = record.get("Event").ok_or("record has no Event element")?;
    let system = event.get("System").ok_or("record has no System element")?;
    let record_id = system.get("EventRecordID").and_then(scalar_text);
    let channel = system
        .get("Channel")
        .and_then(scalar_text)
        .unwrap_or_default();
    let provider = system
        .pointer("/Provider/#attributes/Name")
        .and_then(scalar_text)
        .unwrap_or_default();
    let event_id = system
        .get("EventID")
        .and_then(|id| id.get("#text").or(Some(id)))
        .and_then(Value::as_u64)
        .ok_or("record has no numeric EventID")?;
    let computer = system.get("Computer").and_then(scalar_text);
    let time_text = system
        .pointer("/TimeCreated/#attributes/SystemTime")
        .and_then(Value::as_str)
        .ok_or("record has no TimeCreated SystemTime")?;
    let time = parse_system_time(time_text)
        .ok_or_else(|| format!("TimeCreated SystemTime {time_text:?} is not a time"))?;

    let mut raw = Map::new();
    flatten_data(event.get("EventData"), &mut raw);
    if let Some(Value::Object(user_data)) = event.get("UserData") {
        for (_, element) in user_data {
            flatten_data(Some(element), &mut raw);
        }
    }
    raw.insert(RAW_CHANNEL.into(), channel.clone().into());
    raw.insert(RAW_EVENT_ID.into(), event_id.into());
    raw.insert(RAW_PROVIDER.into(), provider.clone().into());
    if let Some(computer) = &computer {
        raw.insert(RAW_COMPUTER.into(), computer.clone().into());
    }

    let audit_failure = system
        .get("Keywords")
        .and_then(Value::as_str)
        .and_then(|k| u64::from_str_radix(k.trim_start_matches("0x"), 16).ok())
        .is_some_and(|k| k & AUDIT_FAILURE != 0);
    let security_user = system
        .pointer("/Security/#attributes/UserID")
        .and_then(scalar_text);
    let fallback_user = match security_user.as_deref() {
        Some("S-1-5-18") => "SYSTEM".to_string(),
        Some(sid) => sid.to_string(),
        None => NO_USER.to_string(),
    };
    let mut mapped = Mapped {
        kind: Kind::LogRecord,
        outcome: if audit_failure {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        actor: Actor {
            host: computer,
            ..Actor::default()
        },
        object: None,
        destination: None,
    };
    let user = if provider == SYSMON_PROVIDER {
        map_sysmon(event_id, &raw, &mut mapped)
    } else if channel == "Security" {
        map_security(event_id, &mut raw, &mut mapped)
    } else if channel == PRINT_CHANNEL && event_id == 307 {
        map_print(&mut raw, &mut mapped)
    } else {
        None
    };
    mapped.actor.user = user
        .or_else(|| {
            first_of(
                &raw,
                &["SubjectUserName", "TargetUserName", "User", "UserName"],
            )
        })
        .unwrap_or(fallback_user);
    let reference = format!("{channel}/{}", record_id.unwrap_or_default());
    Ok(Event {
        v: 1,
        time,
        kind: mapped.kind,
        actor: mapped.actor,
        object: mapped.object,
        destination: mapped.destination,
        outcome: mapped.outcome,
        source: Some(EventSource {
            name: Some("evtx".into()),
            reference: Some(reference),
        }),
        raw,
        nonce: None,
    })
}

const AUDIT_FAILURE: u64 = 0x0010_0000_0000_0000;
const SYSMON_PROVIDER: &str = "Microsoft-Windows-Sysmon";
const PRINT_CHANNEL: &str = "Microsoft-Windows-PrintService/Operational";

/// What the per-channel mappings fill in.
struct Mapped {
    kind: Kind,
    outcome: Outcome,
    actor: Actor,
    object: Option<Object>,
    destination: Option<Destination>,
}

/// Security log. Returns the acting user when the event id says which field it is.
fn map_security(event_id: u64, raw: &mut Map<String, Value>, m: &mut Mapped) -> Option<String> {
    let account = |raw: &Map<String, Value>, field: &str| {
        Some(Object {
            name: text(raw, field),
            r#type: Some("account".into()),
            ..Object::default()
        })
    };
    match event_id {
        4624 | 4625 | 4634 | 4647 => {
            m.kind = match event_id {
                4624 => Kind::Logon,
                4625 => Kind::LogonFailed,
                _ => Kind::Logoff,
            };
            m.outcome = if event_id == 4625 {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            m.actor.ip = text(raw, "IpAddress");
            m.actor.session = text(raw, "TargetLogonId");
            return text(raw, "TargetUserName");
        }
        4648 => {
            m.kind = Kind::Logon;
            m.actor.ip = text(raw, "IpAddress");
            m.actor.session = text(raw, "SubjectLogonId");
            raw.insert("ExplicitCredentials".into(), true.into());
        }
        4663 => {
            let mask = text(raw, "AccessMask")
                .and_then(|m| u64::from_str_radix(m.trim_start_matches("0x"), 16).ok());
            m.kind = match mask {
                Some(mask) if mask & 0x10000 != 0 => Kind::FileDelete,
                Some(mask) if mask & 0x6 != 0 => Kind::FileWrite,
                Some(mask) if mask & 0x1 != 0 => Kind::FileRead,
                _ => Kind::FileOpen,
            };
            m.object = Some(file_object(text(raw, "ObjectName")));
            m.actor.process = process(raw, "ProcessName", "ProcessId");
            m.actor.session = text(raw, "SubjectLogonId");
        }
        4688 => {
            m.kind = Kind::ProcessStart;
            m.object = Some(file_object(text(raw, "NewProcessName")));
            m.actor.process = process(raw, "ParentProcessName", "ProcessId");
            m.actor.session = text(raw, "SubjectLogonId");
        }
        4720 | 4722 | 4724 | 4725 | 4726 | 4738 | 4740 => {
            m.kind = match event_id {
                4720 => Kind::AccountCreate,
                4722 => Kind::AccountEnable,
                4724 => Kind::AccountPasswordReset,
                4725 => Kind::AccountDisable,
                4726 => Kind::AccountDelete,
                _ => Kind::AccountChange,
            };
            if event_id == 4740 {
                raw.insert("Reason".into(), "locked out".into());
            }
            m.object = account(raw, "TargetUserName");
        }
        4728 | 4732 | 4756 | 4729 | 4733 | 4757 => {
            m.kind = if matches!(event_id, 4728 | 4732 | 4756) {
                Kind::AccountGroupAdd
            } else {
                Kind::AccountGroupRemove
            };
            m.object = account(raw, "MemberName").or_else(|| account(raw, "MemberSid"));
            if m.object.as_ref().is_some_and(|o| o.name.is_none()) {
                m.object = account(raw, "MemberSid");
            }
            m.destination = Some(Destination {
                name: text(raw, "TargetUserName"),
                ..Destination::default()
            });
        }
        5140 | 5145 => {
            m.kind = Kind::FileOpen;
            m.actor.ip = text(raw, "IpAddress");
            m.actor.session = text(raw, "SubjectLogonId");
            let relative = text(raw, "RelativeTargetName");
            m.object = Some(Object {
                name: relative.as_deref().map(|r| base_name(r).to_string()),
                path: relative,
                ..Object::default()
            });
            m.destination = Some(Destination {
                kind: Some(DestinationKind::NetworkShare),
                name: text(raw, "ShareName"),
                ..Destination::default()
            });
        }
        6416 => {
            m.kind = Kind::DeviceConnect;
            let class = text(raw, "ClassName").unwrap_or_default();
            let removable = ["USB", "DiskDrive", "WPD", "Volume", "CDROM"]
                .iter()
                .any(|c| class.eq_ignore_ascii_case(c));
            m.destination = Some(Destination {
                kind: removable.then_some(DestinationKind::Removable),
                name: text(raw, "DeviceDescription"),
                device_id: text(raw, "DeviceId"),
                ..Destination::default()
            });
        }
        _ => {}
    }
    None
}

/// Sysmon operational log.
fn map_sysmon(event_id: u64, raw: &Map<String, Value>, m: &mut Mapped) -> Option<String> {
    match event_id {
        1 => {
            m.kind = Kind::ProcessStart;
            let mut object = file_object(text(raw, "Image"));
            object.sha256 = text(raw, "Hashes").and_then(|h| sha256_of_hashes(&h));
            m.object = Some(object);
            m.actor.process = process(raw, "ParentImage", "ParentProcessId");
            m.actor.session = text(raw, "LogonId");
        }
        5 => {
            m.kind = Kind::ProcessStop;
            m.object = Some(file_object(text(raw, "Image")));
        }
        11 | 23 | 26 => {
            m.kind = if event_id == 11 {
                Kind::FileCreate
            } else {
                Kind::FileDelete
            };
            m.object = Some(file_object(text(raw, "TargetFilename")));
            m.actor.process = process(raw, "Image", "ProcessId");
        }
        _ => {
            m.actor.process = process(raw, "Image", "ProcessId");
        }
    }
    text(raw, "User")
}

/// PrintService 307 "document printed": Param1 job, Param2 document, Param3 user, Param4 client,
/// Param5 printer, Param6 port, Param7 bytes, Param8 pages.
fn map_print(raw: &mut Map<String, Value>, m: &mut Mapped) -> Option<String> {
    m.kind = Kind::Print;
    m.object = Some(Object {
        name: text(raw, "Param2"),
        size: text(raw, "Param7").and_then(|s| s.parse().ok()),
        ..Object::default()
    });
    m.destination = Some(Destination {
        kind: Some(DestinationKind::Printer),
        name: text(raw, "Param5"),
        ..Destination::default()
    });
    if let Some(pages) = raw.get("Param8").cloned() {
        raw.insert("Pages".into(), pages);
    }
    text(raw, "Param3")
}

/// A field's text, unless absent, empty or the `-` Windows writes for "none".
fn text(raw: &Map<String, Value>, field: &str) -> Option<String> {
    raw.get(field)
        .and_then(scalar_text)
        .filter(|t| !t.is_empty() && t != "-")
}

fn first_of(raw: &Map<String, Value>, fields: &[&str]) -> Option<String> {
    fields.iter().find_map(|field| text(raw, field))
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn process(raw: &Map<String, Value>, path_field: &str, pid_field: &str) -> Option<Process> {
    let path = text(raw, path_field);
    let pid = text(raw, pid_field).and_then(|p| parse_pid(&p));
    if path.is_none() && pid.is_none() {
        return None;
    }
    Some(Process {
        name: path.as_deref().map(|p| base_name(p).to_string()),
        path,
        pid,
        ..Process::default()
    })
}

/// A process id, decimal (Sysmon) or `0x` hex (Security).
fn parse_pid(text: &str) -> Option<u32> {
    match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn file_object(path: Option<String>) -> Object {
    Object {
        name: path.as_deref().map(|p| base_name(p).to_string()),
        path,
        ..Object::default()
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// `SHA256=…` of Sysmon's `Hashes` (`MD5=…,SHA256=…,IMPHASH=…`).
fn sha256_of_hashes(hashes: &str) -> Option<mamori_event::Sha256Digest> {
    let hex = hashes.split(',').find_map(|h| h.strip_prefix("SHA256="))?;
    hex.parse().ok()
}

/// `EventData` (named `Data` elements) or one `UserData` element, flattened into `raw`: each
/// named field as its value; unnamed `Data` elements under `Data`.
fn flatten_data(data: Option<&Value>, raw: &mut Map<String, Value>) {
    let Some(Value::Object(fields)) = data else {
        return;
    };
    for (name, value) in fields {
        if name == "#attributes" {
            continue;
        }
        let value = match value {
            Value::Object(inner) if inner.contains_key("#text") => {
                inner.get("#text").cloned().unwrap_or(Value::Null)
            }
            other => other.clone(),
        };
        raw.insert(name.clone(), value);
    }
}

/// `2019-03-19T23:34:25.614914Z` (and other RFC 3339 forms) as a timestamp.
fn parse_system_time(text: &str) -> Option<jiff::Timestamp> {
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn record(channel: &str, provider: &str, id: u64, data: Value) -> Value {
        serde_json::json!({"Event": {
            "System": {
                "Provider": {"#attributes": {"Name": provider}},
                "EventID": id, "EventRecordID": 42, "Channel": channel, "Computer": "PC-1",
                "TimeCreated": {"#attributes": {"SystemTime": "2026-01-05T09:12:00.123456Z"}},
                "Security": {"#attributes": {"UserID": "S-1-5-18"}}
            },
            "EventData": data
        }})
    }

    #[test]
    fn a_successful_logon_names_the_target_user_and_session() {
        let value = record(
            "Security",
            "Microsoft-Windows-Security-Auditing",
            4624,
            serde_json::json!({"TargetUserName": "alice", "TargetDomainName": "CORP",
                "TargetLogonId": "0x3e7", "IpAddress": "-", "LogonType": 2}),
        );
        let event = event_of_record(&value).unwrap();
        assert_eq!(event.kind, Kind::Logon);
        assert_eq!(event.actor.user, "alice");
        assert_eq!(event.actor.ip, None);
        assert_eq!(event.actor.session.as_deref(), Some("0x3e7"));
        assert_eq!(event.actor.host.as_deref(), Some("PC-1"));
        assert_eq!(event.raw["LogonType"], 2);
        assert_eq!(event.raw["TargetDomainName"], "CORP");
        let source = event.source.unwrap();
        assert_eq!(source.reference.as_deref(), Some("Security/42"));
    }

    #[test]
    fn an_access_mask_with_delete_is_a_file_delete() {
        let value = record(
            "Security",
            "Microsoft-Windows-Security-Auditing",
            4663,
            serde_json::json!({"SubjectUserName": "bob", "ObjectName": "C:\\a\\b.txt",
                "AccessMask": "0x10000", "ProcessName": "C:\\x.exe", "ProcessId": "0x10"}),
        );
        let event = event_of_record(&value).unwrap();
        assert_eq!(event.kind, Kind::FileDelete);
        assert_eq!(event.object.unwrap().name.as_deref(), Some("b.txt"));
        assert_eq!(event.actor.process.unwrap().pid, Some(16));
    }

    #[test]
    fn an_unknown_record_is_kept_as_a_log_record_with_a_fallback_user() {
        let value = record("System", "Service Control Manager", 7045, Value::Null);
        let event = event_of_record(&value).unwrap();
        assert_eq!(event.kind, Kind::LogRecord);
        assert_eq!(event.actor.user, "SYSTEM");
        assert_eq!(event.raw["EventID"], 7045);
        assert_eq!(event.raw["Provider"], "Service Control Manager");
    }

    #[test]
    fn a_process_start_names_the_new_image_and_its_launcher() {
        let value = record(
            "Security",
            "Microsoft-Windows-Security-Auditing",
            4688,
            serde_json::json!({"SubjectUserName": "bob", "NewProcessName": "C:\\Tools\\7z.exe",
                "NewProcessId": "0x1a2", "ParentProcessName": "C:\\Windows\\explorer.exe",
                "ProcessId": "0x10", "CommandLine": "7z a x.zip"}),
        );
        let event = event_of_record(&value).unwrap();
        assert_eq!(event.kind, Kind::ProcessStart);
        assert_eq!(event.actor.user, "bob");
        assert_eq!(event.object.unwrap().name.as_deref(), Some("7z.exe"));
        let launcher = event.actor.process.unwrap();
        assert_eq!(launcher.name.as_deref(), Some("explorer.exe"));
        assert_eq!(launcher.pid, Some(16));
        assert_eq!(event.raw["CommandLine"], "7z a x.zip");
    }

    #[test]
    fn share_usb_and_print_records_name_their_destination() {
        let share = record(
            "Security",
            "Microsoft-Windows-Security-Auditing",
            5145,
            serde_json::json!({"SubjectUserName": "bob", "ShareName": "\\\\*\\C$",
                "RelativeTargetName": "design\\a.dwg", "IpAddress": "10.0.0.5"}),
        );
        let event = event_of_record(&share).unwrap();
        assert_eq!(event.kind, Kind::FileOpen);
        let destination = event.destination.unwrap();
        assert_eq!(destination.kind, Some(DestinationKind::NetworkShare));
        assert_eq!(destination.name.as_deref(), Some("\\\\*\\C$"));

        let usb = record(
            "Security",
            "Microsoft-Windows-Security-Auditing",
            6416,
            serde_json::json!({"SubjectUserName": "PC-1$", "ClassName": "DiskDrive",
                "DeviceId": "USBSTOR\\DISK&VEN_KINGSTON", "DeviceDescription": "Disk drive"}),
        );
        let event = event_of_record(&usb).unwrap();
        assert_eq!(event.kind, Kind::DeviceConnect);
        let destination = event.destination.unwrap();
        assert_eq!(destination.kind, Some(DestinationKind::Removable));
        assert_eq!(
            destination.device_id.as_deref(),
            Some("USBSTOR\\DISK&VEN_KINGSTON")
        );

        let mut print = record(
            PRINT_CHANNEL,
            "Microsoft-Windows-PrintService",
            307,
            Value::Null,
        );
        print["Event"]["UserData"] = serde_json::json!({"DocumentPrinted": {
            "#attributes": {"xmlns": "http://manifests.microsoft.com/win/2005/08/windows/printing/spooler/core/events"},
            "Param1": "12", "Param2": "見積書.pdf", "Param3": "alice", "Param4": "\\\\PC-1",
            "Param5": "FL3-Color", "Param6": "IP_10.0.0.9", "Param7": "80211", "Param8": "12"}});
        let event = event_of_record(&print).unwrap();
        assert_eq!(event.kind, Kind::Print);
        assert_eq!(event.actor.user, "alice");
        let object = event.object.unwrap();
        assert_eq!(object.name.as_deref(), Some("見積書.pdf"));
        assert_eq!(object.size, Some(80211));
        assert_eq!(
            event.destination.unwrap().name.as_deref(),
            Some("FL3-Color")
        );
        assert_eq!(event.raw["Pages"], "12");
    }

    #[test]
    fn a_failed_logon_fails_and_a_record_without_time_is_refused() {
        let value = record(
            "Security",
            "Microsoft-Windows-Security-Auditing",
            4625,
            serde_json::json!({"TargetUserName": "alice", "SubStatus": "0xC000006A"}),
        );
        let event = event_of_record(&value).unwrap();
        assert_eq!(event.kind, Kind::LogonFailed);
        assert_eq!(event.outcome, Outcome::Failure);

        let mut no_time = value.clone();
        no_time["Event"]["System"]["TimeCreated"] = Value::Null;
        let reason = event_of_record(&no_time).unwrap_err();
        assert!(reason.contains("TimeCreated"), "{reason}");
    }
}
