//! [`CertFileSource`]: one CERT activity file as a [`Source`], resumable at record boundaries.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use csv::{ByteRecord, Position};
use mamori_event::Event;

use super::layout::{Columns, FileKind, Layout};
use super::row::RowMapper;
use super::{CertError, CertOptions, SOURCE_NAME};
use crate::ResumePoint;
use crate::{Location, Rejected, Source};

/// The csv reader's buffer: large reads keep system calls off the profile.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// A final record without a newline is read back whole to check its quotes, up to this size.
const MAX_TAIL_RECORD_BYTES: u64 = 4 * 1024 * 1024;

/// What the first record of a file says about it.
pub(crate) struct Detected {
    pub columns: Columns,
    pub has_header: bool,
    /// Just after the header, or the start of the file without one.
    pub first_record: ResumePoint,
}

/// Reads the first record of `reader` and finds the layout of a `kind` file from it: a header
/// when the first field does not start with `{` (CERT ids do), otherwise the field count.
pub(crate) fn detect<R: Read>(
    reader: &mut csv::Reader<R>,
    kind: FileKind,
    file: &str,
) -> Result<Detected, CertError> {
    let mut first = ByteRecord::new();
    let found = reader
        .read_byte_record(&mut first)
        .map_err(|error| CertError::io(file, error.into()))?;
    if !found {
        return Err(CertError::Empty {
            file: file.to_string(),
        });
    }
    let first_field = first.get(0).unwrap_or_default().trim_ascii_start();
    if first_field.starts_with(b"{") {
        let columns = Columns::from_field_count(kind, first.len()).ok_or_else(|| {
            CertError::UnknownFieldCount {
                file: file.to_string(),
                kind,
                count: first.len(),
            }
        })?;
        return Ok(Detected {
            columns,
            has_header: false,
            first_record: ResumePoint::START,
        });
    }
    let names: Vec<String> = first
        .iter()
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect();
    let columns = Columns::from_header(kind, &names).ok_or_else(|| CertError::UnknownHeader {
        file: file.to_string(),
        kind,
        columns: names.clone(),
    })?;
    let after_header = reader.position();
    Ok(Detected {
        columns,
        has_header: true,
        first_record: ResumePoint {
            offset: after_header.byte(),
            line: after_header.line(),
        },
    })
}

pub(crate) fn csv_reader<R: Read>(reader: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(READ_BUFFER_BYTES)
        .from_reader(reader)
}

/// One CERT activity file (`logon.csv`, `device.csv`, `file.csv`, `http.csv`, `email.csv`)
/// as a stream of events and rejections, in constant memory.
///
/// After each record, [`CertFileSource::resume_point`] is the boundary just after it; a source
/// opened there with [`CertFileSource::open_at`] yields exactly the records that follow.
pub struct CertFileSource<R = File> {
    reader: csv::Reader<R>,
    record: ByteRecord,
    mapper: RowMapper,
    file: String,
    has_header: bool,
    total_bytes: u64,
    ends_with_newline: bool,
    boundary: ResumePoint,
    finished: bool,
}

impl CertFileSource<File> {
    /// Opens `path` from its start; the kind comes from the file name.
    pub fn open(path: &Path, options: &CertOptions) -> Result<Self, CertError> {
        CertFileSource::open_at(path, ResumePoint::START, options)
    }

    /// Opens `path` and continues at `at`, a [`CertFileSource::resume_point`] of an earlier
    /// reading of the same file. The layout is still detected from the file's first record.
    pub fn open_at(path: &Path, at: ResumePoint, options: &CertOptions) -> Result<Self, CertError> {
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let display = path.display().to_string();
        let kind = FileKind::from_file_name(&file_name).ok_or_else(|| CertError::UnknownFile {
            file: display.clone(),
        })?;
        let file = File::open(path).map_err(|error| CertError::io(&display, error))?;
        CertFileSource::from_reader(file, &display, kind, at, options)
    }
}

