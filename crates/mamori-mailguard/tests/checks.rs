//! The mail guard's reading of messages, its checks and its policy, on mail written the way
//! Japanese clients write it: ISO-2022-JP encoded words, raw ISO-2022-JP and Shift_JIS
//! header fields, Shift_JIS and EUC-JP bodies, RFC 2231 Japanese file names.
//!
//! `cargo test -p mamori-mailguard --test checks -- --ignored --nocapture` also prints the
//! time `decide` takes on 100 kB messages (figures, not assertions).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use mamori_mailguard::checks::{self, History, HistoryLimits, RiskLevel, SenderFacts, Senders};
use mamori_mailguard::decision::{Action, Decision, Envelope, Guard};
use mamori_mailguard::message::{self, Mailbox};
use mamori_mailguard::policy::{MailGuard, Policy, PolicyError};

// ---------------------------------------------------------------------------------------------
// Building mail
// ---------------------------------------------------------------------------------------------

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Base64 in lines of 76 characters, as mail carries it.
fn base64_lines(bytes: &[u8]) -> String {
    let text = base64(bytes);
    let mut out = String::new();
    for line in text.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push_str("\r\n");
    }
    out
}

fn jis(text: &str) -> Vec<u8> {
    encoding_rs::ISO_2022_JP.encode(text).0.into_owned()
}

fn sjis(text: &str) -> Vec<u8> {
    encoding_rs::SHIFT_JIS.encode(text).0.into_owned()
}

fn euc_jp(text: &str) -> Vec<u8> {
    encoding_rs::EUC_JP.encode(text).0.into_owned()
}

/// `=?ISO-2022-JP?B?…?=`, as Japanese mail programs write display names and subjects.
fn jis_word(text: &str) -> String {
    format!("=?ISO-2022-JP?B?{}?=", base64(&jis(text)))
}

