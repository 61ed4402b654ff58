//! The account inventory CSV: one row per directory account, the interchange form of
//! [`AccountRecord`] (format in `docs/accounts.md`).
//!
//! Organisations export their directories as CSV — Active Directory with
//! `Get-ADUser … | Export-Csv`, Microsoft Entra ID and Google Workspace with "Download users" —
//! and each export names its columns its own way. [`AccountCsvReader`] reads our canonical
//! columns ([`ACCOUNT_CSV_COLUMNS`]) and the column names of those exports ([`COLUMN_ALIASES`]),
//! so an unedited export imports; columns it does not know are listed
//! ([`AccountCsvReader::ignored_columns`]) and otherwise left alone, because real exports carry
//! dozens (addresses, phone numbers, storage used).
//!
//! As [`HrCsvReader`](crate::hr::HrCsvReader) does, it streams the rows, each becoming an
//! [`AccountRecord`] or a [`Rejected`] naming the line, the column as the file names it and the
//! reason; a bad row never stops the file, a bad header does ([`AccountError`]). Input may be
//! UTF-8 (with or without a byte order mark) or Shift_JIS, decided as for the HR CSV.

use std::collections::HashMap;
use std::io::{self, Read};

use csv::ByteRecord;
use jiff::civil::{Date, DateTime, Time};
use mamori_event::{ACCOUNT_CSV_COLUMNS, AccountRecord, AccountSource};

use crate::hr::{Transcoder, record_line};
use crate::{Location, Rejected};

/// Why an account inventory CSV cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{file}: {source}")]
    Io { file: String, source: io::Error },
    #[error("{file}: the file is empty; the first line must be a header naming the columns")]
    Empty { file: String },
    #[error("{file}: header names column {column:?} twice")]
    DuplicateColumn { file: String, column: String },
    #[error(
        "{file}: header has no account column (one of: {})",
        aliases_of(Field::Account).join(", ")
    )]
    MissingAccount { file: String },
    #[error(
        "{file}: cannot tell which directory this export is from (the header matches {candidates}); \
         give the source (--source ad|entra|google|other) or add a source column"
    )]
    UnknownSource { file: String, candidates: String },
}

/// What a column holds, whichever name the file gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Account,
    Source,
    PersonId,
    DisplayName,
    Enabled,
    Created,
    LastLogon,
    Mfa,
    Privileged,
    Groups,
}

const FIELDS: [Field; ACCOUNT_CSV_COLUMNS.len()] = [
    Field::Account,
    Field::Source,
    Field::PersonId,
    Field::DisplayName,
    Field::Enabled,
    Field::Created,
    Field::LastLogon,
    Field::Mfa,
    Field::Privileged,
    Field::Groups,
];

impl Field {
    fn index(self) -> usize {
        FIELDS
            .iter()
            .position(|field| *field == self)
            .unwrap_or_default()
    }

    /// The canonical column name.
    fn canonical(self) -> &'static str {
        ACCOUNT_CSV_COLUMNS[self.index()]
    }
}

/// How a column's cells are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Text,
    Source,
    /// true/false, 1/0, yes/no.
    Flag,
    /// A flag that means the opposite (Entra's "Block sign in": Yes = disabled).
    InvertedFlag,
    /// Google Workspace's "Status [READ ONLY]": Active, Suspended or Archived.
    GoogleStatus,
    Time,
    Groups,
}

/// One accepted column name (lower case), the field it fills and how it is read.
#[derive(Debug, Clone, Copy)]
pub struct ColumnAlias {
    pub name: &'static str,
    field: Field,
    reading: Reading,
}

impl ColumnAlias {
    /// The canonical column this name fills.
    pub fn column(&self) -> &'static str {
        self.field.canonical()
    }
}

const fn alias(name: &'static str, field: Field, reading: Reading) -> ColumnAlias {
    ColumnAlias {
        name,
        field,
        reading,
    }
}

