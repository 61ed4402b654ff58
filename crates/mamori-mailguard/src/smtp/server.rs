//! The ESMTP server the organisation's mail system relays outbound mail through.
//!
//! It speaks EHLO/HELO, STARTTLS, SIZE, 8BITMIME, SMTPUTF8, PIPELINING and
//! ENHANCEDSTATUSCODES; MAIL, RCPT, DATA, RSET, NOOP, QUIT, VRFY (always 252) and HELP. Every
//! finished message is handed to a [`Handler`], whose reply is the answer to the end of `DATA`.
//!
//! It is never an open relay: it accepts mail for any recipient, so only clients from the
//! configured networks ([`ServerConfig::allow`], loopback by default) may connect at all;
//! others are answered 554 and disconnected.
//!
//! Every buffer is bounded: command lines ([`super::MAX_COMMAND_LINE`]), the read buffer, the
//! message ([`ServerConfig::max_message_bytes`]), its lines ([`ServerConfig::max_line_bytes`]),
//! its recipients ([`ServerConfig::max_recipients`]) and the number of connections.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use smtp_proto::{
    MAIL_BODY_7BIT, MAIL_BODY_8BITMIME, MAIL_BODY_BINARYMIME, MAIL_SMTPUTF8, MailFrom, RcptTo,
    Request,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::{Input, Line, MAX_COMMAND_LINE, Reply, Transport, Unstuffer, write_all};
use crate::decision::Envelope;

/// Pending replies are sent once they reach this size even if more commands wait.
const OUTPUT_FLUSH: usize = 16 * 1024;
/// Most memory reserved up front for a message on the client's word (`SIZE=`); beyond it the
/// buffer grows as the data actually arrives.
const MAX_PREALLOCATION: usize = 1024 * 1024;

/// How the server behaves; see [`ServerConfig::new`] for the defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Our name in the greeting, the EHLO reply and `Received:` lines.
    pub hostname: String,
    /// Offer STARTTLS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Largest message accepted (announced as `SIZE`).
    pub max_message_bytes: usize,
    /// Longest line accepted inside a message, CRLF included. RFC 5322 allows 1000 octets,
    /// but mail from real programs exceeds it and the next hop is the better judge, so the
    /// default only bounds memory and parsers.
    pub max_line_bytes: usize,
    /// Most recipients per message; more are answered 452 (RFC 5321 §4.5.3.1.8: at least 100).
    pub max_recipients: usize,
    /// Networks clients may connect from.
    pub allow: Vec<Network>,
    /// Most simultaneous connections; more are answered 421.
    pub max_connections: usize,
    /// Bad commands tolerated before the connection is closed with 421.
    pub max_errors: u32,
    /// Wait for the next command (RFC 5321 §4.5.3.2.7: at least 5 minutes).
    pub command_timeout: Duration,
    /// Wait for more message data (RFC 5321 §4.5.3.2.5: 3 minutes on the client's side).
    pub data_timeout: Duration,
    /// At shutdown, how long sessions in the middle of a message may take to finish.
    pub shutdown_grace: Duration,
}

