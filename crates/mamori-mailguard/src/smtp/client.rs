//! The SMTP client that hands messages to the next hop.
//!
//! One [`Connection`] carries many transactions (the relay keeps a few open). It says EHLO
//! (HELO when EHLO is refused), uses STARTTLS when the next hop offers it **and** a
//! [`NextHopTls`] is configured — the next hop's certificate is then verified against the
//! configured CA file and server name. Without a `NextHopTls` the connection stays in clear
//! text: the next hop is normally the organisation's own MTA on the same host or network; set
//! [`NextHopTls::required`] to refuse to deliver in clear.
//!
//! PIPELINING is used when offered (MAIL, every RCPT and DATA in one write). SIZE, 8BITMIME
//! and SMTPUTF8 are passed on when the next hop offers them; a message that needs SMTPUTF8
//! (a non-ASCII address) cannot be downgraded, so when the next hop lacks it each non-ASCII
//! recipient (or, for a non-ASCII sender, every recipient) fails permanently with that reason.
//!
//! Results are per recipient: one refused recipient does not fail the others.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::net::TcpStream;
use tracing::debug;

use super::{Input, Line, MAX_COMMAND_LINE, Reply, Transport, stuff, write_all};

/// Most lines in one reply; EHLO replies have a dozen or two.
const MAX_REPLY_LINES: usize = 100;

/// How to reach the next hop.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Our name in EHLO.
    pub helo_name: String,
    /// STARTTLS with the next hop, when configured; see the module documentation.
    pub tls: Option<NextHopTls>,
    pub timeouts: ClientTimeouts,
}

/// TLS towards the next hop.
#[derive(Debug, Clone)]
pub struct NextHopTls {
    pub config: Arc<rustls::ClientConfig>,
    /// The name the next hop's certificate must carry.
    pub server_name: ServerName<'static>,
    /// Refuse to deliver when the next hop does not offer STARTTLS (otherwise: clear text).
    pub required: bool,
}

impl NextHopTls {
    /// Trusts the certificates of the PEM file `ca_file` (and only those) for `server_name`.
    pub fn from_ca_file(
        ca_file: &Path,
        server_name: &str,
        required: bool,
    ) -> Result<NextHopTls, ClientError> {
        let ca_error = |reason: String| ClientError::CaFile {
            path: ca_file.display().to_string(),
            reason,
        };
        let mut roots = rustls::RootCertStore::empty();
        let certificates =
            CertificateDer::pem_file_iter(ca_file).map_err(|error| ca_error(error.to_string()))?;
        for certificate in certificates {
            let certificate = certificate.map_err(|error| ca_error(error.to_string()))?;
            roots
                .add(certificate)
                .map_err(|error| ca_error(error.to_string()))?;
        }
        if roots.is_empty() {
            return Err(ca_error("no certificate in the file".to_string()));
        }
        let name =
            ServerName::try_from(server_name.to_string()).map_err(|_| ClientError::ServerName {
                name: server_name.to_string(),
            })?;
        // The provider is named: with more than one compiled in, rustls cannot pick a default.
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|error| ca_error(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(NextHopTls {
            config: Arc::new(config),
            server_name: name,
            required,
        })
    }
}

/// How long to wait for each reply; defaults are RFC 5321 §4.5.3.2's.
#[derive(Debug, Clone, Copy)]
pub struct ClientTimeouts {
    pub connect: Duration,
    /// The 220 greeting (5 minutes); also EHLO, STARTTLS, RSET and QUIT.
    pub greeting: Duration,
    /// MAIL FROM (5 minutes).
    pub mail: Duration,
    /// Each RCPT TO (5 minutes).
    pub rcpt: Duration,
    /// The 354 to DATA (2 minutes).
    pub data_start: Duration,
    /// Each write of message data (3 minutes).
    pub data_block: Duration,
    /// The reply after the final dot (10 minutes).
    pub data_end: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> ClientTimeouts {
        ClientTimeouts {
            connect: Duration::from_secs(30),
            greeting: Duration::from_secs(300),
            mail: Duration::from_secs(300),
            rcpt: Duration::from_secs(300),
            data_start: Duration::from_secs(120),
            data_block: Duration::from_secs(180),
            data_end: Duration::from_secs(600),
        }
    }
}

/// Where in a conversation something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Connect,
    Greeting,
    Ehlo,
    StartTls,
    Mail,
    Rcpt,
    Data,
    Body,
    DataEnd,
    Rset,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Stage::Connect => "connecting",
            Stage::Greeting => "waiting for the greeting",
            Stage::Ehlo => "after EHLO",
            Stage::StartTls => "during STARTTLS",
            Stage::Mail => "after MAIL FROM",
            Stage::Rcpt => "after RCPT TO",
            Stage::Data => "after DATA",
            Stage::Body => "sending the message",
            Stage::DataEnd => "after the end of data",
            Stage::Rset => "after RSET",
        };
        f.write_str(text)
    }
}

