//! The CERT importer on fixture files written in each release's layout (the dataset itself is
//! not redistributable). Headers are the real releases' headers; rows imitate theirs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use jiff::civil::date;
use mamori_event::Event;
use mamori_ingest::cert::{
    self, CertError, CertFileSource, CertOptions, ContentKey, FileKind, Layout, Release,
    ResumePoint,
};
use mamori_ingest::{Rejected, Source};
use proptest::prelude::*;

const KEY: ContentKey = ContentKey([42; 32]);

fn options() -> CertOptions {
    CertOptions::new(KEY)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, text).unwrap();
    path
}

fn read_all(path: &Path) -> Vec<Result<Event, Rejected>> {
    let mut source = CertFileSource::open(path, &options()).unwrap();
    drain(&mut source)
}

fn drain<R: std::io::Read + std::io::Seek + Send>(
    source: &mut CertFileSource<R>,
) -> Vec<Result<Event, Rejected>> {
    let mut out = Vec::new();
    while let Some(record) = source.next_record() {
        out.push(record.unwrap());
    }
    out
}

/// The event's canonical JSON, after checking that it parses back to the same event (what
/// the import pipeline and any later reader rely on).
fn json(event: &Event) -> serde_json::Value {
    let canonical = event.canonical_json();
    assert_eq!(&Event::from_json(&canonical).unwrap(), event);
    serde_json::from_slice(&canonical).unwrap()
}

fn events(records: &[Result<Event, Rejected>]) -> Vec<serde_json::Value> {
    records
        .iter()
        .map(|record| json(record.as_ref().unwrap()))
        .collect()
}

fn hmac_hex(content: &str) -> String {
    cert::ContentDigester::new(&KEY)
        .digest(content.as_bytes())
        .hmac
}

// ---------------------------------------------------------------- logon

const LOGON: &str = "id,date,user,pc,activity
{X1D9-S0ES98JV-5357PWMI},01/02/2010 06:49:00,NGF0157,PC-6056,Logon
{G2B3-L6EJ61GT-2222RKSO},01/02/2010 17:50:00,NGF0157,PC-6056,Logoff
";

#[test]
fn logon_rows_become_logon_and_logoff_with_the_cert_id_as_reference() {
    let dir = tempfile::tempdir().unwrap();
    let records = read_all(&write(dir.path(), "logon.csv", LOGON));
    assert_eq!(
        events(&records),
        vec![
            serde_json::json!({"actor":{"host":"PC-6056","user":"NGF0157"},"kind":"logon","outcome":"success",
                "source":{"name":"cert","ref":"{X1D9-S0ES98JV-5357PWMI}"},"time":"2010-01-02T06:49:00Z","v":1}),
            serde_json::json!({"actor":{"host":"PC-6056","user":"NGF0157"},"kind":"logoff","outcome":"success",
                "source":{"name":"cert","ref":"{G2B3-L6EJ61GT-2222RKSO}"},"time":"2010-01-02T17:50:00Z","v":1}),
        ]
    );
}

#[test]
fn a_file_without_header_is_read_by_field_count() {
    let dir = tempfile::tempdir().unwrap();
    let headerless = LOGON.split_once('\n').unwrap().1;
    let path = write(dir.path(), "logon.csv", headerless);
    let source = CertFileSource::open(&path, &options()).unwrap();
    assert!(!source.has_header());
    assert_eq!(source.layout(), Layout::Logon);
    let records = read_all(&path);
    assert_eq!(records.len(), 2);
    assert_eq!(
        json(records[0].as_ref().unwrap())["source"]["ref"],
        "{X1D9-S0ES98JV-5357PWMI}"
    );
}

#[test]
fn the_configured_utc_offset_turns_local_times_into_utc() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "logon.csv", LOGON);
    let mut options = options();
    options.utc_offset = jiff::tz::Offset::from_hours(-5).unwrap();
    let mut source = CertFileSource::open(&path, &options).unwrap();
    let records = drain(&mut source);
    assert_eq!(
        json(records[0].as_ref().unwrap())["time"],
        "2010-01-02T11:49:00Z"
    );
}

// ---------------------------------------------------------------- device

