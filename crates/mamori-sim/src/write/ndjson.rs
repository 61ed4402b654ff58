//! `--format ndjson`: `events.ndjson` (Mamori events, one per line, as `mamori import ndjson`
//! reads them; `source` is `{"name":"sim","ref":"<CERT id>"}`) and `hr.csv` (the HR CSV with
//! one row per version of a person's record).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use mamori_event::HR_CSV_COLUMNS;
use serde::Serialize;

use super::{FileStats, Sink, create, csv_writer, file_size, pc_name};
use crate::calendar::{DayStamp, iso};
use crate::error::SimError;
use crate::org::{BUSINESS_UNIT, ORG_DOMAIN, Organisation, Person, Role};
use crate::record::{Body, HttpAction, Record};
use crate::vocab::Category;
use mamori_content::{ContentDigester, ContentKey};
use sha2::{Digest, Sha256};

/// `source.name` of every simulated event.
pub const SOURCE_NAME: &str = "sim";

pub struct NdjsonSink {
    path: PathBuf,
    writer: BufWriter<File>,
    rows: u64,
    hr: FileStats,
    /// Content is written as the features an importer keeps (`mamori_content`), never as
    /// text: simulated events look like imported ones to detection.
    digester: ContentDigester,
}

impl NdjsonSink {
    pub fn create(dir: &Path, org: &Organisation, seed: u64) -> Result<Self, SimError> {
        let path = dir.join("events.ndjson");
        let writer = create(&path)?;
        let hr = write_hr(dir, org)?;
        Ok(NdjsonSink {
            path,
            writer,
            rows: 0,
            hr,
            digester: ContentDigester::new(&content_key(seed)),
        })
    }
}

/// The content HMAC key of a simulation: derived from the seed, so output stays deterministic.
/// (A real deployment's key is a secret of its data directory; synthetic text needs none.)
fn content_key(seed: u64) -> ContentKey {
    let mut hasher = Sha256::new();
    hasher.update(b"mamori-sim content key");
    hasher.update(seed.to_be_bytes());
    ContentKey(hasher.finalize().into())
}

impl Sink for NdjsonSink {
    fn write_day(
        &mut self,
        org: &Organisation,
        stamp: &DayStamp,
        records: &[Record],
    ) -> Result<(), SimError> {
        for record in records {
            write_event(&mut self.writer, &self.digester, org, stamp, record).map_err(
                |source| SimError::Json {
                    path: self.path.clone(),
                    source,
                },
            )?;
            self.writer
                .write_all(b"\n")
                .map_err(SimError::io(&self.path))?;
            self.rows += 1;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<Vec<FileStats>, SimError> {
        self.writer.flush().map_err(SimError::io(&self.path))?;
        let events = FileStats {
            file: "events.ndjson".into(),
            rows: self.rows,
            bytes: file_size(&self.path)?,
        };
        Ok(vec![events, self.hr.clone()])
    }
}

#[derive(Serialize)]
struct EventOut<'a> {
    time: String,
    kind: &'static str,
    actor: ActorOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<ObjectOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<DestinationOut<'a>>,
    outcome: &'static str,
    source: SourceOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<RawOut<'a>>,
}

#[derive(Serialize)]
struct ActorOut<'a> {
    user: &'a str,
    host: String,
}

#[derive(Serialize, Default)]
struct ObjectOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extension: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u32>,
}

#[derive(Serialize, Default)]
struct DestinationOut<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    recipients: Vec<&'a str>,
}

#[derive(Serialize)]
struct SourceOut<'a> {
    name: &'static str,
    #[serde(rename = "ref")]
    reference: &'a str,
}

#[derive(Serialize)]
#[serde(untagged)]
enum RawOut<'a> {
    Content {
        #[serde(flatten)]
        content: ContentOut,
    },
    Web {
        category: &'static str,
        #[serde(flatten)]
        content: ContentOut,
    },
    Mail {
        from: &'a str,
        to: &'a [String],
        cc: &'a [String],
        bcc: &'a [String],
        attachments: u8,
        #[serde(flatten)]
        content: ContentOut,
    },
}

/// What is kept of a content field, under the keys of `mamori_content::raw_key`.
#[derive(Serialize)]
struct ContentOut {
    content_hmac: String,
    content_words: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    content_categories: Vec<&'static str>,
}

impl ContentOut {
    fn of(digester: &ContentDigester, content: &str) -> Self {
        let features = digester.digest(content.as_bytes());
        ContentOut {
            content_hmac: features.hmac,
            content_words: features.words,
            content_categories: features.categories,
        }
    }
}

