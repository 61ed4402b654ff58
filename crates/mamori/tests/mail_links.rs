//! End to end: the release and cancel links of held mail on the real `mamori serve` — the
//! guard registers links with its ingest token, a reader opens the page and decides, the
//! guard reads the decision back (docs/api.md, "Mail links").
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::*;

/// A link token as the guard makes one (here from a fixed byte instead of 32 random ones),
/// and the SHA-256 it registers.
fn token(byte: u8) -> (String, String) {
    let token = URL_SAFE_NO_PAD.encode([byte; 32]);
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    (token, hash)
}

fn link(hash: &str, id: &str, reader: &str, action: &str, expires: &str) -> Value {
    json!({
        "token_sha256": hash,
        "id": id,
        "reader": reader,
        "reader_address": if reader == "approver" { "boss@example.co.jp" } else { "taro@example.co.jp" },
        "sender": "taro@example.co.jp",
        "recipients": ["bob@examp1e.co.jp", "<img src=x>@example.com"],
        "action": action,
        "reasons": [{
            "check": "lookalike_domain",
            "en": "The domain examp1e.co.jp looks like example.co.jp <script>alert(1)</script>",
            "ja": "宛先ドメイン examp1e.co.jp は example.co.jp に似ています <script>alert(1)</script>",
        }],
        "received": "2026-12-01T10:00:00Z",
        "send_at": if action == "delay" { json!("2026-12-01T10:05:00Z") } else { Value::Null },
        "expires": expires,
    })
}

/// A page: status, head and body.
fn page(url: &str, token: &str, query: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let (status, head, body) = http(
        &format!("{url}/mail/hold/{token}{query}"),
        "GET",
        headers,
        &[],
    );
    (status, head, String::from_utf8(body).unwrap())
}

