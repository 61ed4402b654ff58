//! Release and cancel links of held mail (docs/api.md, "Mail links").
//!
//! The mail guard (`mamori mailguard`) e-mails the sender of a delayed or held message — and,
//! for a hold for approval, the approver — a link `/mail/hold/{token}`. The token (32 random
//! bytes, unpadded base64url) is the capability: the page needs no sign-in. The guard
//! registers each link's SHA-256 with its `ingest` token (`POST /api/v1/mail/links`) and reads
//! back the decisions taken on its messages (`GET /api/v1/mail/actions`).
//!
//! - `GET` only shows: link scanners and previews fetch links, so fetching never decides.
//! - `POST` with `action=release|cancel` decides once per message (the first decision through
//!   the sender's or the approver's link wins) and records it in the access log as the link's
//!   reader address. A sender's link cannot release a hold for approval.
//! - The page is self-contained HTML (no script, no outside resources) in Japanese or English,
//!   every value escaped, sent with `no-store`, `no-referrer` (the token is in the URL), a
//!   strict Content-Security-Policy, `noindex` and no framing. Every unknown or malformed
//!   token gets the same 404 page.

use std::sync::mpsc::SyncSender;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_store::{
    MailAction, MailDecided, MailDecision, MailHold, MailLink, MailReader, MailReason,
    mail_link_token_hash,
};
use serde_json::{Value, json};

use crate::api::time;
use crate::auth::json_response;
use crate::store::{Job, Refusal, on_store};
use crate::transparency::{Lang, escape, language};

/// Largest body of `POST /api/v1/mail/links`.
pub const MAX_LINKS_BODY: usize = 1 << 20;
/// Largest form body of `POST /mail/hold/{token}`.
pub const MAX_FORM_BODY: usize = 1 << 10;
/// Most links one registration may carry.
const MAX_LINKS: usize = 100;
/// Most decisions one `GET /api/v1/mail/actions` answers.
const MAX_ACTIONS: usize = 500;
const MAX_ID_CHARS: usize = 64;
const MAX_ADDRESS_CHARS: usize = 320;
const MAX_RECIPIENTS: usize = 1000;
const MAX_REASONS: usize = 50;
const MAX_CHECK_CHARS: usize = 64;
const MAX_REASON_CHARS: usize = 2000;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   base-uri 'none'; frame-ancestors 'none'";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    links: Vec<NewLink>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLink {
    token_sha256: String,
    id: String,
    reader: MailReader,
    reader_address: String,
    sender: String,
    recipients: Vec<String>,
    action: MailHold,
    reasons: Vec<NewReason>,
    received: String,
    #[serde(default)]
    send_at: Option<String>,
    expires: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewReason {
    check: String,
    en: String,
    ja: String,
}

fn bad(message: String) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, message)
}

/// `text` of at most `max` characters (at least one unless `empty` is allowed) without
/// control characters.
fn bounded(field: &str, text: &str, max: usize, empty: bool) -> Result<(), Refusal> {
    let chars = text.chars().count();
    if chars > max {
        return Err(bad(format!("{field}: longer than {max} characters")));
    }
    if chars == 0 && !empty {
        return Err(bad(format!("{field}: empty")));
    }
    if text.chars().any(char::is_control) {
        return Err(bad(format!("{field}: control characters")));
    }
    Ok(())
}

fn instant(field: &str, text: &str) -> Result<i64, Refusal> {
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_microsecond())
        .map_err(|e| bad(format!("{field}: {text:?} is not an RFC 3339 time ({e})")))
}