impl ServerConfig {
    /// A server named `hostname`, without TLS, for loopback clients, with 25 MiB messages,
    /// 1000 recipients and the RFC 5321 timeouts.
    pub fn new(hostname: impl Into<String>) -> ServerConfig {
        ServerConfig {
            hostname: hostname.into(),
            tls: None,
            max_message_bytes: 25 * 1024 * 1024,
            max_line_bytes: 64 * 1024,
            max_recipients: 1000,
            allow: Network::loopback(),
            max_connections: 256,
            max_errors: 10,
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(180),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// A TLS configuration for STARTTLS from PEM files: the certificate chain and its private key.
pub fn tls_from_pem_files(
    certificate_chain: &std::path::Path,
    private_key: &std::path::Path,
) -> Result<Arc<rustls::ServerConfig>, TlsFilesError> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let error = |path: &std::path::Path, reason: String| TlsFilesError {
        path: path.display().to_string(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(certificate_chain)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|e| error(certificate_chain, e.to_string()))?;
    if chain.is_empty() {
        return Err(error(
            certificate_chain,
            "no certificate in the file".to_string(),
        ));
    }
    let key =
        PrivateKeyDer::from_pem_file(private_key).map_err(|e| error(private_key, e.to_string()))?;
    // The provider is named: with more than one compiled in, rustls cannot pick a default.
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| error(certificate_chain, e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| error(certificate_chain, e.to_string()))?;
    Ok(Arc::new(config))
}

/// A certificate or key file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot use TLS file {path}: {reason}")]
pub struct TlsFilesError {
    pub path: String,
    pub reason: String,
}

/// An IP network (`192.0.2.0/24`, `::1/128`, or one address), for the client allow list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

/// A network that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid network {text:?}: {reason} (expected an address or address/prefix, e.g. 10.0.0.0/8)"
)]
pub struct NetworkError {
    pub text: String,
    pub reason: &'static str,
}

impl Network {
    /// `127.0.0.0/8` and `::1/128`.
    pub fn loopback() -> Vec<Network> {
        vec![
            Network {
                address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)),
                prefix: 8,
            },
            Network {
                address: IpAddr::V6(Ipv6Addr::LOCALHOST),
                prefix: 128,
            },
        ]
    }

    /// Whether `ip` is in this network; an IPv4-mapped IPv6 address counts as its IPv4 one.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        match (self.address, ip) {
            (IpAddr::V4(network), IpAddr::V4(candidate)) => {
                prefix_matches(&network.octets(), &candidate.octets(), self.prefix)
            }
            (IpAddr::V6(network), IpAddr::V6(candidate)) => {
                prefix_matches(&network.octets(), &candidate.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_matches(network: &[u8], candidate: &[u8], prefix: u8) -> bool {
    let mut bits_left = u32::from(prefix);
    for (network_byte, candidate_byte) in network.iter().zip(candidate) {
        if bits_left == 0 {
            return true;
        }
        let bits = bits_left.min(8);
        let mask = (0xffu16 << (8 - bits)) as u8;
        if network_byte & mask != candidate_byte & mask {
            return false;
        }
        bits_left -= bits;
    }
    true
}

impl FromStr for Network {
    type Err = NetworkError;

    fn from_str(text: &str) -> Result<Network, NetworkError> {
        let error = |reason| NetworkError {
            text: text.to_string(),
            reason,
        };
        let (address_text, prefix_text) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address_text
            .trim()
            .parse()
            .map_err(|_| error("not an IP address"))?;
        let max_prefix = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max_prefix,
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= max_prefix)
                .ok_or_else(|| error("the prefix length is out of range"))?,
        };
        Ok(Network { address, prefix })
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// A message received in full, as handed to the [`Handler`].
#[derive(Debug)]
pub struct Received {
    pub envelope: Envelope,
    /// The message after `DATA`, unstuffed, every line ending in CRLF.
    pub message: Vec<u8>,
    /// Received over TLS (for the `Received:` line's `with ESMTPS`).
    pub tls: bool,
    /// The client said EHLO rather than HELO.
    pub esmtp: bool,
}

/// Decides what happens to each message the server receives.
pub trait Handler: Send + Sync + 'static {
    /// The reply to the end of `DATA`: 250 once the message is safely stored, 4xx or 5xx
    /// otherwise.
    fn message(&self, received: Received) -> impl Future<Output = Reply> + Send;
}

/// Accepts connections on `listener` until `shutdown` turns true (or its sender is dropped),
/// then lets sessions finish the message they are receiving for up to
/// [`ServerConfig::shutdown_grace`] and answers the others 421.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    handler: Arc<H>,
    mut shutdown: watch::Receiver<bool>,
) {
    let connections = Arc::new(Semaphore::new(config.max_connections));
    let mut sessions = JoinSet::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if !config.allow.iter().any(|network| network.contains(peer.ip())) {
                    info!(%peer, "client not in the allowed networks, refused");
                    let reply = Reply::new(554, [5, 7, 1], format!("{} access denied: this relay serves configured networks only", config.hostname));
                    sessions.spawn(refuse(stream, reply));
                    continue;
                }
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    warn!(%peer, "too many connections, refused");
                    let reply = Reply::new(421, [4, 3, 2], format!("{} too many connections, try again later", config.hostname));
                    sessions.spawn(refuse(stream, reply));
                    continue;
                };
                let session = Session::new(config.clone(), handler.clone(), peer, shutdown.clone());
                sessions.spawn(async move {
                    session.run(stream).await;
                    drop(permit);
                });
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            _ = shutdown.changed() => {}
        }
    }
    drop(listener);
    let grace = tokio::time::sleep(config.shutdown_grace);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = sessions.join_next() => if next.is_none() { break },
            _ = &mut grace => {
                warn!(sessions = sessions.len(), "shutdown grace over, closing the remaining sessions");
                sessions.abort_all();
                break;
            }
        }
    }
}