/// Every accepted column name, compared without regard to case or surrounding spaces. When a
/// file has several for one field, a row takes the first non-empty cell in this order (an AD
/// export has both `SamAccountName` and `UserPrincipalName`: events name the former).
pub const COLUMN_ALIASES: &[ColumnAlias] = &[
    alias("account", Field::Account, Reading::Text),
    alias("samaccountname", Field::Account, Reading::Text),
    alias("userprincipalname", Field::Account, Reading::Text),
    alias("user principal name", Field::Account, Reading::Text),
    alias("email address [required]", Field::Account, Reading::Text),
    alias("primaryemail", Field::Account, Reading::Text),
    alias("source", Field::Source, Reading::Source),
    alias("person_id", Field::PersonId, Reading::Text),
    alias("employeeid", Field::PersonId, Reading::Text),
    alias("employee id", Field::PersonId, Reading::Text),
    alias("display_name", Field::DisplayName, Reading::Text),
    alias("displayname", Field::DisplayName, Reading::Text),
    alias("display name", Field::DisplayName, Reading::Text),
    alias("userdisplayname", Field::DisplayName, Reading::Text),
    alias("name", Field::DisplayName, Reading::Text),
    alias("enabled", Field::Enabled, Reading::Flag),
    alias("accountenabled", Field::Enabled, Reading::Flag),
    alias("account enabled", Field::Enabled, Reading::Flag),
    alias("block sign in", Field::Enabled, Reading::InvertedFlag),
    alias("blocksignin", Field::Enabled, Reading::InvertedFlag),
    alias("block credential", Field::Enabled, Reading::InvertedFlag),
    alias("status [read only]", Field::Enabled, Reading::GoogleStatus),
    alias("created", Field::Created, Reading::Time),
    alias("whencreated", Field::Created, Reading::Time),
    alias("createddatetime", Field::Created, Reading::Time),
    alias("when created", Field::Created, Reading::Time),
    alias("creationtime", Field::Created, Reading::Time),
    alias("last_logon", Field::LastLogon, Reading::Time),
    alias("lastlogondate", Field::LastLogon, Reading::Time),
    alias("lastlogontimestamp", Field::LastLogon, Reading::Time),
    alias("lastlogon", Field::LastLogon, Reading::Time),
    alias("lastsignindatetime", Field::LastLogon, Reading::Time),
    alias("last sign in [read only]", Field::LastLogon, Reading::Time),
    alias("lastlogintime", Field::LastLogon, Reading::Time),
    alias("mfa", Field::Mfa, Reading::Flag),
    alias("mfa registered", Field::Mfa, Reading::Flag),
    alias("ismfaregistered", Field::Mfa, Reading::Flag),
    alias("2sv enrolled [read only]", Field::Mfa, Reading::Flag),
    alias("isenrolledin2sv", Field::Mfa, Reading::Flag),
    alias("privileged", Field::Privileged, Reading::Flag),
    alias("isadmin", Field::Privileged, Reading::Flag),
    alias("groups", Field::Groups, Reading::Groups),
    alias("memberof", Field::Groups, Reading::Groups),
    alias("member of", Field::Groups, Reading::Groups),
];

fn aliases_of(field: Field) -> Vec<&'static str> {
    COLUMN_ALIASES
        .iter()
        .filter(|alias| alias.field == field)
        .map(|alias| alias.name)
        .collect()
}

/// Header names (lower case) that only one directory's export has, to tell the source when
/// neither the file nor the caller does.
const SOURCE_SIGNATURES: &[(AccountSource, &[&str])] = &[
    (
        AccountSource::Ad,
        &[
            "samaccountname",
            "distinguishedname",
            "objectguid",
            "sid",
            "whencreated",
            "memberof",
            "lastlogontimestamp",
            "lastlogondate",
        ],
    ),
    (
        AccountSource::Entra,
        &[
            "accountenabled",
            "objectid",
            "usertype",
            "block sign in",
            "createddatetime",
            "ismfaregistered",
            "user principal name",
        ],
    ),
    (
        AccountSource::Google,
        &[
            "email address [required]",
            "status [read only]",
            "last sign in [read only]",
            "2sv enrolled [read only]",
            "primaryemail",
        ],
    ),
];