/// The links of a registration body for `agent`, or `400` naming the field at fault.
fn parse_links(body: &[u8], agent: &str) -> Result<Vec<MailLink>, Refusal> {
    let registration: Registration = crate::auth::json_body(body)?;
    if registration.links.len() > MAX_LINKS {
        return Err(bad(format!("links: more than {MAX_LINKS}")));
    }
    let mut links = Vec::with_capacity(registration.links.len());
    for (n, link) in registration.links.into_iter().enumerate() {
        let field = |name: &str| format!("links[{n}].{name}");
        let mut token_sha256 = [0u8; 32];
        // `hex` also takes upper case; the API asks for the one spelling.
        let lower_case = !link.token_sha256.bytes().any(|b| b.is_ascii_uppercase());
        if !lower_case || hex::decode_to_slice(&link.token_sha256, &mut token_sha256).is_err() {
            return Err(bad(format!(
                "{}: 64 lowercase hexadecimal digits (the SHA-256 of the link's token) expected",
                field("token_sha256")
            )));
        }
        if link.id.is_empty()
            || link.id.len() > MAX_ID_CHARS
            || !link
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(bad(format!(
                "{}: 1 to {MAX_ID_CHARS} characters of A-Z, a-z, 0-9, '.', '_' and '-' expected",
                field("id")
            )));
        }
        bounded(
            &field("reader_address"),
            &link.reader_address,
            MAX_ADDRESS_CHARS,
            false,
        )?;
        bounded(&field("sender"), &link.sender, MAX_ADDRESS_CHARS, true)?;
        if link.recipients.len() > MAX_RECIPIENTS {
            return Err(bad(format!(
                "{}: more than {MAX_RECIPIENTS}",
                field("recipients")
            )));
        }
        for (i, recipient) in link.recipients.iter().enumerate() {
            bounded(
                &field(&format!("recipients[{i}]")),
                recipient,
                MAX_ADDRESS_CHARS,
                false,
            )?;
        }
        if link.reasons.len() > MAX_REASONS {
            return Err(bad(format!(
                "{}: more than {MAX_REASONS}",
                field("reasons")
            )));
        }
        let mut reasons = Vec::with_capacity(link.reasons.len());
        for (i, reason) in link.reasons.into_iter().enumerate() {
            let at = |name: &str| field(&format!("reasons[{i}].{name}"));
            bounded(&at("check"), &reason.check, MAX_CHECK_CHARS, false)?;
            // Explanations may run over lines.
            for (name, text) in [("en", &reason.en), ("ja", &reason.ja)] {
                let flat = text.replace(['\r', '\n', '\t'], " ");
                bounded(&at(name), &flat, MAX_REASON_CHARS, true)?;
            }
            reasons.push(MailReason {
                check: reason.check,
                en: reason.en,
                ja: reason.ja,
            });
        }
        let received_us = instant(&field("received"), &link.received)?;
        let send_at_us = link
            .send_at
            .as_deref()
            .map(|text| instant(&field("send_at"), text))
            .transpose()?;
        let expires_us = instant(&field("expires"), &link.expires)?;
        links.push(MailLink {
            token_sha256,
            agent: agent.to_string(),
            id: link.id,
            reader: link.reader,
            reader_address: link.reader_address,
            sender: link.sender,
            recipients: link.recipients,
            action: link.action,
            reasons,
            received_us,
            send_at_us,
            expires_us,
        });
    }
    Ok(links)
}