/// A failure of the connection to the next hop (as opposed to a refusal of one recipient):
/// every recipient of the transaction stays to be tried again.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connection to the next hop failed {stage}: {source}")]
    Io {
        stage: Stage,
        #[source]
        source: io::Error,
    },
    #[error("the next hop did not answer in time ({stage})")]
    Timeout { stage: Stage },
    #[error("the next hop closed the connection ({stage})")]
    Closed { stage: Stage },
    #[error("the next hop sent a malformed reply ({stage})")]
    Protocol { stage: Stage },
    #[error("the next hop answered \"{reply}\" ({stage})")]
    Refused { stage: Stage, reply: Reply },
    #[error("the next hop does not offer STARTTLS and TLS is required")]
    TlsRequired,
    #[error("TLS handshake with the next hop failed: {0}")]
    Tls(#[source] io::Error),
    #[error("cannot use CA file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("invalid TLS server name {name:?} for the next hop")]
    ServerName { name: String },
}

impl ClientError {
    /// Where it happened; `None` for configuration errors.
    pub fn stage(&self) -> Option<Stage> {
        match self {
            ClientError::Io { stage, .. }
            | ClientError::Timeout { stage }
            | ClientError::Closed { stage }
            | ClientError::Protocol { stage }
            | ClientError::Refused { stage, .. } => Some(*stage),
            ClientError::TlsRequired | ClientError::Tls(_) => Some(Stage::StartTls),
            ClientError::CaFile { .. } | ClientError::ServerName { .. } => None,
        }
    }

    /// Nothing of the message can have reached the next hop: a reused connection that turned
    /// out dead may be replaced and the transaction tried again at once.
    pub fn before_data(&self) -> bool {
        self.stage().is_some_and(|stage| stage < Stage::Body)
    }
}

/// What the next hop offered in its EHLO reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extensions {
    pub pipelining: bool,
    pub starttls: bool,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    /// `SIZE` with a limit (0: no limit stated).
    pub size: Option<usize>,
}

impl Extensions {
    fn parse(reply: &Reply) -> Extensions {
        let mut extensions = Extensions::default();
        // The first line is the greeting, the others one keyword each.
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let keyword = words.next().unwrap_or_default().to_ascii_uppercase();
            match keyword.as_str() {
                "PIPELINING" => extensions.pipelining = true,
                "STARTTLS" => extensions.starttls = true,
                "8BITMIME" => extensions.eight_bit_mime = true,
                "SMTPUTF8" => extensions.smtputf8 = true,
                "SIZE" => {
                    let limit = words.next().and_then(|word| word.parse().ok()).unwrap_or(0);
                    extensions.size = Some(limit);
                }
                _ => {}
            }
        }
        extensions
    }
}

/// One message to hand over.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// Empty for a bounce.
    pub mail_from: &'a str,
    pub rcpt_to: &'a [String],
    /// The message, possibly in parts (each starting a line), sent one after the other.
    pub message: &'a [&'a [u8]],
    /// The client asked for SMTPUTF8.
    pub smtputf8: bool,
    /// The client declared `BODY=8BITMIME`.
    pub body_8bit: bool,
}

impl Outgoing<'_> {
    /// The message's size in bytes.
    pub fn size(&self) -> usize {
        self.message.iter().map(|part| part.len()).sum()
    }
}

