//! One CERT row → one [`Event`]. The mapping is documented field by field in `docs/cert.md`.

use csv::ByteRecord;
use mamori_event::{
    Actor, Destination, DestinationKind, EVENT_VERSION, Event, Kind, MAX_SAFE_INTEGER, Object,
    Outcome, Source as EventSource,
};
use serde_json::{Map, Value};

use super::content::ContentDigester;
use super::layout::{Columns, Layout};
use super::time::parse_local_seconds;
use super::{CertOptions, SOURCE_NAME};

/// Keys this importer writes under `raw`.
pub mod raw_key {
    pub const FILE_TREE: &str = "file_tree";
    pub const FROM_REMOVABLE_MEDIA: &str = "from_removable_media";
    pub const FROM: &str = "from";
    pub const TO: &str = "to";
    pub const CC: &str = "cc";
    pub const BCC: &str = "bcc";
    pub const ATTACHMENT_COUNT: &str = "attachment_count";
    pub const ATTACHMENTS: &str = "attachments";
    pub const ATTACHMENT_NAME: &str = "name";
    pub const ATTACHMENT_SIZE: &str = "size";
    pub use mamori_content::raw_key::{CONTENT_CATEGORIES, CONTENT_HMAC, CONTENT_WORDS};
    pub const CONTENT_MAGIC: &str = "content_magic";
}

/// Cloud storage services: an HTTP destination on one of these domains (or below them) is
/// `cloud`, any other `web`. The first four are the ones the CERT scenarios use.
pub const CLOUD_STORAGE_DOMAINS: &[&str] = &[
    "dropbox.com",
    "drive.google.com",
    "mega.co.nz",
    "account.live.com",
    "mega.nz",
    "onedrive.live.com",
    "box.com",
    "wetransfer.com",
    "icloud.com",
    "docs.google.com",
    "mediafire.com",
    "sendspace.com",
];

pub(crate) struct RowMapper {
    columns: Columns,
    utc_offset_seconds: i64,
    organisation_domains: Vec<String>,
    digester: ContentDigester,
}

type RowResult<T> = Result<T, String>;

impl RowMapper {
    pub fn new(columns: Columns, options: &CertOptions) -> RowMapper {
        RowMapper {
            columns,
            utc_offset_seconds: i64::from(options.utc_offset.seconds()),
            organisation_domains: options
                .organisation_domains
                .iter()
                .map(|domain| domain.to_ascii_lowercase())
                .collect(),
            digester: ContentDigester::new(&options.content_key),
        }
    }

    pub fn columns(&self) -> &Columns {
        &self.columns
    }

    pub fn map(&self, record: &ByteRecord) -> RowResult<Event> {
        let columns = &self.columns;
        if record.len() != columns.count {
            return Err(format!(
                "expected {} fields ({}), found {}",
                columns.count,
                columns.layout.columns().join(","),
                record.len()
            ));
        }
        let id = required_text(record, columns.id, "id")?;
        let time = self.time(record)?;
        let user = required_text(record, columns.user, "user")?;
        let pc = text(record, columns.pc, "pc")?;
        let mut event = Event {
            actor: Actor {
                user: user.to_string(),
                host: non_empty(pc),
                ..Actor::default()
            },
            destination: None,
            kind: Kind::Logon,
            nonce: None,
            object: None,
            outcome: Outcome::Success,
            raw: Map::new(),
            source: Some(EventSource {
                name: Some(SOURCE_NAME.to_string()),
                reference: Some(id.to_string()),
            }),
            time,
            v: EVENT_VERSION,
        };
        match columns.layout {
            Layout::Logon => self.logon(record, &mut event)?,
            Layout::DeviceR4 | Layout::DeviceR5 => self.device(record, &mut event)?,
            Layout::FileR4 | Layout::FileR5 => self.file(record, &mut event)?,
            Layout::HttpR4 | Layout::HttpR6 => self.http(record, &mut event)?,
            Layout::EmailR4 | Layout::EmailR5 => self.email(record, &mut event)?,
        }
        Ok(event)
    }

    fn time(&self, record: &ByteRecord) -> RowResult<jiff::Timestamp> {
        let raw = field(record, self.columns.date);
        let local = parse_local_seconds(raw).ok_or_else(|| {
            format!(
                "date: invalid time {:?} (expected MM/DD/YYYY HH:MM:SS)",
                String::from_utf8_lossy(raw)
            )
        })?;
        jiff::Timestamp::from_second(local - self.utc_offset_seconds)
            .map_err(|error| format!("date: {error}"))
    }