#[test]
fn device_rows_are_removable_media_and_r5_keeps_the_file_tree() {
    let dir = tempfile::tempdir().unwrap();
    let r4 = write(
        dir.path(),
        "r4/device.csv",
        "id,date,user,pc,activity
{J1S3-L9UU75BQ-7790ATPL},01/02/2010 07:21:06,MOH0273,PC-6699,Connect
{N7B5-Y7BB27SI-2946PUJK},01/02/2010 07:37:41,MOH0273,PC-6699,Disconnect
",
    );
    let records = events(&read_all(&r4));
    assert_eq!(records[0]["kind"], "device.connect");
    assert_eq!(
        records[0]["destination"],
        serde_json::json!({"kind":"removable"})
    );
    assert_eq!(records[1]["kind"], "device.disconnect");
    assert!(records[0].get("raw").is_none());

    let r5 = write(
        dir.path(),
        "r5/device.csv",
        r"id,date,user,pc,file_tree,activity
{C9S1-Y8GB42VD-2923GATU},01/02/2010 07:27:19,HRE1950,PC-8025,R:\;R:\HRE1950;R:\47yHBn0,Connect
{Q5R1-T3EF87UE-2395RWZS},01/02/2010 07:40:09,HRE1950,PC-8025,,Disconnect
",
    );
    let source = CertFileSource::open(&r5, &options()).unwrap();
    assert_eq!(source.layout(), Layout::DeviceR5);
    let records = events(&read_all(&r5));
    assert_eq!(records[0]["raw"]["file_tree"], r"R:\;R:\HRE1950;R:\47yHBn0");
    assert_eq!(records[0]["actor"]["host"], "PC-8025");
    assert!(records[1].get("raw").is_none());
}

// ---------------------------------------------------------------- file

const FILE_R4_CONTENT: &str =
    "D0-CF-11-E0-A1-B1-1A-E1 during difficulty overall resume interview keylogger";

#[test]
fn r4_file_rows_are_copies_to_removable_media_with_content_reduced_to_features() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "file.csv",
        &format!(
            "id,date,user,pc,filename,content\n\
             {{L9G8-J9QE34VM-2834VDPB}},01/02/2010 07:23:14,MOH0273,PC-6699,EYPC9Y08.doc,{FILE_R4_CONTENT}\n"
        ),
    );
    let records = events(&read_all(&path));
    assert_eq!(
        records[0],
        serde_json::json!({
            "actor":{"host":"PC-6699","user":"MOH0273"},
            "destination":{"kind":"removable"},
            "kind":"file.copy",
            "object":{"extension":"doc","name":"EYPC9Y08.doc","path":"EYPC9Y08.doc"},
            "outcome":"success",
            "raw":{"content_categories":["hacking","job_search"],
                   "content_hmac": hmac_hex(FILE_R4_CONTENT),
                   "content_magic":"D0-CF-11-E0-A1-B1-1A-E1",
                   "content_words":6},
            "source":{"name":"cert","ref":"{L9G8-J9QE34VM-2834VDPB}"},
            "time":"2010-01-02T07:23:14Z","v":1})
    );
}

#[test]
fn r5_and_r6_file_activities_map_to_their_kinds_and_removable_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "file.csv",
        r#"id,date,user,pc,filename,activity,to_removable_media,from_removable_media,content
{F3E2-X3MV05YQ-3516SZDT},01/02/2010 07:19:41,SDH2394,PC-5849,R:\60WBQE7S.doc,File Open,False,True,"D0-CF-11-E0-A1-B1-1A-E1 Ernesztin's brother, Lipot Hoffmann"
{A1},01/02/2010 07:20:00,SDH2394,PC-5849,C:\work\plan.pdf,File Copy,True,False,25-50-44-46-2D plan
{A2},01/02/2010 07:21:00,SDH2394,PC-5849,C:\work\plan.pdf,File Write,False,False,25-50-44-46-2D plan
{A3},01/02/2010 07:22:00,SDH2394,PC-5849,C:\work\plan.pdf,File Delete,false,false,25-50-44-46-2D plan
"#,
    );
    let records = events(&read_all(&path));
    let kinds: Vec<_> = records.iter().map(|r| r["kind"].clone()).collect();
    assert_eq!(
        kinds,
        ["file.open", "file.copy", "file.write", "file.delete"]
    );
    assert!(records[0].get("destination").is_none());
    assert_eq!(records[0]["raw"]["from_removable_media"], true);
    assert_eq!(records[0]["object"]["path"], r"R:\60WBQE7S.doc");
    assert_eq!(records[0]["raw"]["content_words"], 4);
    assert_eq!(records[1]["destination"]["kind"], "removable");
    assert_eq!(records[1]["raw"]["from_removable_media"], false);
    assert_eq!(records[1]["object"]["name"], "plan.pdf");
    assert_eq!(records[1]["object"]["extension"], "pdf");
    assert_eq!(records[1]["raw"]["content_magic"], "25-50-44-46-2D");
}