/// `POST /api/v1/mail/links`: the guard registers the links it sent.
pub(crate) async fn register(
    jobs: SyncSender<Job>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let registered = async {
        let agent = crate::ingest::authenticate(&jobs, &headers).await?;
        let body = body.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Refusal::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is over {MAX_LINKS_BODY} bytes"),
                )
            } else {
                bad(format!("the body could not be read: {rejection}"))
            }
        })?;
        let links = parse_links(&body, &agent)?;
        let count = on_store(&jobs, move |ctx| {
            ctx.store().register_mail_links(&links, crate::now_us())
        })
        .await??;
        Ok::<_, Refusal>(json!({ "registered": count }))
    };
    match registered.await {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(refusal) => refusal.into_response(),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionsQuery {
    after: Option<i64>,
}

fn action_view(action: &MailAction) -> Value {
    json!({
        "seq": action.seq,
        "id": action.id,
        "action": action.action.as_str(),
        "by": action.by,
        "at": time(action.at_us),
    })
}

/// `GET /api/v1/mail/actions`: the decisions on the calling agent's messages after `after`.
pub(crate) async fn actions(
    jobs: SyncSender<Job>,
    headers: HeaderMap,
    raw: Option<String>,
) -> Response {
    let answered = async {
        let agent = crate::ingest::authenticate(&jobs, &headers).await?;
        let query: ActionsQuery = crate::api::query(raw.as_deref())?;
        let after = query.after.unwrap_or(0);
        if after < 0 {
            return Err(bad(format!("after {after}: a seq, 0 or more")));
        }
        let actions = on_store(&jobs, move |ctx| {
            ctx.store().mail_actions(&agent, after, MAX_ACTIONS)
        })
        .await??;
        let views: Vec<Value> = actions.iter().map(action_view).collect();
        Ok::<_, Refusal>(json!({ "actions": views }))
    };
    match answered.await {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(refusal) => refusal.into_response(),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Form {
    action: String,
}

/// Why a page is shown besides the link's state.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Notice {
    None,
    /// The decision just taken.
    Done,
    /// The message had been decided before.
    Already,
    /// The link has expired.
    Expired,
    /// A sender's link asked to release a hold for approval.
    NotAllowed,
    /// The form was not `action=release|cancel`.
    BadForm,
}

/// `GET /mail/hold/{token}`: the page of a link. Never changes anything.
pub(crate) async fn page(
    jobs: SyncSender<Job>,
    token: Option<String>,
    headers: HeaderMap,
    lang: Option<String>,
) -> Response {
    let lang = language(&headers, lang.as_deref());
    let Some(hash) = token.as_deref().and_then(mail_link_token_hash) else {
        return not_found(lang);
    };
    let found = on_store(&jobs, move |ctx| ctx.store().mail_link(&hash)).await;
    match found {
        Ok(Ok(Some((link, action)))) => {
            let html = render(lang, &link, action.as_ref(), crate::now_us(), Notice::None);
            html_response(StatusCode::OK, lang, html)
        }
        Ok(Ok(None)) => not_found(lang),
        Ok(Err(error)) => unavailable(lang, Refusal::from(error)),
        Err(refusal) => unavailable(lang, refusal),
    }
}

/// `POST /mail/hold/{token}`: releases or cancels the link's message, once.
pub(crate) async fn decide(
    jobs: SyncSender<Job>,
    token: Option<String>,
    headers: HeaderMap,
    lang: Option<String>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let lang = language(&headers, lang.as_deref());
    let Some(hash) = token.as_deref().and_then(mail_link_token_hash) else {
        return not_found(lang);
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let words = words(lang);
            return html_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                lang,
                message_page(lang, words.bad_title, words.bad_form),
            );
        }
        Err(_) => Bytes::new(),
    };
    let decision = serde_urlencoded::from_bytes::<Form>(&body)
        .ok()
        .and_then(|form| MailDecision::parse(&form.action));
    let outcome = on_store(&jobs, move |ctx| {
        let now = crate::now_us();
        let Some(decision) = decision else {
            // A link that exists gets its page with the form again; others the 404 page.
            return Ok(ctx
                .store()
                .mail_link(&hash)?
                .map(|(link, action)| (link, action, None, now)));
        };
        let Some((link, decided)) = ctx.store().decide_mail_link(&hash, decision, now)? else {
            return Ok(None);
        };
        if let MailDecided::Taken(action) = &decided {
            // Who decided is evidence: the access log, before the answer.
            ctx.record(
                &action.by,
                &format!("mail.{}", action.action.as_str()),
                &format!(
                    "message {} of agent {} ({} link)",
                    action.id,
                    action.agent,
                    action.reader.as_str()
                ),
            )?;
        }
        let action = match &decided {
            MailDecided::Taken(action) | MailDecided::Already(action) => Some(action.clone()),
            MailDecided::Expired | MailDecided::NotAllowed => None,
        };
        Ok::<_, mamori_store::StoreError>(Some((link, action, Some(decided), now)))
    })
    .await;
    let (link, action, decided, now) = match outcome {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => return not_found(lang),
        Ok(Err(error)) => return unavailable(lang, Refusal::from(error)),
        Err(refusal) => return unavailable(lang, refusal),
    };
    let (status, notice) = match decided {
        None => (StatusCode::BAD_REQUEST, Notice::BadForm),
        Some(MailDecided::Taken(_)) => (StatusCode::OK, Notice::Done),
        Some(MailDecided::Already(_)) => (StatusCode::CONFLICT, Notice::Already),
        Some(MailDecided::Expired) => (StatusCode::GONE, Notice::Expired),
        Some(MailDecided::NotAllowed) => (StatusCode::FORBIDDEN, Notice::NotAllowed),
    };
    html_response(
        status,
        lang,
        render(lang, &link, action.as_ref(), now, notice),
    )
}