    fn activity<'r>(&self, record: &'r ByteRecord) -> RowResult<&'r str> {
        match self.columns.activity {
            Some(index) => text(record, index, "activity"),
            None => Ok(""),
        }
    }

    fn logon(&self, record: &ByteRecord, event: &mut Event) -> RowResult<()> {
        event.kind = match self.activity(record)? {
            "Logon" => Kind::Logon,
            "Logoff" => Kind::Logoff,
            other => return Err(unknown_activity(other, "Logon, Logoff")),
        };
        Ok(())
    }

    fn device(&self, record: &ByteRecord, event: &mut Event) -> RowResult<()> {
        event.kind = match self.activity(record)? {
            "Connect" => Kind::DeviceConnect,
            "Disconnect" => Kind::DeviceDisconnect,
            other => return Err(unknown_activity(other, "Connect, Disconnect")),
        };
        event.destination = Some(Destination {
            kind: Some(DestinationKind::Removable),
            ..Destination::default()
        });
        if let Some(index) = self.columns.file_tree {
            let tree = text(record, index, "file_tree")?;
            if !tree.is_empty() {
                event
                    .raw
                    .insert(raw_key::FILE_TREE.into(), Value::from(tree));
            }
        }
        Ok(())
    }

    fn file(&self, record: &ByteRecord, event: &mut Event) -> RowResult<()> {
        let columns = &self.columns;
        let filename = match columns.filename {
            Some(index) => text(record, index, "filename")?,
            None => "",
        };
        event.object = Some(file_object(filename));
        let to_removable = match columns.layout {
            // r4: "each entry represents a file copy to a removable media device".
            Layout::FileR4 => {
                event.kind = Kind::FileCopy;
                true
            }
            _ => {
                event.kind = match self.activity(record)? {
                    "File Open" => Kind::FileOpen,
                    "File Write" => Kind::FileWrite,
                    "File Copy" => Kind::FileCopy,
                    "File Delete" => Kind::FileDelete,
                    other => {
                        return Err(unknown_activity(
                            other,
                            "File Open, File Write, File Copy, File Delete",
                        ));
                    }
                };
                let from_removable =
                    flag(record, columns.from_removable_media, "from_removable_media")?;
                event.raw.insert(
                    raw_key::FROM_REMOVABLE_MEDIA.into(),
                    Value::Bool(from_removable),
                );
                flag(record, columns.to_removable_media, "to_removable_media")?
            }
        };
        if to_removable {
            event.destination = Some(Destination {
                kind: Some(DestinationKind::Removable),
                ..Destination::default()
            });
        }
        if let Some(index) = columns.content {
            let content = field(record, index);
            // The content starts with the file's magic bytes in hex ("D0-CF-11-E0-…"): a file
            // type, not text, so it is kept and not counted as a word.
            let (magic, rest) = split_magic(content);
            if let Some(magic) = magic {
                event
                    .raw
                    .insert(raw_key::CONTENT_MAGIC.into(), Value::from(magic));
            }
            self.content_features(content, rest, &mut event.raw);
        }
        Ok(())
    }

    fn http(&self, record: &ByteRecord, event: &mut Event) -> RowResult<()> {
        let columns = &self.columns;
        event.kind = match columns.layout {
            Layout::HttpR4 => Kind::HttpRequest,
            _ => match self.activity(record)? {
                "WWW Visit" => Kind::HttpRequest,
                "WWW Download" => Kind::HttpDownload,
                "WWW Upload" => Kind::HttpUpload,
                other => {
                    return Err(unknown_activity(
                        other,
                        "WWW Visit, WWW Download, WWW Upload",
                    ));
                }
            },
        };
        let url = match columns.url {
            Some(index) => text(record, index, "url")?,
            None => "",
        };
        let domain = url_domain(url);
        let kind = match &domain {
            Some(domain) if is_cloud_storage(domain) => DestinationKind::Cloud,
            _ => DestinationKind::Web,
        };
        event.object = Some(Object {
            url: non_empty(url),
            ..Object::default()
        });
        event.destination = Some(Destination {
            kind: Some(kind),
            external: Some(true),
            domain,
            ..Destination::default()
        });
        if let Some(index) = columns.content {
            let content = field(record, index);
            self.content_features(content, content, &mut event.raw);
        }
        Ok(())
    }

    fn email(&self, record: &ByteRecord, event: &mut Event) -> RowResult<()> {
        let columns = &self.columns;
        event.kind = match columns.layout {
            Layout::EmailR4 => Kind::EmailSend,
            _ => match self.activity(record)? {
                "Send" => Kind::EmailSend,
                // r5 wrote "Receive"; r6 replaced receipt by viewing ("View").
                "View" | "Receive" => Kind::EmailReceive,
                other => return Err(unknown_activity(other, "Send, View, Receive")),
            },
        };
        let mut recipients = Vec::new();
        for (index, key) in [
            (columns.to, raw_key::TO),
            (columns.cc, raw_key::CC),
            (columns.bcc, raw_key::BCC),
        ] {
            let Some(index) = index else { continue };
            let addresses = address_list(text(record, index, key)?);
            if !addresses.is_empty() {
                event.raw.insert(
                    key.into(),
                    Value::Array(addresses.iter().map(|a| Value::from(*a)).collect()),
                );
            }
            recipients.extend(addresses.into_iter().map(str::to_string));
        }
        if let Some(index) = columns.from {
            let from = text(record, index, "from")?;
            if !from.is_empty() {
                event.raw.insert(raw_key::FROM.into(), Value::from(from));
            }
        }
        let external = recipients
            .iter()
            .any(|address| !self.is_organisation_address(address));
        event.destination = Some(Destination {
            kind: Some(DestinationKind::Email),
            external: (!recipients.is_empty()).then_some(external),
            recipients,
            ..Destination::default()
        });
        if let Some(index) = columns.size {
            let size = number(record, index, "size")?;
            event.object = Some(Object {
                size,
                ..Object::default()
            });
        }
        if let Some(index) = columns.attachments {
            if columns.layout == Layout::EmailR4 {
                if let Some(count) = number(record, index, "attachments")? {
                    event
                        .raw
                        .insert(raw_key::ATTACHMENT_COUNT.into(), Value::from(count));
                }
            } else {
                let list = attachments(text(record, index, "attachments")?);
                if !list.is_empty() {
                    event
                        .raw
                        .insert(raw_key::ATTACHMENTS.into(), Value::Array(list));
                }
            }
        }
        if let Some(index) = columns.content {
            let content = field(record, index);
            self.content_features(content, content, &mut event.raw);
        }
        Ok(())
    }

    /// HMAC over the whole field; words and categories over `text` (the field less any part
    /// kept apart, like a file's magic bytes).
    fn content_features(&self, whole: &[u8], text: &[u8], raw: &mut Map<String, Value>) {
        mamori_content::insert_features(raw, self.digester.digest_parts(whole, text));
    }

    fn is_organisation_address(&self, address: &str) -> bool {
        let Some((_, domain)) = address.rsplit_once('@') else {
            return false;
        };
        let domain = domain.trim().to_ascii_lowercase();
        self.organisation_domains
            .iter()
            .any(|own| domain_is_within(&domain, own))
    }
}

