//! The notice sent when a message is delayed or held: to the sender (what was stopped, why,
//! and what happens next) and, for a hold for approval, to the approver. In Japanese first,
//! then English; UTF-8 in base64, so any next hop takes it.
//!
//! A notice names the recipients, the time, the `Message-ID` and the queue id — never the
//! body or attachments, which stay in the spool.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;

use crate::spool::EventDecision;

/// What a notice is about: a message the guard delayed or held.
pub struct Held<'a> {
    /// The queue id (what an operator releases or cancels).
    pub id: &'a str,
    pub at: Timestamp,
    pub mail_from: &'a str,
    pub rcpt_to: &'a [String],
    pub message_id: Option<&'a str>,
    pub decision: &'a EventDecision,
}

/// Who a notice is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Sender,
    Approver,
}

/// Who is to be told about a decision, with their address: the sender of a delayed or held
/// message, and the approver of a hold for approval (none for a pass or a reject — a
/// rejected message is answered with its reasons at once — nor for a null sender).
pub fn readers(held: &Held<'_>) -> Vec<(Reader, String)> {
    let mut out = Vec::new();
    let wanted = matches!(
        held.decision.action.as_str(),
        "delay" | "hold_sender" | "hold_approval"
    );
    if !wanted {
        return out;
    }
    if !held.mail_from.is_empty() {
        out.push((Reader::Sender, held.mail_from.to_string()));
    }
    if held.decision.action == "hold_approval"
        && let Some(approver) = &held.decision.approver
        && !approver.eq_ignore_ascii_case(held.mail_from)
    {
        out.push((Reader::Approver, approver.clone()));
    }
    out
}

/// One notice as an RFC 5322 message.
/// `link`, when there is one, is the page where the reader sends or cancels the message.
pub fn compose(
    held: &Held<'_>,
    reader: Reader,
    from: &str,
    to: &str,
    hostname: &str,
    link: Option<&str>,
) -> Vec<u8> {
    let (subject_ja, subject_en) = subject(held, reader);
    let subject = format!("[Mamori] {subject_ja} / {subject_en}");
    let body = body(held, reader, link);
    let mut message = String::new();
    message.push_str(&format!("From: Mamori <{from}>\r\n"));
    message.push_str(&format!("To: <{to}>\r\n"));
    message.push_str(&format!("Subject: {}\r\n", encoded_word(&subject)));
    message.push_str(&format!(
        "Date: {}\r\n",
        held.at.strftime("%a, %d %b %Y %H:%M:%S +0000")
    ));
    message.push_str(&format!(
        "Message-ID: <notice.{}.{}@{hostname}>\r\n",
        held.id,
        match reader {
            Reader::Sender => "sender",
            Reader::Approver => "approver",
        }
    ));
    if let Some(original) = held.message_id {
        // Threads the notice under the sender's own message in most mail programs.
        let id = original.trim_matches(['<', '>']);
        message.push_str(&format!("In-Reply-To: <{id}>\r\nReferences: <{id}>\r\n"));
    }
    // RFC 3834: no out-of-office replies to this, and no loops.
    message.push_str("Auto-Submitted: auto-generated\r\n");
    message.push_str("MIME-Version: 1.0\r\n");
    message.push_str("Content-Type: text/plain; charset=UTF-8\r\n");
    message.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    let encoded = STANDARD.encode(body.as_bytes());
    for chunk in encoded.as_bytes().chunks(76) {
        message.push_str(&String::from_utf8_lossy(chunk));
        message.push_str("\r\n");
    }
    message.into_bytes()
}

fn subject(held: &Held<'_>, reader: Reader) -> (&'static str, &'static str) {
    match (reader, held.decision.action.as_str()) {
        (Reader::Approver, _) => ("送信メールの承認依頼", "A message awaits your approval"),
        (_, "delay") => (
            "送信メールを遅延送信します",
            "Your message will be sent later",
        ),
        (_, "hold_approval") => (
            "送信メールを承認待ちで保留しました",
            "Your message is held for approval",
        ),
        _ => ("送信メールを保留しました", "Your message is held"),
    }
}

/// Recipients of a notice, at most this many listed.
const LISTED: usize = 20;

