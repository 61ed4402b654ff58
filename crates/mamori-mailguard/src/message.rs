//! One outbound message as the checks see it: who it is from and to (display names decoded),
//! its subject and Message-ID, the text a person would read and its attachments — and
//! [`move_to_bcc`], the header rewrite that hides the recipients from each other.
//!
//! [`read`] never fails. Mail from Japanese clients arrives in every encoding there is:
//! RFC 2047 encoded words (`=?ISO-2022-JP?B?…?=`), RFC 2231 parameters
//! (`filename*=ISO-2022-JP''…`), bodies in ISO-2022-JP, Shift_JIS or EUC-JP, and — from older
//! clients — header fields written in raw ISO-2022-JP or Shift_JIS without any encoded word.
//! `mail-parser` decodes the standard forms; the raw ones are transcoded to UTF-8 first (header
//! fields only, the body is left to its declared charset), because read as they are, their
//! bytes break the address syntax and would give the checks garbage addresses. A message that
//! still cannot be read says so in [`Message::unreadable`] and the policy decides what happens
//! to it: an unreadable message must never pass merely because no check understood it.

use std::borrow::Cow;

use mail_parser::{Address, HeaderName, MessageParser, MessagePart, MimeHeaders, PartType};

/// One address of a From, To, Cc or Reply-To header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, decoded and trimmed; `None` when absent or empty.
    pub name: Option<String>,
    /// The address as written (`local@domain`), without angle brackets.
    pub address: String,
}

impl Mailbox {
    /// The domain: what follows the last `@` (empty when there is none).
    pub fn domain(&self) -> &str {
        domain_of(&self.address)
    }
}

/// The domain of an address: what follows the last `@` (empty when there is none).
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, domain)| domain)
}

/// One attachment (or inline non-body part) of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name, decoded (RFC 2047 and RFC 2231, raw Japanese encodings); `None` when the
    /// part has none.
    pub name: Option<String>,
    /// `type/subtype`, lower case (`application/octet-stream` when the part does not say).
    pub content_type: String,
    /// The decoded size in bytes (after base64 or quoted-printable).
    pub size: usize,
    /// The decoded content: the file's bytes; for a text part its text in UTF-8 (converted
    /// from its charset); for an attached message its raw bytes.
    pub bytes: Vec<u8>,
}

/// What [`read`] found in a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    pub from: Vec<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub reply_to: Vec<Mailbox>,
    pub subject: Option<String>,
    /// Without angle brackets.
    pub message_id: Option<String>,
    /// The text bodies (HTML converted to text), for content inspection only: never logged
    /// or stored.
    pub text: String,
    pub attachments: Vec<Attachment>,
    /// Why the message (or part of it that matters to the checks) could not be read: the
    /// policy decides what to do with it. `None` when it was read.
    pub unreadable: Option<String>,
}

impl Message {
    /// The To and Cc mailboxes: the recipients every recipient sees.
    pub fn visible_recipients(&self) -> impl Iterator<Item = &Mailbox> {
        self.to.iter().chain(self.cc.iter())
    }
}