// ---------------------------------------------------------------- http

#[test]
fn r4_http_rows_are_requests_to_web_or_cloud_destinations() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "http.csv",
        "id,date,user,pc,url,content
{V1Y4-S2IR20QU-6154HFXJ},01/02/2010 06:55:16,LRR0148,PC-4275,http://msn.com/The_Human_Centipede/katsuro/arjf309875127.htm,remain representatives consistent
{W1},01/02/2010 06:56:00,LRR0148,PC-4275,http://www.dropbox.com/upload/x.htm,dropbox upload share
",
    );
    let records = events(&read_all(&path));
    assert_eq!(
        records[0],
        serde_json::json!({
            "actor":{"host":"PC-4275","user":"LRR0148"},
            "destination":{"domain":"msn.com","external":true,"kind":"web"},
            "kind":"http.request",
            "object":{"url":"http://msn.com/The_Human_Centipede/katsuro/arjf309875127.htm"},
            "outcome":"success",
            "raw":{"content_hmac": hmac_hex("remain representatives consistent"), "content_words":3},
            "source":{"name":"cert","ref":"{V1Y4-S2IR20QU-6154HFXJ}"},
            "time":"2010-01-02T06:55:16Z","v":1})
    );
    assert_eq!(records[1]["destination"]["kind"], "cloud");
    assert_eq!(records[1]["destination"]["domain"], "www.dropbox.com");
    assert_eq!(
        records[1]["raw"]["content_categories"],
        serde_json::json!(["cloud_storage"])
    );
}

#[test]
fn r6_http_activities_and_quoted_sentences_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "http.csv",
        r#"id,date,user,pc,url,activity,content
{H1},01/02/2010 07:00:00,ACM2278,PC-1,http://wikileaks.org/a.html,WWW Visit,"He said, ""leak it"", then left."
{H2},01/02/2010 07:01:00,ACM2278,PC-1,http://dl.example.org/tool.exe,WWW Download,tool
{H3},01/02/2010 07:02:00,ACM2278,PC-1,https://drive.google.com/up,WWW Upload,"files, more files"
"#,
    );
    let source = CertFileSource::open(&path, &options()).unwrap();
    assert_eq!(source.layout(), Layout::HttpR6);
    let records = events(&read_all(&path));
    let kinds: Vec<_> = records.iter().map(|r| r["kind"].clone()).collect();
    assert_eq!(kinds, ["http.request", "http.download", "http.upload"]);
    assert_eq!(
        records[0]["raw"]["content_hmac"],
        hmac_hex(r#"He said, "leak it", then left."#)
    );
    assert_eq!(records[0]["raw"]["content_words"], 6);
    assert_eq!(
        records[0]["raw"]["content_categories"],
        serde_json::json!(["leak"])
    );
    assert_eq!(records[2]["destination"]["kind"], "cloud");
}

// ---------------------------------------------------------------- email

#[test]
fn r4_email_rows_are_sends_with_recipients_size_and_attachment_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "email.csv",
        "id,date,user,pc,to,cc,bcc,from,size,attachments,content
{R3I7-S4TX96FG-8219JWFF},01/02/2010 07:11:45,LAP0338,PC-5758,Dean.Flynn.Hines@dtaa.com;Wade_Harrison@lockheedmartin.com,Nathaniel.Hunter.Heath@dtaa.com,,Lynn.Adena.Pratt@dtaa.com,25830,0,middle f2 systems
{R4},01/02/2010 07:12:00,LAP0338,PC-5758,A.B@dtaa.com,,C.D@mail.dtaa.com,Lynn.Adena.Pratt@dtaa.com,100,2,x
",
    );
    let records = events(&read_all(&path));
    assert_eq!(
        records[0],
        serde_json::json!({
            "actor":{"host":"PC-5758","user":"LAP0338"},
            "destination":{"external":true,"kind":"email","recipients":[
                "Dean.Flynn.Hines@dtaa.com","Wade_Harrison@lockheedmartin.com","Nathaniel.Hunter.Heath@dtaa.com"]},
            "kind":"email.send",
            "object":{"size":25830},
            "outcome":"success",
            "raw":{"attachment_count":0,"cc":["Nathaniel.Hunter.Heath@dtaa.com"],
                   "content_hmac":hmac_hex("middle f2 systems"),"content_words":3,
                   "from":"Lynn.Adena.Pratt@dtaa.com",
                   "to":["Dean.Flynn.Hines@dtaa.com","Wade_Harrison@lockheedmartin.com"]},
            "source":{"name":"cert","ref":"{R3I7-S4TX96FG-8219JWFF}"},
            "time":"2010-01-02T07:11:45Z","v":1})
    );
    // Only organisation addresses (sub-domains included): internal.
    assert_eq!(records[1]["destination"]["external"], false);
    assert_eq!(
        records[1]["raw"]["bcc"],
        serde_json::json!(["C.D@mail.dtaa.com"])
    );
    assert_eq!(records[1]["raw"]["attachment_count"], 2);
}