/// One column of the file that fills a field.
#[derive(Debug, Clone)]
struct Column {
    position: usize,
    /// As the file writes it (trimmed), for messages.
    header: String,
    reading: Reading,
}

/// Where each field's columns are, in precedence order.
#[derive(Debug)]
struct AccountColumns {
    fields: [Vec<Column>; ACCOUNT_CSV_COLUMNS.len()],
    count: usize,
}

impl AccountColumns {
    fn of(&self, field: Field) -> &[Column] {
        &self.fields[field.index()]
    }
}

/// Streams [`AccountRecord`]s from an account inventory CSV.
pub struct AccountCsvReader<R: Read> {
    reader: csv::Reader<Transcoder<R>>,
    columns: AccountColumns,
    default_source: Option<AccountSource>,
    source_inferred: bool,
    ignored: Vec<String>,
    /// The line each (source, account) was first listed on, to reject repeats.
    seen: HashMap<(AccountSource, String), u64>,
    record: ByteRecord,
    file: String,
}

impl<R: Read> AccountCsvReader<R> {
    /// Reads and checks the header; `file` names the input in messages. `source` is the
    /// directory the rows come from when a row does not say (no `source` column, or an empty
    /// cell); without it the header must show which export this is.
    pub fn new(input: R, file: &str, source: Option<AccountSource>) -> Result<Self, AccountError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Transcoder::new(input));
        let io_error = |error: csv::Error| AccountError::Io {
            file: file.to_string(),
            source: error.into(),
        };
        let mut header = ByteRecord::new();
        loop {
            if !reader.read_byte_record(&mut header).map_err(io_error)? {
                return Err(AccountError::Empty {
                    file: file.to_string(),
                });
            }
            if !is_preamble(&header) {
                break;
            }
        }
        let (columns, names, ignored) = read_header(&header, file)?;
        // The caller's source, else the one the header shows; a file with a source column
        // needs neither unless a row leaves its cell empty.
        let (default_source, source_inferred) = match source {
            Some(source) => (Some(source), false),
            None => match infer_source(&names, file) {
                Ok(inferred) => (Some(inferred), true),
                Err(_) if !columns.of(Field::Source).is_empty() => (None, false),
                Err(error) => return Err(error),
            },
        };
        Ok(AccountCsvReader {
            reader,
            columns,
            default_source,
            source_inferred,
            ignored,
            seen: HashMap::new(),
            record: ByteRecord::new(),
            file: file.to_string(),
        })
    }

    /// The input's encoding as detected so far: `None` while only ASCII has been read.
    pub fn encoding(&self) -> Option<&'static str> {
        self.reader.get_ref().encoding()
    }

    /// Header columns that fill no field, as the file writes them, in file order. (A second
    /// alias of a field is not among them: rows fall back on it when the first is empty.)
    pub fn ignored_columns(&self) -> &[String] {
        &self.ignored
    }

    /// The source of rows that do not name one, and whether it was told from the header.
    pub fn default_source(&self) -> Option<(AccountSource, bool)> {
        self.default_source
            .map(|source| (source, self.source_inferred))
    }

    fn read_row(&mut self) -> Result<AccountRecord, String> {
        let record = &self.record;
        if record.len() != self.columns.count {
            return Err(format!(
                "expected {} fields as in the header, found {}",
                self.columns.count,
                record.len()
            ));
        }
        let row = Row {
            record,
            columns: &self.columns,
        };
        let account = row
            .first_text(Field::Account)?
            .ok_or_else(|| {
                let header = self
                    .columns
                    .of(Field::Account)
                    .first()
                    .map_or("account", |column| column.header.as_str());
                format!("{header}: required, found an empty cell")
            })?
            .to_string();
        let source = match row.first(Field::Source)? {
            Some((column, value)) => value.parse::<AccountSource>().map_err(|_| {
                format!(
                    "{}: unknown value {value:?} (expected ad, entra, google or other)",
                    column.header
                )
            })?,
            None => self.default_source.ok_or_else(|| {
                "source: required, found an empty cell (or give --source)".to_string()
            })?,
        };
        let mut account_record = AccountRecord::new(account, source);
        account_record.person_id = row.first_text(Field::PersonId)?.map(str::to_string);
        account_record.display_name = row.first_text(Field::DisplayName)?.map(str::to_string);
        account_record.enabled = row.flag(Field::Enabled)?;
        account_record.created = row.time(Field::Created)?;
        account_record.last_logon = row.time(Field::LastLogon)?;
        account_record.mfa = row.flag(Field::Mfa)?;
        account_record.privileged_flag = row.flag(Field::Privileged)?;
        if let Some((column, value)) = row.first(Field::Groups)? {
            account_record.groups =
                parse_groups(value).map_err(|reason| format!("{}: {reason}", column.header))?;
        }
        Ok(account_record)
    }
}