/// Reads a message (RFC 5322 with MIME). Never fails: what cannot be read is said in
/// [`Message::unreadable`], next to whatever could be.
pub fn read(raw: &[u8]) -> Message {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return unreadable("the message is empty");
    }
    let prepared = transcode_raw_header_fields(raw);
    let Some(mut parsed) = MessageParser::default().parse(prepared.as_ref()) else {
        return unreadable("not a mail message: no header field could be read");
    };
    if parsed.headers().is_empty() {
        return unreadable("not a mail message: it has no header fields");
    }

    let mut message = Message {
        subject: parsed.subject().map(str::to_owned),
        message_id: parsed.message_id().map(str::to_owned),
        ..Message::default()
    };
    let mut problems = Vec::new();
    message.from = mailboxes(parsed.from(), "From", &mut Vec::new());
    message.reply_to = mailboxes(parsed.reply_to(), "Reply-To", &mut Vec::new());
    // Recipients decide what the checks look at: one the parser could not make sense of is a
    // reason to stop the message, not to skip the address. Every To and Cc field counts (the
    // obsolete syntax allows several; a second one must not hide its addresses).
    for header in parsed.headers() {
        let (list, label) = match header.name {
            HeaderName::To => (&mut message.to, "To"),
            HeaderName::Cc => (&mut message.cc, "Cc"),
            _ => continue,
        };
        match header.value.as_address() {
            Some(address) => list.extend(mailboxes(Some(address), label, &mut problems)),
            None => {
                let start = header.offset_start as usize;
                let end = header.offset_end as usize;
                let value = prepared.get(start..end.max(start)).unwrap_or_default();
                if !is_empty_address_list(value) {
                    problems.push(format!("the {label} header cannot be read"));
                }
            }
        }
    }

    for index in 0..parsed.text_body_count() {
        let Some(&part_id) = parsed.text_body.get(index) else {
            continue;
        };
        // A text part that is also listed as an attachment is inspected as the attachment.
        if parsed.attachments.contains(&part_id) {
            continue;
        }
        if let Some(text) = parsed.body_text(index) {
            if !message.text.is_empty() {
                message.text.push('\n');
            }
            message.text.push_str(&text);
        }
    }

    let attachment_ids = parsed.attachments.clone();
    for part_id in attachment_ids {
        let Some(part) = parsed.parts.get_mut(part_id as usize) else {
            continue;
        };
        if let Some(attachment) = take_attachment(part, prepared.as_ref()) {
            message.attachments.push(attachment);
        }
    }

    if !problems.is_empty() {
        message.unreadable = Some(problems.join("; "));
    }
    message
}

fn unreadable(why: &str) -> Message {
    Message {
        unreadable: Some(why.to_owned()),
        ..Message::default()
    }
}

/// Whether a raw header value names no one: empty, or only `;` (an empty `To:` or `To: ;`
/// is not a reading problem).
fn is_empty_address_list(value: &[u8]) -> bool {
    value.iter().all(|&b| b.is_ascii_whitespace() || b == b';')
}

/// The mailboxes of an address header, groups flattened. Entries without an address (the
/// empty `undisclosed-recipients:;` group) are skipped; entries that are not an address at all
/// are reported in `problems`.
fn mailboxes(
    value: Option<&Address<'_>>,
    header: &str,
    problems: &mut Vec<String>,
) -> Vec<Mailbox> {
    let Some(value) = value else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut push = |addr: &mail_parser::Addr<'_>| {
        let name = addr
            .name
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned);
        match addr.address.as_deref().map(str::trim) {
            Some(address) if is_plausible_address(address) => out.push(Mailbox {
                name,
                address: address.to_owned(),
            }),
            Some(address) => problems.push(format!(
                "the {header} header has an entry that is not an address: {address:?}"
            )),
            None => {
                if let Some(name) = name {
                    problems.push(format!(
                        "the {header} header has a name without an address: {name:?}"
                    ));
                }
            }
        }
    };
    match value {
        Address::List(list) => list.iter().for_each(&mut push),
        Address::Group(groups) => groups
            .iter()
            .flat_map(|group| group.addresses.iter())
            .for_each(&mut push),
    }
    out
}

/// `local@domain` with both sides non-empty, no second `@` in the domain, no spaces or
/// angle brackets: what the parser makes of an unparsable entry fails this.
fn is_plausible_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
}

/// Moves an attachment's decoded content out of the parsed part (no copy when the parser
/// already decoded it into its own buffer).
fn take_attachment(part: &mut MessagePart<'_>, raw: &[u8]) -> Option<Attachment> {
    let content_type = part
        .content_type()
        .map(|ct| match ct.c_subtype.as_deref() {
            Some(subtype) => format!("{}/{}", ct.c_type, subtype),
            None => ct.c_type.to_string(),
        })
        .map_or_else(
            || "application/octet-stream".to_owned(),
            |ct| ct.to_ascii_lowercase(),
        );
    let name = attachment_name(part, raw);
    let bytes = match std::mem::take(&mut part.body) {
        PartType::Text(text) | PartType::Html(text) => text.into_owned().into_bytes(),
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => bytes.into_owned(),
        PartType::Message(nested) => nested.raw_message.into_owned(),
        PartType::Multipart(_) => return None,
    };
    Some(Attachment {
        name,
        content_type,
        size: bytes.len(),
        bytes,
    })
}