fn field(record: &ByteRecord, index: usize) -> &[u8] {
    record.get(index).unwrap_or_default()
}

fn text<'r>(record: &'r ByteRecord, index: usize, column: &str) -> RowResult<&'r str> {
    std::str::from_utf8(field(record, index))
        .map(str::trim)
        .map_err(|_| format!("{column}: invalid UTF-8"))
}

fn required_text<'r>(record: &'r ByteRecord, index: usize, column: &str) -> RowResult<&'r str> {
    let value = text(record, index, column)?;
    if value.is_empty() {
        return Err(format!("{column}: empty"));
    }
    Ok(value)
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

fn unknown_activity(value: &str, expected: &str) -> String {
    format!("activity: unknown activity {value:?} (expected one of: {expected})")
}

fn flag(record: &ByteRecord, index: Option<usize>, column: &str) -> RowResult<bool> {
    let Some(index) = index else { return Ok(false) };
    let value = text(record, index, column)?;
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!("{column}: expected True or False, found {value:?}"))
    }
}

fn number(record: &ByteRecord, index: usize, column: &str) -> RowResult<Option<u64>> {
    let value = text(record, index, column)?;
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<u64>() {
        Ok(number) if number <= MAX_SAFE_INTEGER => Ok(Some(number)),
        _ => Err(format!(
            "{column}: expected a whole number, found {value:?}"
        )),
    }
}

/// Path, name and extension of a Windows-style (or bare) file name.
fn file_object(filename: &str) -> Object {
    let name = filename.rsplit(['\\', '/']).next().unwrap_or(filename);
    let extension = name
        .rsplit_once('.')
        .map(|(_, extension)| extension)
        .filter(|extension| !extension.is_empty());
    Object {
        path: non_empty(filename),
        name: non_empty(name),
        extension: extension.map(str::to_string),
        ..Object::default()
    }
}