/// What became of one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The next hop took responsibility for it.
    Delivered,
    /// Try again later (a 4xx).
    Deferred,
    /// Do not try again (a 5xx, or impossible here): bounce.
    Failed,
}

/// The result for one recipient, in the order of [`Outgoing::rcpt_to`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientResult {
    pub status: Status,
    /// The next hop's reply, or why we did not try.
    pub detail: String,
    /// The enhanced status code, from the reply or ours.
    pub code: Option<[u16; 3]>,
}

impl RecipientResult {
    fn from_reply(status: Status, reply: &Reply) -> RecipientResult {
        RecipientResult {
            status,
            detail: reply.one_line(),
            code: reply.status.or(Some(default_status(reply.code))),
        }
    }

    fn ours(status: Status, code: [u16; 3], detail: impl Into<String>) -> RecipientResult {
        RecipientResult {
            status,
            detail: detail.into(),
            code: Some(code),
        }
    }
}

fn default_status(code: u16) -> [u16; 3] {
    match code {
        200..=299 => [2, 0, 0],
        400..=499 => [4, 0, 0],
        _ => [5, 0, 0],
    }
}

fn status_of(reply: &Reply) -> Status {
    if reply.is_positive() {
        Status::Delivered
    } else if reply.is_permanent() {
        Status::Failed
    } else {
        Status::Deferred
    }
}

/// An open, greeted connection to the next hop.
pub struct Connection {
    transport: Transport,
    input: Input,
    extensions: Extensions,
    timeouts: ClientTimeouts,
    peer: SocketAddr,
    /// A transaction was left half-way: RSET before the next one.
    needs_reset: bool,
    /// The conversation is out of step: do not use again.
    broken: bool,
}

impl Connection {
    /// Connects, reads the greeting, says EHLO and starts TLS when configured and offered.
    pub async fn open(
        address: SocketAddr,
        config: &ClientConfig,
    ) -> Result<Connection, ClientError> {
        let timeouts = config.timeouts;
        let stream = match tokio::time::timeout(timeouts.connect, TcpStream::connect(address)).await
        {
            Err(_) => {
                return Err(ClientError::Timeout {
                    stage: Stage::Connect,
                });
            }
            Ok(Err(source)) => {
                return Err(ClientError::Io {
                    stage: Stage::Connect,
                    source,
                });
            }
            Ok(Ok(stream)) => stream,
        };
        let _ = stream.set_nodelay(true);
        let mut connection = Connection {
            transport: Transport::Plain(stream),
            input: Input::new(),
            extensions: Extensions::default(),
            timeouts,
            peer: address,
            needs_reset: false,
            broken: false,
        };
        let greeting = connection
            .read_reply(timeouts.greeting, Stage::Greeting)
            .await?;
        if greeting.code != 220 {
            return Err(ClientError::Refused {
                stage: Stage::Greeting,
                reply: greeting,
            });
        }
        connection.hello(&config.helo_name).await?;
        match &config.tls {
            Some(tls) if connection.extensions.starttls => {
                connection.start_tls(tls).await?;
                connection.hello(&config.helo_name).await?;
            }
            Some(tls) if tls.required => return Err(ClientError::TlsRequired),
            _ => {}
        }
        debug!(peer = %address, tls = connection.transport.is_tls(), "connected to the next hop");
        Ok(connection)
    }

    /// The next hop's extensions.
    pub fn extensions(&self) -> Extensions {
        self.extensions
    }

    /// The conversation is over TLS.
    pub fn is_tls(&self) -> bool {
        self.transport.is_tls()
    }