/// A line before the header that exports write: Windows PowerShell's `#TYPE …` (Export-Csv
/// without `-NoTypeInformation`) and the `version:v1.0` line of Entra's bulk files.
fn is_preamble(record: &ByteRecord) -> bool {
    let first = record.get(0).unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    let first = first.trim().to_ascii_lowercase();
    first.starts_with("#type") || (record.len() == 1 && first.starts_with("version:"))
}

/// The columns, the lower-case header names and the ignored columns.
fn read_header(
    header: &ByteRecord,
    file: &str,
) -> Result<(AccountColumns, Vec<String>, Vec<String>), AccountError> {
    let mut found: Vec<(usize, usize, String)> = Vec::new(); // (alias index, position, header)
    let mut names = Vec::new();
    let mut ignored = Vec::new();
    for (position, raw) in header.iter().enumerate() {
        let written = String::from_utf8_lossy(raw).trim().to_string();
        let name = written.to_ascii_lowercase();
        if names.contains(&name) {
            return Err(AccountError::DuplicateColumn {
                file: file.to_string(),
                column: written,
            });
        }
        names.push(name.clone());
        match COLUMN_ALIASES.iter().position(|alias| alias.name == name) {
            Some(index) => found.push((index, position, written)),
            None => ignored.push(written),
        }
    }
    found.sort_by_key(|(index, _, _)| *index);
    let mut fields: [Vec<Column>; ACCOUNT_CSV_COLUMNS.len()] = Default::default();
    for (index, position, written) in found {
        let alias = COLUMN_ALIASES[index];
        fields[alias.field.index()].push(Column {
            position,
            header: written,
            reading: alias.reading,
        });
    }
    let columns = AccountColumns {
        fields,
        count: header.len(),
    };
    if columns.of(Field::Account).is_empty() {
        return Err(AccountError::MissingAccount {
            file: file.to_string(),
        });
    }
    Ok((columns, names, ignored))
}

/// The one directory whose signature columns the header has.
fn infer_source(names: &[String], file: &str) -> Result<AccountSource, AccountError> {
    let matches: Vec<AccountSource> = SOURCE_SIGNATURES
        .iter()
        .filter(|(_, signature)| names.iter().any(|name| signature.contains(&name.as_str())))
        .map(|(source, _)| *source)
        .collect();
    match matches.as_slice() {
        [source] => Ok(*source),
        _ => Err(AccountError::UnknownSource {
            file: file.to_string(),
            candidates: if matches.is_empty() {
                "no directory's export".to_string()
            } else {
                matches
                    .iter()
                    .map(|source| source.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            },
        }),
    }
}

/// One row's cells, read through the header's columns.
struct Row<'a> {
    record: &'a ByteRecord,
    columns: &'a AccountColumns,
}

impl<'a> Row<'a> {
    /// The first non-empty cell of `field`'s columns, trimmed, with its column.
    fn first(&self, field: Field) -> Result<Option<(&'a Column, &'a str)>, String> {
        for column in self.columns.of(field) {
            let bytes = self.record.get(column.position).unwrap_or_default();
            let text = std::str::from_utf8(bytes)
                .map_err(|_| {
                    format!(
                        "{}: invalid UTF-8 (the file mixes encodings?)",
                        column.header
                    )
                })?
                .trim();
            if !text.is_empty() {
                return Ok(Some((column, text)));
            }
        }
        Ok(None)
    }