/// The part's file name. A name in raw ISO-2022-JP or Shift_JIS (no RFC 2047/2231 wrapping,
/// as older Japanese clients write it) comes out of the parser with escape sequences or
/// replacement characters: then the part's header is transcoded and read again.
fn attachment_name(part: &MessagePart<'_>, raw: &[u8]) -> Option<String> {
    let name = part.attachment_name()?.trim().to_owned();
    if !name.contains(['\u{1b}', '\u{fffd}']) {
        return Some(name).filter(|name| !name.is_empty());
    }
    let start = part.offset_header as usize;
    let end = part.offset_body as usize;
    let Some(header) = raw.get(start..end.max(start)) else {
        return Some(name);
    };
    let mut reread = transcode_raw_header_fields(header).into_owned();
    reread.extend_from_slice(b"\r\n\r\n");
    let fixed = MessageParser::default()
        .parse(&reread[..])
        .and_then(|m| m.attachment_name().map(|n| n.trim().to_owned()));
    Some(fixed.unwrap_or(name)).filter(|name| !name.is_empty())
}

/// The byte offset where the header section ends: just after the empty line that ends it
/// (or the end of the message when there is none).
fn header_section_end(raw: &[u8]) -> usize {
    let mut at = 0;
    for line in lines(raw) {
        at += line.len();
        if is_blank_line(line) {
            return at;
        }
    }
    raw.len()
}

/// Lines with their endings (`\n` or `\r\n`), the last one possibly without.
fn lines(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    raw.split_inclusive(|&b| b == b'\n')
}

/// The line that ends the header section. As the MIME parser behind [`read`] sees it: a line
/// of nothing but whitespace that is not a folded continuation (`\r\n`, `\n`, but also
/// `\r\r\n`), so that what is rewritten is what was checked.
fn is_blank_line(line: &[u8]) -> bool {
    line.ends_with(b"\n") && !is_continuation(line) && line.iter().all(u8::is_ascii_whitespace)
}

fn is_continuation(line: &[u8]) -> bool {
    matches!(line.first(), Some(b' ' | b'\t'))
}

/// The top-level header fields (each with its folded continuation lines), and
/// the rest of the message (the blank line and the body).
fn header_fields(raw: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let end = header_section_end(raw);
    let head = &raw[..end];
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut field_start = 0;
    let mut at = 0;
    for line in lines(head) {
        if is_blank_line(line) {
            break;
        }
        // A folded line continues a field only if that field has a name; after a line that
        // is no field, the parser reads it as a field of its own.
        if at > field_start
            && (!is_continuation(line) || field_name(&head[field_start..at]).is_none())
        {
            fields.push(&head[field_start..at]);
            field_start = at;
        }
        at += line.len();
    }
    if at > field_start {
        fields.push(&head[field_start..at]);
    }
    (fields, &raw[at..])
}

/// The header fields written in a raw legacy encoding (an ISO-2022-JP escape, or 8-bit bytes
/// that are not UTF-8), transcoded to UTF-8; everything else as it is. Borrowed (no copy) for
/// the usual message, whose header is ASCII or UTF-8.
fn transcode_raw_header_fields(raw: &[u8]) -> Cow<'_, [u8]> {
    let (fields, rest) = header_fields(raw);
    if !fields.iter().any(|field| needs_transcoding(field)) {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 4);
    for field in fields {
        if needs_transcoding(field) {
            // Line by line: a field left in ISO-2022-JP's two-byte mode at the end of a line
            // must not take the line break with it (the next field, or the end of the
            // header, would disappear into this one).
            for line in lines(field) {
                let text = line.strip_suffix(b"\n").unwrap_or(line);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                out.extend_from_slice(decode_legacy_japanese(text).as_bytes());
                out.extend_from_slice(&line[text.len()..]);
            }
        } else {
            out.extend_from_slice(field);
        }
    }
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

fn needs_transcoding(field: &[u8]) -> bool {
    field.contains(&0x1b) || (!field.is_ascii() && std::str::from_utf8(field).is_err())
}