/// Answers a connection that is not served, and closes it.
async fn refuse(mut stream: TcpStream, reply: Reply) {
    let mut out = Vec::new();
    reply.write_to(&mut out);
    let _ = tokio::time::timeout(Duration::from_secs(10), write_all(&mut stream, &out)).await;
}

/// The mail transaction in progress (after MAIL FROM).
#[derive(Debug)]
struct Transaction {
    mail_from: String,
    smtputf8: bool,
    body_8bit: bool,
    size_hint: usize,
    rcpt_to: Vec<String>,
}

/// What the session does after a command.
enum Next {
    Continue,
    Data,
    StartTls,
    Close,
}

struct Session<H> {
    config: Arc<ServerConfig>,
    handler: Arc<H>,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
    input: Input,
    output: Vec<u8>,
    helo: Option<String>,
    esmtp: bool,
    tls: bool,
    transaction: Option<Transaction>,
    errors: u32,
}

/// Why a session ended early.
#[derive(Debug, thiserror::Error)]
enum SessionEnd {
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    #[error("timed out waiting for the client")]
    Timeout,
    #[error("the client closed the connection")]
    Closed,
}

impl<H: Handler> Session<H> {
    fn new(
        config: Arc<ServerConfig>,
        handler: Arc<H>,
        peer: SocketAddr,
        shutdown: watch::Receiver<bool>,
    ) -> Session<H> {
        Session {
            config,
            handler,
            peer,
            shutdown,
            input: Input::new(),
            output: Vec::with_capacity(1024),
            helo: None,
            esmtp: false,
            tls: false,
            transaction: None,
            errors: 0,
        }
    }

    async fn run(mut self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let peer = self.peer;
        match self.converse(Transport::Plain(stream)).await {
            Ok(()) | Err(SessionEnd::Closed) => debug!(%peer, "session ended"),
            Err(end) => info!(%peer, reason = %end, "session ended"),
        }
    }

    async fn converse(&mut self, stream: Transport) -> Result<(), SessionEnd> {
        let mut transport = stream;
        let greeting = format!("{} ESMTP Mamori mail guard", self.config.hostname);
        self.reply(Reply::new(220, [2, 0, 0], greeting));
        loop {
            let line = match self.input.next_line(MAX_COMMAND_LINE) {
                Line::Complete { start, end } => self
                    .input
                    .bytes()
                    .get(start..end)
                    .unwrap_or_default()
                    .to_vec(),
                Line::TooLong => {
                    self.error(Reply::new(500, [5, 5, 2], "line too long"));
                    if self.too_many_errors() {
                        return self.close(&mut transport).await;
                    }
                    continue;
                }
                Line::Incomplete => {
                    self.wait_for_input(&mut transport).await?;
                    continue;
                }
            };
            match self.command(&line) {
                Next::Continue => {}
                Next::Close => return self.close(&mut transport).await,
                Next::Data => self.data(&mut transport).await?,
                Next::StartTls => transport = self.start_tls(transport).await?,
            }
            if self.too_many_errors() {
                return self.close(&mut transport).await;
            }
            // A client that pipelines without reading its replies must not grow our output
            // without bound.
            if self.output.len() >= OUTPUT_FLUSH {
                self.flush(&mut transport).await?;
            }
        }
    }