/// A press of a page's button: status and page.
fn press(url: &str, token: &str, form: &str) -> (u16, String) {
    let (status, _, body) = http(
        &format!("{url}/mail/hold/{token}"),
        "POST",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    );
    (status, String::from_utf8(body).unwrap())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn readers_release_or_cancel_held_mail_through_their_links_and_the_guard_reads_it_back() {
    let env = Env::new();
    let guard = last_line_of(env.run(&["agents", "enroll", "mailguard-1"]));
    let other_guard = last_line_of(env.run(&["agents", "enroll", "mailguard-2"]));
    for (user, role) in [("aoki", "analyst"), ("kansa", "auditor")] {
        last_line_of(env.run(&["users", "add", user, "--role", role]));
    }
    let analyst = last_line_of(env.run(&["tokens", "create", "--user", "aoki"]));
    let auditor = last_line_of(env.run(&["tokens", "create", "--user", "kansa"]));
    let (server, tlog) = start_server(&env);
    let url = tlog.strip_suffix("/tlog/events").unwrap().to_string();
    let null = Value::Null;

    let (sender_token, sender_hash) = token(1);
    let (approver_token, approver_hash) = token(2);
    let (delay_token, delay_hash) = token(3);
    let (old_token, old_hash) = token(4);
    let later = "2099-01-01T00:00:00Z";
    let links = json!({"links": [
        link(&sender_hash, "Q-approval", "sender", "hold_approval", later),
        link(&approver_hash, "Q-approval", "approver", "hold_approval", later),
        link(&delay_hash, "Q-delay", "sender", "delay", later),
        link(&old_hash, "Q-old", "sender", "hold_sender", "2020-01-01T00:00:00Z"),
    ]});

    // Only an agent's ingest token registers links and reads decisions.
    let (status, _) = api(&url, &analyst, "POST", "/api/v1/mail/links", &links);
    assert_eq!(status, 403);
    assert_eq!(
        api(&url, &analyst, "GET", "/api/v1/mail/actions", &null).0,
        403
    );
    let stranger = "mmr_000000000000_AAAA";
    assert_eq!(
        api(&url, stranger, "POST", "/api/v1/mail/links", &links).0,
        401
    );
    let (status, head, _) = http(&format!("{url}/api/v1/mail/actions"), "GET", &[], &[]);
    assert_eq!(status, 401);
    assert!(header(&head, "www-authenticate").is_some(), "{head}");

    let (status, answer) = api(&url, &guard, "POST", "/api/v1/mail/links", &links);
    assert_eq!((status, &answer), (200, &json!({"registered": 4})));
    // A retry is answered the same way and stores nothing twice.
    let retry = json!({"links": [links["links"][0]]});
    let (status, answer) = api(&url, &guard, "POST", "/api/v1/mail/links", &retry);
    assert_eq!((status, &answer), (200, &json!({"registered": 1})));

    // A wrong body is refused with the field named, and nothing of it is stored.
    let mut bad = links.clone();
    bad["links"][1]["token_sha256"] = json!("ABC");
    let (status, answer) = api(&url, &guard, "POST", "/api/v1/mail/links", &bad);
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("links[1].token_sha256"),
        "{answer}"
    );
    for (field, value) in [
        ("reader", json!("boss")),
        ("expires", json!("tomorrow")),
        ("id", json!("../etc")),
    ] {
        let mut bad = json!({"links": [links["links"][0]]});
        bad["links"][0][field] = value;
        let (status, answer) = api(&url, &guard, "POST", "/api/v1/mail/links", &bad);
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains(&format!("links[0].{field}")),
            "{answer}"
        );
    }
    let mut extra = json!({"links": [links["links"][0]]});
    extra["links"][0]["body"] = json!("the message");
    let (status, answer) = api(&url, &guard, "POST", "/api/v1/mail/links", &extra);
    assert_eq!(status, 400);
    assert!(
        answer["error"].as_str().unwrap().contains("body"),
        "{answer}"
    );
    let (status, _, body) = http(
        &format!("{url}/api/v1/mail/links"),
        "POST",
        &[("Authorization", &format!("Bearer {guard}"))],
        b"{\"links\": [",
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));

    // The sender's page of a hold for approval: Japanese by default, every value escaped,
    // no release button, the headers of a capability URL.
    let (status, head, html) = page(&url, &sender_token, "", &[]);
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<html lang=\"ja\">"), "{html}");
    assert!(html.contains("承認待ちのメール") && html.contains("taro@example.co.jp"));
    assert!(html.contains("bob@examp1e.co.jp") && html.contains("2026-12-01 10:00 UTC"));
    assert!(html.contains("宛先ドメイン examp1e.co.jp"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x&gt;@example.com"));
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "{html}"
    );
    assert!(html.contains("value=\"cancel\"") && html.contains("取り消す"));
    assert!(!html.contains("value=\"release\""), "{html}");
    assert!(html.contains("data-state=\"pending\""));
    for (name, value) in [
        ("content-type", "text/html; charset=utf-8"),
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("content-language", "ja"),
    ] {
        assert_eq!(header(&head, name), Some(value), "{name}: {head}");
    }
    assert!(header(&head, "x-robots-tag").unwrap().contains("noindex"));
    let csp = header(&head, "content-security-policy").unwrap();
    for directive in [
        "default-src 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("script-src"), "{csp}");

    // English by query or by Accept-Language; the approver's page offers approval.
    let (_, head, html) = page(&url, &approver_token, "?lang=en", &[]);
    assert!(html.contains("<html lang=\"en\">") && html.contains("Approve and send"));
    assert!(html.contains("The domain examp1e.co.jp looks like example.co.jp"));
    assert_eq!(header(&head, "content-language"), Some("en"));
    let (_, _, html) = page(
        &url,
        &approver_token,
        "",
        &[("Accept-Language", "en-GB,ja;q=0.5")],
    );
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    let (_, _, html) = page(&url, &approver_token, "", &[]);
    assert!(html.contains("承認して送信") && html.contains("value=\"release\""));
    let (_, _, html) = page(&url, &delay_token, "?lang=en", &[]);
    assert!(html.contains("2026-12-01 10:05 UTC") && html.contains(">Send<"));

    // Opening pages decided nothing.
    let (status, answer) = api(&url, &guard, "GET", "/api/v1/mail/actions", &null);
    assert_eq!((status, &answer), (200, &json!({"actions": []})));

    // The sender may not release a hold for approval; the approver may, once.
    let (status, html) = press(&url, &sender_token, "action=release");
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("承認者だけが送信できます"), "{html}");
    let (status, html) = press(&url, &approver_token, "action=release");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-state=\"released\"") && !html.contains("<form"));
    assert!(html.contains("boss@example.co.jp"), "{html}");

    let (status, answer) = api(&url, &guard, "GET", "/api/v1/mail/actions", &null);
    assert_eq!(status, 200);
    let actions = answer["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{answer}");
    let first = &actions[0];
    assert_eq!(first["id"], "Q-approval");
    assert_eq!(first["action"], "release");
    assert_eq!(first["by"], "boss@example.co.jp");
    let at: jiff::Timestamp = first["at"].as_str().unwrap().parse().unwrap();
    assert!((jiff::Timestamp::now().as_second() - at.as_second()).abs() < 60);
    let seq = first["seq"].as_i64().unwrap();
    assert!(seq >= 1);
    // Only to the agent that registered the link.
    let (status, answer) = api(&url, &other_guard, "GET", "/api/v1/mail/actions", &null);
    assert_eq!((status, &answer), (200, &json!({"actions": []})));

    // A second decision, through either link, finds the first.
    let (status, html) = press(&url, &sender_token, "action=cancel");
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("data-state=\"released\"") && html.contains("boss@example.co.jp"));
    assert_eq!(press(&url, &approver_token, "action=cancel").0, 409);
    let (status, _, html) = page(&url, &sender_token, "", &[]);
    assert_eq!(status, 200);
    assert!(html.contains("data-state=\"released\"") && !html.contains("<form"));

    // An expired link decides nothing; a form that is not release or cancel neither.
    let (status, html) = press(&url, &old_token, "action=cancel");
    assert_eq!(status, 410, "{html}");
    let (_, _, html) = page(&url, &old_token, "", &[]);
    assert!(html.contains("data-state=\"expired\"") && !html.contains("<form"));
    assert_eq!(press(&url, &delay_token, "action=send-it-all").0, 400);
    assert_eq!(press(&url, &delay_token, "").0, 400);
    let (status, html) = press(&url, &delay_token, "action=cancel");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-state=\"cancelled\""));

    let (status, answer) = api(
        &url,
        &guard,
        "GET",
        &format!("/api/v1/mail/actions?after={seq}"),
        &null,
    );
    assert_eq!(status, 200);
    let actions = answer["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{answer}");
    assert_eq!(
        (&actions[0]["id"], &actions[0]["action"], &actions[0]["by"]),
        (
            &json!("Q-delay"),
            &json!("cancel"),
            &json!("taro@example.co.jp")
        )
    );
    assert!(actions[0]["seq"].as_i64().unwrap() > seq);
    for query in ["?after=-1", "?after=x", "?since=1"] {
        let path = format!("/api/v1/mail/actions{query}");
        assert_eq!(api(&url, &guard, "GET", &path, &null).0, 400, "{query}");
    }

    // Unknown and malformed tokens all get the same 404 page, for GET and POST alike.
    let (unknown, _) = token(9);
    let (status, head, not_found) = page(&url, &unknown, "", &[]);
    assert_eq!(status, 404);
    assert_eq!(header(&head, "cache-control"), Some("no-store"));
    for malformed in ["abc", &format!("{unknown}A"), "%FF%FE", &sender_hash] {
        let (status, _, html) = page(&url, malformed, "", &[]);
        assert_eq!((status, &html), (404, &not_found), "{malformed}");
    }
    let (status, html) = press(&url, &unknown, "action=cancel");
    assert_eq!((status, &html), (404, &not_found));

    // Who decided is in the access log.
    let (status, log) = api(&url, &auditor, "GET", "/api/v1/access-log", &null);
    assert_eq!(status, 200);
    let records = log["access"].as_array().unwrap();
    let decided: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r["action"].as_str().unwrap().starts_with("mail."))
        .map(|r| (r["actor"].as_str().unwrap(), r["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        decided,
        [
            ("taro@example.co.jp", "mail.cancel"),
            ("boss@example.co.jp", "mail.release")
        ],
        "{log}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["target"] == "message Q-approval of agent mailguard-1 (approver link)"),
        "{log}"
    );
    // Neither the tokens nor the addresses are in the request log.
    server.stop();
    let request_log = std::fs::read_to_string(env.dir.path().join("serve.log")).unwrap();
    assert!(request_log.contains("/mail/hold/{token}"), "{request_log}");
    for secret in [sender_token.as_str(), &approver_token, "taro@example.co.jp"] {
        assert!(!request_log.contains(secret), "{secret} logged");
    }
    let out = env.run(&["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