fn body(held: &Held<'_>, reader: Reader, link: Option<&str>) -> String {
    let decision = held.decision;
    let recipients = {
        let mut list = held
            .rcpt_to
            .iter()
            .take(LISTED)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if held.rcpt_to.len() > LISTED {
            list.push_str(&format!(" (+{})", held.rcpt_to.len() - LISTED));
        }
        list
    };
    let when = held.at.strftime("%Y-%m-%d %H:%M:%S UTC");
    let message_id = held.message_id.unwrap_or("-");
    let send_at = decision
        .delay_minutes
        .and_then(|m| {
            held.at
                .checked_add(jiff::SignedDuration::from_mins(i64::from(m)))
                .ok()
        })
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string());
    let approver = decision.approver.as_deref().unwrap_or("-");

    let mut ja = String::new();
    let mut en = String::new();
    match (reader, decision.action.as_str(), &send_at) {
        (Reader::Approver, _, _) => {
            ja.push_str(&format!(
                "{} さんの送信メールが、あなたの承認待ちで保留されています。\n",
                held.mail_from
            ));
            en.push_str(&format!(
                "A message from {} is held until you approve it.\n",
                held.mail_from
            ));
        }
        (_, "delay", Some(at)) => {
            ja.push_str(&format!(
                "送信メールは {at} に送信されます。それまでは取り消せます。\n"
            ));
            en.push_str(&format!(
                "Your message will be sent at {at}; until then it can be cancelled.\n"
            ));
        }
        (_, "hold_approval", _) => {
            ja.push_str(&format!(
                "送信メールは承認者（{approver}）の承認まで送信されません。\n"
            ));
            en.push_str(&format!(
                "Your message will not be sent until the approver ({approver}) approves it.\n"
            ));
        }
        _ => {
            ja.push_str("送信メールは、確認が済むまで送信されません。宛先をご確認ください。\n");
            en.push_str(
                "Your message will not be sent until it is confirmed. Please check the recipients.\n",
            );
        }
    }
    ja.push_str(&format!(
        "\n  宛先: {recipients}\n  受付日時: {when}\n  Message-ID: {message_id}\n  受付番号: {}\n\n理由:\n",
        held.id
    ));
    en.push_str(&format!(
        "\n  Recipients: {recipients}\n  Received: {when}\n  Message-ID: {message_id}\n  Queue id: {}\n\nWhy:\n",
        held.id
    ));
    for reason in &decision.reasons {
        ja.push_str(&format!("  - {}\n", reason.ja));
        en.push_str(&format!("  - {}\n", reason.en));
    }
    match link {
        Some(link) => {
            // The sender of a message held for approval may only take it back.
            let (what_ja, what_en) =
                if reader == Reader::Sender && decision.action == "hold_approval" {
                    ("取り消す", "cancel it")
                } else if reader == Reader::Approver {
                    (
                        "承認して送信する・差し戻す",
                        "approve and send it, or cancel it",
                    )
                } else {
                    ("送信する・取り消す", "send it now or cancel it")
                };
            ja.push_str(&format!(
                "\n{what_ja}場合は、次のページを開いてください:\n  {link}\n"
            ));
            en.push_str(&format!("\nTo {what_en}, open this page:\n  {link}\n"));
        }
        None => {
            ja.push_str(&format!(
                "\n送信・取り消しは、受付番号 {} を添えて情報システム部門（メールガードの管理者）に\n\
                 依頼してください。\n",
                held.id
            ));
            en.push_str(&format!(
                "\nTo have it sent or cancelled, ask the mail guard's administrators, quoting queue id {}.\n",
                held.id
            ));
        }
    }
    if decision.action != "delay" {
        ja.push_str("期限までに送信されない場合、メールは差出人に返送されます。\n");
        en.push_str("A message not released in time is returned to the sender.\n");
    }
    format!("{ja}\n---\n\n{en}")
}

