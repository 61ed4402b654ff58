//! The few calls the binary makes to a `mamori serve` as a client (the mail guard, `bench
//! http-ingest`): plain HTTP/1.1 on a fresh connection, loopback only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::Context;

/// One `POST /api/v1/events` of NDJSON: status and body.
pub fn post_events(address: &str, token: &str, body: &[u8]) -> anyhow::Result<(u16, String)> {
    call(
        address,
        token,
        "POST",
        "/api/v1/events",
        Some(("application/x-ndjson", body)),
    )
}

/// One request with a bearer token and an optional `(content type, body)`: status and body.
pub fn call(
    address: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
) -> anyhow::Result<(u16, String)> {
    let mut stream = TcpStream::connect(address)?;
    // A server that stops answering must not hold the caller for ever.
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n"
    );
    if let Some((content_type, body)) = body {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some((_, body)) = body {
        stream.write_all(body)?;
    }
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
