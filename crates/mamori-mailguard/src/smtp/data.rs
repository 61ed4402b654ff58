//! `DATA` transparency (RFC 5321 §4.5.2) in both directions.
//!
//! Receiving, lines ending in a bare LF are normalised to CRLF (Postfix's
//! `smtpd_forbid_bare_newline = normalize`), and only `CRLF . CRLF` ends the message: since
//! everything sent on is then CRLF-terminated and re-stuffed, no `<LF>.<LF>` or `<LF>.<CRLF>`
//! sequence can reach the next hop and be read there as the end of one message and the start of
//! another (SMTP smuggling). Bare CRs are passed through unchanged.

/// Where the unstuffer is within the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the first byte of a line.
    LineStart,
    /// Read a `.` at the start of a line.
    Dot,
    /// Read `.` CR at the start of a line.
    DotCr,
    /// Inside a line; `prev_cr` says whether the last byte was a CR.
    Inside { prev_cr: bool },
    /// Read the terminating `.` CRLF.
    Done,
}

/// Turns the dot-stuffed `DATA` stream into the message, piece by piece, within bounds: past
/// `max_bytes` of message or `max_line` bytes on one line, it stops keeping bytes but still
/// reads to the end of the data, so the session can answer and go on.
#[derive(Debug)]
pub struct Unstuffer {
    state: State,
    max_bytes: usize,
    max_line: usize,
    line_len: usize,
    /// Message bytes read so far, kept or not: what `max_bytes` is about, the same however
    /// the input was split.
    total: usize,
    too_big: bool,
    line_too_long: bool,
}

impl Unstuffer {
    pub fn new(max_bytes: usize, max_line: usize) -> Unstuffer {
        Unstuffer {
            state: State::LineStart,
            max_bytes,
            max_line,
            line_len: 0,
            total: 0,
            too_big: false,
            line_too_long: false,
        }
    }

    /// The terminating `.` was read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The message was larger than the limit (its bytes are incomplete).
    pub fn too_big(&self) -> bool {
        self.too_big
    }

    /// A line was longer than the limit (the message bytes are incomplete).
    pub fn line_too_long(&self) -> bool {
        self.line_too_long
    }

    /// Consumes `input` into `out` and returns how many bytes were used: all of them unless the
    /// end of data was reached, in which case the rest belongs to the next command.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let mut index = 0;
        while index < input.len() {
            let Some(&byte) = input.get(index) else {
                break;
            };
            match self.state {
                State::Done => return index,
                State::LineStart => {
                    if byte == b'.' {
                        self.state = State::Dot;
                        index += 1;
                    } else {
                        self.state = State::Inside { prev_cr: false };
                    }
                }
                State::Dot => {
                    if byte == b'\r' {
                        self.state = State::DotCr;
                        index += 1;
                    } else {
                        // The stuffed dot is dropped; the line goes on.
                        self.state = State::Inside { prev_cr: false };
                    }
                }
                State::DotCr => {
                    if byte == b'\n' {
                        self.state = State::Done;
                        return index + 1;
                    }
                    // `.` CR and something else: a line starting with a (dropped) dot and a
                    // bare CR.
                    self.push(out, b"\r");
                    self.state = State::Inside { prev_cr: true };
                }
                State::Inside { prev_cr } => {
                    let rest = input.get(index..).unwrap_or_default();
                    match memchr::memchr(b'\n', rest) {
                        None => {
                            self.push(out, rest);
                            let ends_with_cr = rest.last().map_or(prev_cr, |&last| last == b'\r');
                            self.state = State::Inside {
                                prev_cr: ends_with_cr,
                            };
                            index = input.len();
                        }
                        Some(newline) => {
                            let text = rest.get(..newline).unwrap_or_default();
                            self.push(out, text);
                            let cr_before = text.last().map_or(prev_cr, |&last| last == b'\r');
                            if cr_before {
                                self.push(out, b"\n");
                            } else {
                                self.push(out, b"\r\n");
                            }
                            self.line_len = 0;
                            self.state = State::LineStart;
                            index += newline + 1;
                        }
                    }
                }
            }
        }
        index
    }

    fn push(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        self.line_len = self.line_len.saturating_add(bytes.len());
        if self.line_len > self.max_line {
            self.line_too_long = true;
        }
        self.total = self.total.saturating_add(bytes.len());
        if self.total > self.max_bytes {
            self.too_big = true;
        }
        if !self.too_big && !self.line_too_long {
            out.extend_from_slice(bytes);
        }
    }
}

