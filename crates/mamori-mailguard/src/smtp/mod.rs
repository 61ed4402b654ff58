//! SMTP on both sides of the relay: the ESMTP [`server`] the organisation's mail system hands
//! outbound mail to, the [`client`] that passes it on to the next hop, and the delivery
//! status notifications ([`dsn`]) sent back when a message cannot be delivered.
//!
//! Commands are parsed with `smtp-proto`; the line framing, `DATA` transparency (dot-stuffing,
//! RFC 5321 §4.5.2) and replies are ours, so that every buffer has a fixed bound and the body
//! is copied as few times as possible.

pub mod client;
mod data;
pub mod dsn;
pub mod server;

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub use data::{Unstuffer, stuff};

/// Longest command or reply line accepted, CRLF included. RFC 5321 §4.5.3.1.4 asks for 512
/// octets, but `SMTPUTF8` addresses and extension parameters make real lines longer; 4 KiB
/// (smtp-proto's own limit) stays far from any legitimate line and bounds the buffer.
pub const MAX_COMMAND_LINE: usize = 4096;

/// Size of each connection's read buffer. Lines longer than this are only possible in `DATA`,
/// which is consumed in pieces, so it is also the per-connection input memory bound.
const INPUT_BUFFER: usize = 64 * 1024;

/// A TCP connection, before or after `STARTTLS`.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
    /// Taken apart for the TLS handshake (which failed if this is still here).
    Closed,
}

impl Transport {
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
            Transport::Closed => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
            Transport::Closed => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
            Transport::Closed => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
            Transport::Closed => Poll::Ready(Ok(())),
        }
    }
}

// The few I/O helpers the sessions need, written on the poll functions so the crate does not
// need tokio's `io-util` feature.

/// Reads what is available into `buf`; `Ok(0)` at end of stream.
pub(crate) async fn read_some<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
) -> io::Result<usize> {
    std::future::poll_fn(|cx| {
        let mut read_buf = ReadBuf::new(buf);
        match Pin::new(&mut *reader).poll_read(cx, &mut read_buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(read_buf.filled().len())),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Writes all of `bytes` and flushes them.
pub(crate) async fn write_all<W: AsyncWrite + Unpin>(
    writer: &mut W,
    bytes: &[u8],
) -> io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let written =
            std::future::poll_fn(|cx| Pin::new(&mut *writer).poll_write(cx, rest)).await?;
        if written == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        rest = rest.get(written..).unwrap_or_default();
    }
    std::future::poll_fn(|cx| Pin::new(&mut *writer).poll_flush(cx)).await
}

/// Closes the writing side (for TLS, sends close_notify).
pub(crate) async fn shutdown<W: AsyncWrite + Unpin>(writer: &mut W) -> io::Result<()> {
    std::future::poll_fn(|cx| Pin::new(&mut *writer).poll_shutdown(cx)).await
}

/// What [`Input::next_line`] found in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A whole line, LF included, at `start..end` of [`Input::bytes`].
    Complete { start: usize, end: usize },
    /// No LF yet and room for more: read more.
    Incomplete,
    /// A line longer than the limit was skipped (up to and including its LF).
    TooLong,
}

/// A connection's fixed-size read buffer: bytes at `pos..end` are read but not yet consumed.
pub(crate) struct Input {
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// Inside an over-long line: drop bytes up to the next LF.
    skipping: bool,
}

impl Input {
    pub(crate) fn new() -> Input {
        Input {
            buf: vec![0; INPUT_BUFFER].into_boxed_slice(),
            pos: 0,
            end: 0,
            skipping: false,
        }
    }

    /// The whole buffer; a [`Line::Complete`] indexes into it.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Read but not yet consumed.
    pub(crate) fn pending(&self) -> &[u8] {
        self.buf.get(self.pos..self.end).unwrap_or_default()
    }

    pub(crate) fn consume(&mut self, count: usize) {
        self.pos = (self.pos + count).min(self.end);
    }

    /// Forgets everything read: after `STARTTLS` nothing sent in clear may be taken as a
    /// command of the protected session (the CVE-2011-0411 command injection).
    pub(crate) fn clear(&mut self) {
        self.pos = 0;
        self.end = 0;
        self.skipping = false;
    }

    /// Reads what the peer sent; `Ok(0)` at end of stream.
    pub(crate) async fn fill<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> io::Result<usize> {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        } else if self.pos > 0 && self.end == self.buf.len() {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        let Some(free) = self.buf.get_mut(self.end..) else {
            return Ok(0);
        };
        if free.is_empty() {
            // Only reachable when a caller left a full buffer unconsumed; reading nothing
            // would look like end of stream, so say what it is.
            return Err(io::Error::other("input buffer full"));
        }
        let count = read_some(reader, free).await?;
        self.end += count;
        Ok(count)
    }

    /// The next line of at most `limit` bytes (LF included), consuming it.
    pub(crate) fn next_line(&mut self, limit: usize) -> Line {
        loop {
            let pending = self.pending();
            let newline = pending.iter().position(|&byte| byte == b'\n');
            if self.skipping {
                match newline {
                    Some(index) => {
                        self.consume(index + 1);
                        self.skipping = false;
                        return Line::TooLong;
                    }
                    None => {
                        self.consume(pending.len());
                        return Line::Incomplete;
                    }
                }
            }
            match newline {
                Some(index) if index < limit => {
                    let start = self.pos;
                    self.consume(index + 1);
                    return Line::Complete {
                        start,
                        end: start + index + 1,
                    };
                }
                Some(_) => self.skipping = true,
                None if pending.len() >= limit => self.skipping = true,
                None => return Line::Incomplete,
            }
        }
    }
}