    /// Sends what is pending, then waits for more input; answers 421 and ends if the server
    /// is shutting down meanwhile.
    async fn wait_for_input(&mut self, transport: &mut Transport) -> Result<(), SessionEnd> {
        self.flush(transport).await?;
        if *self.shutdown.borrow() {
            return self.shut_down(transport).await;
        }
        let timeout = self.config.command_timeout;
        tokio::select! {
            read = tokio::time::timeout(timeout, self.input.fill(transport)) => match read {
                Err(_) => {
                    self.reply(Reply::new(421, [4, 4, 2], format!("{} timeout, closing", self.config.hostname)));
                    let _ = self.flush(transport).await;
                    Err(SessionEnd::Timeout)
                }
                Ok(Err(error)) => Err(SessionEnd::Io(error)),
                Ok(Ok(0)) => Err(SessionEnd::Closed),
                Ok(Ok(_)) => Ok(()),
            },
            _ = self.shutdown.changed() => self.shut_down(transport).await,
        }
    }

    async fn shut_down(&mut self, transport: &mut Transport) -> Result<(), SessionEnd> {
        let text = format!("{} shutting down, try again later", self.config.hostname);
        self.reply(Reply::new(421, [4, 3, 2], text));
        self.flush(transport).await?;
        Err(SessionEnd::Closed)
    }

    async fn close(&mut self, transport: &mut Transport) -> Result<(), SessionEnd> {
        self.flush(transport).await?;
        let _ = tokio::time::timeout(Duration::from_secs(5), super::shutdown(transport)).await;
        Ok(())
    }

    async fn flush(&mut self, transport: &mut Transport) -> Result<(), SessionEnd> {
        if self.output.is_empty() {
            return Ok(());
        }
        let timeout = self.config.command_timeout;
        let written = tokio::time::timeout(timeout, write_all(transport, &self.output)).await;
        self.output.clear();
        match written {
            Err(_) => Err(SessionEnd::Timeout),
            Ok(result) => Ok(result?),
        }
    }

    fn reply(&mut self, reply: Reply) {
        reply.write_to(&mut self.output);
    }

    /// A reply to a command that was wrong; counted towards [`ServerConfig::max_errors`].
    fn error(&mut self, reply: Reply) {
        self.errors += 1;
        self.reply(reply);
    }

    fn too_many_errors(&mut self) -> bool {
        if self.errors < self.config.max_errors {
            return false;
        }
        info!(peer = %self.peer, errors = self.errors, "too many errors, closing");
        let text = format!("{} too many errors, closing", self.config.hostname);
        self.reply(Reply::new(421, [4, 7, 0], text));
        true
    }

    fn command(&mut self, line: &[u8]) -> Next {
        if std::str::from_utf8(line).is_err() {
            self.error(Reply::new(500, [5, 5, 2], "command is not valid UTF-8"));
            return Next::Continue;
        }
        let request = match Request::parse(&mut line.iter()) {
            Ok(request) => request,
            Err(error) => {
                let reply = parse_error_reply(&error);
                self.error(reply);
                return Next::Continue;
            }
        };
        match request {
            Request::Ehlo { host } => self.hello(host.into_owned(), true),
            Request::Helo { host } => self.hello(host.into_owned(), false),
            Request::Mail { from } => self.mail(from),
            Request::Rcpt { to } => self.rcpt(to),
            Request::Data => return self.start_data(),
            Request::Rset => {
                self.transaction = None;
                self.reply(Reply::new(250, [2, 0, 0], "OK"));
            }
            Request::Noop { .. } => self.reply(Reply::new(250, [2, 0, 0], "OK")),
            Request::Quit => {
                let text = format!("{} closing connection", self.config.hostname);
                self.reply(Reply::new(221, [2, 0, 0], text));
                return Next::Close;
            }
            Request::Vrfy { .. } => self.reply(Reply::new(
                252,
                [2, 5, 2],
                "cannot VRFY user, but will accept the message and attempt delivery",
            )),
            Request::Help { .. } => self.reply(Reply::new(
                214,
                [2, 0, 0],
                "commands: EHLO HELO STARTTLS MAIL RCPT DATA RSET NOOP VRFY QUIT",
            )),
            Request::StartTls => return self.starttls_command(),
            Request::Lhlo { .. }
            | Request::Bdat { .. }
            | Request::Auth { .. }
            | Request::Expn { .. }
            | Request::Etrn { .. }
            | Request::Atrn { .. }
            | Request::Burl { .. } => {
                let text = format!("{} not implemented", request.name());
                self.error(Reply::new(502, [5, 5, 1], text));
            }
        }
        Next::Continue
    }