    fn first_text(&self, field: Field) -> Result<Option<&'a str>, String> {
        Ok(self.first(field)?.map(|(_, text)| text))
    }

    fn flag(&self, field: Field) -> Result<Option<bool>, String> {
        let Some((column, value)) = self.first(field)? else {
            return Ok(None);
        };
        let parsed = match column.reading {
            Reading::InvertedFlag => parse_flag(value).map(|blocked| !blocked),
            Reading::GoogleStatus => parse_google_status(value),
            _ => parse_flag(value),
        };
        match parsed {
            Some(flag) => Ok(Some(flag)),
            None if column.reading == Reading::GoogleStatus => Err(format!(
                "{}: expected Active, Suspended or Archived, found {value:?}",
                column.header
            )),
            None => Err(format!(
                "{}: expected true/false, 1/0 or yes/no, found {value:?}",
                column.header
            )),
        }
    }

    fn time(&self, field: Field) -> Result<Option<DateTime>, String> {
        let Some((column, value)) = self.first(field)? else {
            return Ok(None);
        };
        parse_time(value).map_err(|()| {
            format!(
                "{}: invalid date/time {value:?} (expected YYYY-MM-DD[THH:MM:SS[Z]], \
                 YYYY/MM/DD H:MM:SS, M/D/YYYY h:mm:ss AM, D.M.YYYY H:MM:SS, \
                 YYYYMMDDHHMMSS.0Z or a Windows file time)",
                column.header
            )
        })
    }
}

impl<R: Read> Iterator for AccountCsvReader<R> {
    /// A record or a rejection; an I/O error ends the input.
    type Item = io::Result<Result<AccountRecord, Rejected>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(error) => return Some(Err(error.into())),
        }
        let line = record_line(&self.record, self.reader.position());
        let parsed = self.read_row().and_then(|record| {
            let key = (record.source, record.account.clone());
            match self.seen.get(&key) {
                Some(first) => Err(format!(
                    "{}: {:?} is already listed on line {first} (source {})",
                    self.columns
                        .of(Field::Account)
                        .first()
                        .map_or("account", |column| column.header.as_str()),
                    record.account,
                    record.source
                )),
                None => {
                    self.seen.insert(key, line);
                    Ok(record)
                }
            }
        });
        Some(Ok(parsed.map_err(|reason| Rejected {
            location: Location {
                file: self.file.clone(),
                line,
            },
            reason,
            raw: self.record.iter().collect::<Vec<_>>().join(&b","[..]),
        })))
    }
}

fn parse_flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" => Some(true),
        "false" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// Google Workspace's status: only an active account can sign in.
fn parse_google_status(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "active" => Some(true),
        "suspended" | "archived" => Some(false),
        _ => None,
    }
}

/// What PowerShell's Export-Csv writes for a multi-valued property it was not told to join.
const UNJOINED_COLLECTION: &str = "Microsoft.ActiveDirectory.Management.ADPropertyValueCollection";

/// `;`-separated group names (a `\;` is part of a name); a distinguished name
/// (`CN=Domain Admins,CN=Users,DC=corp,DC=example`) is reduced to its first RDN's value.
/// Sorted and without repeats, so that two snapshots compare by content.
fn parse_groups(value: &str) -> Result<Vec<String>, String> {
    if value.contains(UNJOINED_COLLECTION) {
        return Err(format!(
            "found {UNJOINED_COLLECTION:?} instead of group names: export with \
             @{{n='MemberOf';e={{$_.MemberOf -join ';'}}}}"
        ));
    }
    let mut groups: Vec<String> = split_unescaped(value, ';')
        .iter()
        .map(|group| reduce_distinguished_name(group.trim()))
        .filter(|group| !group.is_empty())
        .collect();
    groups.sort();
    groups.dedup();
    Ok(groups)
}