    /// Still usable for another transaction.
    pub fn is_usable(&self) -> bool {
        !self.broken
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    async fn hello(&mut self, helo_name: &str) -> Result<(), ClientError> {
        self.send_line(&format!("EHLO {helo_name}\r\n"), Stage::Ehlo)
            .await?;
        let reply = self.read_reply(self.timeouts.greeting, Stage::Ehlo).await?;
        if reply.is_positive() {
            self.extensions = Extensions::parse(&reply);
            return Ok(());
        }
        // RFC 5321 §3.2: an old server refuses EHLO; HELO then, without extensions.
        self.send_line(&format!("HELO {helo_name}\r\n"), Stage::Ehlo)
            .await?;
        let reply = self.read_reply(self.timeouts.greeting, Stage::Ehlo).await?;
        if !reply.is_positive() {
            return Err(ClientError::Refused {
                stage: Stage::Ehlo,
                reply,
            });
        }
        self.extensions = Extensions::default();
        Ok(())
    }

    async fn start_tls(&mut self, tls: &NextHopTls) -> Result<(), ClientError> {
        self.send_line("STARTTLS\r\n", Stage::StartTls).await?;
        let reply = self
            .read_reply(self.timeouts.greeting, Stage::StartTls)
            .await?;
        if reply.code != 220 {
            return Err(ClientError::Refused {
                stage: Stage::StartTls,
                reply,
            });
        }
        // Nothing the server sent in clear may be read as part of the TLS session.
        self.input.clear();
        let Transport::Plain(stream) = std::mem::replace(&mut self.transport, Transport::Closed)
        else {
            return Err(self.fail(ClientError::Protocol {
                stage: Stage::StartTls,
            }));
        };
        let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
        let handshake = connector.connect(tls.server_name.clone(), stream);
        let stream = match tokio::time::timeout(self.timeouts.greeting, handshake).await {
            Err(_) => {
                return Err(self.fail(ClientError::Timeout {
                    stage: Stage::StartTls,
                }));
            }
            Ok(Err(error)) => return Err(self.fail(ClientError::Tls(error))),
            Ok(Ok(stream)) => stream,
        };
        self.transport = Transport::Tls(Box::new(stream.into()));
        Ok(())
    }

    /// Hands one message over and says what became of each recipient. `Err` means the
    /// connection failed: every recipient not already decided is to be tried again, and the
    /// connection must not be used again.
    pub async fn send(
        &mut self,
        outgoing: Outgoing<'_>,
    ) -> Result<Vec<RecipientResult>, ClientError> {
        let mut results: Vec<Option<RecipientResult>> = vec![None; outgoing.rcpt_to.len()];
        self.refuse_impossible(&outgoing, &mut results);
        // The next hop may take only so many recipients per transaction (452 4.5.3): go on with
        // the rest at once as long as each round delivers some.
        loop {
            let round: Vec<usize> = (0..outgoing.rcpt_to.len())
                .filter(|&index| results.get(index).is_some_and(Option::is_none))
                .collect();
            if round.is_empty() {
                break;
            }
            let round_results = self.transaction(&outgoing, &round).await?;
            let mut delivered_some = false;
            let mut too_many = Vec::new();
            for (&index, result) in round.iter().zip(round_results) {
                delivered_some |= result.status == Status::Delivered;
                let over_limit =
                    result.status == Status::Deferred && result.code == Some([4, 5, 3]);
                if over_limit {
                    too_many.push(index);
                }
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(result);
                }
            }
            if !delivered_some || too_many.is_empty() {
                break;
            }
            for index in too_many {
                if let Some(slot) = results.get_mut(index) {
                    *slot = None;
                }
            }
        }
        Ok(results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| {
                    RecipientResult::ours(Status::Deferred, [4, 0, 0], "not attempted")
                })
            })
            .collect())
    }

    /// Fails now what the next hop cannot take: a message too large for its SIZE, and
    /// addresses that need SMTPUTF8 when it lacks it.
    fn refuse_impossible(&self, outgoing: &Outgoing<'_>, results: &mut [Option<RecipientResult>]) {
        let size = outgoing.size();
        if let Some(limit) = self.extensions.size
            && limit > 0
            && size > limit
        {
            let detail =
                format!("message of {size} bytes exceeds the next hop's limit of {limit} bytes");
            for slot in results.iter_mut() {
                *slot = Some(RecipientResult::ours(
                    Status::Failed,
                    [5, 3, 4],
                    detail.clone(),
                ));
            }
            return;
        }
        if self.extensions.smtputf8 {
            return;
        }
        let sender_needs_utf8 = !outgoing.mail_from.is_ascii();
        for (slot, recipient) in results.iter_mut().zip(outgoing.rcpt_to) {
            if sender_needs_utf8 || !recipient.is_ascii() {
                let whose = if sender_needs_utf8 {
                    "sender"
                } else {
                    "recipient"
                };
                let detail = format!(
                    "the next hop does not support SMTPUTF8, required for the non-ASCII {whose} address"
                );
                *slot = Some(RecipientResult::ours(Status::Failed, [5, 6, 7], detail));
            }
        }
    }

    /// One MAIL/RCPT/DATA transaction for the recipients at `indexes`.
    async fn transaction(
        &mut self,
        outgoing: &Outgoing<'_>,
        indexes: &[usize],
    ) -> Result<Vec<RecipientResult>, ClientError> {
        if self.needs_reset {
            self.reset().await?;
        }
        self.needs_reset = true;
        let mail = self.mail_command(outgoing);
        let recipients: Vec<&String> = indexes
            .iter()
            .filter_map(|&index| outgoing.rcpt_to.get(index))
            .collect();
        let pipelining = self.extensions.pipelining;
        if pipelining {
            let mut batch = mail.clone();
            for recipient in &recipients {
                batch.push_str(&format!("RCPT TO:<{recipient}>\r\n"));
            }
            batch.push_str("DATA\r\n");
            self.send_line(&batch, Stage::Mail).await?;
        } else {
            self.send_line(&mail, Stage::Mail).await?;
        }

        let mail_reply = self.read_reply(self.timeouts.mail, Stage::Mail).await?;
        let mail_ok = mail_reply.is_positive();
        let mut results = Vec::with_capacity(recipients.len());
        for recipient in &recipients {
            if !pipelining && !mail_ok {
                results.push(RecipientResult::from_reply(
                    status_of(&mail_reply),
                    &mail_reply,
                ));
                continue;
            }
            if !pipelining {
                self.send_line(&format!("RCPT TO:<{recipient}>\r\n"), Stage::Rcpt)
                    .await?;
            }
            let reply = self.read_reply(self.timeouts.rcpt, Stage::Rcpt).await?;
            if mail_ok {
                results.push(RecipientResult::from_reply(status_of(&reply), &reply));
            } else {
                results.push(RecipientResult::from_reply(
                    status_of(&mail_reply),
                    &mail_reply,
                ));
            }
        }
        let any_accepted = results
            .iter()
            .any(|result| result.status == Status::Delivered);
        let data_reply = if pipelining {
            Some(
                self.read_reply(self.timeouts.data_start, Stage::Data)
                    .await?,
            )
        } else if any_accepted {
            self.send_line("DATA\r\n", Stage::Data).await?;
            Some(
                self.read_reply(self.timeouts.data_start, Stage::Data)
                    .await?,
            )
        } else {
            None
        };
        let Some(data_reply) = data_reply else {
            return Ok(results);
        };
        if data_reply.code != 354 {
            for result in results
                .iter_mut()
                .filter(|result| result.status == Status::Delivered)
            {
                *result = RecipientResult::from_reply(status_of_failure(&data_reply), &data_reply);
            }
            return Ok(results);
        }
        if !any_accepted {
            // RFC 2920 §3.1: a server must not say 354 when no recipient was accepted. Sending
            // an empty message would be worse than hanging up.
            self.broken = true;
            return Ok(results);
        }
        let wire = stuff(outgoing.message);
        match tokio::time::timeout(
            self.timeouts.data_block,
            write_all(&mut self.transport, &wire),
        )
        .await
        {
            Err(_) => return Err(self.fail(ClientError::Timeout { stage: Stage::Body })),
            Ok(Err(source)) => {
                return Err(self.fail(ClientError::Io {
                    stage: Stage::Body,
                    source,
                }));
            }
            Ok(Ok(())) => {}
        }
        let final_reply = self
            .read_reply(self.timeouts.data_end, Stage::DataEnd)
            .await?;
        if final_reply.is_positive() {
            self.needs_reset = false;
        }
        for result in results
            .iter_mut()
            .filter(|result| result.status == Status::Delivered)
        {
            *result = RecipientResult::from_reply(status_of(&final_reply), &final_reply);
        }
        Ok(results)
    }

    fn mail_command(&self, outgoing: &Outgoing<'_>) -> String {
        let mut command = format!("MAIL FROM:<{}>", outgoing.mail_from);
        if self.extensions.size.is_some() {
            command.push_str(&format!(" SIZE={}", outgoing.size()));
        }
        let has_8bit = outgoing.body_8bit
            || outgoing.smtputf8
            || outgoing.message.iter().any(|part| !part.is_ascii());
        if has_8bit && self.extensions.eight_bit_mime {
            command.push_str(" BODY=8BITMIME");
        }
        let envelope_utf8 =
            !outgoing.mail_from.is_ascii() || outgoing.rcpt_to.iter().any(|r| !r.is_ascii());
        if (outgoing.smtputf8 || envelope_utf8) && self.extensions.smtputf8 {
            command.push_str(" SMTPUTF8");
        }
        command.push_str("\r\n");
        command
    }

    async fn reset(&mut self) -> Result<(), ClientError> {
        self.send_line("RSET\r\n", Stage::Rset).await?;
        let reply = self.read_reply(self.timeouts.greeting, Stage::Rset).await?;
        if !reply.is_positive() {
            return Err(self.fail(ClientError::Refused {
                stage: Stage::Rset,
                reply,
            }));
        }
        self.needs_reset = false;
        Ok(())
    }

    /// Says QUIT and closes, without waiting long for the answer.
    pub async fn quit(mut self) {
        if self.broken {
            return;
        }
        let quit = async {
            if self.send_line("QUIT\r\n", Stage::Rset).await.is_ok() {
                let _ = self.read_reply(Duration::from_secs(5), Stage::Rset).await;
            }
            let _ = super::shutdown(&mut self.transport).await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), quit).await;
    }

    fn fail(&mut self, error: ClientError) -> ClientError {
        self.broken = true;
        error
    }

    async fn send_line(&mut self, text: &str, stage: Stage) -> Result<(), ClientError> {
        let timeout = self.timeouts.greeting;
        match tokio::time::timeout(timeout, write_all(&mut self.transport, text.as_bytes())).await {
            Err(_) => Err(self.fail(ClientError::Timeout { stage })),
            Ok(Err(source)) => Err(self.fail(ClientError::Io { stage, source })),
            Ok(Ok(())) => Ok(()),
        }
    }

    async fn read_reply(&mut self, timeout: Duration, stage: Stage) -> Result<Reply, ClientError> {
        match tokio::time::timeout(timeout, self.read_reply_inner(stage)).await {
            Err(_) => Err(self.fail(ClientError::Timeout { stage })),
            Ok(Err(error)) => Err(self.fail(error)),
            Ok(Ok(reply)) => Ok(reply),
        }
    }

    async fn read_reply_inner(&mut self, stage: Stage) -> Result<Reply, ClientError> {
        let mut texts = Vec::new();
        loop {
            let (start, end) = match self.input.next_line(MAX_COMMAND_LINE) {
                Line::Complete { start, end } => (start, end),
                Line::TooLong => return Err(ClientError::Protocol { stage }),
                Line::Incomplete => match self.input.fill(&mut self.transport).await {
                    Err(source) => return Err(ClientError::Io { stage, source }),
                    Ok(0) => return Err(ClientError::Closed { stage }),
                    Ok(_) => continue,
                },
            };
            let line = self.input.bytes().get(start..end).unwrap_or_default();
            let Some((code, is_last, text)) = Reply::parse_line(line) else {
                return Err(ClientError::Protocol { stage });
            };
            texts.push(text);
            if is_last {
                return Ok(Reply::from_lines(code, texts));
            }
            if texts.len() >= MAX_REPLY_LINES {
                return Err(ClientError::Protocol { stage });
            }
        }
    }
}

/// A DATA refusal for recipients the next hop had accepted: a 2xx or 3xx other than 354 is
/// out of step, so try again later.
fn status_of_failure(reply: &Reply) -> Status {
    if reply.is_permanent() {
        Status::Failed
    } else {
        Status::Deferred
    }
}