    fn hello(&mut self, host: String, esmtp: bool) {
        self.transaction = None;
        self.helo = Some(host);
        self.esmtp = esmtp;
        let hostname = &self.config.hostname;
        if !esmtp {
            self.reply(Reply {
                code: 250,
                status: None,
                lines: vec![hostname.clone()],
            });
            return;
        }
        let mut lines = vec![
            format!("{hostname} at your service"),
            "PIPELINING".to_string(),
            format!("SIZE {}", self.config.max_message_bytes),
            "8BITMIME".to_string(),
            "SMTPUTF8".to_string(),
            "ENHANCEDSTATUSCODES".to_string(),
        ];
        if self.config.tls.is_some() && !self.tls {
            lines.push("STARTTLS".to_string());
        }
        // EHLO replies carry no enhanced status code: the keywords are the text.
        self.reply(Reply {
            code: 250,
            status: None,
            lines,
        });
    }

    fn mail(&mut self, from: MailFrom<std::borrow::Cow<'_, str>>) {
        if self.helo.is_none() {
            self.error(Reply::new(503, [5, 5, 1], "say EHLO or HELO first"));
            return;
        }
        if self.transaction.is_some() {
            self.error(Reply::new(
                503,
                [5, 5, 1],
                "a transaction is already open (RSET first)",
            ));
            return;
        }
        let allowed_flags = MAIL_BODY_7BIT | MAIL_BODY_8BITMIME | MAIL_SMTPUTF8;
        let unsupported = from.flags & !allowed_flags != 0
            || from.trans_id.is_some()
            || from.env_id.is_some()
            || from.solicit.is_some()
            || from.mtrk.is_some()
            || from.auth.is_some()
            || from.by != 0
            || from.hold_for != 0
            || from.hold_until != 0
            || from.mt_priority != 0;
        let has_parameters = from.flags != 0 || from.size != 0;
        if unsupported || (!self.esmtp && has_parameters) {
            let text = if from.flags & MAIL_BODY_BINARYMIME != 0 {
                "BODY=BINARYMIME is not supported"
            } else {
                "parameter not supported"
            };
            self.error(Reply::new(555, [5, 5, 4], text));
            return;
        }
        if from.size > self.config.max_message_bytes {
            let text = format!(
                "message size exceeds the limit of {} bytes",
                self.config.max_message_bytes
            );
            self.reply(Reply::new(552, [5, 3, 4], text));
            return;
        }
        let smtputf8 = from.flags & MAIL_SMTPUTF8 != 0;
        if let Err(reply) = check_address(&from.address, smtputf8) {
            self.error(reply);
            return;
        }
        self.transaction = Some(Transaction {
            mail_from: from.address.into_owned(),
            smtputf8,
            body_8bit: from.flags & MAIL_BODY_8BITMIME != 0,
            size_hint: from.size,
            rcpt_to: Vec::new(),
        });
        self.reply(Reply::new(250, [2, 1, 0], "sender OK"));
    }