/// Decodes bytes in one of the legacy Japanese encodings: ISO-2022-JP when there is an escape
/// sequence, else Shift_JIS or EUC-JP, whichever decodes without error (Shift_JIS when both
/// do and a byte only Shift_JIS uses as a lead byte occurs, since EUC-JP never uses
/// 0x81–0x9F that way).
fn decode_legacy_japanese(bytes: &[u8]) -> String {
    if bytes.contains(&0x1b) {
        let (text, _) = encoding_rs::ISO_2022_JP.decode_without_bom_handling(bytes);
        return text.into_owned();
    }
    let shift_jis =
        encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes);
    let euc_jp = encoding_rs::EUC_JP.decode_without_bom_handling_and_without_replacement(bytes);
    match (shift_jis, euc_jp) {
        (Some(sjis), Some(euc)) => {
            if bytes
                .iter()
                .any(|&b| (0x81..=0x9f).contains(&b) && b != 0x8e && b != 0x8f)
            {
                sjis.into_owned()
            } else {
                euc.into_owned()
            }
        }
        (Some(sjis), None) => sjis.into_owned(),
        (None, Some(euc)) => euc.into_owned(),
        (None, None) => {
            let (text, _) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
            text.into_owned()
        }
    }
}

/// The header value every recipient sees instead of the list of recipients.
const UNDISCLOSED_TO: &[u8] = b"To: undisclosed-recipients:;";

/// The message with its recipients hidden from each other: the To field becomes
/// `To: undisclosed-recipients:;`, every Cc field is removed (with its folded continuation
/// lines), and every other byte — other header fields, their order, the line endings, the body
/// — is left as it is. The envelope is not touched by this (the relay keeps it), so every
/// recipient still receives the message. A message with Cc but no To gets the To field in
/// place of the first Cc, so it still names its recipients in some form.
pub fn move_to_bcc(raw: &[u8]) -> Vec<u8> {
    let (fields, rest) = header_fields(raw);
    let has_to = fields.iter().any(|field| field_name_is(field, "to"));
    let mut out = Vec::with_capacity(raw.len());
    let mut to_written = false;
    for field in fields {
        let is_to = field_name_is(field, "to");
        let is_cc = field_name_is(field, "cc");
        if !is_to && !is_cc {
            out.extend_from_slice(field);
            continue;
        }
        // The first To (or, without one, the first Cc) is replaced; any other To or Cc goes.
        let replace_here = !to_written && (is_to || !has_to);
        if replace_here {
            out.extend_from_slice(UNDISCLOSED_TO);
            out.extend_from_slice(line_ending_of(field));
            to_written = true;
        }
    }
    out.extend_from_slice(rest);
    out
}

/// Whether a header field is called `name` (ASCII case-insensitive, spaces before the colon
/// allowed as in obsolete syntax).
fn field_name_is(field: &[u8], name: &str) -> bool {
    let Some(span) = field_name(field) else {
        return false;
    };
    let mut letters = span.iter().filter(|b| !b.is_ascii_whitespace());
    let mut expected = name.bytes();
    loop {
        match (letters.next(), expected.next()) {
            (None, None) => return true,
            (Some(got), Some(want)) if got.eq_ignore_ascii_case(&want) => {}
            _ => return false,
        }
    }
}

/// Where a field's name is, as the MIME parser behind [`read`] reads it, so that every field
/// it takes for a To or Cc is one here too: whitespace and colons before the name are
/// skipped, whitespace inside it does not count (`C c:` is a Cc); `None` when a line break
/// comes before the colon (then the line is no field, and a folded line after it starts one).
fn field_name(field: &[u8]) -> Option<&[u8]> {
    let start = field
        .iter()
        .position(|&b| !(b == b':' || (b.is_ascii_whitespace() && b != b'\n')))?;
    let rest = field.get(start..)?;
    let length = rest.iter().position(|&b| b == b':' || b == b'\n')?;
    (rest.get(length) == Some(&b':')).then(|| &rest[..length])
}