/// The fixed words of the page.
struct Words {
    lang: &'static str,
    other: (&'static str, &'static str),
    title_delay: &'static str,
    title_hold_sender: &'static str,
    title_hold_approval: &'static str,
    sender: &'static str,
    recipients: &'static str,
    received: &'static str,
    send_at: &'static str,
    expires: &'static str,
    queue_id: &'static str,
    reasons: &'static str,
    no_reasons: &'static str,
    pending_delay: &'static str,
    pending_hold_sender: &'static str,
    pending_approver: &'static str,
    pending_sender_of_approval: &'static str,
    released: &'static str,
    approved: &'static str,
    cancelled: &'static str,
    expired: &'static str,
    done: &'static str,
    already: &'static str,
    not_allowed: &'static str,
    bad_form: &'static str,
    release: &'static str,
    approve: &'static str,
    cancel: &'static str,
    not_found_title: &'static str,
    not_found: &'static str,
    bad_title: &'static str,
    busy_title: &'static str,
    busy: &'static str,
    footer: &'static str,
}

const JA: Words = Words {
    lang: "ja",
    other: ("en", "English"),
    title_delay: "送信を遅らせているメール",
    title_hold_sender: "送信を保留しているメール",
    title_hold_approval: "承認待ちのメール",
    sender: "差出人",
    recipients: "宛先",
    received: "受付日時",
    send_at: "送信予定",
    expires: "このページの有効期限",
    queue_id: "キュー ID",
    reasons: "理由",
    no_reasons: "理由は記録されていません。",
    pending_delay: "このメールは {send_at} に送信されます。今すぐ送信するか、取り消すことができます。",
    pending_hold_sender: "このメールは送信を保留しています。宛先と理由を確認のうえ、送信するか取り消してください。",
    pending_approver: "このメールはあなたの承認を待っています。宛先と理由を確認のうえ、承認して送信するか取り消してください。",
    pending_sender_of_approval: "このメールは承認者の承認を待っています。承認されると送信されます。取り消すこともできます。",
    released: "{by} が {at} に送信を指示しました。",
    approved: "{by} が {at} に承認し、送信を指示しました。",
    cancelled: "{by} が {at} に取り消しました。このメールは送信されません。",
    expired: "このページの有効期限（{expires}）が過ぎました。送信も取り消しもできません。",
    done: "受け付けました。",
    already: "このメールはすでに処理されています。最初の指示が有効です。",
    not_allowed: "承認待ちのメールは承認者だけが送信できます。取り消すことはできます。",
    bad_form: "指示を読み取れませんでした。もう一度ボタンを押してください。",
    release: "送信する",
    approve: "承認して送信",
    cancel: "取り消す",
    not_found_title: "ページが見つかりません",
    not_found: "このリンクは無効です。メールに記載されたリンクをそのまま開いてください。",
    bad_title: "要求を処理できません",
    busy_title: "ただいま混み合っています",
    busy: "しばらくしてからもう一度開いてください。",
    footer: "Mamori メールガード",
};