    fn rcpt(&mut self, to: RcptTo<std::borrow::Cow<'_, str>>) {
        let max_recipients = self.config.max_recipients;
        let Some(transaction) = self.transaction.as_mut() else {
            self.error(Reply::new(503, [5, 5, 1], "MAIL FROM first"));
            return;
        };
        if to.flags != 0 || to.orcpt.is_some() || to.rrvs != 0 {
            self.error(Reply::new(555, [5, 5, 4], "parameter not supported"));
            return;
        }
        if to.address.is_empty() {
            // smtp-proto reads <postmaster> as empty too: a recipient without a domain means
            // nothing to the next hop.
            self.error(Reply::new(
                501,
                [5, 1, 3],
                "recipient address needs a domain",
            ));
            return;
        }
        if let Err(reply) = check_address(&to.address, transaction.smtputf8) {
            self.error(reply);
            return;
        }
        if transaction.rcpt_to.len() >= max_recipients {
            let text = format!("too many recipients (at most {max_recipients} per message)");
            self.reply(Reply::new(452, [4, 5, 3], text));
            return;
        }
        let address = to.address.into_owned();
        if !transaction.rcpt_to.contains(&address) {
            transaction.rcpt_to.push(address);
        }
        self.reply(Reply::new(250, [2, 1, 5], "recipient OK"));
    }

    fn start_data(&mut self) -> Next {
        match &self.transaction {
            None => {
                self.error(Reply::new(503, [5, 5, 1], "MAIL FROM first"));
                Next::Continue
            }
            Some(transaction) if transaction.rcpt_to.is_empty() => {
                self.error(Reply::new(554, [5, 5, 1], "no valid recipients"));
                Next::Continue
            }
            Some(_) => {
                self.reply(Reply {
                    code: 354,
                    status: None,
                    lines: vec!["end data with <CR><LF>.<CR><LF>".to_string()],
                });
                Next::Data
            }
        }
    }

    /// Reads the message after 354 and answers it.
    async fn data(&mut self, transport: &mut Transport) -> Result<(), SessionEnd> {
        let Some(transaction) = self.transaction.take() else {
            return Ok(());
        };
        self.flush(transport).await?;
        let max_bytes = self.config.max_message_bytes;
        let mut unstuffer = Unstuffer::new(max_bytes, self.config.max_line_bytes);
        // The client's SIZE spares the copies of a growing buffer, within reason: a client
        // may announce the maximum and send nothing.
        let capacity = transaction
            .size_hint
            .saturating_add(1024)
            .clamp(16 * 1024, MAX_PREALLOCATION);
        let mut message = Vec::with_capacity(capacity);
        loop {
            let used = unstuffer.feed(self.input.pending(), &mut message);
            self.input.consume(used);
            if unstuffer.is_done() {
                break;
            }
            let timeout = self.config.data_timeout;
            match tokio::time::timeout(timeout, self.input.fill(transport)).await {
                Err(_) => {
                    let text =
                        format!("{} timeout waiting for data, closing", self.config.hostname);
                    self.reply(Reply::new(421, [4, 4, 2], text));
                    let _ = self.flush(transport).await;
                    return Err(SessionEnd::Timeout);
                }
                Ok(Err(error)) => return Err(SessionEnd::Io(error)),
                Ok(Ok(0)) => return Err(SessionEnd::Closed),
                Ok(Ok(_)) => {}
            }
        }
        if unstuffer.too_big() {
            let text = format!("message size exceeds the limit of {max_bytes} bytes");
            self.reply(Reply::new(552, [5, 3, 4], text));
            return Ok(());
        }
        if unstuffer.line_too_long() {
            let text = format!(
                "message has a line longer than {} bytes",
                self.config.max_line_bytes
            );
            self.reply(Reply::new(554, [5, 6, 0], text));
            return Ok(());
        }
        let envelope = Envelope {
            mail_from: transaction.mail_from,
            rcpt_to: transaction.rcpt_to,
            helo: self.helo.clone().unwrap_or_default(),
            client: self.peer,
            smtputf8: transaction.smtputf8,
            body_8bit: transaction.body_8bit,
        };
        let received = Received {
            envelope,
            message,
            tls: self.tls,
            esmtp: self.esmtp,
        };
        let reply = self.handler.message(received).await;
        self.reply(reply);
        Ok(())
    }

    fn starttls_command(&mut self) -> Next {
        if self.tls {
            self.error(Reply::new(503, [5, 5, 1], "TLS already active"));
            return Next::Continue;
        }
        if self.config.tls.is_none() {
            self.error(Reply::new(502, [5, 5, 1], "STARTTLS not available"));
            return Next::Continue;
        }
        self.reply(Reply::new(220, [2, 0, 0], "ready to start TLS"));
        Next::StartTls
    }

