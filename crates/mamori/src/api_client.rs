//! The few calls the binary makes to a `mamori serve` as a client (the agent, the mail guard,
//! `bench http-ingest`): HTTP/1.1 on a fresh connection, HTTPS (rustls, trusting the CA file
//! given) to any address, plain HTTP to loopback only — a bearer token never crosses a
//! network in clear text.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::BadInput;

/// Where a server is and how to reach it.
#[derive(Clone)]
pub struct Endpoint {
    /// `host:port`.
    pub address: String,
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
}

impl Endpoint {
    /// `http://HOST:PORT` (loopback only) or `https://HOST:PORT` verified against the
    /// certificates in `ca` (PEM; required for HTTPS: the organisation's own CA).
    pub fn parse(url: &str, ca: Option<&Path>) -> anyhow::Result<Endpoint> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| BadInput(format!("{url}: expected http(s)://HOST:PORT")))?;
        let address = rest.trim_end_matches('/');
        if address.is_empty() || address.contains('/') || !address.contains(':') {
            return Err(BadInput(format!("{url}: expected {scheme}://HOST:PORT")).into());
        }
        match scheme {
            "http" => {
                let loopback = address
                    .parse::<SocketAddr>()
                    .is_ok_and(|a| a.ip().is_loopback())
                    || address.starts_with("localhost:");
                if !loopback {
                    return Err(BadInput(format!(
                        "{url}: plain HTTP is only allowed to a loopback address (use https://)"
                    ))
                    .into());
                }
                Ok(Endpoint {
                    address: address.to_string(),
                    tls: None,
                })
            }
            "https" => {
                let ca = ca.ok_or_else(|| {
                    BadInput(format!(
                        "{url}: HTTPS needs the CA certificate file (--server-ca)"
                    ))
                })?;
                let mut roots = rustls::RootCertStore::empty();
                let certificates = CertificateDer::pem_file_iter(ca)
                    .map_err(|e| BadInput(format!("{}: {e}", ca.display())))?;
                for certificate in certificates {
                    let certificate =
                        certificate.map_err(|e| BadInput(format!("{}: {e}", ca.display())))?;
                    roots
                        .add(certificate)
                        .map_err(|e| BadInput(format!("{}: {e}", ca.display())))?;
                }
                if roots.is_empty() {
                    return Err(BadInput(format!("{}: no certificate", ca.display())).into());
                }
                let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
                let host = address
                    .rsplit_once(':')
                    .map_or(address, |(host, _)| host)
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                let name = ServerName::try_from(host.to_string())
                    .map_err(|_| BadInput(format!("{url}: {host:?} is not a server name")))?;
                Ok(Endpoint {
                    address: address.to_string(),
                    tls: Some((Arc::new(config), name)),
                })
            }
            other => Err(BadInput(format!("{url}: {other}:// is neither http nor https")).into()),
        }
    }

    /// One request with a bearer token, extra headers and an optional `(content type, body)`.
    pub fn request(
        &self,
        token: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
    ) -> anyhow::Result<Answer> {
        let stream = TcpStream::connect(&self.address)
            .with_context(|| format!("connecting to {}", self.address))?;
        // A server that stops answering must not hold the caller for ever.
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        stream.set_write_timeout(Some(Duration::from_secs(60)))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Connection: close\r\n",
            self.address
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some((content_type, body)) = body {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let response = match &self.tls {
            None => exchange(stream, head.as_bytes(), body.map(|(_, b)| b))?,
            Some((config, name)) => {
                let connection = rustls::ClientConnection::new(config.clone(), name.clone())?;
                let tls = rustls::StreamOwned::new(connection, stream);
                exchange(tls, head.as_bytes(), body.map(|(_, b)| b))?
            }
        };
        Answer::parse(&response)
    }

    /// One request without extra headers: status and body.
    pub fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
    ) -> anyhow::Result<(u16, String)> {
        let answer = self.request(token, method, path, &[], body)?;
        Ok((answer.status, answer.body))
    }

    /// One `POST /api/v1/events` of NDJSON: status and body.
    pub fn post_events(&self, token: &str, body: &[u8]) -> anyhow::Result<(u16, String)> {
        self.call(
            token,
            "POST",
            "/api/v1/events",
            Some(("application/x-ndjson", body)),
        )
    }
}

/// A server's answer.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    fn parse(response: &[u8]) -> anyhow::Result<Answer> {
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
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&response[split + 4..]).into_owned(),
        })
    }
}

fn exchange(
    mut stream: impl Read + Write,
    head: &[u8],
    body: Option<&[u8]>,
) -> anyhow::Result<Vec<u8>> {
    stream.write_all(head)?;
    if let Some(body) = body {
        stream.write_all(body)?;
    }
    stream.flush()?;
    let mut response = Vec::new();
    match stream.read_to_end(&mut response) {
        Ok(_) => {}
        // A TLS peer that closes without close_notify after a complete answer (Connection:
        // close) is still a complete answer.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => {}
        Err(e) => return Err(e.into()),
    }
    Ok(response)
}
