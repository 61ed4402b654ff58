//! Delivery status notifications (RFC 3464): the bounce sent to a message's sender for the
//! recipients it could not be delivered to.
//!
//! The report is `multipart/report; report-type=delivery-status` with three parts: an English
//! explanation, the machine-readable `message/delivery-status`, and the original message's
//! **headers only** (`text/rfc822-headers`) — the body is not sent back, so a bounce never
//! carries the content the guard may just have stopped. When an address is non-ASCII the
//! internationalised forms of RFC 6533 are used (`message/global-delivery-status`,
//! `message/global-headers`, `utf-8;` address types).

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Most bytes of the original headers returned.
const MAX_RETURNED_HEADERS: usize = 64 * 1024;

/// One recipient the message could not be delivered to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecipient {
    pub address: String,
    /// The enhanced status code (RFC 3463), e.g. `[5, 1, 1]`.
    pub status: [u16; 3],
    /// The next hop's reply or our reason, one line.
    pub diagnostic: String,
    /// The diagnostic is the next hop's SMTP reply (rather than our own reason).
    pub from_next_hop: bool,
}

/// What the report is about.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// Our host name (`Reporting-MTA`).
    pub reporting_mta: &'a str,
    /// The original message's queue id.
    pub queue_id: &'a str,
    /// The original envelope sender, to whom the report goes.
    pub sender: &'a str,
    pub arrival: Timestamp,
    pub now: Timestamp,
    pub failed: &'a [FailedRecipient],
    /// The original message; only its header section is returned.
    pub original: &'a [u8],
}