/// The leading `XX-XX-…` hex token of a file.csv content field, and the rest.
fn split_magic(content: &[u8]) -> (Option<&str>, &[u8]) {
    let end = content
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(content.len());
    let token = &content[..end];
    let is_magic = token.len() >= 2
        && token
            .split(|byte| *byte == b'-')
            .all(|pair| pair.len() == 2 && pair.iter().all(u8::is_ascii_hexdigit));
    match (is_magic, std::str::from_utf8(token)) {
        (true, Ok(magic)) => (Some(magic), &content[end..]),
        _ => (None, content),
    }
}

/// The host of a URL, lower-cased, without user info or port.
pub(crate) fn url_domain(url: &str) -> Option<String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host_and_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = host_and_port
        .split_once(':')
        .map_or(host_and_port, |(host, _)| host)
        .trim_end_matches('.');
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn domain_is_within(domain: &str, parent: &str) -> bool {
    domain == parent
        || (domain.len() > parent.len()
            && domain.ends_with(parent)
            && domain.as_bytes()[domain.len() - parent.len() - 1] == b'.')
}

fn is_cloud_storage(domain: &str) -> bool {
    CLOUD_STORAGE_DOMAINS
        .iter()
        .any(|cloud| domain_is_within(domain, cloud))
}

fn address_list(list: &str) -> Vec<&str> {
    list.split(';')
        .map(str::trim)
        .filter(|address| !address.is_empty())
        .collect()
}

/// r5+ attachments: `;`-separated `name(size)`; an entry without a readable size keeps its name.
fn attachments(list: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for entry in address_list(list) {
        let mut attachment = Map::new();
        let parsed = entry
            .strip_suffix(')')
            .and_then(|head| head.rsplit_once('('))
            .and_then(|(name, size)| Some((name, size.trim().parse::<u64>().ok()?)));
        match parsed {
            Some((name, size)) if size <= MAX_SAFE_INTEGER => {
                attachment.insert(raw_key::ATTACHMENT_NAME.into(), Value::from(name.trim()));
                attachment.insert(raw_key::ATTACHMENT_SIZE.into(), Value::from(size));
            }
            _ => {
                attachment.insert(raw_key::ATTACHMENT_NAME.into(), Value::from(entry));
            }
        }
        out.push(Value::Object(attachment));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn url_domains_drop_scheme_user_port_and_path() {
        assert_eq!(
            url_domain("http://msn.com/a/b.htm").as_deref(),
            Some("msn.com")
        );
        assert_eq!(
            url_domain("https://u:p@Drive.Google.com:443/x?y").as_deref(),
            Some("drive.google.com")
        );
        assert_eq!(
            url_domain("wikileaks.org/leak").as_deref(),
            Some("wikileaks.org")
        );
        assert_eq!(url_domain("http:///nohost"), None);
    }

    #[test]
    fn cloud_storage_is_recognised_on_subdomains_only_at_a_dot() {
        assert!(is_cloud_storage("dropbox.com"));
        assert!(is_cloud_storage("www.dropbox.com"));
        assert!(!is_cloud_storage("notdropbox.com"));
        assert!(!is_cloud_storage("google.com"));
    }

    #[test]
    fn file_objects_split_windows_paths() {
        let object = file_object(r"R:\60WBQE7S\report.final.DOC");
        assert_eq!(
            object.path.as_deref(),
            Some(r"R:\60WBQE7S\report.final.DOC")
        );
        assert_eq!(object.name.as_deref(), Some("report.final.DOC"));
        assert_eq!(object.extension.as_deref(), Some("DOC"));
        let bare = file_object("EYPC9Y08.doc");
        assert_eq!(bare.name.as_deref(), Some("EYPC9Y08.doc"));
        assert_eq!(file_object("README").extension, None);
    }

    #[test]
    fn the_magic_prefix_is_only_hex_pairs() {
        assert_eq!(
            split_magic(b"D0-CF-11-E0-A1-B1-1A-E1 a b").0,
            Some("D0-CF-11-E0-A1-B1-1A-E1")
        );
        assert_eq!(split_magic(b"50-4B-03-04-14").0, Some("50-4B-03-04-14"));
        assert_eq!(split_magic(b"dead beef").0, None);
        assert_eq!(split_magic(b"").0, None);
    }

    #[test]
    fn attachments_with_and_without_sizes() {
        let list = attachments(r"C:\a\b.doc(1234);  odd name ;x.zip(notanumber)");
        assert_eq!(
            Value::Array(list).to_string(),
            r#"[{"name":"C:\\a\\b.doc","size":1234},{"name":"odd name"},{"name":"x.zip(notanumber)"}]"#
        );
    }
}