/// An RFC 2047 encoded word (UTF-8, base64) for a header, split so no line is too long.
fn encoded_word(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    // 39 bytes of text become 52 characters of base64: with the wrapper and "Subject: ", a
    // line stays within 78.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 39 {
            words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(chunk.as_bytes())));
    }
    words.join("\r\n ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::spool::EventReason;

    fn decision(action: &str) -> EventDecision {
        EventDecision {
            action: action.to_string(),
            delay_minutes: (action == "delay").then_some(5),
            approver: (action == "hold_approval").then(|| "boss@example.co.jp".to_string()),
            move_to_bcc: false,
            reasons: vec![EventReason {
                check: "lookalike_domain".into(),
                en: "recipient domain examp1e.co.jp looks like example.co.jp".into(),
                ja: "宛先ドメイン examp1e.co.jp は example.co.jp に似ています".into(),
            }],
        }
    }

    fn read(raw: &[u8]) -> (crate::message::Message, String) {
        let parsed = mail_parser::MessageParser::default().parse(raw).unwrap();
        let text = parsed.body_text(0).unwrap().into_owned();
        (crate::message::read(raw), text)
    }

    #[test]
    fn a_held_message_is_explained_to_its_sender_and_its_approver() {
        let rcpt = vec!["bob@examp1e.co.jp".to_string()];
        let decision = decision("hold_approval");
        let held = Held {
            id: "abc123",
            at: Timestamp::from_second(1_764_547_200).unwrap(),
            mail_from: "taro@example.co.jp",
            rcpt_to: &rcpt,
            message_id: Some("<m1@example.co.jp>"),
            decision: &decision,
        };
        let readers = readers(&held);
        assert_eq!(
            readers,
            [
                (Reader::Sender, "taro@example.co.jp".to_string()),
                (Reader::Approver, "boss@example.co.jp".to_string())
            ]
        );
        let notices: Vec<Vec<u8>> = readers
            .iter()
            .map(|(reader, to)| {
                compose(
                    &held,
                    *reader,
                    "mail-guard@example.co.jp",
                    to,
                    "guard.example.co.jp",
                    None,
                )
            })
            .collect();

        let (message, text) = read(&notices[0]);
        assert_eq!(
            message.subject.as_deref(),
            Some("[Mamori] 送信メールを承認待ちで保留しました / Your message is held for approval")
        );
        assert!(
            text.contains("examp1e.co.jp は example.co.jp に似ています"),
            "{text}"
        );
        assert!(text.contains("looks like example.co.jp"), "{text}");
        assert!(
            text.contains("abc123") && text.contains("boss@example.co.jp"),
            "{text}"
        );
        let raw = String::from_utf8(notices[0].clone()).unwrap();
        assert!(raw.contains("In-Reply-To: <m1@example.co.jp>\r\n"));
        assert!(raw.contains("Auto-Submitted: auto-generated\r\n"));
        assert!(raw.is_ascii(), "a notice must pass any next hop");
        assert!(raw.lines().all(|line| line.len() <= 78), "{raw}");

        let (message, text) = read(&notices[1]);
        assert!(message.subject.unwrap().contains("承認依頼"));
        assert!(
            text.contains("taro@example.co.jp さんの送信メール"),
            "{text}"
        );
    }

    #[test]
    fn a_delay_says_when_and_a_pass_or_reject_has_no_notice() {
        let rcpt = vec!["bob@new.example".to_string()];
        let delay = decision("delay");
        let at = Timestamp::from_second(1_764_547_200).unwrap();
        let held = Held {
            id: "d1",
            at,
            mail_from: "taro@example.co.jp",
            rcpt_to: &rcpt,
            message_id: None,
            decision: &delay,
        };
        assert_eq!(
            readers(&held),
            [(Reader::Sender, "taro@example.co.jp".to_string())]
        );
        let link = "https://mamori.example.co.jp/mail/hold/abc";
        let raw = compose(
            &held,
            Reader::Sender,
            "g@example.co.jp",
            "taro@example.co.jp",
            "g",
            Some(link),
        );
        let (_, text) = read(&raw);
        assert!(
            text.contains("2025-12-01 00:05 UTC に送信されます"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "送信する・取り消す場合は、次のページを開いてください:\n  {link}"
            )),
            "{text}"
        );
        assert!(
            text.contains("To send it now or cancel it, open this page"),
            "{text}"
        );
        for action in ["pass", "reject"] {
            let decision = decision(action);
            let held = Held {
                decision: &decision,
                ..held
            };
            assert!(readers(&held).is_empty());
        }
        let null_sender = Held {
            mail_from: "",
            ..held
        };
        assert!(readers(&null_sender).is_empty());
    }
}