/// The report as a message, ready to be sent with an empty reverse path to `report.sender`.
pub fn compose(report: &Report<'_>) -> Vec<u8> {
    let global = !report.sender.is_ascii()
        || report
            .failed
            .iter()
            .any(|failed| !failed.address.is_ascii());
    let headers = header_section(report.original);
    let mut boundary = format!("=_mamori_dsn_{}", report.queue_id);
    while contains(headers, boundary.as_bytes()) {
        boundary.push('_');
    }
    let address_type = if global { "utf-8" } else { "rfc822" };
    let (status_type, headers_type) = if global {
        ("message/global-delivery-status", "message/global-headers")
    } else {
        ("message/delivery-status", "text/rfc822-headers")
    };
    let reporting_mta = report.reporting_mta;
    let mut out = String::with_capacity(2048 + headers.len());
    out.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{reporting_mta}>\r\n"
    ));
    out.push_str(&format!("To: <{}>\r\n", report.sender));
    out.push_str("Subject: Undelivered Mail Returned to Sender\r\n");
    out.push_str(&format!("Date: {}\r\n", rfc2822(report.now)));
    out.push_str(&format!(
        "Message-ID: <{}.dsn@{reporting_mta}>\r\n",
        report.queue_id
    ));
    // RFC 3834: an automatic reply, not to be answered automatically.
    out.push_str("Auto-Submitted: auto-replied\r\n");
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str(&format!(
        "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n"
    ));
    out.push_str("\r\nThis is a MIME-encapsulated delivery status notification.\r\n");

    out.push_str(&format!("\r\n--{boundary}\r\n"));
    let charset = if global { "utf-8" } else { "us-ascii" };
    out.push_str(&format!("Content-Type: text/plain; charset={charset}\r\n"));
    if global {
        out.push_str("Content-Transfer-Encoding: 8bit\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&format!(
        "This is the mail system at {reporting_mta}.\r\n\r\n\
         Your message (queue id {}) could not be delivered to the following\r\n\
         recipients. The message headers are attached; the body is not.\r\n\r\n",
        report.queue_id
    ));
    for failed in report.failed {
        out.push_str(&format!(
            "<{}>: {}\r\n",
            failed.address,
            one_line(&failed.diagnostic)
        ));
    }

    out.push_str(&format!("\r\n--{boundary}\r\n"));
    out.push_str(&format!("Content-Type: {status_type}\r\n\r\n"));
    out.push_str(&format!("Reporting-MTA: dns; {reporting_mta}\r\n"));
    out.push_str(&format!("X-Mamori-Queue-ID: {}\r\n", report.queue_id));
    out.push_str(&format!("Arrival-Date: {}\r\n", rfc2822(report.arrival)));
    for failed in report.failed {
        let [class, subject, detail] = failed.status;
        out.push_str(&format!(
            "\r\nFinal-Recipient: {address_type}; {}\r\n",
            failed.address
        ));
        out.push_str("Action: failed\r\n");
        out.push_str(&format!("Status: {class}.{subject}.{detail}\r\n"));
        let diagnostic_type = if failed.from_next_hop {
            "smtp"
        } else {
            "x-mamori"
        };
        out.push_str(&format!(
            "Diagnostic-Code: {diagnostic_type}; {}\r\n",
            one_line(&failed.diagnostic)
        ));
        out.push_str(&format!("Last-Attempt-Date: {}\r\n", rfc2822(report.now)));
    }

    out.push_str(&format!("\r\n--{boundary}\r\n"));
    out.push_str(&format!("Content-Type: {headers_type}\r\n"));
    if !headers.is_ascii() {
        out.push_str("Content-Transfer-Encoding: 8bit\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(headers);
    if !headers.ends_with(b"\r\n") {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

/// The original's header section (without the blank line), at most
/// [`MAX_RETURNED_HEADERS`] bytes, cut at a line end.
fn header_section(message: &[u8]) -> &[u8] {
    let end = find(message, b"\r\n\r\n").map_or(message.len(), |index| index + 2);
    let headers = message.get(..end).unwrap_or(message);
    if headers.len() <= MAX_RETURNED_HEADERS {
        return headers;
    }
    let capped = headers.get(..MAX_RETURNED_HEADERS).unwrap_or(headers);
    match capped.iter().rposition(|&byte| byte == b'\n') {
        Some(index) => capped.get(..=index).unwrap_or(capped),
        None => &[],
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `Sat, 15 Jun 2024 07:00:00 +0000`.
pub fn rfc2822(timestamp: Timestamp) -> String {
    let zoned = timestamp.to_zoned_datetime(TimeZone::UTC);
    jiff::fmt::rfc2822::to_string(&zoned).unwrap_or_else(|_| timestamp.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_report_names_each_failed_recipient_and_returns_only_headers() {
        let failed = vec![FailedRecipient {
            address: "nobody@example.jp".into(),
            status: [5, 1, 1],
            diagnostic: "550 5.1.1 no such user".into(),
            from_next_hop: true,
        }];
        let original = b"Subject: hello\r\nMessage-ID: <a@b>\r\n\r\nsecret body\r\n";
        let report = Report {
            reporting_mta: "guard.example.jp",
            queue_id: "q1",
            sender: "alice@example.jp",
            arrival: Timestamp::UNIX_EPOCH,
            now: Timestamp::UNIX_EPOCH,
            failed: &failed,
            original,
        };
        let text = String::from_utf8(compose(&report)).unwrap();
        assert!(text.contains("To: <alice@example.jp>\r\n"));
        assert!(text.contains("report-type=delivery-status"));
        assert!(text.contains("Final-Recipient: rfc822; nobody@example.jp\r\n"));
        assert!(text.contains("Status: 5.1.1\r\n"));
        assert!(text.contains("Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"));
        assert!(text.contains("Subject: hello\r\n"));
        assert!(!text.contains("secret body"));
        assert!(text.contains("Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n"));
    }

    #[test]
    fn non_ascii_addresses_use_the_global_forms() {
        let failed = vec![FailedRecipient {
            address: "ユーザー@例え.jp".into(),
            status: [5, 6, 7],
            diagnostic: "no SMTPUTF8".into(),
            from_next_hop: false,
        }];
        let report = Report {
            reporting_mta: "guard.example.jp",
            queue_id: "q2",
            sender: "alice@example.jp",
            arrival: Timestamp::UNIX_EPOCH,
            now: Timestamp::UNIX_EPOCH,
            failed: &failed,
            original: b"Subject: x\r\n\r\nbody",
        };
        let text = String::from_utf8(compose(&report)).unwrap();
        assert!(text.contains("message/global-delivery-status"));
        assert!(text.contains("Final-Recipient: utf-8; ユーザー@例え.jp\r\n"));
    }
}
