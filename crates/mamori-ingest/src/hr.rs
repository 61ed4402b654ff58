//! The HR CSV: one row per version of a person's HR record, the interchange form of
//! [`PersonRecord`] (format in `docs/hr.md`, columns in [`HR_CSV_COLUMNS`]).
//!
//! [`HrCsvReader`] streams the rows: each becomes a [`PersonRecord`] or a [`Rejected`] naming
//! the line, the column and the reason; a bad row never stops the file. A bad header does,
//! with an [`HrError`] naming the column.
//!
//! Input may be UTF-8 (with or without a byte order mark) or Shift_JIS, as Japanese HR systems
//! and Excel often export: the first non-ASCII bytes decide (valid UTF-8, or else Shift_JIS,
//! decoded with `encoding_rs`' Shift_JIS, which is Windows code page 932). The account inventory
//! reader (`accounts`) shares the decoding and the line numbering.

use std::io::{self, Read};

use csv::ByteRecord;
use jiff::civil::Date;
use mamori_event::{EmploymentType, HR_CSV_COLUMNS, PersonRecord};

use crate::{Location, Rejected};

/// Why an HR CSV cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum HrError {
    #[error("{file}: {source}")]
    Io { file: String, source: io::Error },
    #[error("{file}: the file is empty; the first line must be a header naming the columns")]
    Empty { file: String },
    #[error(
        "{file}: header column {position} {column:?} is not an HR column (known: {})",
        HR_CSV_COLUMNS.join(", ")
    )]
    UnknownColumn {
        file: String,
        column: String,
        position: usize,
    },
    #[error("{file}: header names column {column:?} twice")]
    DuplicateColumn { file: String, column: String },
    #[error("{file}: header lacks the required column {column:?}")]
    MissingColumn { file: String, column: &'static str },
}

/// Columns every file must have.
pub const REQUIRED_COLUMNS: [&str; 3] = ["person_id", "valid_from", "name"];

/// Position of each of [`HR_CSV_COLUMNS`] in the file, by the same index.
struct HrColumns {
    positions: [Option<usize>; HR_CSV_COLUMNS.len()],
    count: usize,
}

impl HrColumns {
    fn position(&self, column: &str) -> Option<usize> {
        let index = HR_CSV_COLUMNS.iter().position(|known| *known == column)?;
        self.positions[index]
    }
}

/// Streams [`PersonRecord`]s from an HR CSV.
pub struct HrCsvReader<R: Read> {
    reader: csv::Reader<Transcoder<R>>,
    columns: HrColumns,
    record: ByteRecord,
    file: String,
}

impl<R: Read> HrCsvReader<R> {
    /// Reads and checks the header; `file` names the input in messages.
    pub fn new(input: R, file: &str) -> Result<Self, HrError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Transcoder::new(input));
        let mut header = ByteRecord::new();
        let found = reader
            .read_byte_record(&mut header)
            .map_err(|error| HrError::Io {
                file: file.to_string(),
                source: error.into(),
            })?;
        if !found {
            return Err(HrError::Empty {
                file: file.to_string(),
            });
        }
        let columns = read_header(&header, file)?;
        Ok(HrCsvReader {
            reader,
            columns,
            record: ByteRecord::new(),
            file: file.to_string(),
        })
    }

    /// The input's encoding as detected so far: `None` while only ASCII has been read.
    pub fn encoding(&self) -> Option<&'static str> {
        self.reader.get_ref().encoding()
    }

    /// The line the record just read starts on. The csv reader dates a record from the end of
    /// the previous one (so after blank lines it names the first blank line); count back from
    /// the record's end instead.
    fn record_line(&self) -> u64 {
        record_line(&self.record, self.reader.position())
    }
}

/// The line `record` starts on, `reader_at` being the reader's position just after it (see
/// [`HrCsvReader::record_line`]; the account inventory reader shares it).
pub(crate) fn record_line(record: &ByteRecord, reader_at: &csv::Position) -> u64 {
    let reported = record.position().map_or(1, csv::Position::line);
    let inside = record
        .as_slice()
        .iter()
        .filter(|byte| **byte == b'\n')
        .count() as u64;
    let after = reader_at.line().saturating_sub(inside);
    // A record ended by a newline has moved the reader one line further.
    match after.checked_sub(1) {
        Some(candidate) if candidate >= reported => candidate,
        _ => after,
    }
}

fn read_header(header: &ByteRecord, file: &str) -> Result<HrColumns, HrError> {
    let mut positions = [None; HR_CSV_COLUMNS.len()];
    for (position, raw) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(raw).trim().to_ascii_lowercase();
        let Some(index) = HR_CSV_COLUMNS.iter().position(|known| *known == name) else {
            return Err(HrError::UnknownColumn {
                file: file.to_string(),
                column: name,
                position: position + 1,
            });
        };
        if positions[index].is_some() {
            return Err(HrError::DuplicateColumn {
                file: file.to_string(),
                column: name,
            });
        }
        positions[index] = Some(position);
    }
    let columns = HrColumns {
        positions,
        count: header.len(),
    };
    for column in REQUIRED_COLUMNS {
        if columns.position(column).is_none() {
            return Err(HrError::MissingColumn {
                file: file.to_string(),
                column,
            });
        }
    }
    Ok(columns)
}