/// RFC 2231 percent-encoding of bytes.
fn percent(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fn envelope(from: &str, to: &[&str]) -> Envelope {
    Envelope {
        mail_from: from.to_owned(),
        rcpt_to: to.iter().map(|s| (*s).to_owned()).collect(),
        helo: "client.example.co.jp".to_owned(),
        client: SocketAddr::from(([127, 0, 0, 1], 40000)),
        smtputf8: false,
        body_8bit: false,
    }
}

/// A plain message: headers given, a short ASCII body.
fn mail(headers: &str, body: &str) -> Vec<u8> {
    format!("{headers}Subject: test\r\nMessage-ID: <m1@example.co.jp>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{body}\r\n").into_bytes()
}

/// A message to `to` (header and envelope) from taro@example.co.jp.
fn mail_to(to: &[&str]) -> (Envelope, Vec<u8>) {
    let header = format!("From: taro@example.co.jp\r\nTo: {}\r\n", to.join(", "));
    (envelope("taro@example.co.jp", to), mail(&header, "hello"))
}

/// A multipart message with one attachment.
fn mail_with_attachment(to: &str, name: &str, content_type: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "From: taro@example.co.jp\r\nTo: {to}\r\nSubject: files\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nplease see the file\r\n\
         --b1\r\nContent-Type: {content_type}; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    out.extend_from_slice(base64_lines(bytes).as_bytes());
    out.extend_from_slice(b"--b1--\r\n");
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip of one stored entry; `encrypted` sets the traditional-encryption flag (bit 0) in
/// the local and central headers, as `zip -e` does.
fn zip(name: &str, data: &[u8], encrypted: bool) -> Vec<u8> {
    let flags: u16 = if encrypted { 1 } else { 0 } | 0x0800;
    let crc = crc32(data);
    let size = data.len() as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // stored
    out.extend_from_slice(&[0; 4]); // time, date
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(data);
    let central = out.len() as u32;
    out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0; 12]); // extra, comment, disk, internal and external attributes
    out.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    out.extend_from_slice(name.as_bytes());
    let central_size = out.len() as u32 - central;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&central_size.to_le_bytes());
    out.extend_from_slice(&central.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A one-page PDF whose content stream shows `lines` of text (uncompressed).
fn pdf(lines: &[String]) -> Vec<u8> {
    let mut stream = String::from("BT /F1 10 Tf 40 800 Td 12 TL\n");
    for line in lines {
        stream.push_str(&format!("({line}) '\n"));
    }
    stream.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!("<< /Length {} >>\nstream\n{stream}endstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

// ---------------------------------------------------------------------------------------------
// The guard under test
// ---------------------------------------------------------------------------------------------

/// Own domain example.co.jp, partner partner.co.jp, no learning period (the history of a
/// test starts empty, and every check should act).
const POLICY: &str = r#"
default_approver = "security@example.co.jp"
[domains]
own = ["example.co.jp"]
partner = ["partner.co.jp"]
[first_external_domain]
learning_days = 0
"#;

fn guard_with(policy: &str, senders: Senders) -> MailGuard {
    let policy = Policy::from_toml(policy).unwrap();
    MailGuard::from_policy(policy, Arc::new(senders), History::in_memory().unwrap()).unwrap()
}

fn guard() -> MailGuard {
    guard_with(POLICY, Senders::new())
}

fn checks_of(decision: &Decision) -> Vec<&'static str> {
    decision.reasons.iter().map(|r| r.check).collect()
}

/// Teaches the guard that taro has written to each of `to` (as the relay does after
/// delivery).
fn deliver(guard: &MailGuard, from: &str, header_to: &str, rcpt: &[&str]) {
    let raw = mail(&format!("From: {from}\r\nTo: {header_to}\r\n"), "earlier");
    guard.delivered(&envelope(from, rcpt), &raw);
}

// ---------------------------------------------------------------------------------------------
// Reading messages
// ---------------------------------------------------------------------------------------------

#[test]
fn iso_2022_jp_encoded_word_display_names_are_decoded() {
    let raw = format!(
        "From: {} <taro@example.co.jp>\r\nTo: {} <yamada@partner.co.jp>,\r\n {} <sato@partner.co.jp>\r\n\
         Cc: {}\r\n <suzuki@example.co.jp>\r\nReply-To: taro@example.co.jp\r\n\
         Subject: {}\r\nMessage-ID: <abc@example.co.jp>\r\n\r\nbody\r\n",
        jis_word("田中 太郎"),
        jis_word("山田 太郎"),
        jis_word("佐藤 花子"),
        jis_word("鈴木"),
        jis_word("お見積りの件"),
    );
    let message = message::read(raw.as_bytes());
    assert_eq!(message.unreadable, None);
    assert_eq!(
        message.from,
        vec![Mailbox {
            name: Some("田中 太郎".into()),
            address: "taro@example.co.jp".into()
        }]
    );
    let to: Vec<(&str, &str)> = message
        .to
        .iter()
        .map(|m| (m.name.as_deref().unwrap(), m.address.as_str()))
        .collect();
    assert_eq!(
        to,
        vec![
            ("山田 太郎", "yamada@partner.co.jp"),
            ("佐藤 花子", "sato@partner.co.jp")
        ]
    );
    assert_eq!(message.cc[0].name.as_deref(), Some("鈴木"));
    assert_eq!(message.reply_to[0].address, "taro@example.co.jp");
    assert_eq!(message.subject.as_deref(), Some("お見積りの件"));
    assert_eq!(message.message_id.as_deref(), Some("abc@example.co.jp"));
}

#[test]
fn raw_iso_2022_jp_and_shift_jis_header_fields_are_transcoded() {
    // Older clients write display names in raw ISO-2022-JP (7 bits, with escapes) or raw
    // Shift_JIS, without encoded words; read as they are, their bytes break the addresses.
    // One client writes one encoding; each field here is from a different one.
    let mut raw = b"From: ".to_vec();
    raw.extend_from_slice(&jis("田中 太郎"));
    raw.extend_from_slice(b" <taro@example.co.jp>\r\nTo: \"");
    raw.extend_from_slice(&sjis("山田 太郎"));
    raw.extend_from_slice(b"\" <yamada@partner.co.jp>,\r\n \"");
    raw.extend_from_slice(&sjis("佐藤 花子"));
    raw.extend_from_slice(b"\" <sato@partner.co.jp>\r\nCc: ");
    raw.extend_from_slice(&euc_jp("鈴木 一郎"));
    raw.extend_from_slice(b" <suzuki@partner.co.jp>\r\nReply-To: ");
    raw.extend_from_slice(&jis("田中"));
    raw.extend_from_slice(b" <taro@example.co.jp>\r\nSubject: x\r\n\r\nbody\r\n");
    let message = message::read(&raw);
    assert_eq!(message.unreadable, None);
    assert_eq!(message.from[0].name.as_deref(), Some("田中 太郎"));
    assert_eq!(message.reply_to[0].name.as_deref(), Some("田中"));
    let to: Vec<(Option<&str>, &str)> = message
        .to
        .iter()
        .map(|m| (m.name.as_deref(), m.address.as_str()))
        .collect();
    assert_eq!(
        to,
        vec![
            (Some("山田 太郎"), "yamada@partner.co.jp"),
            (Some("佐藤 花子"), "sato@partner.co.jp")
        ]
    );
    assert_eq!(message.cc[0].name.as_deref(), Some("鈴木 一郎"));
}

#[test]
fn japanese_bodies_are_decoded_from_their_charset() {
    let text = "いつもお世話になっております。山田です。";
    for (charset, bytes, encoding) in [
        ("Shift_JIS", sjis(text), "8bit"),
        ("EUC-JP", euc_jp(text), "8bit"),
        ("ISO-2022-JP", jis(text), "7bit"),
    ] {
        let mut raw = format!(
            "From: taro@example.co.jp\r\nTo: yamada@partner.co.jp\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
        )
        .into_bytes();
        raw.extend_from_slice(&bytes);
        raw.extend_from_slice(b"\r\n");
        let message = message::read(&raw);
        assert_eq!(message.text.trim_end(), text, "{charset}");
    }
}

#[test]
fn attachment_names_are_decoded_from_rfc_2231_and_encoded_words() {
    let pdf_bytes = b"%PDF-1.4\n%%EOF\n".to_vec();
    let xlsx_bytes = b"PK\x03\x04 not really".to_vec();
    let csv_bytes = sjis("氏名,電話\r\n山田,03-1234-5678\r\n");
    let raw = format!(
        "From: taro@example.co.jp\r\nTo: yamada@partner.co.jp\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n\
         --=_b\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\nbody\r\n\
         --=_b\r\nContent-Type: application/pdf\r\n\
         Content-Disposition: attachment;\r\n filename*0*=UTF-8''{};\r\n filename*1*={}\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\
         --=_b\r\nContent-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;\r\n name=\"{}\"\r\n\
         Content-Disposition: attachment; filename*=ISO-2022-JP''{}\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\
         --=_b\r\nContent-Type: text/csv; charset=Shift_JIS; name=\"{}\"\r\n\
         Content-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\
         --=_b--\r\n",
        percent("御見積書".as_bytes()),
        percent("_2024年度.pdf".as_bytes()),
        base64_lines(&pdf_bytes),
        jis_word("顧客一覧.xlsx"),
        percent(&jis("顧客一覧.xlsx")),
        base64_lines(&xlsx_bytes),
        jis_word("名簿.csv"),
        base64_lines(&csv_bytes),
    );
    let message = message::read(raw.as_bytes());
    assert_eq!(message.unreadable, None);
    assert_eq!(message.text.trim_end(), "body");
    let names: Vec<&str> = message
        .attachments
        .iter()
        .map(|a| a.name.as_deref().unwrap())
        .collect();
    assert_eq!(
        names,
        ["御見積書_2024年度.pdf", "顧客一覧.xlsx", "名簿.csv"]
    );
    let pdf = &message.attachments[0];
    assert_eq!(pdf.content_type, "application/pdf");
    assert_eq!(pdf.bytes, pdf_bytes);
    assert_eq!(pdf.size, pdf_bytes.len());
    assert_eq!(
        message.attachments[1].content_type,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(message.attachments[1].bytes, xlsx_bytes);
    // A text attachment comes converted from its charset.
    assert_eq!(
        String::from_utf8(message.attachments[2].bytes.clone()).unwrap(),
        "氏名,電話\r\n山田,03-1234-5678\r\n"
    );
}

#[test]
fn raw_shift_jis_attachment_names_are_decoded() {
    let mut raw = b"From: taro@example.co.jp\r\nTo: yamada@partner.co.jp\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n\
        --b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\""
        .to_vec();
    raw.extend_from_slice(&sjis("請求書.pdf"));
    raw.extend_from_slice(b"\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n");
    let message = message::read(&raw);
    assert_eq!(message.attachments[0].name.as_deref(), Some("請求書.pdf"));
    assert_eq!(message.attachments[0].bytes, b"%PDF-");
}

#[test]
fn groups_are_flattened_and_undisclosed_recipients_are_not_addresses() {
    let raw = mail(
        "From: taro@example.co.jp\r\nTo: undisclosed-recipients:;\r\nCc: Team: a@partner.co.jp, b@partner.co.jp;\r\n",
        "x",
    );
    let message = message::read(&raw);
    assert_eq!(message.unreadable, None);
    assert!(message.to.is_empty());
    let cc: Vec<&str> = message.cc.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(cc, ["a@partner.co.jp", "b@partner.co.jp"]);
}

#[test]
fn what_cannot_be_read_is_reported_not_skipped() {
    assert!(message::read(b"").unreadable.is_some());
    assert!(message::read(b"\r\n\r\n").unreadable.is_some());
    let no_address = message::read(&mail(
        "From: taro@example.co.jp\r\nTo: Yamada Taro\r\n",
        "x",
    ));
    assert!(
        no_address.unreadable.as_deref().unwrap().contains("To"),
        "{:?}",
        no_address.unreadable
    );
    let garbage = message::read(&mail("From: taro@example.co.jp\r\nCc: <<<@@@>\r\n", "x"));
    assert!(garbage.unreadable.is_some());
    // The near miss: a well-formed message is read.
    assert_eq!(
        message::read(&mail_to(&["a@partner.co.jp"]).1).unreadable,
        None
    );
}

// ---------------------------------------------------------------------------------------------
// move_to_bcc
// ---------------------------------------------------------------------------------------------

#[test]
fn move_to_bcc_rewrites_to_and_removes_folded_cc_only() {
    let mut raw = b"Received: from client\r\nFrom: taro@example.co.jp\r\n\
        To: a@partner.co.jp,\r\n\tb@partner.co.jp\r\n\
        Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\r\n\
        CC: c@partner.co.jp,\r\n d@partner.co.jp,\r\n e@partner.co.jp\r\n\
        X-Mailer: test\r\nCc: f@partner.co.jp\r\n\r\n"
        .to_vec();
    let mut body = b"To: not a header\r\nCc: nor this\r\n".to_vec();
    body.extend_from_slice(&sjis("本文はそのまま"));
    body.extend_from_slice(b"\r\n");
    raw.extend_from_slice(&body);
    let rewritten = message::move_to_bcc(&raw);
    let mut expected = b"Received: from client\r\nFrom: taro@example.co.jp\r\n\
        To: undisclosed-recipients:;\r\n\
        Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=\r\n\
        X-Mailer: test\r\n\r\n"
        .to_vec();
    expected.extend_from_slice(&body);
    assert_eq!(rewritten, expected);
    let read = message::read(&rewritten);
    assert!(read.to.is_empty() && read.cc.is_empty());
    assert_eq!(read.unreadable, None);
}

#[test]
fn move_to_bcc_keeps_bare_line_feeds_and_adds_to_for_cc_only_mail() {
    let raw = b"From: taro@example.co.jp\nCc: a@partner.co.jp\nSubject: s\n\nbody\n";
    assert_eq!(
        message::move_to_bcc(raw),
        b"From: taro@example.co.jp\nTo: undisclosed-recipients:;\nSubject: s\n\nbody\n"
    );
    // Without To or Cc nothing changes.
    let bcc_only = b"From: taro@example.co.jp\r\nSubject: s\r\n\r\nbody\r\n";
    assert_eq!(message::move_to_bcc(bcc_only), bcc_only);
}

// ---------------------------------------------------------------------------------------------
// Look-alike domains
// ---------------------------------------------------------------------------------------------

#[test]
fn lookalike_domains_of_own_and_partner_domains_are_held() {
    let guard = guard();
    for lookalike in [
        "yamada@examp1e.co.jp",
        "yamada@partner.jp",
        "yamada@partnerr.co.jp",
    ] {
        let (envelope, raw) = mail_to(&[lookalike]);
        let decision = guard.decide(&envelope, &raw);
        assert!(
            checks_of(&decision).contains(&checks::LOOKALIKE_DOMAIN),
            "{lookalike}: {decision:?}"
        );
        assert_eq!(decision.action, Action::HoldForSender, "{lookalike}");
        let reason = decision
            .reasons
            .iter()
            .find(|r| r.check == checks::LOOKALIKE_DOMAIN)
            .unwrap();
        let domain = lookalike.split('@').nth(1).unwrap();
        assert!(
            reason.en.contains(domain) && reason.ja.contains(domain),
            "{reason:?}"
        );
    }
}

#[test]
fn own_partner_and_unrelated_domains_are_not_lookalikes() {
    let guard = guard();
    for address in [
        "suzuki@example.co.jp",
        "suzuki@mail.example.co.jp",
        "yamada@partner.co.jp",
        "someone@unrelated-company.com",
    ] {
        let (envelope, raw) = mail_to(&[address]);
        let decision = guard.decide(&envelope, &raw);
        assert!(
            !checks_of(&decision).contains(&checks::LOOKALIKE_DOMAIN),
            "{address}: {decision:?}"
        );
    }
}

#[test]
fn a_lookalike_only_in_the_envelope_is_found() {
    // A Bcc recipient is not in the header; the envelope still names it.
    let guard = guard();
    let raw = mail(
        "From: taro@example.co.jp\r\nTo: yamada@partner.co.jp\r\n",
        "x",
    );
    let decision = guard.decide(
        &envelope(
            "taro@example.co.jp",
            &["yamada@partner.co.jp", "x@examp1e.co.jp"],
        ),
        &raw,
    );
    assert!(checks_of(&decision).contains(&checks::LOOKALIKE_DOMAIN));
}

// ---------------------------------------------------------------------------------------------
// First-time domains
// ---------------------------------------------------------------------------------------------

#[test]
fn a_domain_new_to_the_organisation_then_to_the_sender_then_known() {
    let guard = guard();
    let (envelope, raw) = mail_to(&["info@newcustomer.co.jp"]);

    let decision = guard.decide(&envelope, &raw);
    assert_eq!(checks_of(&decision), [checks::FIRST_EXTERNAL_DOMAIN_ORG]);
    assert_eq!(decision.action, Action::Delay { minutes: 5 });

    // A colleague writes there: the organisation knows the domain, taro still does not.
    deliver(
        &guard,
        "hanako@example.co.jp",
        "info@newcustomer.co.jp",
        &["info@newcustomer.co.jp"],
    );
    let decision = guard.decide(&envelope, &raw);
    assert_eq!(checks_of(&decision), [checks::FIRST_EXTERNAL_DOMAIN]);
    assert!(decision.reasons[0].en.contains("taro@example.co.jp"));
    assert!(decision.reasons[0].en.contains("newcustomer.co.jp"));

    // Taro's own message is delivered: known from now on.
    guard.delivered(&envelope, &raw);
    let decision = guard.decide(&envelope, &raw);
    assert_eq!(decision, Decision::pass());
}

#[test]
fn internal_recipients_are_never_first_time_domains() {
    let guard = guard();
    let (envelope, raw) = mail_to(&["suzuki@example.co.jp", "sato@sales.example.co.jp"]);
    assert_eq!(guard.decide(&envelope, &raw), Decision::pass());
}

#[test]
fn decisions_alone_teach_the_history_nothing() {
    // Only delivered mail counts: a message decided (and then perhaps cancelled) does not.
    let guard = guard();
    let (envelope, raw) = mail_to(&["info@newcustomer.co.jp"]);
    guard.decide(&envelope, &raw);
    let again = guard.decide(&envelope, &raw);
    assert_eq!(checks_of(&again), [checks::FIRST_EXTERNAL_DOMAIN_ORG]);
}

#[test]
fn during_the_learning_period_first_time_domains_are_reported_not_acted_on() {
    let policy = POLICY.replace("learning_days = 0", "learning_days = 14");
    let guard = guard_with(&policy, Senders::new());
    let (envelope, raw) = mail_to(&["info@newcustomer.co.jp"]);
    let now = jiff::Timestamp::now();
    let decision = guard.decide_at(&envelope, &raw, now);
    assert_eq!(checks_of(&decision), [checks::FIRST_EXTERNAL_DOMAIN_ORG]);
    assert_eq!(decision.action, Action::Pass);
    let later = now + jiff::SignedDuration::from_hours(15 * 24);
    assert_eq!(
        guard.decide_at(&envelope, &raw, later).action,
        Action::Delay { minutes: 5 }
    );
}

// ---------------------------------------------------------------------------------------------
// Many outside addresses
// ---------------------------------------------------------------------------------------------

fn addresses(n: usize, domain: &str) -> Vec<String> {
    (0..n).map(|i| format!("person{i}@{domain}")).collect()
}

#[test]
fn eleven_outside_addresses_are_moved_to_bcc_ten_are_not() {
    let guard = guard();
    // Known domain, so only many_external can speak.
    deliver(
        &guard,
        "taro@example.co.jp",
        "x@partner.co.jp",
        &["x@partner.co.jp"],
    );
    for (n, expected) in [(10, false), (11, true)] {
        let to = addresses(n, "partner.co.jp");
        let to: Vec<&str> = to.iter().map(String::as_str).collect();
        let (envelope, raw) = mail_to(&to);
        let decision = guard.decide(&envelope, &raw);
        assert_eq!(decision.move_to_bcc, expected, "{n}: {decision:?}");
        assert_eq!(
            checks_of(&decision).contains(&checks::MANY_EXTERNAL),
            expected,
            "{n}"
        );
        assert_eq!(decision.action, Action::Pass, "{n}");
    }
}

#[test]
fn internal_and_bcc_recipients_do_not_count_as_many_external() {
    let guard = guard();
    deliver(
        &guard,
        "taro@example.co.jp",
        "x@partner.co.jp",
        &["x@partner.co.jp"],
    );
    // 10 outside + 5 inside in To, 20 outside only in the envelope (Bcc).
    let mut to = addresses(10, "partner.co.jp");
    to.extend(addresses(5, "example.co.jp"));
    let header = format!("From: taro@example.co.jp\r\nTo: {}\r\n", to.join(", "));
    let mut rcpt = to.clone();
    rcpt.extend(
        addresses(20, "partner.co.jp")
            .into_iter()
            .map(|a| a.replace("person", "bcc")),
    );
    let rcpt: Vec<&str> = rcpt.iter().map(String::as_str).collect();
    let decision = guard.decide(&envelope("taro@example.co.jp", &rcpt), &mail(&header, "x"));
    assert!(!decision.move_to_bcc, "{decision:?}");
}

#[test]
fn many_external_may_hold_for_the_sender_instead() {
    let policy = format!("{POLICY}[many_external]\nthreshold = 3\naction = \"hold_sender\"\n");
    let guard = guard_with(&policy, Senders::new());
    deliver(
        &guard,
        "taro@example.co.jp",
        "x@partner.co.jp",
        &["x@partner.co.jp"],
    );
    let to = addresses(4, "partner.co.jp");
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let (envelope, raw) = mail_to(&to);
    let decision = guard.decide(&envelope, &raw);
    assert_eq!(decision.action, Action::HoldForSender);
    assert!(!decision.move_to_bcc);
}

// ---------------------------------------------------------------------------------------------
// Display name / address mismatch
// ---------------------------------------------------------------------------------------------

#[test]
fn a_known_name_with_another_address_is_held() {
    let guard = guard();
    deliver(
        &guard,
        "taro@example.co.jp",
        &format!("{} <yamada@partner.co.jp>", jis_word("山田 太郎")),
        &["yamada@partner.co.jp"],
    );
    // Same name (full-width space this time), a look-alike-free but different domain, and
    // a free-mail address.
    for address in ["yamada@partner-group.com", "yamada.taro@gmail.com"] {
        let header = format!(
            "From: taro@example.co.jp\r\nTo: {} <{address}>\r\n",
            jis_word("山田　太郎")
        );
        let decision = guard.decide(
            &envelope("taro@example.co.jp", &[address]),
            &mail(&header, "x"),
        );
        let reason = decision
            .reasons
            .iter()
            .find(|r| r.check == checks::NAME_MISMATCH)
            .unwrap_or_else(|| panic!("{address}: {decision:?}"));
        assert!(reason.en.contains("yamada@partner.co.jp") && reason.en.contains(address));
        assert_eq!(decision.action, Action::HoldForSender);
    }
}

#[test]
fn the_same_name_at_the_same_address_is_fine() {
    let guard = guard();
    let header_to = format!("{} <yamada@partner.co.jp>", jis_word("山田 太郎"));
    deliver(
        &guard,
        "taro@example.co.jp",
        &header_to,
        &["yamada@partner.co.jp"],
    );
    let header = format!("From: taro@example.co.jp\r\nTo: {header_to}\r\n");
    let decision = guard.decide(
        &envelope("taro@example.co.jp", &["yamada@partner.co.jp"]),
        &mail(&header, "x"),
    );
    assert_eq!(decision, Decision::pass());
    // Another sender's contacts are not taro's: hanako has never written to 山田 太郎.
    let header = format!(
        "From: hanako@example.co.jp\r\nTo: {} <yamada@partner-group.com>\r\n",
        jis_word("山田 太郎")
    );
    let decision = guard.decide(
        &envelope("hanako@example.co.jp", &["yamada@partner-group.com"]),
        &mail(&header, "x"),
    );
    assert!(!checks_of(&decision).contains(&checks::NAME_MISMATCH));
}

#[test]
fn a_display_name_that_is_another_address_is_a_mismatch() {
    let guard = guard();
    let header =
        "From: taro@example.co.jp\r\nTo: \"yamada@partner.co.jp\" <yamada@evil.example>\r\n";
    let decision = guard.decide(
        &envelope("taro@example.co.jp", &["yamada@evil.example"]),
        &mail(header, "x"),
    );
    assert!(
        checks_of(&decision).contains(&checks::NAME_MISMATCH),
        "{decision:?}"
    );
    let same = "From: taro@example.co.jp\r\nTo: \"yamada@evil.example\" <yamada@evil.example>\r\n";
    let decision = guard.decide(
        &envelope("taro@example.co.jp", &["yamada@evil.example"]),
        &mail(same, "x"),
    );
    assert!(!checks_of(&decision).contains(&checks::NAME_MISMATCH));
}

// ---------------------------------------------------------------------------------------------
// Sensitive content and encrypted archives
// ---------------------------------------------------------------------------------------------

const MY_NUMBER: &str = "123456789018";

#[test]
fn personal_data_to_outside_recipients_is_held_for_approval_without_its_value() {
    let guard = guard();
    deliver(
        &guard,
        "taro@example.co.jp",
        "x@partner.co.jp",
        &["x@partner.co.jp"],
    );
    let body = format!("山田様\r\n\r\n個人番号：{MY_NUMBER}\r\nカード番号 4111 1111 1111 1111\r\n");
    let (envelope, _) = mail_to(&["yamada@partner.co.jp"]);
    let raw = mail(
        "From: taro@example.co.jp\r\nTo: yamada@partner.co.jp\r\n",
        &body,
    );
    let decision = guard.decide(&envelope, &raw);
    let reason = decision
        .reasons
        .iter()
        .find(|r| r.check == checks::SENSITIVE_CONTENT)
        .unwrap_or_else(|| panic!("{decision:?}"));
    assert!(reason.en.contains("1 × My Number"), "{}", reason.en);
    assert!(reason.en.contains("1 × card number"), "{}", reason.en);
    assert!(reason.ja.contains("マイナンバー 1 件"), "{}", reason.ja);
    let all = format!("{decision:?}");
    assert!(
        !all.contains(MY_NUMBER) && !all.contains("4111"),
        "values leaked: {all}"
    );
    assert_eq!(
        decision.action,
        Action::HoldForApproval {
            approver: Some("security@example.co.jp".into())
        }
    );
}

#[test]
fn the_same_content_to_internal_recipients_passes() {
    let guard = guard();
    let body = format!("個人番号：{MY_NUMBER}\r\n【社外秘】\r\n");
    let raw = mail(
        "From: taro@example.co.jp\r\nTo: suzuki@example.co.jp\r\n",
        &body,
    );
    let decision = guard.decide(
        &envelope("taro@example.co.jp", &["suzuki@example.co.jp"]),
        &raw,
    );
    assert_eq!(decision, Decision::pass());
}

/// The shared prevention policy's `email` rules act on mail too: a departing sender's
/// labelled attachment to an unsanctioned domain is held for them (justify), a classified
/// message to a domain outside the sanctioned list warns (a delay), and a block rejects.
#[test]
fn the_prevention_policy_is_asked_about_mail_to_outside_recipients() {
    let prevention = mamori_policy::Policy::from_toml(
        r#"format = 1
        name = "acme"
        revision = 4
        sanctioned_domains = ["partner.co.jp"]
        [[rules]]
        id = "mail-leaver"
        action = "justify"
        message.ja = "退職予定者の社外送信です。理由を確認してください。"
        when.channels = ["email"]
        when.departing = true
        when.domain_sanctioned = false
        [[rules]]
        id = "mail-classified"
        action = "warn"
        when.channels = ["email"]
        when.labels = ["社外秘"]
        when.domain_sanctioned = false
        [[rules]]
        id = "mail-my-number"
        action = "block"
        when.channels = ["email"]
        when.findings = ["my_number"]
        unless.departments = ["人事部"]"#,
    )
    .unwrap();
    let mut senders = HashMap::new();
    senders.insert(
        "taro@example.co.jp".to_owned(),
        SenderFacts {
            departing: true,
            ..SenderFacts::default()
        },
    );
    let facts = Senders::new();
    facts.replace(senders);
    // The guard's own checks off, except the content inspection the rules need: what
    // happens is the prevention policy's doing.
    let own_checks_off = format!(
        "{POLICY}enabled = false\n[first_external_domain_org]\nenabled = false\n\
         [sensitive_content]\naction = \"pass\"\n[sender_context]\nenabled = false\n"
    );
    let guard = guard_with(&own_checks_off, facts).with_prevention(prevention);
    let text = "【社外秘】\r\n2025年度 事業計画\r\n".as_bytes();
    let decide = |to: &str, raw: &[u8]| guard.decide(&envelope("taro@example.co.jp", &[to]), raw);

    // To an unsanctioned domain: justify (hold for the sender) is the strictest.
    let raw = mail_with_attachment("someone@gmail.com", "plan.txt", "text/plain", text);
    let decision = decide("someone@gmail.com", &raw);
    assert_eq!(decision.action, Action::HoldForSender, "{decision:?}");
    let policy_reasons: Vec<&str> = decision
        .reasons
        .iter()
        .filter(|r| r.check == mamori_mailguard::policy::PREVENTION_POLICY)
        .map(|r| r.ja.as_str())
        .collect();
    assert_eq!(policy_reasons.len(), 2, "{decision:?}");
    assert!(
        policy_reasons[0].contains("退職予定者の社外送信です"),
        "{policy_reasons:?}"
    );
    assert!(
        policy_reasons[1].contains("mail-classified"),
        "{policy_reasons:?}"
    );

    // A sanctioned domain: the leaver rule does not apply; the label only warns elsewhere.
    let raw = mail_with_attachment("yamada@partner.co.jp", "plan.txt", "text/plain", text);
    assert_eq!(decide("yamada@partner.co.jp", &raw).action, Action::Pass);
    let raw = mail_with_attachment("a@contoso.com", "plan.txt", "text/plain", text);
    let mut senders = HashMap::new();
    senders.insert("taro@example.co.jp".to_owned(), SenderFacts::default());
    guard.senders().replace(senders);
    let decision = decide("a@contoso.com", &raw);
    assert!(
        matches!(decision.action, Action::Delay { .. }),
        "warn delays: {decision:?}"
    );

    // A My Number in the body: rejected, whatever the domain.
    let body = format!("個人番号：{MY_NUMBER}\r\n");
    let raw = mail(
        "From: taro@example.co.jp\r\nTo: yamada@partner.co.jp\r\n",
        &body,
    );
    assert_eq!(decide("yamada@partner.co.jp", &raw).action, Action::Reject);

    // Inside the organisation the prevention policy is not asked.
    let raw = mail(
        "From: taro@example.co.jp\r\nTo: suzuki@example.co.jp\r\n",
        &body,
    );
    assert_eq!(decide("suzuki@example.co.jp", &raw), Decision::pass());
}

#[test]
fn a_confidentiality_label_in_an_attachment_is_named() {
    let guard = guard();
    deliver(
        &guard,
        "taro@example.co.jp",
        "x@partner.co.jp",
        &["x@partner.co.jp"],
    );
    let text = "【社外秘】\r\n2025年度 事業計画\r\n".as_bytes();
    let raw = mail_with_attachment("yamada@partner.co.jp", "plan.txt", "text/plain", text);
    let decision = guard.decide(
        &envelope("taro@example.co.jp", &["yamada@partner.co.jp"]),
        &raw,
    );
    let reason = decision
        .reasons
        .iter()
        .find(|r| r.check == checks::SENSITIVE_CONTENT)
        .unwrap_or_else(|| panic!("{decision:?}"));
    assert!(
        reason.en.contains("plan.txt") && reason.en.contains("社外秘"),
        "{}",
        reason.en
    );
    // An ordinary signature with a phone number is not sensitive.
    let plain = mail(
        "From: taro@example.co.jp\r\nTo: yamada@partner.co.jp\r\n",
        "株式会社サンプル 営業部 田中\r\nTEL 03-1234-5678\r\ntaro@example.co.jp",
    );
    let decision = guard.decide(
        &envelope("taro@example.co.jp", &["yamada@partner.co.jp"]),
        &plain,
    );
    assert_eq!(decision, Decision::pass());
}

#[test]
fn a_password_protected_zip_is_flagged_and_a_plain_one_is_not() {
    let guard = guard();
    deliver(
        &guard,
        "taro@example.co.jp",
        "x@partner.co.jp",
        &["x@partner.co.jp"],
    );
    let envelope = envelope("taro@example.co.jp", &["yamada@partner.co.jp"]);
    let locked = zip("見積書.xlsx", b"\x00encrypted bytes\x00", true);
    let raw = mail_with_attachment(
        "yamada@partner.co.jp",
        "mitsumori.zip",
        "application/zip",
        &locked,
    );
    let decision = guard.decide(&envelope, &raw);
    let reason = decision
        .reasons
        .iter()
        .find(|r| r.check == checks::ENCRYPTED_ARCHIVE)
        .unwrap_or_else(|| panic!("{decision:?}"));
    assert!(reason.en.contains("mitsumori.zip"), "{}", reason.en);
    assert!(reason.ja.contains("PPAP"));
    assert_eq!(decision.action, Action::HoldForSender);

    let open = zip("mitsumori.txt", "お見積り金額 100万円".as_bytes(), false);
    let raw = mail_with_attachment(
        "yamada@partner.co.jp",
        "mitsumori.zip",
        "application/zip",
        &open,
    );
    let decision = guard.decide(&envelope, &raw);
    assert_eq!(decision, Decision::pass());
}

#[test]
fn a_password_protected_rar_is_flagged() {
    let guard = guard();
    deliver(
        &guard,
        "taro@example.co.jp",
        "x@partner.co.jp",
        &["x@partner.co.jp"],
    );
    let mut rar = b"Rar!\x1a\x07\x00".to_vec();
    rar.extend_from_slice(&[0, 0, 0x73, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0]);
    rar.extend_from_slice(&[0, 0, 0x74, 0x04, 0x80, 32, 0, 16, 0, 0, 0]);
    rar.extend_from_slice(&[0; 40]);
    let raw = mail_with_attachment(
        "yamada@partner.co.jp",
        "data.rar",
        "application/x-rar",
        &rar,
    );
    let decision = guard.decide(
        &envelope("taro@example.co.jp", &["yamada@partner.co.jp"]),
        &raw,
    );
    assert!(
        checks_of(&decision).contains(&checks::ENCRYPTED_ARCHIVE),
        "{decision:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Sender context
// ---------------------------------------------------------------------------------------------

fn departing_taro() -> Senders {
    Senders::with(HashMap::from([(
        "Taro@Example.co.jp".to_owned(),
        SenderFacts {
            departing: true,
            risk: Some(RiskLevel::Medium),
            supervisor: Some("bucho@example.co.jp".to_owned()),
            user: Some("taro".to_owned()),
        },
    )]))
}

#[test]
fn a_departing_sender_has_every_action_escalated() {
    let guard = guard_with(POLICY, departing_taro());
    // A first-time domain: a delay for anyone else, a hold for a departing sender.
    let (envelope, raw) = mail_to(&["info@newcustomer.co.jp"]);
    let decision = guard.decide(&envelope, &raw);
    assert_eq!(
        checks_of(&decision),
        [checks::FIRST_EXTERNAL_DOMAIN_ORG, checks::SENDER_CONTEXT]
    );
    assert_eq!(decision.action, Action::HoldForSender);
    // A look-alike: hold for sender → hold for the supervisor's approval.
    let (envelope, raw) = mail_to(&["info@examp1e.co.jp"]);
    assert_eq!(
        guard.decide(&envelope, &raw).action,
        Action::HoldForApproval {
            approver: Some("bucho@example.co.jp".into())
        }
    );
}

#[test]
fn a_departing_senders_attachments_to_outside_recipients_need_approval() {
    let guard = guard_with(POLICY, departing_taro());
    deliver(
        &guard,
        "taro@example.co.jp",
        "x@partner.co.jp",
        &["x@partner.co.jp"],
    );
    let raw = mail_with_attachment("yamada@partner.co.jp", "memo.txt", "text/plain", b"hello");
    let decision = guard.decide(
        &envelope("taro@example.co.jp", &["yamada@partner.co.jp"]),
        &raw,
    );
    assert_eq!(
        decision.action,
        Action::HoldForApproval {
            approver: Some("bucho@example.co.jp".into())
        }
    );
    assert!(decision.reasons.iter().any(|r| r.ja.contains("退職予定者")));
    // Without attachments, to a known domain: passes (the reason is still logged).
    let raw = mail(
        "From: taro@example.co.jp\r\nTo: yamada@partner.co.jp\r\n",
        "x",
    );
    let decision = guard.decide(
        &envelope("taro@example.co.jp", &["yamada@partner.co.jp"]),
        &raw,
    );
    assert_eq!(decision.action, Action::Pass);
    assert_eq!(checks_of(&decision), [checks::SENDER_CONTEXT]);
    // Internal mail: nothing to say.
    let (envelope, raw) = mail_to(&["suzuki@example.co.jp"]);
    assert_eq!(guard.decide(&envelope, &raw), Decision::pass());
}

#[test]
fn a_high_risk_sender_is_stricter_and_a_medium_one_is_not() {
    for (risk, expected) in [
        (RiskLevel::Medium, Action::Delay { minutes: 5 }),
        (RiskLevel::High, Action::HoldForSender),
        (RiskLevel::Critical, Action::HoldForSender),
    ] {
        let senders = Senders::with(HashMap::from([(
            "taro@example.co.jp".to_owned(),
            SenderFacts {
                risk: Some(risk),
                ..SenderFacts::default()
            },
        )]));
        let guard = guard_with(POLICY, senders);
        let (envelope, raw) = mail_to(&["info@newcustomer.co.jp"]);
        assert_eq!(guard.decide(&envelope, &raw).action, expected, "{risk:?}");
    }
}

#[test]
fn senders_are_replaced_at_run_time() {
    let senders = Arc::new(Senders::new());
    let policy = Policy::from_toml(POLICY).unwrap();
    let guard = MailGuard::from_policy(policy, Arc::clone(&senders), History::in_memory().unwrap())
        .unwrap();
    let (envelope, raw) = mail_to(&["info@newcustomer.co.jp"]);
    assert_eq!(
        guard.decide(&envelope, &raw).action,
        Action::Delay { minutes: 5 }
    );
    senders.replace(HashMap::from([(
        "taro@example.co.jp".to_owned(),
        SenderFacts {
            departing: true,
            ..SenderFacts::default()
        },
    )]));
    assert_eq!(guard.decide(&envelope, &raw).action, Action::HoldForSender);
    senders.replace(HashMap::new());
    assert_eq!(
        guard.decide(&envelope, &raw).action,
        Action::Delay { minutes: 5 }
    );
}

// ---------------------------------------------------------------------------------------------
// Unreadable messages, combination
// ---------------------------------------------------------------------------------------------

#[test]
fn an_unreadable_message_to_outside_is_held_for_the_sender() {
    let guard = guard();
    let decision = guard.decide(&envelope("taro@example.co.jp", &["a@partner.co.jp"]), b"");
    assert!(checks_of(&decision).contains(&checks::UNREADABLE_MESSAGE));
    assert_eq!(decision.action, Action::HoldForSender);
}

#[test]
fn every_reason_is_kept_and_the_strictest_action_wins() {
    let guard = guard();
    // A look-alike (hold for sender), a new domain (delay) and My Number (hold for approval).
    let body = format!("個人番号：{MY_NUMBER}\r\n");
    let raw = mail(
        "From: taro@example.co.jp\r\nTo: a@examp1e.co.jp, b@newcustomer.co.jp\r\n",
        &body,
    );
    let decision = guard.decide(
        &envelope(
            "taro@example.co.jp",
            &["a@examp1e.co.jp", "b@newcustomer.co.jp"],
        ),
        &raw,
    );
    let found = checks_of(&decision);
    for check in [
        checks::LOOKALIKE_DOMAIN,
        checks::FIRST_EXTERNAL_DOMAIN_ORG,
        checks::SENSITIVE_CONTENT,
    ] {
        assert!(found.contains(&check), "{check}: {found:?}");
    }
    assert_eq!(
        decision.action,
        Action::HoldForApproval {
            approver: Some("security@example.co.jp".into())
        }
    );
}

#[test]
fn a_rejecting_policy_rejects() {
    let policy = format!("{POLICY}[lookalike_domain]\naction = \"reject\"\n");
    let guard = guard_with(&policy, Senders::new());
    let (envelope, raw) = mail_to(&["a@examp1e.co.jp"]);
    assert_eq!(guard.decide(&envelope, &raw).action, Action::Reject);
}

#[test]
fn disabled_checks_say_nothing() {
    let policy = format!(
        "{POLICY}[first_external_domain_org]\nenabled = false\n[lookalike_domain]\nenabled = false\n"
    );
    let guard = guard_with(&policy, Senders::new());
    let (envelope, raw) = mail_to(&["a@examp1e.co.jp"]);
    assert_eq!(guard.decide(&envelope, &raw), Decision::pass());
}

// ---------------------------------------------------------------------------------------------
// Policy files
// ---------------------------------------------------------------------------------------------

fn policy_error(text: &str) -> (String, String) {
    match Policy::from_toml(text) {
        Err(PolicyError::Invalid { field, message }) => (field, message),
        other => panic!("expected an invalid policy, got {other:?}"),
    }
}

#[test]
fn policy_errors_name_the_field() {
    let cases = [
        (
            "[many_external]\ntreshold = 3\n",
            "many_external.treshold",
            "unknown field",
        ),
        (
            "[many_external]\nthreshold = \"ten\"\n",
            "many_external.threshold",
            "invalid type",
        ),
        (
            "[lookalike_domain]\naction = \"quarantine\"\n",
            "lookalike_domain.action",
            "unknown variant",
        ),
        (
            "[first_external_domain]\nminutes = 0\n",
            "first_external_domain.minutes",
            "between 1",
        ),
        (
            "[name_mismatch]\naction = \"move_to_bcc\"\n",
            "name_mismatch.action",
            "only for many_external",
        ),
        (
            "[sensitive_content]\nkinds = [\"my_number\", \"blood_type\"]\n",
            "sensitive_content.kinds[1]",
            "blood_type",
        ),
        (
            "[sensitive_content]\nmin_confidence = 1.5\n",
            "sensitive_content.min_confidence",
            "between 0 and 1",
        ),
        (
            "[sender_context]\nmin_risk = \"severe\"\n",
            "sender_context.min_risk",
            "unknown variant",
        ),
        (
            "default_approver = \"bucho\"\n",
            "default_approver",
            "not an e-mail address",
        ),
        ("version = 2\n", "version", "version 2"),
        ("colour = \"red\"\n", "colour", "unknown field"),
    ];
    for (text, field, words) in cases {
        let (got_field, message) = policy_error(text);
        assert_eq!(got_field, field, "{text}");
        assert!(message.contains(words), "{text}: {message}");
        let shown = Policy::from_toml(text).unwrap_err().to_string();
        assert!(shown.starts_with(&format!("{field}: ")), "{shown}");
    }
    // A syntax error is about the file: no field, but a line.
    let (field, message) = policy_error("[many_external\n");
    assert_eq!(field, "");
    assert!(message.contains("line 1"), "{message}");
}

#[test]
fn an_empty_policy_is_the_default() {
    assert_eq!(Policy::from_toml("").unwrap(), Policy::default());
    let policy = Policy::default();
    assert_eq!(policy.many_external.threshold, 10);
    assert_eq!(policy.first_external_domain.minutes, 5);
}

#[test]
fn an_invalid_protected_domain_is_refused() {
    let policy = Policy::from_toml("[domains]\nown = [\"not a domain\"]\n").unwrap();
    let error = MailGuard::from_policy(
        policy,
        Arc::new(Senders::new()),
        History::in_memory().unwrap(),
    )
    .unwrap_err();
    assert!(error.to_string().starts_with("domains: "), "{error}");
}

#[test]
fn the_example_policy_is_valid_and_complete() {
    let text = include_str!("../../../docs/mailguard.toml");
    let policy = Policy::from_toml(text).unwrap();
    assert_eq!(policy.domains.own, ["example.co.jp"]);
    // Every key of the default policy is written out in the example.
    let table: toml::Table = toml::from_str(text).unwrap();
    let defaults = toml::Table::try_from(Policy::default()).unwrap();
    for (section, value) in &defaults {
        let Some(keys) = value.as_table() else {
            assert!(table.contains_key(section), "{section}");
            continue;
        };
        let written = table[section].as_table().unwrap();
        for key in keys.keys() {
            assert!(
                written.contains_key(key),
                "{section}.{key} is not in the example"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

#[test]
fn the_history_persists_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    let now = jiff::Timestamp::now();
    {
        let history = History::open(&path).unwrap();
        let delivery = checks::Delivery {
            sender: "taro@example.co.jp".into(),
            domains: vec!["partner.co.jp".into()],
            contacts: vec![(
                checks::normalize_name("山田 太郎"),
                "yamada@partner.co.jp".into(),
            )],
        };
        history.record(&delivery, now).unwrap();
    }
    let history = History::open(&path).unwrap();
    assert!(
        history
            .sender_knows_domain("taro@example.co.jp", "partner.co.jp")
            .unwrap()
    );
    assert!(
        !history
            .sender_knows_domain("hanako@example.co.jp", "partner.co.jp")
            .unwrap()
    );
    assert!(history.organisation_knows_domain("partner.co.jp").unwrap());
    assert_eq!(
        history
            .addresses_for_name("taro@example.co.jp", &checks::normalize_name("山田太郎"))
            .unwrap(),
        ["yamada@partner.co.jp"]
    );
    // A guard on the reopened history knows it too.
    let guard = MailGuard::from_policy(
        Policy::from_toml(POLICY).unwrap(),
        Arc::new(Senders::new()),
        history,
    )
    .unwrap();
    let (envelope, raw) = mail_to(&["yamada@partner.co.jp"]);
    assert_eq!(guard.decide(&envelope, &raw), Decision::pass());
    // What the file history learns (on its writing connection) the lookups see at once.
    let (envelope, raw) = mail_to(&["info@newcustomer.co.jp"]);
    assert_eq!(
        checks_of(&guard.decide(&envelope, &raw)),
        [checks::FIRST_EXTERNAL_DOMAIN_ORG]
    );
    guard.delivered(&envelope, &raw);
    assert_eq!(guard.decide(&envelope, &raw), Decision::pass());
}

#[test]
fn the_history_stays_bounded() {
    let history = History::in_memory().unwrap().with_limits(HistoryLimits {
        retention_days: 30,
        max_rows: 100,
    });
    let start = jiff::Timestamp::now();
    for i in 0..300 {
        let at = start + jiff::SignedDuration::from_secs(i);
        let delivery = checks::Delivery {
            sender: "taro@example.co.jp".into(),
            domains: vec![format!("customer{i}.co.jp")],
            contacts: vec![(format!("customer {i}"), format!("a@customer{i}.co.jp"))],
        };
        history.record(&delivery, at).unwrap();
    }
    history
        .prune(start + jiff::SignedDuration::from_secs(300))
        .unwrap();
    let (sender_domains, organisation_domains, contacts) = history.counts().unwrap();
    assert!(sender_domains <= 100 && organisation_domains <= 100 && contacts <= 100);
    // The most recent are kept.
    assert!(
        history
            .organisation_knows_domain("customer299.co.jp")
            .unwrap()
    );
    assert!(
        !history
            .organisation_knows_domain("customer0.co.jp")
            .unwrap()
    );
    // Past the retention everything goes.
    history
        .prune(start + jiff::SignedDuration::from_hours(31 * 24))
        .unwrap();
    assert_eq!(history.counts().unwrap(), (0, 0, 0));
}

#[test]
fn a_history_of_another_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    drop(History::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 9").unwrap();
    }
    let error = History::open(&path).unwrap_err();
    assert!(error.to_string().contains("version 9"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Speed (figures, not assertions)
// ---------------------------------------------------------------------------------------------

fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn time_decide(guard: &MailGuard, envelope: &Envelope, raw: &[u8], label: &str) {
    for _ in 0..20 {
        guard.decide(envelope, raw);
    }
    let mut times = Vec::new();
    for _ in 0..500 {
        let start = std::time::Instant::now();
        let decision = guard.decide(envelope, raw);
        times.push(start.elapsed());
        std::hint::black_box(decision);
    }
    times.sort();
    // The parts: reading the message, and inspecting its content.
    let mut read_times = Vec::new();
    let mut scan_times = Vec::new();
    let inspector = checks::ContentInspector::new(
        &mamori_content::detect::DetectorConfig::default(),
        0.8,
        &checks::DEFAULT_SENSITIVE_KINDS,
        checks::mail_limits(2.0),
    );
    for _ in 0..200 {
        let start = std::time::Instant::now();
        let message = message::read(raw);
        read_times.push(start.elapsed());
        let start = std::time::Instant::now();
        std::hint::black_box(inspector.scan(&message));
        scan_times.push(start.elapsed());
    }
    read_times.sort();
    scan_times.sort();
    println!(
        "{label}: {} bytes, decide p50 {:?}, p99 {:?}, max {:?} (read p50 {:?}, content p50 {:?})",
        raw.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1],
        percentile(&read_times, 0.5),
        percentile(&scan_times, 0.5),
    );
}

#[test]
#[ignore = "timing figures; run with --ignored --nocapture (release for real numbers)"]
fn decide_timing_on_100_kb_messages() {
    let guard = guard();
    let rcpt = [
        "yamada@partner.co.jp",
        "sato@partner.co.jp",
        "suzuki@example.co.jp",
    ];
    for address in &rcpt {
        deliver(&guard, "taro@example.co.jp", address, &[address]);
    }
    let envelope = envelope("taro@example.co.jp", &rcpt);
    let header = format!(
        "From: {} <taro@example.co.jp>\r\nTo: {} <yamada@partner.co.jp>, sato@partner.co.jp\r\nCc: suzuki@example.co.jp\r\n",
        jis_word("田中 太郎"),
        jis_word("山田 太郎")
    );

    // A plain Japanese text body of 100 kB, in ISO-2022-JP as Japanese clients send it.
    let paragraph = "いつも大変お世話になっております。株式会社サンプルの田中でございます。\
        先日ご依頼いただきました件につきまして、下記の通りご報告申し上げます。\r\n";
    let mut text = String::new();
    while jis(&text).len() < 100_000 {
        text.push_str(paragraph);
    }
    let mut raw = format!(
        "{header}Subject: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\
         Content-Transfer-Encoding: 7bit\r\n\r\n",
        jis_word("ご報告")
    )
    .into_bytes();
    raw.extend_from_slice(&jis(&text));
    time_decide(&guard, &envelope, &raw, "100 kB Japanese text body");

    // A 100 kB PDF attachment.
    let lines: Vec<String> = (0..2_000)
        .map(|i| format!("Line {i}: quarterly figures for the sales report"))
        .collect();
    let pdf_bytes = pdf(&lines);
    let raw = mail_with_attachment(
        "yamada@partner.co.jp, sato@partner.co.jp",
        "report.pdf",
        "application/pdf",
        &pdf_bytes,
    );
    time_decide(
        &guard,
        &envelope,
        &raw,
        &format!("{} kB PDF attachment", pdf_bytes.len() / 1000),
    );

    // A 100 kB zip attachment (one text file, stored).
    let mut plain = String::new();
    while plain.len() < 100_000 {
        plain.push_str(paragraph);
    }
    let zip_bytes = zip("report.txt", plain.as_bytes(), false);
    let raw = mail_with_attachment(
        "yamada@partner.co.jp, sato@partner.co.jp",
        "report.zip",
        "application/zip",
        &zip_bytes,
    );
    time_decide(
        &guard,
        &envelope,
        &raw,
        &format!("{} kB zip attachment", zip_bytes.len() / 1000),
    );
}

#[test]
fn an_archive_that_cannot_be_opened_is_logged_but_passes() {
    let guard = guard();
    deliver(
        &guard,
        "taro@example.co.jp",
        "x@partner.co.jp",
        &["x@partner.co.jp"],
    );
    // A 7z archive with a plain end header and no AES coder: not encrypted, not extracted.
    let mut archive = b"7z\xbc\xaf\x27\x1c\x00\x04".to_vec();
    archive.extend_from_slice(&[0; 4]);
    let header = [0x01, 0x04, 0x06, 0x00];
    archive.extend_from_slice(&0u64.to_le_bytes());
    archive.extend_from_slice(&(header.len() as u64).to_le_bytes());
    archive.extend_from_slice(&[0; 4]);
    archive.extend_from_slice(&header);
    let raw = mail_with_attachment(
        "yamada@partner.co.jp",
        "data.7z",
        "application/x-7z-compressed",
        &archive,
    );
    let decision = guard.decide(
        &envelope("taro@example.co.jp", &["yamada@partner.co.jp"]),
        &raw,
    );
    assert_eq!(checks_of(&decision), [checks::UNINSPECTABLE_ATTACHMENT]);
    assert!(decision.reasons[0].en.contains("data.7z"));
    assert_eq!(decision.action, Action::Pass);
}

#[test]
fn an_empty_to_is_nobody_not_an_unreadable_header() {
    for to in ["To: \r\n", "To: ;\r\n"] {
        let message = message::read(&mail(&format!("From: taro@example.co.jp\r\n{to}"), "x"));
        assert_eq!(message.unreadable, None, "{to:?}");
        assert!(message.to.is_empty());
    }
    let message = message::read(&mail("From: taro@example.co.jp\r\nTo: <>\r\n", "x"));
    assert!(message.unreadable.is_some());
}

#[test]
fn an_html_only_body_is_inspected_as_text() {
    let guard = guard();
    deliver(
        &guard,
        "taro@example.co.jp",
        "x@partner.co.jp",
        &["x@partner.co.jp"],
    );
    let raw = format!(
        "From: taro@example.co.jp\r\nTo: yamada@partner.co.jp\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=UTF-8\r\n\r\n\
         <html><body><p>個人番号：<b>{MY_NUMBER}</b></p></body></html>\r\n"
    );
    let decision = guard.decide(
        &envelope("taro@example.co.jp", &["yamada@partner.co.jp"]),
        raw.as_bytes(),
    );
    assert!(
        checks_of(&decision).contains(&checks::SENSITIVE_CONTENT),
        "{decision:?}"
    );
}

#[test]
fn a_subdomain_of_a_known_organisation_is_not_a_first_time_domain() {
    let guard = guard();
    deliver(
        &guard,
        "taro@example.co.jp",
        "yamada@newcustomer.co.jp",
        &["yamada@newcustomer.co.jp"],
    );
    let (envelope, raw) = mail_to(&["sato@sales.newcustomer.co.jp"]);
    assert_eq!(guard.decide(&envelope, &raw), Decision::pass());
}

#[test]
fn another_address_at_the_same_organisation_is_not_a_name_mismatch() {
    let guard = guard();
    let name = jis_word("山田 太郎");
    deliver(
        &guard,
        "taro@example.co.jp",
        &format!("{name} <yamada@partner.co.jp>"),
        &["yamada@partner.co.jp"],
    );
    let header =
        format!("From: taro@example.co.jp\r\nTo: {name} <t-yamada@tokyo.partner.co.jp>\r\n");
    let decision = guard.decide(
        &envelope("taro@example.co.jp", &["t-yamada@tokyo.partner.co.jp"]),
        &mail(&header, "x"),
    );
    assert_eq!(decision, Decision::pass());
}

#[test]
fn an_idn_homoglyph_of_an_own_domain_is_a_lookalike() {
    let guard = guard();
    // Cyrillic а (U+0430) for the Latin a, in Unicode and in its xn-- form.
    let unicode = "yamada@ex\u{0430}mple.co.jp";
    let ascii = format!(
        "yamada@{}",
        idna::domain_to_ascii("ex\u{0430}mple.co.jp").unwrap()
    );
    for address in [unicode, ascii.as_str()] {
        let (envelope, raw) = mail_to(&[address]);
        let decision = guard.decide(&envelope, &raw);
        assert!(
            checks_of(&decision).contains(&checks::LOOKALIKE_DOMAIN),
            "{address}: {decision:?}"
        );
    }
}

#[test]
fn every_to_and_cc_field_counts() {
    let raw = mail(
        "From: taro@example.co.jp\r\nTo: a@partner.co.jp\r\nCc: b@partner.co.jp\r\nTo: c@examp1e.co.jp\r\n",
        "x",
    );
    let message = message::read(&raw);
    let to: Vec<&str> = message.to.iter().map(|m| m.address.as_str()).collect();
    assert_eq!(to, ["a@partner.co.jp", "c@examp1e.co.jp"]);
    assert_eq!(message.cc.len(), 1);
}