/// The message as sent after `DATA`: lines starting with `.` get another one, every line ends
/// in CRLF (a bare LF becomes CRLF, a missing final line break is added), then `.` CRLF.
/// The message may come in parts (a header line we add, then the stored message), each
/// starting at the beginning of a line, so they need not be joined first.
pub fn stuff(parts: &[&[u8]]) -> Vec<u8> {
    let total: usize = parts.iter().map(|part| part.len()).sum();
    let mut out = Vec::with_capacity(total + total / 64 + 8);
    for part in parts {
        stuff_part(part, &mut out);
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn stuff_part(part: &[u8], out: &mut Vec<u8>) {
    let mut rest = part;
    while !rest.is_empty() {
        if rest.first() == Some(&b'.') {
            out.push(b'.');
        }
        let (text, after) = match memchr::memchr(b'\n', rest) {
            Some(newline) => (
                rest.get(..newline).unwrap_or_default(),
                rest.get(newline + 1..).unwrap_or_default(),
            ),
            None => (rest, &[][..]),
        };
        out.extend_from_slice(text);
        if text.last() != Some(&b'\r') {
            out.push(b'\r');
        }
        out.push(b'\n');
        rest = after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unstuff_in_pieces(wire: &[u8], piece: usize) -> (Vec<u8>, usize, Unstuffer) {
        let mut unstuffer = Unstuffer::new(1 << 20, 1 << 16);
        let mut out = Vec::new();
        let mut used = 0;
        for chunk in wire.chunks(piece) {
            let consumed = unstuffer.feed(chunk, &mut out);
            used += consumed;
            if unstuffer.is_done() {
                break;
            }
            assert_eq!(consumed, chunk.len());
        }
        (out, used, unstuffer)
    }

    #[test]
    fn dots_are_unstuffed_and_the_end_is_found_in_any_split() {
        let wire = b"Subject: x\r\n\r\n..leading dot\r\n..\r\n.. \r\nend\r\n.\r\nQUIT\r\n";
        for piece in 1..wire.len() {
            let (out, used, unstuffer) = unstuff_in_pieces(wire, piece);
            assert!(unstuffer.is_done(), "piece {piece}");
            assert_eq!(out, b"Subject: x\r\n\r\n.leading dot\r\n.\r\n. \r\nend\r\n");
            assert_eq!(&wire[used..], b"QUIT\r\n", "piece {piece}");
        }
    }

    #[test]
    fn bare_lf_is_normalised_and_does_not_end_the_data() {
        let wire = b"a\n.\nb\r\n.\n\r\n.\r\n";
        let (out, _, unstuffer) = unstuff_in_pieces(wire, 3);
        assert!(unstuffer.is_done());
        assert_eq!(out, b"a\r\n\r\nb\r\n\r\n\r\n");
    }

    #[test]
    fn an_empty_message_is_only_the_terminator() {
        let (out, used, unstuffer) = unstuff_in_pieces(b".\r\n", 1);
        assert!(unstuffer.is_done());
        assert!(out.is_empty());
        assert_eq!(used, 3);
    }

    #[test]
    fn the_limits_found_do_not_depend_on_how_the_data_came_in() {
        // Found by fuzzing: after a line over the limit, whether the size limit was also
        // found depended on where a TCP segment ended (552 or 554 for the same message).
        let wire = b"abcd\r\nefgh\r\n.\r\n";
        for piece in 1..wire.len() {
            let mut unstuffer = Unstuffer::new(6, 3);
            let mut out = Vec::new();
            for chunk in wire.chunks(piece) {
                unstuffer.feed(chunk, &mut out);
            }
            assert!(
                unstuffer.line_too_long() && unstuffer.too_big(),
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn limits_stop_keeping_bytes_but_not_reading() {
        let mut unstuffer = Unstuffer::new(10, 1000);
        let mut out = Vec::new();
        let wire = b"0123456789abcdef\r\n.\r\nNOOP";
        let used = unstuffer.feed(wire, &mut out);
        assert!(unstuffer.is_done() && unstuffer.too_big());
        assert_eq!(&wire[used..], b"NOOP");

        let mut unstuffer = Unstuffer::new(1000, 5);
        let mut out = Vec::new();
        unstuffer.feed(b"abc\r\n", &mut out);
        assert!(!unstuffer.line_too_long());
        unstuffer.feed(b"abcd\r\n.\r\n", &mut out);
        assert!(unstuffer.is_done() && unstuffer.line_too_long());
    }

    #[test]
    fn stuffing_round_trips() {
        let message = b"Subject: x\r\n\r\n.hidden\r\n.\r\nbare\nlast";
        let wire = stuff(&[b"Received: x\r\n", message]);
        assert_eq!(
            wire,
            b"Received: x\r\nSubject: x\r\n\r\n..hidden\r\n..\r\nbare\r\nlast\r\n.\r\n".to_vec()
        );
        let (out, used, unstuffer) = unstuff_in_pieces(&wire, 5);
        assert!(unstuffer.is_done());
        assert_eq!(used, wire.len());
        assert_eq!(
            out,
            b"Received: x\r\nSubject: x\r\n\r\n.hidden\r\n.\r\nbare\r\nlast\r\n"
        );
    }
}
