//! The few calls the binary makes to a `mamori serve` as a client (the mail guard's events,
//! `bench http-ingest`): plain HTTP/1.1 on a fresh connection, loopback only.

use std::io::{Read, Write};
use std::net::TcpStream;

use anyhow::Context;

/// One `POST /api/v1/events` on a fresh connection: status and body.
pub fn post_events(address: &str, token: &str, body: &[u8]) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address)?;
    // A server that stops answering must not hold the caller for ever.
    stream.set_read_timeout(Some(std::time::Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(std::time::Duration::from_secs(60)))?;
    write!(
        stream,
        "POST /api/v1/events HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of HTTP head")?;
    let head = String::from_utf8_lossy(&response[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    Ok((
        status,
        String::from_utf8_lossy(&response[split + 4..]).into_owned(),
    ))
}