#[test]
fn r5_and_r6_email_activities_and_attachment_lists_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "email.csv",
        r#"id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content
{E1},01/04/2010 08:00:00,ACM2278,PC-1,friend@gmail.com,,,A.C.M@dtaa.com,Send,1200,C:\docs\plan.doc(52341);R:\x.zip(9),"resume attached, salary?"
{E2},01/04/2010 08:05:00,ACM2278,PC-1,A.C.M@dtaa.com,,,boss@dtaa.com,View,300,,hello
{E3},01/04/2010 08:06:00,ACM2278,PC-1,A.C.M@dtaa.com,,,boss@dtaa.com,Receive,300,,hello
"#,
    );
    let records = events(&read_all(&path));
    assert_eq!(records[0]["kind"], "email.send");
    assert_eq!(records[0]["destination"]["external"], true);
    assert_eq!(
        records[0]["raw"]["attachments"],
        serde_json::json!([{"name":r"C:\docs\plan.doc","size":52341},{"name":r"R:\x.zip","size":9}])
    );
    assert_eq!(
        records[0]["raw"]["content_categories"],
        serde_json::json!(["job_search"])
    );
    assert_eq!(records[1]["kind"], "email.receive");
    assert_eq!(records[1]["raw"]["from"], "boss@dtaa.com");
    assert!(records[1]["raw"].get("attachments").is_none());
    assert_eq!(records[2]["kind"], "email.receive");
}

// ---------------------------------------------------------------- data minimisation

#[test]
fn content_text_never_reaches_events_or_the_quarantine() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "zebrasecretword";
    let path = write(
        dir.path(),
        "http.csv",
        &format!(
            "id,date,user,pc,url,content\n\
             {{A}},01/02/2010 06:55:16,U1,PC-1,http://a.com/,{secret} one\n\
             {{B}},99/02/2010 06:55:16,U1,PC-1,http://a.com/,{secret} two\n\
             {{C}},01/02/2010 06:55:16,U1,PC-1,http://a.com/,{secret},extra,fields\n"
        ),
    );
    let records = read_all(&path);
    assert_eq!(records.len(), 3);
    for record in &records {
        let text = match record {
            Ok(event) => String::from_utf8(event.canonical_json()).unwrap(),
            Err(rejected) => String::from_utf8(rejected.raw.clone()).unwrap(),
        };
        assert!(!text.contains(secret), "{text}");
    }
    let rejected = records[1].as_ref().unwrap_err();
    assert_eq!(
        String::from_utf8(rejected.raw.clone()).unwrap(),
        "{B},99/02/2010 06:55:16,U1,PC-1,http://a.com/,<content withheld: 19 bytes>"
    );
}

// ---------------------------------------------------------------- bad rows

#[test]
fn bad_rows_are_rejected_with_file_line_and_reason_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "logon.csv",
        "id,date,user,pc,activity
{A},01/02/2010 06:49:00,U1,PC-1,Logon
{B},02/30/2010 06:49:00,U1,PC-1,Logon
{C},01/02/2010 06:49:00,U1,PC-1,Sleep

{D},01/02/2010 06:49:00,U1,PC-1
{E},01/02/2010 06:49:00,,PC-1,Logon
{F},01/02/2010 06:50:00,U1,PC-1,Logoff
",
    );
    let records = read_all(&path);
    assert_eq!(records.len(), 6);
    assert!(records[0].is_ok());
    assert!(records[5].is_ok());
    let reasons: Vec<(String, String)> = records[1..5]
        .iter()
        .map(|record| {
            let rejected = record.as_ref().unwrap_err();
            (rejected.location.to_string(), rejected.reason.clone())
        })
        .collect();
    let file = path.display().to_string();
    assert_eq!(
        reasons,
        vec![
            (
                format!("{file}:3"),
                r#"date: invalid time "02/30/2010 06:49:00" (expected MM/DD/YYYY HH:MM:SS)"#
                    .to_string()
            ),
            (
                format!("{file}:4"),
                r#"activity: unknown activity "Sleep" (expected one of: Logon, Logoff)"#
                    .to_string()
            ),
            (
                format!("{file}:6"),
                "expected 5 fields (id,date,user,pc,activity), found 4".to_string()
            ),
            (format!("{file}:7"), "user: empty".to_string()),
        ]
    );
}