/// Splits on `separator` where it is not escaped by a backslash; escapes are kept (the DN
/// reduction undoes them).
fn split_unescaped(value: &str, separator: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for character in value.chars() {
        if escaped {
            escaped = false;
        } else if character == '\\' {
            escaped = true;
        } else if character == separator {
            parts.push(String::new());
            continue;
        }
        if let Some(part) = parts.last_mut() {
            part.push(character);
        }
    }
    parts
}

/// `CN=Domain Admins,CN=Users,DC=…` → `Domain Admins` (RFC 4514 escapes undone); anything that
/// is not a DN is returned as is.
pub fn reduce_distinguished_name(name: &str) -> String {
    let looks_like_dn = name
        .get(..3)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("cn="))
        && name.contains('=');
    if !looks_like_dn {
        return name.to_string();
    }
    let first = split_unescaped(&name[3..], ',')
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut value = String::with_capacity(first.len());
    let mut characters = first.chars();
    while let Some(character) = characters.next() {
        if character == '\\' {
            if let Some(next) = characters.next() {
                value.push(next);
            }
        } else {
            value.push(character);
        }
    }
    value.trim().to_string()
}

/// A date or date and time as directory exports write them; `Ok(None)` for the ways they say
/// "never". Times with a zone (`Z`, `+09:00`, a file time) are converted to UTC; times without
/// one are kept as written; a date alone is its midnight. Sub-second digits are dropped.
fn parse_time(text: &str) -> Result<Option<DateTime>, ()> {
    let lower = text.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "never" | "never logged in" | "never signed in" | "(never)"
    ) {
        return Ok(None);
    }
    let time = if text.bytes().all(|byte| byte.is_ascii_digit()) {
        parse_file_time(text)?
    } else if let Some(generalized) = parse_generalized_time(text) {
        Some(generalized)
    } else if text.contains('/') {
        Some(parse_slashed(text).ok_or(())?)
    } else if text.contains('.') && text.find('.').is_some_and(|dot| dot <= 2) {
        Some(parse_dotted(text).ok_or(())?)
    } else {
        Some(parse_iso(text).ok_or(())?)
    };
    // A zero file time converted to a date by PowerShell is 1601-01-01 (in local time).
    Ok(time
        .filter(|time| time.year() > 1601)
        .map(|time| time.with().subsec_nanosecond(0).build().unwrap_or(time)))
}

/// A Windows file time (100 ns ticks since 1601-01-01 UTC), as `lastLogonTimestamp` exports
/// raw; 0 and the largest value mean never.
fn parse_file_time(text: &str) -> Result<Option<DateTime>, ()> {
    const TICKS_PER_SECOND: i64 = 10_000_000;
    const SECONDS_1601_TO_1970: i64 = 11_644_473_600;
    let ticks: i64 = text.parse().map_err(|_| ())?;
    if ticks == 0 || ticks == i64::MAX {
        return Ok(None);
    }
    if text.len() < 15 {
        return Err(()); // a bare number too short to be a file time
    }
    let seconds = ticks / TICKS_PER_SECOND - SECONDS_1601_TO_1970;
    let timestamp = jiff::Timestamp::from_second(seconds).map_err(|_| ())?;
    Ok(Some(jiff::tz::Offset::UTC.to_datetime(timestamp)))
}

/// LDAP generalized time as `csvde`/`ldifde` export it: `20230401090000.0Z`.
fn parse_generalized_time(text: &str) -> Option<DateTime> {
    let digits = text.strip_suffix('Z').unwrap_or(text);
    let digits = digits.split_once('.').map_or(digits, |(whole, _)| whole);
    if digits.len() != 14 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| digits[range].parse::<i8>().ok();
    let year: i16 = digits[..4].parse().ok()?;
    let date = Date::new(year, number(4..6)?, number(6..8)?).ok()?;
    let time = Time::new(number(8..10)?, number(10..12)?, number(12..14)?, 0).ok()?;
    Some(date.to_datetime(time))
}