const EN: Words = Words {
    lang: "en",
    other: ("ja", "日本語"),
    title_delay: "Delayed message",
    title_hold_sender: "Message held for your confirmation",
    title_hold_approval: "Message held for approval",
    sender: "From",
    recipients: "To",
    received: "Received",
    send_at: "To be sent at",
    expires: "This page expires",
    queue_id: "Queue id",
    reasons: "Why",
    no_reasons: "No reason was recorded.",
    pending_delay: "This message will be sent at {send_at}. You can send it now or cancel it.",
    pending_hold_sender: "This message is held. Check its recipients and the reasons, then send or cancel it.",
    pending_approver: "This message waits for your approval. Check its recipients and the reasons, then approve and send it, or cancel it.",
    pending_sender_of_approval: "This message waits for an approver and is sent once approved. You can cancel it.",
    released: "Released for sending by {by} at {at}.",
    approved: "Approved and released for sending by {by} at {at}.",
    cancelled: "Cancelled by {by} at {at}. The message will not be sent.",
    expired: "This page expired at {expires}: the message can no longer be sent or cancelled here.",
    done: "Done.",
    already: "This message was decided before; the first decision stands.",
    not_allowed: "Only the approver can send a message held for approval. You can cancel it.",
    bad_form: "The request could not be read. Press a button again.",
    release: "Send",
    approve: "Approve and send",
    cancel: "Cancel",
    not_found_title: "Page not found",
    not_found: "This link is not valid. Open the link from the e-mail exactly as it is.",
    bad_title: "The request cannot be handled",
    busy_title: "Busy",
    busy: "Please open this page again in a moment.",
    footer: "Mamori mail guard",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &EN,
        Lang::Ja => &JA,
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;\
padding:0 1rem;line-height:1.6;color:#222}h1{font-size:1.4rem}dt{font-weight:bold}\
dd{margin:0 0 .5rem 0}ul{padding-left:1.2rem}.state{padding:.75rem 1rem;border-left:4px solid \
#888;background:#f4f4f4}.notice{font-weight:bold}form{display:inline-block;margin:1rem 1rem 0 0}\
ul.reasons li{white-space:pre-line}button{font-size:1rem;padding:.5rem 1.5rem}footer{margin-top:2rem;color:#666;font-size:.85rem}";

/// A time as the notices show it: UTC to the minute.
fn when(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map_or_else(
        |_| us.to_string(),
        |t| t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

fn head(lang: Lang, title: &str) -> String {
    let words = words(lang);
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"robots\" content=\"noindex, nofollow\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{}</title><style>{STYLE}</style></head>\
<body>\n<main>\n<p><a href=\"?lang={}\" hreflang=\"{}\">{}</a></p>\n<h1>{}</h1>\n",
        words.lang,
        escape(title),
        words.other.0,
        words.other.0,
        words.other.1,
        escape(title),
    )
}

fn foot(lang: Lang) -> String {
    format!(
        "</main>\n<footer>{}</footer>\n</body></html>\n",
        escape(words(lang).footer)
    )
}

/// A page with only a title and a sentence (404, busy).
fn message_page(lang: Lang, title: &str, text: &str) -> String {
    let mut html = head(lang, title);
    html.push_str(&format!("<p>{}</p>\n", escape(text)));
    html.push_str(&foot(lang));
    html
}

/// The page of a link: the message, the reasons, its state and, while it is undecided and
/// the link has not expired, the forms.
fn render(
    lang: Lang,
    link: &MailLink,
    action: Option<&MailAction>,
    now_us: i64,
    notice: Notice,
) -> String {
    let words = words(lang);
    let title = match link.action {
        MailHold::Delay => words.title_delay,
        MailHold::HoldSender => words.title_hold_sender,
        MailHold::HoldApproval => words.title_hold_approval,
    };
    let mut html = head(lang, title);
    let notice_text = match notice {
        Notice::None | Notice::Expired => None,
        Notice::Done => Some(words.done),
        Notice::Already => Some(words.already),
        Notice::NotAllowed => Some(words.not_allowed),
        Notice::BadForm => Some(words.bad_form),
    };
    if let Some(text) = notice_text {
        html.push_str(&format!(
            "<p class=\"notice\" role=\"status\">{}</p>\n",
            escape(text)
        ));
    }
    let expired = action.is_none() && now_us >= link.expires_us;
    let state = match action {
        Some(action) => {
            let template = match (action.action, action.reader) {
                (MailDecision::Release, MailReader::Approver) => words.approved,
                (MailDecision::Release, MailReader::Sender) => words.released,
                (MailDecision::Cancel, _) => words.cancelled,
            };
            escape(template)
                .replace("{by}", &escape(&action.by))
                .replace("{at}", &escape(&when(action.at_us)))
        }
        None if expired => {
            escape(words.expired).replace("{expires}", &escape(&when(link.expires_us)))
        }
        None => {
            let template = match (link.action, link.reader) {
                (MailHold::Delay, _) => words.pending_delay,
                (MailHold::HoldSender, _) => words.pending_hold_sender,
                (MailHold::HoldApproval, MailReader::Approver) => words.pending_approver,
                (MailHold::HoldApproval, MailReader::Sender) => words.pending_sender_of_approval,
            };
            let send_at = link.send_at_us.map(when).unwrap_or_default();
            escape(template).replace("{send_at}", &escape(&send_at))
        }
    };
    let state_class = match action.map(|a| a.action) {
        Some(MailDecision::Release) => "released",
        Some(MailDecision::Cancel) => "cancelled",
        None if expired => "expired",
        None => "pending",
    };
    html.push_str(&format!(
        "<p class=\"state {state_class}\" id=\"state\" data-state=\"{state_class}\">{state}</p>\n"
    ));
    if action.is_none() && !expired {
        let may_release =
            !(link.action == MailHold::HoldApproval && link.reader == MailReader::Sender);
        if may_release {
            let label = match link.reader {
                MailReader::Approver => words.approve,
                MailReader::Sender => words.release,
            };
            html.push_str(&form("release", label));
        }
        html.push_str(&form("cancel", words.cancel));
    }
    html.push_str("<dl>\n");
    let mut item = |term: &str, value: &str| {
        html.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>\n",
            escape(term),
            escape(value)
        ));
    };
    item(words.sender, &link.sender);
    item(words.received, &when(link.received_us));
    if let (MailHold::Delay, Some(send_at)) = (link.action, link.send_at_us) {
        item(words.send_at, &when(send_at));
    }
    item(words.expires, &when(link.expires_us));
    item(words.queue_id, &link.id);
    html.push_str(&format!("<dt>{}</dt><dd><ul>\n", escape(words.recipients)));
    for recipient in &link.recipients {
        html.push_str(&format!("<li>{}</li>\n", escape(recipient)));
    }
    html.push_str("</ul></dd>\n</dl>\n");
    html.push_str(&format!("<h2>{}</h2>\n", escape(words.reasons)));
    if link.reasons.is_empty() {
        html.push_str(&format!("<p>{}</p>\n", escape(words.no_reasons)));
    } else {
        html.push_str("<ul class=\"reasons\">\n");
        for reason in &link.reasons {
            let (first, second) = match lang {
                Lang::En => (&reason.en, &reason.ja),
                Lang::Ja => (&reason.ja, &reason.en),
            };
            let text = [first, second, &reason.check]
                .into_iter()
                .find(|t| !t.trim().is_empty())
                .map_or("", |t| t.as_str());
            html.push_str(&format!("<li>{}</li>\n", escape(text)));
        }
        html.push_str("</ul>\n");
    }
    html.push_str(&foot(lang));
    html
}

/// A form posting `action` to the page's own address.
fn form(action: &str, label: &str) -> String {
    format!(
        "<form method=\"post\"><input type=\"hidden\" name=\"action\" value=\"{action}\">\
<button type=\"submit\">{}</button></form>\n",
        escape(label)
    )
}

fn not_found(lang: Lang) -> Response {
    let words = words(lang);
    html_response(
        StatusCode::NOT_FOUND,
        lang,
        message_page(lang, words.not_found_title, words.not_found),
    )
}

/// The store is busy (`429`) or not available (`503`); anything else is logged as `500`.
fn unavailable(lang: Lang, refusal: Refusal) -> Response {
    let words = words(lang);
    let status = refusal.status();
    if !matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        tracing::error!(
            status = status.as_u16(),
            error = refusal.message(),
            "mail link page"
        );
    }
    let mut response = html_response(
        status,
        lang,
        message_page(lang, words.busy_title, words.busy),
    );
    if matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn html_response(status: StatusCode, lang: Lang, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_LANGUAGE, words(lang).lang),
            (header::VARY, "Accept-Language"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::HeaderName::from_static("x-robots-tag"),
                "noindex, nofollow",
            ),
        ],
        html,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn registration(link: Value) -> Vec<u8> {
        json!({ "links": [link] }).to_string().into_bytes()
    }

    fn good() -> Value {
        json!({
            "token_sha256": "ab".repeat(32),
            "id": "Q-1.a_b",
            "reader": "approver",
            "reader_address": "boss@example.co.jp",
            "sender": "taro@example.co.jp",
            "recipients": ["bob@examp1e.co.jp"],
            "action": "hold_approval",
            "reasons": [{"check": "lookalike_domain", "en": "<script>alert(1)</script>", "ja": "類似\nドメイン"}],
            "received": "2026-12-01T10:00:00Z",
            "send_at": null,
            "expires": "2026-12-04T10:00:00Z",
        })
    }

    fn refused(link: Value) -> String {
        match parse_links(&registration(link), "guard") {
            Ok(_) => panic!("accepted"),
            Err(refusal) => {
                assert_eq!(refusal.status(), StatusCode::BAD_REQUEST);
                refusal.message().to_string()
            }
        }
    }

    #[test]
    fn registrations_are_checked_field_by_field() {
        let links = parse_links(&registration(good()), "guard").unwrap();
        assert_eq!(links[0].token_sha256, [0xab; 32]);
        assert_eq!(links[0].agent, "guard");
        assert_eq!(links[0].send_at_us, None);
        assert_eq!(links[0].expires_us, 1_796_378_400_000_000);

        let cases: &[(&str, Value, &str)] = &[
            (
                "token_sha256",
                json!("AB".repeat(32)),
                "links[0].token_sha256",
            ),
            ("token_sha256", json!("ab"), "links[0].token_sha256"),
            ("id", json!(""), "links[0].id"),
            ("id", json!("a/b"), "links[0].id"),
            ("id", json!("a".repeat(65)), "links[0].id"),
            ("reader", json!("boss"), "links[0].reader"),
            ("action", json!("reject"), "links[0].action"),
            ("reader_address", json!(""), "links[0].reader_address"),
            ("sender", json!("a\u{0}b"), "links[0].sender"),
            ("recipients", json!([1]), "links[0].recipients[0]"),
            (
                "recipients",
                json!(["x".repeat(321)]),
                "links[0].recipients[0]",
            ),
            ("received", json!("yesterday"), "links[0].received"),
            ("send_at", json!("soon"), "links[0].send_at"),
            ("expires", json!(5), "links[0].expires"),
            (
                "reasons",
                json!([{"check": "x", "en": "y"}]),
                "links[0].reasons[0]",
            ),
            (
                "reasons",
                json!([{"check": "", "en": "", "ja": ""}]),
                "links[0].reasons[0].check",
            ),
            ("surprise", json!(1), "surprise"),
        ];
        for (field, value, named) in cases {
            let mut link = good();
            link[field] = value.clone();
            let message = refused(link);
            assert!(message.contains(named), "{field}: {message}");
        }
        let mut link = good();
        link.as_object_mut().unwrap().remove("id");
        assert!(refused(link).contains("id"));
        let many: Vec<Value> = (0..101).map(|_| good()).collect();
        let message = match parse_links(json!({ "links": many }).to_string().as_bytes(), "g") {
            Err(refusal) => refusal.message().to_string(),
            Ok(_) => panic!("accepted"),
        };
        assert!(message.contains("links"), "{message}");
        for body in [&b"not json"[..], b"{}", b"{\"links\": []} []"] {
            assert!(parse_links(body, "g").is_err());
        }
    }

    fn link(action: MailHold, reader: MailReader) -> MailLink {
        let mut links = parse_links(&registration(good()), "guard").unwrap();
        let mut link = links.remove(0);
        link.action = action;
        link.reader = reader;
        link
    }

    #[test]
    fn the_page_escapes_every_value_and_offers_only_what_the_reader_may_do() {
        let mut approval = link(MailHold::HoldApproval, MailReader::Approver);
        approval.sender = "\"><b>x</b>@example.co.jp".into();
        let page = render(Lang::En, &approval, None, 0, Notice::None);
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<b>x</b>"));
        assert!(page.contains("Approve and send"));
        assert!(page.contains("value=\"release\"") && page.contains("value=\"cancel\""));
        assert!(page.contains("data-state=\"pending\""));
        // In Japanese, the Japanese reason.
        let page = render(Lang::Ja, &approval, None, 0, Notice::None);
        assert!(page.contains("類似\nドメイン") && page.contains("承認して送信"));

        let by_sender = link(MailHold::HoldApproval, MailReader::Sender);
        let page = render(Lang::Ja, &by_sender, None, 0, Notice::None);
        assert!(!page.contains("value=\"release\"") && page.contains("value=\"cancel\""));

        let expired = render(Lang::En, &by_sender, None, i64::MAX, Notice::None);
        assert!(expired.contains("data-state=\"expired\"") && !expired.contains("<form"));

        let action = MailAction {
            seq: 1,
            agent: "guard".into(),
            id: "Q-1".into(),
            action: MailDecision::Cancel,
            by: "<i>taro</i>@example.co.jp".into(),
            reader: MailReader::Sender,
            at_us: 1_796_378_400_000_000,
        };
        let page = render(Lang::En, &by_sender, Some(&action), 0, Notice::Already);
        assert!(page.contains("data-state=\"cancelled\"") && !page.contains("<form"));
        assert!(page.contains("&lt;i&gt;taro&lt;/i&gt;@example.co.jp at 2026-12-04 10:00 UTC"));
    }
}