#[test]
fn a_truncated_last_line_is_quarantined_and_the_rest_imports() {
    let dir = tempfile::tempdir().unwrap();
    let whole = "id,date,user,pc,url,content
{A},01/02/2010 06:55:16,U1,PC-1,http://a.com/,one
{B},01/02/2010 06:56:16,U1,PC-1,http://b.com/,two
";
    // Cut inside the url: too few fields.
    let path = write(
        dir.path(),
        "a/http.csv",
        &format!("{whole}{{C}},01/02/2010 06:57:16,U1,PC-1,http://c.c"),
    );
    let records = read_all(&path);
    assert_eq!(records.len(), 3);
    assert!(records[0].is_ok() && records[1].is_ok());
    let rejected = records[2].as_ref().unwrap_err();
    assert_eq!(rejected.location.line, 4);
    assert!(
        rejected.reason.starts_with("truncated last record"),
        "{}",
        rejected.reason
    );

    // Cut inside a quoted content field with commas: the field count may even look right.
    let path = write(
        dir.path(),
        "b/http.csv",
        &format!("{whole}{{C}},01/02/2010 06:57:16,U1,PC-1,http://c.com/,\"half a sentence, cut"),
    );
    let records = read_all(&path);
    let rejected = records[2].as_ref().unwrap_err();
    assert_eq!(
        rejected.reason,
        "truncated last record: the file ends inside a quoted field"
    );
    assert!(!String::from_utf8_lossy(&rejected.raw).contains("half a sentence"));

    // A last record that looks whole but lacks its newline may have lost the end of its
    // unquoted content: it is set aside too, the records before it are not.
    let path = write(dir.path(), "c/http.csv", whole.trim_end());
    let records = read_all(&path);
    assert_eq!(records.len(), 2);
    assert!(records[0].is_ok());
    let rejected = records[1].as_ref().unwrap_err();
    assert!(
        rejected.reason.contains("ends without a newline after it"),
        "{}",
        rejected.reason
    );
}

// ---------------------------------------------------------------- resuming

const EMAIL_R6: &str = r#"id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content
{E1},01/04/2010 08:00:00,ACM2278,PC-1,friend@gmail.com,,,A.C.M@dtaa.com,Send,1200,C:\plan.doc(52341),"resume, salary"
{E2},01/04/2010 08:05:00,ACM2278,PC-1,A.C.M@dtaa.com,,,boss@dtaa.com,View,300,,"multi
line, content"
{E3},13/04/2010 08:06:00,ACM2278,PC-1,A.C.M@dtaa.com,,,boss@dtaa.com,View,300,,bad date
{E4},01/04/2010 08:07:00,ACM2278,PC-1,A.C.M@dtaa.com,,,boss@dtaa.com,Send,300,,fine
{E5},01/04/2010 08:08:00,ACM2278,PC-1,A.C.M@dtaa.com,,,boss@dtaa.com,Send,300,,"cut, off
"#;

fn summary(record: &Result<Event, Rejected>) -> String {
    match record {
        Ok(event) => String::from_utf8(event.canonical_json()).unwrap(),
        Err(rejected) => format!("{} {}", rejected.location, rejected.reason),
    }
}

#[test]
fn resuming_at_any_record_boundary_yields_exactly_the_remaining_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "email.csv", EMAIL_R6);
    let mut source = CertFileSource::open(&path, &options()).unwrap();
    let mut full = Vec::new();
    let mut boundaries = vec![source.resume_point()];
    while let Some(record) = source.next_record() {
        full.push(summary(&record.unwrap()));
        boundaries.push(source.resume_point());
    }
    assert_eq!(full.len(), 5);
    assert_eq!(source.record_boundary(), EMAIL_R6.len() as u64);
    for (consumed, boundary) in boundaries.iter().enumerate() {
        let mut resumed = CertFileSource::open_at(&path, *boundary, &options()).unwrap();
        let rest: Vec<String> = drain(&mut resumed).iter().map(summary).collect();
        assert_eq!(rest, full[consumed..], "resumed at {boundary:?}");
    }
    // Line numbers survive the resume (the multi-line record moves the next one to line 5).
    let mut resumed = CertFileSource::open_at(&path, boundaries[2], &options()).unwrap();
    let rejected = resumed.next_record().unwrap().unwrap().unwrap_err();
    assert_eq!(rejected.location.line, 5);
}