/// ISO 8601 / RFC 3339: with an offset (converted to UTC), without (as written), or a date.
fn parse_iso(text: &str) -> Option<DateTime> {
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Some(jiff::tz::Offset::UTC.to_datetime(timestamp));
    }
    if let Ok(datetime) = text.parse::<DateTime>() {
        return Some(datetime);
    }
    text.parse::<Date>()
        .ok()
        .map(|date| date.to_datetime(Time::midnight()))
}

/// `2023/04/01 9:00:00` (year first: Japanese Windows, Google Workspace) or
/// `4/1/2023 9:00:00 AM` (month first: US English and PowerShell's invariant culture), with an
/// optional `UTC`/`GMT` after the time.
fn parse_slashed(text: &str) -> Option<DateTime> {
    let (date_part, rest) = split_date(text);
    let parts: Vec<&str> = date_part.split('/').collect();
    let [first, second, third] = parts.as_slice() else {
        return None;
    };
    let (year, month, day) = if first.len() == 4 {
        (*first, *second, *third)
    } else if third.len() == 4 {
        (*third, *first, *second)
    } else {
        return None;
    };
    let date = make_date(year, month, day)?;
    Some(date.to_datetime(parse_clock(rest)?))
}

/// `1.4.2023 09:00:00` (day first, as German and other cultures write it).
fn parse_dotted(text: &str) -> Option<DateTime> {
    let (date_part, rest) = split_date(text);
    let parts: Vec<&str> = date_part.split('.').collect();
    let [day, month, year] = parts.as_slice() else {
        return None;
    };
    if year.len() != 4 {
        return None;
    }
    let date = make_date(year, month, day)?;
    Some(date.to_datetime(parse_clock(rest)?))
}

/// The date before the first space (a trailing comma dropped) and the rest.
fn split_date(text: &str) -> (&str, &str) {
    let (date, rest) = text.split_once(' ').unwrap_or((text, ""));
    (date.trim_end_matches(','), rest.trim())
}

fn make_date(year: &str, month: &str, day: &str) -> Option<Date> {
    let digits = |part: &str, max: usize| {
        (1..=max).contains(&part.len()) && part.bytes().all(|byte| byte.is_ascii_digit())
    };
    if year.len() != 4 || !digits(year, 4) || !digits(month, 2) || !digits(day, 2) {
        return None;
    }
    Date::new(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?).ok()
}