fn write_event<W: Write>(
    writer: &mut W,
    digester: &ContentDigester,
    org: &Organisation,
    stamp: &DayStamp,
    record: &Record,
) -> serde_json::Result<()> {
    let mut object = None;
    let mut destination = None;
    let mut raw = None;
    let kind = match &record.body {
        Body::Logon => "logon",
        Body::Logoff => "logoff",
        Body::Connect | Body::Disconnect => {
            destination = Some(DestinationOut {
                kind: "removable",
                ..Default::default()
            });
            if matches!(record.body, Body::Connect) {
                "device.connect"
            } else {
                "device.disconnect"
            }
        }
        Body::File { filename, content } => {
            let extension = filename.rsplit_once('.').map(|(_, e)| e);
            object = Some(ObjectOut {
                path: Some(filename),
                name: Some(filename),
                extension,
                ..Default::default()
            });
            destination = Some(DestinationOut {
                kind: "removable",
                ..Default::default()
            });
            raw = Some(RawOut::Content {
                content: ContentOut::of(digester, content),
            });
            "file.copy"
        }
        Body::Http {
            url,
            domain,
            category,
            action,
            content,
        } => {
            object = Some(ObjectOut {
                url: Some(url),
                ..Default::default()
            });
            let kind = if *category == Category::CloudStorage {
                "cloud"
            } else {
                "web"
            };
            destination = Some(DestinationOut {
                kind,
                domain: Some(domain),
                external: Some(true),
                ..Default::default()
            });
            raw = Some(RawOut::Web {
                category: category.as_str(),
                content: ContentOut::of(digester, content),
            });
            match action {
                HttpAction::Visit => "http.request",
                HttpAction::Upload => "http.upload",
                HttpAction::Download => "http.download",
            }
        }
        Body::Email {
            to,
            cc,
            bcc,
            from,
            size,
            attachments,
            content,
        } => {
            let recipients: Vec<&str> =
                to.iter().chain(cc).chain(bcc).map(String::as_str).collect();
            let external = recipients.iter().any(|address| !is_internal(address));
            object = Some(ObjectOut {
                size: Some(*size),
                ..Default::default()
            });
            destination = Some(DestinationOut {
                kind: "email",
                external: Some(external),
                recipients,
                ..Default::default()
            });
            raw = Some(RawOut::Mail {
                from,
                to,
                cc,
                bcc,
                attachments: *attachments,
                content: ContentOut::of(digester, content),
            });
            "email.send"
        }
    };
    let event = EventOut {
        time: stamp.rfc3339(record.second),
        kind,
        actor: ActorOut {
            user: org.account_name(record.user),
            host: pc_name(record.pc),
        },
        object,
        destination,
        outcome: "success",
        source: SourceOut {
            name: SOURCE_NAME,
            reference: record.id.as_str(),
        },
        raw,
    };
    serde_json::to_writer(writer, &event)
}

/// Whether a mail address is in the organisation's own domain (exactly: a look-alike is not).
pub fn is_internal(address: &str) -> bool {
    address
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case(ORG_DOMAIN))
}

/// `hr.csv`: one row per version of each person's record. The first version holds from the
/// hire date; a second version starts on the day notice is given and carries the notice and
/// termination dates.
fn write_hr(dir: &Path, org: &Organisation) -> Result<FileStats, SimError> {
    let path = dir.join("hr.csv");
    let mut writer = csv_writer(create(&path)?);
    writer
        .write_record(HR_CSV_COLUMNS)
        .map_err(SimError::csv(&path))?;
    let mut rows = 0;
    for person in &org.people {
        writer
            .write_record(hr_row(org, person, false))
            .map_err(SimError::csv(&path))?;
        rows += 1;
        if person.notice_date.is_some() {
            writer
                .write_record(hr_row(org, person, true))
                .map_err(SimError::csv(&path))?;
            rows += 1;
        }
    }
    writer.flush().map_err(SimError::io(&path))?;
    drop(writer);
    Ok(FileStats {
        file: "hr.csv".into(),
        rows,
        bytes: file_size(&path)?,
    })
}

fn hr_row(org: &Organisation, person: &Person, after_notice: bool) -> [String; 16] {
    let (valid_from, notice, termination) =
        match (after_notice, person.notice_date, person.termination_date) {
            (true, Some(notice), termination) => (
                notice,
                iso(notice),
                termination.map(iso).unwrap_or_default(),
            ),
            _ => (person.hire_date, String::new(), String::new()),
        };
    let priority =
        person.role == Role::ItAdmin || matches!(person.role, Role::President | Role::Vp);
    [
        person.person_id.clone(),
        iso(valid_from),
        person.name.clone(),
        person.email.clone(),
        BUSINESS_UNIT.to_string(),
        person.unit.functional_unit_name().to_string(),
        person.unit.department.unwrap_or("").to_string(),
        person.unit.team.unwrap_or("").to_string(),
        person.role.as_str().to_string(),
        person
            .supervisor
            .map(|s| org.person(s).person_id.clone())
            .unwrap_or_default(),
        person.employment_type.as_str().to_string(),
        iso(person.hire_date),
        notice,
        termination,
        priority.to_string(),
        person.user_id.clone(),
    ]
}