impl<R: Read> Iterator for HrCsvReader<R> {
    /// A record or a rejection; an I/O error ends the input.
    type Item = io::Result<Result<PersonRecord, Rejected>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(error) => return Some(Err(error.into())),
        }
        let line = self.record_line();
        Some(Ok(parse_row(&self.record, &self.columns).map_err(
            |reason| Rejected {
                location: Location {
                    file: self.file.clone(),
                    line,
                },
                reason,
                raw: self.record.iter().collect::<Vec<_>>().join(&b","[..]),
            },
        )))
    }
}

/// One row; the error names the column and the reason.
fn parse_row(record: &ByteRecord, columns: &HrColumns) -> Result<PersonRecord, String> {
    if record.len() != columns.count {
        return Err(format!(
            "expected {} fields as in the header, found {}",
            columns.count,
            record.len()
        ));
    }
    let cell = |column: &str| -> Result<Option<&str>, String> {
        let Some(position) = columns.position(column) else {
            return Ok(None);
        };
        let bytes = record.get(position).unwrap_or_default();
        let text = std::str::from_utf8(bytes)
            .map_err(|_| format!("{column}: invalid UTF-8 (the file mixes encodings?)"))?
            .trim();
        Ok((!text.is_empty()).then_some(text))
    };
    let required = |column: &str| -> Result<&str, String> {
        cell(column)?.ok_or_else(|| format!("{column}: required, found an empty cell"))
    };
    let date = |column: &str| -> Result<Option<Date>, String> {
        match cell(column)? {
            Some(text) => parse_date(text).map(Some).ok_or_else(|| {
                format!("{column}: invalid date {text:?} (expected YYYY-MM-DD or YYYY/MM/DD)")
            }),
            None => Ok(None),
        }
    };
    let text =
        |column: &str| -> Result<Option<String>, String> { Ok(cell(column)?.map(str::to_string)) };
    let valid_from = parse_date(required("valid_from")?).ok_or_else(|| {
        format!(
            "valid_from: invalid date {:?} (expected YYYY-MM-DD or YYYY/MM/DD)",
            cell("valid_from").ok().flatten().unwrap_or_default()
        )
    })?;
    let mut person = PersonRecord::new(required("person_id")?, valid_from, required("name")?);
    person.email = text("email")?;
    person.business_unit = text("business_unit")?;
    person.functional_unit = text("functional_unit")?;
    person.department = text("department")?;
    person.team = text("team")?;
    person.role = text("role")?;
    person.supervisor = text("supervisor")?;
    person.employment_type = match cell("employment_type")? {
        Some(value) => Some(parse_employment_type(value).ok_or_else(|| {
            format!(
                "employment_type: unknown value {value:?} (expected employee, contract, temporary, \
                 contractor, part_time or executive)"
            )
        })?),
        None => None,
    };
    person.hire_date = date("hire_date")?;
    person.notice_date = date("notice_date")?;
    person.termination_date = date("termination_date")?;
    if let (Some(hire), Some(end)) = (person.hire_date, person.termination_date)
        && end < hire
    {
        return Err(format!(
            "termination_date: {end} is before hire_date {hire}"
        ));
    }
    person.priority = match cell("priority")? {
        Some(value) => parse_flag(value).ok_or_else(|| {
            format!("priority: expected true/false, 1/0 or yes/no, found {value:?}")
        })?,
        None => false,
    };
    if let Some(accounts) = cell("accounts")? {
        person.accounts = accounts
            .split(';')
            .map(str::trim)
            .filter(|account| !account.is_empty())
            .map(str::to_string)
            .collect();
    }
    Ok(person)
}

/// `YYYY-MM-DD` or `YYYY/MM/DD`; month and day may have one digit (Excel writes `2024/4/1`).
fn parse_date(text: &str) -> Option<Date> {
    let separator = if text.contains('/') { '/' } else { '-' };
    let mut parts = text.split(separator);
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || year.len() != 4
        || !(1..=2).contains(&month.len())
        || !(1..=2).contains(&day.len())
    {
        return None;
    }
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if !(all_digits(year) && all_digits(month) && all_digits(day)) {
        return None;
    }
    Date::new(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?).ok()
}

/// The English names of [`EmploymentType`], any case, and the usual Japanese labels.
fn parse_employment_type(value: &str) -> Option<EmploymentType> {
    if let Ok(parsed) = value.to_ascii_lowercase().parse() {
        return Some(parsed);
    }
    match value {
        "正社員" => Some(EmploymentType::Employee),
        "契約社員" => Some(EmploymentType::Contract),
        "派遣社員" | "派遣" => Some(EmploymentType::Temporary),
        "業務委託" => Some(EmploymentType::Contractor),
        "パート" | "アルバイト" | "パート・アルバイト" => {
            Some(EmploymentType::PartTime)
        }
        "役員" => Some(EmploymentType::Executive),
        _ => None,
    }
}

