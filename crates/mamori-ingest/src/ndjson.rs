//! NDJSON: one event per line, in the shape documented in `docs/events.md`.

use std::io::{self, BufRead};

use mamori_event::{Event, Source as EventSource};

use crate::{Location, Rejected, Source};

/// Lines longer than this are rejected without being held in memory whole.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Reads events from newline-delimited JSON.
pub struct NdjsonSource<R> {
    reader: R,
    file: String,
    total_bytes: Option<u64>,
    bytes_read: u64,
    line_number: u64,
    line: Vec<u8>,
    /// `source.name` given to events that name no source (default: this importer's name).
    default_source: Option<String>,
}

impl<R: BufRead + Send> NdjsonSource<R> {
    /// `file` names the input in messages (`-` for standard input).
    pub fn new(reader: R, file: &str, total_bytes: Option<u64>) -> Self {
        NdjsonSource {
            reader,
            file: file.to_string(),
            total_bytes,
            bytes_read: 0,
            line_number: 0,
            line: Vec::with_capacity(1024),
            default_source: None,
        }
    }

    /// The line number of the record last yielded (1-based).
    pub fn line_number(&self) -> u64 {
        self.line_number
    }

    /// Events that name no source get `source.name` = `name` (e.g. the agent that sent them).
    pub fn with_default_source(mut self, name: String) -> Self {
        self.default_source = Some(name);
        self
    }

    /// Reads the next line into `self.line` (without its terminator). Returns `Ok(None)` at the
    /// end, `Ok(Some(true))` for a line that exceeded [`MAX_LINE_BYTES`] (its head is kept).
    fn read_line(&mut self) -> io::Result<Option<bool>> {
        self.line.clear();
        let mut too_long = false;
        let mut saw_any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(saw_any.then_some(too_long));
            }
            saw_any = true;
            let (chunk, consumed, done) = match available.iter().position(|&b| b == b'\n') {
                Some(newline) => (&available[..newline], newline + 1, true),
                None => (available, available.len(), false),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.line.len());
            if chunk.len() > room {
                too_long = true;
            }
            self.line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            self.reader.consume(consumed);
            self.bytes_read += consumed as u64;
            if done {
                return Ok(Some(too_long));
            }
        }
    }
}

impl<R: BufRead + Send> Source for NdjsonSource<R> {
    fn name(&self) -> &'static str {
        "ndjson"
    }

    fn input(&self) -> &str {
        &self.file
    }

    fn next_record(&mut self) -> Option<io::Result<Result<Event, Rejected>>> {
        loop {
            let too_long = match self.read_line() {
                Ok(Some(too_long)) => too_long,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            };
            self.line_number += 1;
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            if self.line.iter().all(u8::is_ascii_whitespace) && !too_long {
                continue;
            }
            // Built only for rejections: a file name per line is an allocation per event.
            let location = || Location {
                file: self.file.clone(),
                line: self.line_number,
            };
            if too_long {
                return Some(Ok(Err(Rejected {
                    location: location(),
                    reason: format!("line longer than {MAX_LINE_BYTES} bytes"),
                    raw: self.line.clone(),
                })));
            }
            return Some(Ok(match Event::from_json(&self.line) {
                Ok(mut event) => {
                    if event.source.is_none() {
                        event.source = Some(EventSource {
                            name: Some(
                                self.default_source
                                    .clone()
                                    .unwrap_or_else(|| self.name().to_string()),
                            ),
                            reference: None,
                        });
                    }
                    Ok(event)
                }
                Err(error) => Err(Rejected {
                    location: location(),
                    reason: error.to_string(),
                    raw: self.line.clone(),
                }),
            }));
        }
    }

    fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    fn total_bytes(&self) -> Option<u64> {
        self.total_bytes
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const GOOD: &str = r#"{"time":"2026-01-05T09:12:00Z","kind":"file.copy","actor":{"user":"ACM2278","host":"PC-1234"},"object":{"path":"C:/design/a.dwg","size":12345},"destination":{"kind":"removable"},"outcome":"success"}"#;

    fn collect(input: &str) -> Vec<Result<Event, Rejected>> {
        let mut source = NdjsonSource::new(input.as_bytes(), "in.ndjson", None);
        let mut out = Vec::new();
        while let Some(record) = source.next_record() {
            out.push(record.unwrap());
        }
        out
    }

    #[test]
    fn bad_lines_are_rejected_with_their_line_number_and_the_rest_is_read() {
        let input = format!("{GOOD}\n\nnot json\r\n{GOOD}\n{{\"time\":\"x\"}}");
        let records = collect(&input);
        assert_eq!(records.len(), 4);
        assert!(records[0].is_ok());
        let bad = records[1].as_ref().unwrap_err();
        assert_eq!(bad.location.to_string(), "in.ndjson:3");
        assert_eq!(bad.raw, b"not json");
        assert!(records[2].is_ok());
        let last = records[3].as_ref().unwrap_err();
        assert_eq!(last.location.line, 5);
    }

    #[test]
    fn the_importer_is_recorded_as_the_source_when_none_is_given() {
        let records = collect(GOOD);
        let event = records[0].as_ref().unwrap();
        assert_eq!(
            event.source.as_ref().unwrap().name.as_deref(),
            Some("ndjson")
        );
    }

    #[test]
    fn an_overlong_line_is_rejected_without_losing_the_next_one() {
        let long = "x".repeat(MAX_LINE_BYTES + 10);
        let records = collect(&format!("{long}\n{GOOD}\n"));
        assert_eq!(records.len(), 2);
        let rejected = records[0].as_ref().unwrap_err();
        assert!(rejected.reason.contains("longer than"));
        assert_eq!(rejected.raw.len(), MAX_LINE_BYTES);
        assert!(records[1].is_ok());
    }
}