#[test]
fn resuming_past_the_end_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "logon.csv", LOGON);
    let beyond = ResumePoint {
        offset: LOGON.len() as u64 + 1,
        line: 9,
    };
    let error = CertFileSource::open_at(&path, beyond, &options())
        .err()
        .unwrap();
    assert!(
        matches!(error, CertError::ResumeBeyondEnd { .. }),
        "{error}"
    );
}

// ---------------------------------------------------------------- detection errors

#[test]
fn unknown_headers_field_counts_and_file_names_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "a/logon.csv", "id,when,who,pc,activity\n");
    let error = CertFileSource::open(&path, &options())
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains(r#"unknown logon.csv header ["id", "when", "who", "pc", "activity"]"#),
        "{error}"
    );
    assert!(error.contains("[id,date,user,pc,activity]"), "{error}");

    let path = write(
        dir.path(),
        "b/email.csv",
        "{A},01/02/2010 06:49:00,U1,PC-1,x\n",
    );
    let error = CertFileSource::open(&path, &options())
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("no header, and 5 fields"), "{error}");

    let path = write(dir.path(), "c/decoy_file.csv", "decoy_filename,pc\n");
    let error = CertFileSource::open(&path, &options()).err().unwrap();
    assert!(matches!(error, CertError::UnknownFile { .. }));

    let path = write(dir.path(), "d/logon.csv", "");
    let error = CertFileSource::open(&path, &options()).err().unwrap();
    assert!(matches!(error, CertError::Empty { .. }));
}

// ---------------------------------------------------------------- discovery

fn dataset(dir: &Path, release: Release) {
    write(dir, "logon.csv", LOGON);
    let (device, file, http, email, ldap_header) = match release {
        Release::R4_2 => (
            "id,date,user,pc,activity",
            "id,date,user,pc,filename,content",
            "id,date,user,pc,url,content",
            "id,date,user,pc,to,cc,bcc,from,size,attachments,content",
            "employee_name,user_id,email,role,business_unit,functional_unit,department,team,supervisor",
        ),
        Release::R5_2 | Release::R6_2 => (
            "id,date,user,pc,file_tree,activity",
            "id,date,user,pc,filename,activity,to_removable_media,from_removable_media,content",
            if release == Release::R5_2 {
                "id,date,user,pc,url,content"
            } else {
                "id,date,user,pc,url,activity,content"
            },
            "id,date,user,pc,to,cc,bcc,from,activity,size,attachments,content",
            "employee_name,user_id,email,role,projects,business_unit,functional_unit,department,team,supervisor",
        ),
    };
    write(dir, "device.csv", &format!("{device}\n"));
    write(dir, "file.csv", &format!("{file}\n"));
    write(dir, "http.csv", &format!("{http}\n"));
    write(dir, "email.csv", &format!("{email}\n"));
    write(dir, "LDAP/2010-01.csv", &format!("{ldap_header}\n"));
    write(dir, "LDAP/2009-12.csv", &format!("{ldap_header}\n"));
    write(dir, "psychometric.csv", "employee_name,user_id,O,C,E,A,N\n");
}