    async fn start_tls(&mut self, transport: Transport) -> Result<Transport, SessionEnd> {
        let mut transport = transport;
        self.flush(&mut transport).await?;
        // Anything pipelined after STARTTLS was sent in clear: drop it (RFC 3207 §4.2).
        self.input.clear();
        let (Transport::Plain(stream), Some(tls)) = (transport, self.config.tls.clone()) else {
            return Err(SessionEnd::Closed);
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let handshake = tokio::time::timeout(self.config.command_timeout, acceptor.accept(stream));
        let stream = match handshake.await {
            Err(_) => return Err(SessionEnd::Timeout),
            Ok(Err(error)) => return Err(SessionEnd::Io(error)),
            Ok(Ok(stream)) => stream,
        };
        // RFC 3207 §4.2: the client starts again with EHLO.
        self.helo = None;
        self.esmtp = false;
        self.transaction = None;
        self.tls = true;
        Ok(Transport::Tls(Box::new(stream.into())))
    }
}

/// The reply to a command smtp-proto could not parse.
fn parse_error_reply(error: &smtp_proto::Error) -> Reply {
    use smtp_proto::Error;
    match error {
        Error::UnknownCommand => Reply::new(500, [5, 5, 1], "command not recognised"),
        Error::InvalidSenderAddress => Reply::new(501, [5, 1, 7], "invalid sender address"),
        Error::InvalidRecipientAddress => Reply::new(501, [5, 1, 3], "invalid recipient address"),
        Error::SyntaxError { syntax } => {
            Reply::new(501, [5, 5, 2], format!("syntax error, expected {syntax}"))
        }
        Error::InvalidParameter { param } => {
            Reply::new(501, [5, 5, 4], format!("invalid value for {param}"))
        }
        Error::UnsupportedParameter { param } => {
            let param: String = param
                .chars()
                .filter(char::is_ascii_graphic)
                .take(64)
                .collect();
            Reply::new(555, [5, 5, 4], format!("parameter {param} not supported"))
        }
        Error::ResponseTooLong => Reply::new(500, [5, 5, 2], "line too long"),
        Error::NeedsMoreData { .. } | Error::InvalidResponse { .. } => {
            Reply::new(500, [5, 5, 2], "syntax error")
        }
    }
}

/// An address may carry non-ASCII only under SMTPUTF8 (RFC 6531 §3.3), and never control
/// characters (they would end up in headers and logs).
fn check_address(address: &str, smtputf8: bool) -> Result<(), Reply> {
    if address
        .chars()
        .any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER)
    {
        return Err(Reply::new(501, [5, 1, 3], "invalid characters in address"));
    }
    if !smtputf8 && !address.is_ascii() {
        return Err(Reply::new(
            553,
            [5, 6, 7],
            "non-ASCII address requires the SMTPUTF8 parameter",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_match_by_prefix() {
        let network: Network = "10.1.0.0/16".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(network.contains("10.1.200.3".parse().unwrap_or_else(|e| panic!("{e}"))));
        assert!(!network.contains("10.2.0.1".parse().unwrap_or_else(|e| panic!("{e}"))));
        let loopback = Network::loopback();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(loopback.iter().any(|n| n.contains(mapped)));
        let outside: IpAddr = "192.0.2.1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(!loopback.iter().any(|n| n.contains(outside)));
        let odd: Network = "192.0.2.128/25".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(odd.contains("192.0.2.200".parse().unwrap_or_else(|e| panic!("{e}"))));
        assert!(!odd.contains("192.0.2.100".parse().unwrap_or_else(|e| panic!("{e}"))));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("example".parse::<Network>().is_err());
    }

    #[test]
    fn addresses_need_smtputf8_for_non_ascii() {
        assert!(check_address("user@example.jp", false).is_ok());
        assert_eq!(
            check_address("ユーザー@例え.jp", false).map_err(|reply| reply.code),
            Err(553)
        );
        assert!(check_address("ユーザー@例え.jp", true).is_ok());
        assert!(check_address("a\u{7}b@example.jp", true).is_err());
    }
}