/// An SMTP reply: a code, an optional enhanced status code (RFC 3463) and one or more lines
/// of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// `class.subject.detail`, e.g. `[5, 7, 1]`.
    pub status: Option<[u16; 3]>,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn new(code: u16, status: [u16; 3], text: impl Into<String>) -> Reply {
        Reply {
            code,
            status: Some(status),
            lines: vec![text.into()],
        }
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 4xx: try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: do not try again.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The reply on the wire: `code-status text` lines, the last with a space.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let status = self
            .status
            .map(|[class, subject, detail]| format!("{class}.{subject}.{detail} "))
            .unwrap_or_default();
        let last_index = self.lines.len().saturating_sub(1);
        if self.lines.is_empty() {
            out.extend_from_slice(format!("{} {status}\r\n", self.code).as_bytes());
        }
        for (index, line) in self.lines.iter().enumerate() {
            let separator = if index == last_index { ' ' } else { '-' };
            // Reply text is ours or a peer's; never let it carry a line break.
            let text: String = line.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            out.extend_from_slice(format!("{}{separator}{status}{text}\r\n", self.code).as_bytes());
        }
    }

    /// Parses one reply line: `(code, is_last, text)`.
    pub(crate) fn parse_line(line: &[u8]) -> Option<(u16, bool, String)> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let digits = line.get(..3)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let code = digits
            .iter()
            .fold(0u16, |code, digit| code * 10 + u16::from(digit - b'0'));
        let (is_last, text) = match line.get(3) {
            None => (true, &[][..]),
            Some(b' ') => (true, line.get(4..).unwrap_or_default()),
            Some(b'-') => (false, line.get(4..).unwrap_or_default()),
            Some(_) => return None,
        };
        Some((code, is_last, String::from_utf8_lossy(text).into_owned()))
    }

    /// A reply from its lines' code and text; the enhanced status code, when the first line
    /// starts with one, is taken out of the text.
    pub(crate) fn from_lines(code: u16, texts: Vec<String>) -> Reply {
        let status = texts.first().and_then(|first| parse_status(first));
        let lines = texts
            .into_iter()
            .map(|text| match status {
                Some(_) => strip_status(&text).to_string(),
                None => text,
            })
            .collect();
        Reply {
            code,
            status,
            lines,
        }
    }

    /// The reply as one line, for logs, events and bounces.
    pub fn one_line(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some([class, subject, detail]) = self.status {
            write!(f, " {class}.{subject}.{detail}")?;
        }
        for line in &self.lines {
            write!(f, " {line}")?;
        }
        Ok(())
    }
}

fn parse_status(text: &str) -> Option<[u16; 3]> {
    let word = text.split(' ').next()?;
    let mut parts = word.split('.');
    let class: u16 = parts.next()?.parse().ok()?;
    let subject: u16 = parts.next()?.parse().ok()?;
    let detail: u16 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(2..=5).contains(&class) || subject > 999 || detail > 999 {
        return None;
    }
    Some([class, subject, detail])
}

fn strip_status(text: &str) -> &str {
    match text.split_once(' ') {
        Some((word, rest)) if parse_status(word).is_some() => rest,
        _ if parse_status(text).is_some() => "",
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_replies_use_dashes_until_the_last_line() {
        let reply = Reply {
            code: 550,
            status: Some([5, 7, 1]),
            lines: vec!["first".into(), "second\r\ninjected".into()],
        };
        let mut out = Vec::new();
        reply.write_to(&mut out);
        assert_eq!(out, b"550-5.7.1 first\r\n550 5.7.1 secondinjected\r\n");
    }

    #[test]
    fn reply_lines_parse_with_and_without_status() {
        assert_eq!(
            Reply::parse_line(b"250-SIZE 100\r\n"),
            Some((250, false, "SIZE 100".into()))
        );
        assert_eq!(
            Reply::parse_line(b"220\r\n"),
            Some((220, true, String::new()))
        );
        assert_eq!(Reply::parse_line(b"2x0 no\r\n"), None);
        let reply = Reply::from_lines(550, vec!["5.1.1 no such user".into()]);
        assert_eq!(reply.status, Some([5, 1, 1]));
        assert_eq!(reply.lines, vec!["no such user".to_string()]);
        let plain = Reply::from_lines(250, vec!["OK".into()]);
        assert_eq!(plain.status, None);
    }

    #[test]
    fn over_long_lines_are_skipped_whole() {
        let mut input = Input::new();
        let text = b"AAAAAAAAAA\r\nNOOP\r\n";
        input.buf[..text.len()].copy_from_slice(text);
        input.end = text.len();
        assert_eq!(input.next_line(8), Line::TooLong);
        assert_eq!(input.next_line(8), Line::Complete { start: 12, end: 18 });
        assert_eq!(input.next_line(8), Line::Incomplete);
    }
}