#[test]
fn discover_names_the_files_their_layouts_and_the_release() {
    for (release, expected) in [
        (Release::R4_2, vec![Release::R4_2]),
        (Release::R5_2, vec![Release::R5_2]),
        (Release::R6_2, vec![Release::R6_2]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        dataset(dir.path(), release);
        let layout = cert::discover(dir.path()).unwrap();
        assert_eq!(layout.files.len(), 5);
        assert_eq!(layout.releases, expected, "{release}");
        assert_eq!(layout.release(), Some(release));
        assert_eq!(
            layout.ldap_months,
            vec![date(2009, 12, 1), date(2010, 1, 1)]
        );
        assert!(layout.psychometric.is_some());
        assert!(layout.files.iter().all(|file| file.has_header));
        assert_eq!(layout.file(FileKind::Logon).unwrap().layout, Layout::Logon);
    }
    // logon.csv alone cannot tell the release.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "logon.csv", LOGON);
    let layout = cert::discover(dir.path()).unwrap();
    assert_eq!(layout.releases.len(), 3);
    assert_eq!(layout.release(), None);
}

// ---------------------------------------------------------------- LDAP

const LDAP_R5_HEADER: &str = "employee_name,user_id,email,role,projects,business_unit,functional_unit,department,team,supervisor";

#[test]
fn ldap_snapshots_become_versions_with_joiners_leavers_moves_and_rehires() {
    let dir = tempfile::tempdir().unwrap();
    let boss = "Stephanie Briar Harrington,SBH0001,Stephanie.Briar.Harrington@dtaa.com,Director,,1,2 - ResearchAndEngineering,2 - SoftwareManagement,,";
    write(
        dir.path(),
        "LDAP/2010-01.csv",
        &format!(
            "{LDAP_R5_HEADER}\n{boss}\n\
             Calvin Edan Love,CEL0561,Calvin.Edan.Love@dtaa.com,ComputerProgrammer,,1,2 - ResearchAndEngineering,2 - SoftwareManagement,3 - Software,Stephanie Briar Harrington\n\
             Leaving Soon,LSO0002,Leaving.Soon@dtaa.com,Salesman,,1,5 - SalesAndMarketing,1 - Sales,1 - Sales,Stephanie Briar Harrington\n"
        ),
    );
    write(
        dir.path(),
        "LDAP/2010-02.csv",
        &format!(
            "{LDAP_R5_HEADER}\n{boss}\n\
             Calvin Edan Love,CEL0561,Calvin.Edan.Love@dtaa.com,ComputerProgrammer,,1,2 - ResearchAndEngineering,3 - Assembly,6 - AssemblyDept,Stephanie Briar Harrington\n\
             New Hire,NHI0003,New.Hire@dtaa.com,Technician,,1,2 - ResearchAndEngineering,3 - Assembly,6 - AssemblyDept,Calvin Edan Love\n"
        ),
    );
    write(
        dir.path(),
        "LDAP/2010-03.csv",
        &format!(
            "{LDAP_R5_HEADER}\n{boss}\n\
             Calvin Edan Love,CEL0561,Calvin.Edan.Love@dtaa.com,ComputerProgrammer,,1,2 - ResearchAndEngineering,3 - Assembly,6 - AssemblyDept,Stephanie Briar Harrington\n\
             New Hire,NHI0003,New.Hire@dtaa.com,Technician,,1,2 - ResearchAndEngineering,3 - Assembly,6 - AssemblyDept,Calvin Edan Love\n\
             Leaving Soon,LSO0002,Leaving.Soon@dtaa.com,Salesman,,1,5 - SalesAndMarketing,1 - Sales,1 - Sales,Stephanie Briar Harrington\n\
             Broken Row,BRO0004\n"
        ),
    );
    let history = cert::read_ldap(dir.path()).unwrap();
    assert_eq!(
        history.months,
        vec![date(2010, 1, 1), date(2010, 2, 1), date(2010, 3, 1)]
    );
    assert_eq!(history.rejected.len(), 1);
    assert_eq!(history.rejected[0].location.line, 6);
    assert!(
        history.rejected[0]
            .reason
            .contains("expected 10 fields, found 2")
    );

    // Present from the start: hire date unknown; moved department in February.
    let calvin = history.versions("CEL0561");
    assert_eq!(calvin.len(), 2);
    assert_eq!(calvin[0].valid_from, date(2010, 1, 1));
    assert_eq!(calvin[0].hire_date, None);
    assert_eq!(
        calvin[0].department.as_deref(),
        Some("2 - SoftwareManagement")
    );
    assert_eq!(calvin[0].supervisor.as_deref(), Some("SBH0001"));
    assert_eq!(
        calvin[0].email.as_deref(),
        Some("Calvin.Edan.Love@dtaa.com")
    );
    assert_eq!(calvin[0].role.as_deref(), Some("ComputerProgrammer"));
    assert_eq!(calvin[0].business_unit.as_deref(), Some("1"));
    assert_eq!(
        calvin[0].functional_unit.as_deref(),
        Some("2 - ResearchAndEngineering")
    );
    assert_eq!(calvin[0].team.as_deref(), Some("3 - Software"));
    assert_eq!(calvin[0].accounts, vec!["CEL0561".to_string()]);
    assert_eq!(calvin[0].name, "Calvin Edan Love");
    assert_eq!(calvin[1].valid_from, date(2010, 2, 1));
    assert_eq!(calvin[1].department.as_deref(), Some("3 - Assembly"));
    assert_eq!(calvin[1].termination_date, None);

    // Joined in February: hired on its first day; supervisor resolved to an id.
    let hire = history.versions("NHI0003");
    assert_eq!(hire.len(), 1);
    assert_eq!(hire[0].hire_date, Some(date(2010, 2, 1)));
    assert_eq!(hire[0].supervisor.as_deref(), Some("CEL0561"));

    // Missing from February: left some day in February (the latest is taken); back in March:
    // rehired.
    let leaver = history.versions("LSO0002");
    assert_eq!(leaver.len(), 3);
    assert_eq!(leaver[1].valid_from, date(2010, 2, 1));
    assert_eq!(leaver[1].termination_date, Some(date(2010, 2, 28)));
    assert!(leaver[1].employed_on(date(2010, 2, 28)));
    assert!(!leaver[1].employed_on(date(2010, 3, 1)));
    assert_eq!(leaver[2].hire_date, Some(date(2010, 3, 1)));
    assert_eq!(leaver[2].termination_date, None);

    // The director has no supervisor and never changes.
    let boss = history.versions("SBH0001");
    assert_eq!(boss.len(), 1);
    assert_eq!(boss[0].supervisor, None);
    assert_eq!(boss[0].team, None);
}

#[test]
fn r4_ldap_without_projects_and_ambiguous_supervisor_names_are_kept_as_names() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "2010-01.csv",
        "employee_name,user_id,email,role,business_unit,functional_unit,department,team,supervisor
Same Name,SN1,a@dtaa.com,Manager,1,f,d,t,
Same Name,SN2,b@dtaa.com,Manager,1,f,d,t,
Worker,W1,w@dtaa.com,Technician,1,f,d,t,Same Name
",
    );
    let history = cert::read_ldap(dir.path()).unwrap();
    assert_eq!(
        history.versions("W1")[0].supervisor.as_deref(),
        Some("Same Name")
    );
    assert_eq!(history.records.len(), 3);
}