impl<R: Read + Seek> CertFileSource<R> {
    /// A source over any seekable reader (tests, fuzzing); `file` names it in messages.
    pub fn from_reader(
        mut input: R,
        file: &str,
        kind: FileKind,
        at: ResumePoint,
        options: &CertOptions,
    ) -> Result<Self, CertError> {
        let (total_bytes, ends_with_newline) =
            measure(&mut input).map_err(|error| CertError::io(file, error))?;
        if at.offset > total_bytes {
            return Err(CertError::ResumeBeyondEnd {
                file: file.to_string(),
                offset: at.offset,
                total_bytes,
            });
        }
        let mut reader = csv_reader(input);
        let detected = detect(&mut reader, kind, file)?;
        let start = if at.offset < detected.first_record.offset {
            detected.first_record
        } else {
            at
        };
        let mut position = Position::new();
        position.set_byte(start.offset).set_line(start.line);
        reader
            .seek(position)
            .map_err(|error| CertError::io(file, error.into()))?;
        Ok(CertFileSource {
            reader,
            record: ByteRecord::new(),
            mapper: RowMapper::new(detected.columns, options),
            file: file.to_string(),
            has_header: detected.has_header,
            total_bytes,
            ends_with_newline,
            boundary: start,
            finished: false,
        })
    }
}

impl<R> CertFileSource<R> {
    /// The detected column set (and so the release style) of the file.
    pub fn layout(&self) -> Layout {
        self.mapper.columns().layout
    }

    /// Whether the file starts with a header line.
    pub fn has_header(&self) -> bool {
        self.has_header
    }

    /// Byte offset just after the last record yielded (event or rejection).
    pub fn record_boundary(&self) -> u64 {
        self.boundary.offset
    }

    /// [`CertFileSource::record_boundary`] with the line number of the next record: persist it
    /// and pass it to [`CertFileSource::open_at`] to resume.
    pub fn resume_point(&self) -> ResumePoint {
        self.boundary
    }
}

/// Size of the input and whether its last byte ends a line; leaves the reader at the start.
fn measure<R: Read + Seek>(input: &mut R) -> io::Result<(u64, bool)> {
    let total_bytes = input.seek(SeekFrom::End(0))?;
    let mut ends_with_newline = false;
    if total_bytes > 0 {
        input.seek(SeekFrom::End(-1))?;
        let mut last = [0u8; 1];
        input.read_exact(&mut last)?;
        ends_with_newline = last[0] == b'\n' || last[0] == b'\r';
    }
    input.seek(SeekFrom::Start(0))?;
    Ok((total_bytes, ends_with_newline))
}

impl<R: Read + Seek> CertFileSource<R> {
    fn reject(&self, line: u64, reason: String) -> Rejected {
        Rejected {
            location: Location {
                file: self.file.clone(),
                line,
            },
            reason,
            raw: self.redacted_record(),
        }
    }

    /// The record as CSV again, with the content column (and, when content is the last column,
    /// everything from it on, as a broken row may have split it) replaced by its length: the
    /// quarantine must not become a copy of the text this importer never stores.
    fn redacted_record(&self) -> Vec<u8> {
        let columns = self.mapper.columns();
        let withheld_from = columns.content.filter(|index| *index + 1 == columns.count);
        let mut out = Vec::new();
        for (index, field) in self.record.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            let withheld =
                Some(index) == columns.content || withheld_from.is_some_and(|from| index >= from);
            if withheld {
                out.extend_from_slice(
                    format!("<content withheld: {} bytes>", field.len()).as_bytes(),
                );
                continue;
            }
            let needs_quotes = field
                .iter()
                .any(|byte| matches!(byte, b',' | b'"' | b'\n' | b'\r'));
            if !needs_quotes {
                out.extend_from_slice(field);
                continue;
            }
            out.push(b'"');
            for byte in field {
                if *byte == b'"' {
                    out.push(b'"');
                }
                out.push(*byte);
            }
            out.push(b'"');
        }
        out
    }

    /// Why the record just read, the last of a file that does not end with a newline, is taken
    /// as cut off. Every CERT file ends each line with a newline, and a cut inside the last,
    /// unquoted field (`content`) leaves a record that looks whole: features computed from half
    /// a page would be wrong, so even that record is set aside, with the most precise reason.
    fn truncation(&mut self, record_start: u64) -> io::Result<String> {
        let expected = self.mapper.columns().count;
        if self.record.len() != expected {
            return Ok(format!(
                "truncated last record: the file ends without a newline inside a record of {} \
                 fields (expected {expected})",
                self.record.len()
            ));
        }
        let length = self.total_bytes.saturating_sub(record_start);
        if length > MAX_TAIL_RECORD_BYTES {
            return Ok(format!(
                "truncated last record: the file ends without a newline inside a record of \
                 {length} bytes"
            ));
        }
        // The csv reader has reached the end, so its buffer is empty and the underlying
        // reader can be moved and put back at the end without disturbing it.
        let input = self.reader.get_mut();
        input.seek(SeekFrom::Start(record_start))?;
        let mut tail = Vec::new();
        input.by_ref().take(length).read_to_end(&mut tail)?;
        input.seek(SeekFrom::End(0))?;
        if ends_inside_quotes(&tail) {
            return Ok("truncated last record: the file ends inside a quoted field".to_string());
        }
        Ok(
            "truncated last record: the file ends without a newline after it, so its last field \
            may be cut short"
                .to_string(),
        )
    }
}