fn parse_flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// What the input's encoding has turned out to be.
enum Decision {
    /// Only ASCII so far (identical in both encodings).
    Undecided,
    Utf8,
    ShiftJis(Box<encoding_rs::Decoder>),
}

/// Passes UTF-8 through (less a byte order mark) and decodes Shift_JIS to UTF-8, deciding on
/// the first chunk that holds non-ASCII bytes, so the input is streamed, not read whole.
pub(crate) struct Transcoder<R> {
    inner: R,
    state: Decision,
    /// Bytes read but not yet decided on (an incomplete character at a chunk's end).
    pending: Vec<u8>,
    /// Decoded bytes not yet handed out, from `output_at`.
    output: Vec<u8>,
    output_at: usize,
    at_start: bool,
    finished: bool,
}

const TRANSCODE_CHUNK: usize = 64 * 1024;

impl<R> Transcoder<R> {
    /// The encoding decided so far: `None` while only ASCII has been read.
    pub(crate) fn encoding(&self) -> Option<&'static str> {
        match self.state {
            Decision::Undecided => None,
            Decision::Utf8 => Some("UTF-8"),
            Decision::ShiftJis(_) => Some("Shift_JIS"),
        }
    }
}

impl<R: Read> Transcoder<R> {
    pub(crate) fn new(inner: R) -> Self {
        Transcoder {
            inner,
            state: Decision::Undecided,
            pending: Vec::new(),
            output: Vec::new(),
            output_at: 0,
            at_start: true,
            finished: false,
        }
    }

    /// Reads one chunk and moves what can be decided into `output`.
    fn refill(&mut self) -> io::Result<()> {
        let mut chunk = vec![0u8; TRANSCODE_CHUNK];
        let read = loop {
            match self.inner.read(&mut chunk) {
                Ok(read) => break read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            }
        };
        let end = read == 0;
        self.pending.extend_from_slice(&chunk[..read]);
        self.output.clear();
        self.output_at = 0;
        if self.at_start {
            if self.pending.len() < 3 && !end {
                return Ok(());
            }
            self.at_start = false;
            if self.pending.starts_with(b"\xEF\xBB\xBF") {
                self.pending.drain(..3);
                self.state = Decision::Utf8;
            }
        }
        if let Decision::Undecided = self.state {
            self.decide(end);
        }
        match &mut self.state {
            Decision::Undecided => {
                // Pass the ASCII prefix on; keep the rest until it can be decided.
                let ascii = self
                    .pending
                    .iter()
                    .position(|byte| !byte.is_ascii())
                    .unwrap_or(self.pending.len());
                self.output.extend(self.pending.drain(..ascii));
            }
            Decision::Utf8 => self.output.append(&mut self.pending),
            Decision::ShiftJis(decoder) => {
                let mut decoded = String::with_capacity(
                    decoder
                        .max_utf8_buffer_length(self.pending.len())
                        .unwrap_or(self.pending.len() * 3),
                );
                let (_, _, _) = decoder.decode_to_string(&self.pending, &mut decoded, end);
                self.pending.clear();
                self.output.extend_from_slice(decoded.as_bytes());
            }
        }
        if end {
            self.finished = true;
        }
        Ok(())
    }

    /// Decides from `pending` when it holds non-ASCII bytes: valid UTF-8 (an incomplete last
    /// character aside, unless at the end) or else Shift_JIS.
    fn decide(&mut self, end: bool) {
        let Some(first) = self.pending.iter().position(|byte| !byte.is_ascii()) else {
            return;
        };
        match std::str::from_utf8(&self.pending[first..]) {
            Ok(_) => self.state = Decision::Utf8,
            Err(error) if error.error_len().is_none() && !end => {
                if error.valid_up_to() > 0 {
                    self.state = Decision::Utf8;
                }
            }
            Err(_) => {
                self.state = Decision::ShiftJis(Box::new(
                    encoding_rs::SHIFT_JIS.new_decoder_without_bom_handling(),
                ));
            }
        }
    }
}

impl<R: Read> Read for Transcoder<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.output_at < self.output.len() {
                let available = &self.output[self.output_at..];
                let count = available.len().min(out.len());
                out[..count].copy_from_slice(&available[..count]);
                self.output_at += count;
                return Ok(count);
            }
            if self.finished {
                return Ok(0);
            }
            self.refill()?;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn dates_take_dashes_or_slashes_and_short_month_and_day() {
        assert_eq!(
            parse_date("2024-04-01"),
            Some(jiff::civil::date(2024, 4, 1))
        );
        assert_eq!(parse_date("2024/4/1"), Some(jiff::civil::date(2024, 4, 1)));
        for bad in [
            "2024-02-30",
            "24-04-01",
            "2024-04",
            "2024-04-01-01",
            "2024/04-01",
            "２０２４-04-01",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_transcoder_streams_shift_jis_split_across_reads() {
        // "営業部" in Shift_JIS, fed one byte per read.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                out[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode("a,営業部\n");
        let mut text = String::new();
        Transcoder::new(OneByte(&bytes))
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "a,営業部\n");
        let mut text = String::new();
        Transcoder::new(OneByte("\u{feff}a,営業部\n".as_bytes()))
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "a,営業部\n");
    }
}