/// `H:MM[:SS[.fff]]` with an optional `AM`/`PM` and `UTC`/`GMT`; empty is midnight.
fn parse_clock(text: &str) -> Option<Time> {
    let mut words = text.split_whitespace();
    let Some(clock) = words.next() else {
        return Some(Time::midnight());
    };
    let mut meridiem = None;
    for word in words {
        match word.to_ascii_uppercase().as_str() {
            "AM" => meridiem = Some(false),
            "PM" => meridiem = Some(true),
            "UTC" | "GMT" | "Z" => {}
            _ => return None,
        }
    }
    let parts: Vec<&str> = clock.split(':').collect();
    let (hour, minute, second) = match parts.as_slice() {
        [hour, minute] => (*hour, *minute, "0"),
        [hour, minute, second] => (*hour, *minute, *second),
        _ => return None,
    };
    let second = second.split_once('.').map_or(second, |(whole, _)| whole);
    let number = |part: &str| -> Option<i8> {
        if !(1..=2).contains(&part.len()) || !part.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let mut hour = number(hour)?;
    if let Some(afternoon) = meridiem {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = match (hour, afternoon) {
            (12, false) => 0,
            (12, true) => 12,
            (hour, true) => hour + 12,
            (hour, false) => hour,
        };
    }
    Time::new(hour, number(minute)?, number(second)?, 0).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jiff::civil::{date, datetime};

    #[test]
    fn times_in_every_export_format() {
        let cases = [
            // ISO 8601: Entra createdDateTime (UTC), with an offset, without, a date alone
            ("2023-04-01T00:00:00Z", datetime(2023, 4, 1, 0, 0, 0, 0)),
            (
                "2023-04-01T09:00:00+09:00",
                datetime(2023, 4, 1, 0, 0, 0, 0),
            ),
            (
                "2023-04-01T09:00:00.1234567Z",
                datetime(2023, 4, 1, 9, 0, 0, 0),
            ),
            ("2023-04-01T09:30:00", datetime(2023, 4, 1, 9, 30, 0, 0)),
            ("2023-04-01", datetime(2023, 4, 1, 0, 0, 0, 0)),
            // Japanese Windows (AD whenCreated) and Google Workspace
            ("2023/04/01 9:00:00", datetime(2023, 4, 1, 9, 0, 0, 0)),
            ("2023/4/1", datetime(2023, 4, 1, 0, 0, 0, 0)),
            ("2016/04/04 00:24:13", datetime(2016, 4, 4, 0, 24, 13, 0)),
            (
                "2016/04/04 00:24:13 GMT",
                datetime(2016, 4, 4, 0, 24, 13, 0),
            ),
            // US English and invariant culture
            ("4/12/2011 10:04:27 PM", datetime(2011, 4, 12, 22, 4, 27, 0)),
            ("4/12/2011 12:04 AM", datetime(2011, 4, 12, 0, 4, 0, 0)),
            ("04/12/2011 22:04:27", datetime(2011, 4, 12, 22, 4, 27, 0)),
            ("4/1/2023, 9:00:00 AM", datetime(2023, 4, 1, 9, 0, 0, 0)),
            // day first with dots
            ("12.04.2011 22:04:27", datetime(2011, 4, 12, 22, 4, 27, 0)),
            // LDAP generalized time; a Windows file time (lastLogonTimestamp raw)
            ("20230401090000.0Z", datetime(2023, 4, 1, 9, 0, 0, 0)),
            ("130320216613366396", datetime(2013, 12, 20, 14, 1, 1, 0)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_time(text), Ok(Some(expected)), "{text}");
        }
        for never in [
            "Never logged in",
            "never",
            "0",
            "9223372036854775807",
            "1/1/1601 9:00:00 AM",
        ] {
            assert_eq!(parse_time(never), Ok(None), "{never}");
        }
        for bad in [
            "2023-13-01",
            "2023/02/30",
            "13/13/2023",
            "4/12/11",
            "2023/04/01 25:00",
            "2023/04/01 13:00 PM",
            "2023/04/01 9:00 JST",
            "12345",
            "yesterday",
        ] {
            assert_eq!(parse_time(bad), Err(()), "{bad}");
        }
    }

    #[test]
    fn distinguished_names_are_reduced_to_their_cn() {
        assert_eq!(
            reduce_distinguished_name("CN=Domain Admins,CN=Users,DC=corp,DC=example"),
            "Domain Admins"
        );
        assert_eq!(
            reduce_distinguished_name(r"cn=Sales\, Tokyo,OU=Groups,DC=corp"),
            "Sales, Tokyo"
        );
        assert_eq!(
            reduce_distinguished_name("Global Administrator"),
            "Global Administrator"
        );
        assert_eq!(
            parse_groups(
                r"CN=Domain Admins,CN=Users,DC=corp,DC=example;CN=VPN\;Users,OU=G,DC=corp; Sales ;Sales;"
            ),
            Ok(vec![
                "Domain Admins".to_string(),
                "Sales".to_string(),
                "VPN;Users".to_string()
            ])
        );
        assert!(
            parse_groups(UNJOINED_COLLECTION)
                .unwrap_err()
                .contains("-join")
        );
    }

    #[test]
    fn flags_and_statuses() {
        assert_eq!(parse_flag("TRUE"), Some(true));
        assert_eq!(parse_flag("No"), Some(false));
        assert_eq!(parse_flag("maybe"), None);
        assert_eq!(parse_google_status("Suspended"), Some(false));
        assert_eq!(parse_google_status("Active"), Some(true));
        let _ = date(2023, 4, 1);
    }
}