/// The line ending of a field's first line: `\r\n`, `\n`, or none (a header without body
/// and without a final newline).
fn line_ending_of(field: &[u8]) -> &'static [u8] {
    let first_line = lines(field).next().unwrap_or(field);
    if first_line.ends_with(b"\r\n") {
        b"\r\n"
    } else if first_line.ends_with(b"\n") {
        b"\n"
    } else {
        b"\r\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unterminated_iso_2022_jp_field_keeps_the_fields_after_it() {
        // Found by fuzzing: still in two-byte mode at the line end, the decoder took the
        // line break and the Cc after it vanished into the subject.
        let raw = b"To: b@example.co.jp\r\nSubject: \x1b$B%F%9%H\r\nCc: evil@t0yota.co.jp\r\n\r\nbody\r\n";
        let message = read(raw);
        assert_eq!(message.cc.len(), 1, "{message:?}");
        assert_eq!(message.cc[0].address, "evil@t0yota.co.jp");
        assert!(
            message
                .subject
                .as_deref()
                .is_some_and(|s| s.starts_with("テスト"))
        );
        // A blank line in two-byte mode still ends the header.
        let message = read(b"To: a@x.jp\r\nSubject: \x1b$B\r\n\r\nCC: c@j.jp\r\n");
        assert!(message.cc.is_empty(), "{message:?}");
    }

    #[test]
    fn move_to_bcc_removes_every_field_read_as_to_or_cc() {
        // Found by fuzzing: the parser behind `read` skips whitespace and colons before a
        // name and ignores whitespace inside it; move_to_bcc must see the same fields.
        for raw in [
            &b"\rTo: a@a.jp\r\nSubject: s\r\n\r\nbody"[..],
            b":Cc: c@c.jp\r\nSubject: s\r\n\r\nbody",
            b"Subject: s\r\nC c: c@x.jp\r\n\r\nbody",
            b" To: a@x.jp\r\nSubject: s\r\n\r\nbody",
            b"C\r\n To: a@b.jp\r\nSubject: x\r\n\r\nbody",
        ] {
            assert!(read(raw).visible_recipients().next().is_some());
            let rewritten = move_to_bcc(raw);
            let again = read(&rewritten);
            assert!(
                again.visible_recipients().next().is_none(),
                "{:?} left {:?}",
                String::from_utf8_lossy(raw),
                again.visible_recipients().collect::<Vec<_>>()
            );
        }
        assert!(!field_name_is(b"Subject: To: x\r\n", "to"));
        assert!(!field_name_is(b"To\r\n: x", "to"));
    }

    #[test]
    fn header_fields_keep_continuations_with_their_field() {
        let raw = b"To: a@x.jp,\r\n b@y.jp\r\nSubject: s\r\n\r\nbody\r\n";
        let (fields, rest) = header_fields(raw);
        assert_eq!(
            fields,
            vec![&b"To: a@x.jp,\r\n b@y.jp\r\n"[..], &b"Subject: s\r\n"[..]]
        );
        assert_eq!(rest, b"\r\nbody\r\n");
    }

    #[test]
    fn a_header_without_a_body_is_all_fields() {
        let (fields, rest) = header_fields(b"To: a@x.jp\nCc: b@y.jp");
        assert_eq!(fields, vec![&b"To: a@x.jp\n"[..], &b"Cc: b@y.jp"[..]]);
        assert!(rest.is_empty());
    }

    #[test]
    fn ascii_and_utf8_headers_are_not_copied() {
        let raw = "Subject: 見積\r\nTo: a@x.jp\r\n\r\n".as_bytes();
        assert!(matches!(transcode_raw_header_fields(raw), Cow::Borrowed(_)));
    }

    #[test]
    fn shift_jis_and_euc_jp_are_told_apart() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("山田 太郎");
        let (euc, _, _) = encoding_rs::EUC_JP.encode("山田 太郎");
        assert_eq!(decode_legacy_japanese(&sjis), "山田 太郎");
        assert_eq!(decode_legacy_japanese(&euc), "山田 太郎");
    }

    #[test]
    fn field_names_match_case_insensitively_and_only_whole() {
        assert!(field_name_is(b"CC: a@x.jp\r\n", "cc"));
        assert!(field_name_is(b"To : a@x.jp\r\n", "to"));
        assert!(!field_name_is(b"Content-Type: text/plain\r\n", "to"));
        assert!(!field_name_is(b"Tolerance: 1\r\n", "to"));
    }
}