/// Whether CSV text ends inside an open quoted field (RFC 4180, with `""` as an escaped quote).
fn ends_inside_quotes(text: &[u8]) -> bool {
    #[derive(PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    for byte in text {
        state = match (state, byte) {
            (State::FieldStart, b'"') => State::Quoted,
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (_, b',' | b'\n' | b'\r') => State::FieldStart,
            _ => State::Unquoted,
        };
    }
    state == State::Quoted
}

impl<R: Read + Seek + Send> Source for CertFileSource<R> {
    fn name(&self) -> &'static str {
        SOURCE_NAME
    }

    fn input(&self) -> &str {
        &self.file
    }

    fn resume_point(&self) -> Option<ResumePoint> {
        Some(self.boundary)
    }

    fn next_record(&mut self) -> Option<io::Result<Result<Event, Rejected>>> {
        if self.finished {
            return None;
        }
        let read = self.reader.read_byte_record(&mut self.record);
        let after = self.reader.position().clone();
        let record_start = self
            .record
            .position()
            .map_or(self.boundary.offset, Position::byte);
        match read {
            Ok(true) => {}
            Ok(false) => {
                self.finished = true;
                return None;
            }
            Err(error) => {
                if let csv::ErrorKind::Io(_) = error.kind() {
                    self.finished = true;
                    return Some(Err(error.into()));
                }
                let line = self.boundary.line;
                self.boundary = ResumePoint {
                    offset: after.byte(),
                    line: after.line(),
                };
                return Some(Ok(Err(self.reject(line, error.to_string()))));
            }
        }
        self.boundary = ResumePoint {
            offset: after.byte(),
            line: after.line(),
        };
        let cut_off = after.byte() >= self.total_bytes && !self.ends_with_newline;
        // The csv reader dates a record from the end of the previous one, so after blank
        // lines it names the first blank line; count back from the record's end instead.
        let newlines_inside = self
            .record
            .as_slice()
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        let line = after
            .line()
            .saturating_sub(newlines_inside as u64)
            .saturating_sub(u64::from(!cut_off));
        if cut_off {
            match self.truncation(record_start) {
                Ok(reason) => return Some(Ok(Err(self.reject(line, reason)))),
                Err(error) => {
                    self.finished = true;
                    return Some(Err(error));
                }
            }
        }
        Some(Ok(match self.mapper.map(&self.record) {
            Ok(event) => Ok(event),
            Err(reason) => Err(self.reject(line, reason)),
        }))
    }

    fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }

    fn total_bytes(&self) -> Option<u64> {
        Some(self.total_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::ends_inside_quotes;

    #[test]
    fn open_quotes_are_told_from_closed_and_escaped_ones() {
        assert!(ends_inside_quotes(br#"a,"b,c"#));
        assert!(ends_inside_quotes(br#"a,"b "" c"#));
        assert!(!ends_inside_quotes(br#"a,"b "" c""#));
        assert!(!ends_inside_quotes(br#"a,b"c"#));
        assert!(!ends_inside_quotes(b"a,b,c"));
        assert!(ends_inside_quotes(b"a,\"multi\nline"));
    }
}