#[test]
fn psychometric_scores_are_read_by_user_id() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "psychometric.csv",
        "employee_name,user_id,O,C,E,A,N\nCalvin Edan Love,CEL0561,40,39,36,19,40\nBad,BAD1,x,1,1,1,1\n",
    );
    let table = cert::read_psychometric(dir.path()).unwrap();
    assert_eq!(
        table.scores,
        vec![cert::Psychometric {
            user_id: "CEL0561".into(),
            o: 40,
            c: 39,
            e: 36,
            a: 19,
            n: 40
        }]
    );
    assert_eq!(table.rejected.len(), 1);
    assert_eq!(table.rejected[0].location.line, 3);
    assert!(
        table.rejected[0]
            .reason
            .contains("O: expected a whole number")
    );
}

// ---------------------------------------------------------------- robustness

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_the_parser(
        kind in prop::sample::select(FileKind::ALL.to_vec()),
        header in prop::bool::ANY,
        body in prop::collection::vec(any::<u8>(), 0..400),
        tail in "[{}A-Za-z0-9,\"/: \\n]{0,200}",
    ) {
        let mut input = Vec::new();
        if header {
            let layout = cert::Layout::ALL.into_iter().find(|l| l.kind() == kind).unwrap();
            input.extend_from_slice(layout.columns().join(",").as_bytes());
            input.push(b'\n');
        }
        input.extend_from_slice(&body);
        input.extend_from_slice(tail.as_bytes());
        let total = input.len() as u64;
        let Ok(mut source) = CertFileSource::from_reader(
            Cursor::new(input), "fuzz", kind, ResumePoint::START, &options(),
        ) else {
            return Ok(());
        };
        let mut previous = source.record_boundary();
        while let Some(record) = source.next_record() {
            prop_assert!(record.is_ok());
            prop_assert!(source.record_boundary() >= previous);
            prop_assert!(source.record_boundary() <= total);
            previous = source.record_boundary();
        }
    }
}

#[test]
fn a_file_without_header_resumes_like_one_with_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let headerless = LOGON.split_once('\n').unwrap().1;
    let path = write(dir.path(), "logon.csv", headerless);
    let mut source = CertFileSource::open(&path, &options()).unwrap();
    let first = source.next_record().unwrap().unwrap().unwrap();
    assert_eq!(
        first.source.unwrap().reference.as_deref(),
        Some("{X1D9-S0ES98JV-5357PWMI}")
    );
    let point = source.resume_point();
    assert_eq!(point.line, 2);
    let mut resumed = CertFileSource::open_at(&path, point, &options()).unwrap();
    let rest = drain(&mut resumed);
    assert_eq!(rest.len(), 1);
    assert_eq!(
        json(rest[0].as_ref().unwrap())["source"]["ref"],
        "{G2B3-L6EJ61GT-2222RKSO}"
    );
}
