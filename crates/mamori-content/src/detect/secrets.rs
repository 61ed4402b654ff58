//! Credentials: private keys, cloud keys, API tokens, JWTs, password assignments.
//!
//! Every kind starts at a literal the scan's single Aho-Corasick pass finds (`-----BEGIN `,
//! `AKIA`, `ghp_`…); the checks here then read forward from it with the exact shape of that
//! credential (alphabet, length, word boundaries; a JWT's header must decode to JSON with an
//! `alg`). Vendor tokens with a fixed prefix and length are near-certain (0.9–0.99). A generic
//! `password = …` assignment is a guess (0.6 at best): its value must look like a password, not
//! a placeholder, a variable or a function call.

use base64::Engine;

use super::{Candidate, FindingKind};

/// What a secret prefix announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefix {
    Pem,
    AwsKeyId,
    AwsSecretCue,
    GitHub,
    GitHubPat,
    Slack,
    SlackWebhook,
    Google,
    StripeLive,
    StripeRestricted,
    StripeTest,
    Jwt,
    GitLab,
    Npm,
    OpenAi,
    Anthropic,
    AzureAccountKey,
}

/// The literals, as the scan searches them (ASCII case-insensitively: the checks below
/// re-check case where it matters).
pub(crate) const PREFIXES: &[(&str, Prefix)] = &[
    ("-----BEGIN ", Prefix::Pem),
    ("AKIA", Prefix::AwsKeyId),
    ("ASIA", Prefix::AwsKeyId),
    ("aws_secret_access_key", Prefix::AwsSecretCue),
    ("secret_access_key", Prefix::AwsSecretCue),
    ("secretaccesskey", Prefix::AwsSecretCue),
    ("secret access key", Prefix::AwsSecretCue),
    ("aws_secret_key", Prefix::AwsSecretCue),
    ("ghp_", Prefix::GitHub),
    ("gho_", Prefix::GitHub),
    ("ghu_", Prefix::GitHub),
    ("ghs_", Prefix::GitHub),
    ("ghr_", Prefix::GitHub),
    ("github_pat_", Prefix::GitHubPat),
    ("xoxb-", Prefix::Slack),
    ("xoxp-", Prefix::Slack),
    ("xoxa-", Prefix::Slack),
    ("xoxr-", Prefix::Slack),
    ("xoxs-", Prefix::Slack),
    ("xapp-", Prefix::Slack),
    ("hooks.slack.com/services/", Prefix::SlackWebhook),
    ("AIza", Prefix::Google),
    ("sk_live_", Prefix::StripeLive),
    ("rk_live_", Prefix::StripeRestricted),
    ("sk_test_", Prefix::StripeTest),
    ("eyJ", Prefix::Jwt),
    ("glpat-", Prefix::GitLab),
    ("npm_", Prefix::Npm),
    ("sk-proj-", Prefix::OpenAi),
    ("sk-ant-", Prefix::Anthropic),
    ("AccountKey=", Prefix::AzureAccountKey),
];

/// Keys whose assigned value may be a password or token (`password=…`, `パスワード：…`).
pub(crate) const PASSWORD_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passcode",
    "pass",
    "pw",
    "パスワード",
    "暗証番号",
    "api_key",
    "apikey",
    "api-key",
    "secret_key",
    "secretkey",
    "client_secret",
    "access_token",
    "auth_token",
    "token",
    "secret",
];

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The length of the run of `ok` bytes at `from`.
/// The length of the run of `ok` bytes at `from`, counted up to [`MAX_RUN`] (longer runs are
/// no credential of any kind here, and an unbounded count would make a hostile text of one
/// long run quadratic).
fn run(t: &[u8], from: usize, ok: impl Fn(u8) -> bool) -> usize {
    run_upto(t, from, ok, MAX_RUN)
}

/// [`run`] counted up to `max`.
fn run_upto(t: &[u8], from: usize, ok: impl Fn(u8) -> bool, max: usize) -> usize {
    t.get(from..)
        .map_or(0, |s| s.iter().take(max).take_while(|&&b| ok(b)).count())
}

/// Longest run [`run`] counts: longer than any token, password or JWT part we accept.
const MAX_RUN: usize = 16 * 1024;

fn secret(
    start: usize,
    end: usize,
    t: &str,
    confidence: f32,
    detail: &str,
    reason: &str,
) -> Option<Candidate> {
    Some(Candidate {
        kind: FindingKind::Secret,
        start,
        end,
        confidence,
        reason: reason.to_owned(),
        value: t.get(start..end)?.to_owned(),
        detail: Some(detail.to_owned()),
    })
}

/// Checks the credential announced by `prefix` at `t[start..end]`.
pub(super) fn check_prefix(
    t: &str,
    start: usize,
    end: usize,
    prefix: Prefix,
    pem_ends: &mut Option<Vec<usize>>,
) -> Option<Candidate> {
    let b = t.as_bytes();
    let exact = t.get(start..end)?;
    let left_free = |ok: fn(u8) -> bool| start == 0 || !b.get(start - 1).copied().is_some_and(ok);
    match prefix {
        Prefix::Pem => pem(t, start, end, pem_ends),
        Prefix::AwsKeyId => {
            if !matches!(exact, "AKIA" | "ASIA") || !left_free(alnum) {
                return None;
            }
            let n = run(b, end, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if n != 16 || b.get(end + n).copied().is_some_and(alnum) {
                return None;
            }
            let (c, what) = if exact == "AKIA" {
                (0.95, "long-term")
            } else {
                (0.9, "temporary")
            };
            secret(
                start,
                end + n,
                t,
                c,
                "aws_access_key_id",
                &format!("AWS access key id ({what}, {exact} + 16)"),
            )
        }
        Prefix::AwsSecretCue => {
            // The value within a few characters after the key: `= "…"`, `: …`, a CSV cell.
            let mut p = end;
            let limit = (end + 24).min(b.len());
            while p < limit
                && !b
                    .get(p)
                    .copied()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'/' || c == b'+')
            {
                p += 1;
            }
            // A CSV header (`Access key ID,Secret access key`) puts the value on the next line.
            if p >= limit {
                return None;
            }
            aws_secret_at(t, p, 0.9, "AWS secret access key (after its key name)")
        }
        Prefix::GitHub => {
            if exact != exact.to_ascii_lowercase() || !left_free(alnum) {
                return None;
            }
            let n = run(b, end, alnum);
            if b.get(end + n).copied().is_some_and(|c| c == b'_') {
                return None;
            }
            let c = match n {
                36 => 0.97,
                30..=60 => 0.8,
                _ => return None,
            };
            secret(
                start,
                end + n,
                t,
                c,
                "github_token",
                &format!("GitHub token ({exact})"),
            )
        }
        Prefix::GitHubPat => {
            if exact != "github_pat_" || !left_free(alnum) {
                return None;
            }
            let n = run(b, end, |c| alnum(c) || c == b'_');
            if n < 40 {
                return None;
            }
            secret(
                start,
                end + n,
                t,
                0.97,
                "github_token",
                "GitHub fine-grained token (github_pat_)",
            )
        }
        Prefix::Slack => {
            if exact != exact.to_ascii_lowercase() || !left_free(alnum) {
                return None;
            }
            let n = run(b, end, |c| alnum(c) || c == b'-');
            let body = t.get(end..end + n)?;
            if n < 10 || !body.bytes().any(|c| c.is_ascii_digit()) {
                return None;
            }
            secret(
                start,
                end + n,
                t,
                0.95,
                "slack_token",
                &format!("Slack token ({exact})"),
            )
        }
        Prefix::SlackWebhook => {
            let n = run(b, end, |c| alnum(c) || c == b'/');
            let path = t.get(end..end + n)?;
            let parts: Vec<&str> = path.split('/').collect();
            let ok = matches!(parts.as_slice(), [team, bot, key, ..]
                if team.starts_with('T') && bot.starts_with('B') && key.len() >= 20);
            if !ok {
                return None;
            }
            // Include the scheme when it is there.
            let s = t
                .get(..start)?
                .strip_suffix("https://")
                .map_or(start, |p| p.len());
            secret(
                s,
                end + n,
                t,
                0.95,
                "slack_webhook",
                "Slack incoming webhook URL",
            )
        }
        Prefix::Google => {
            if exact != "AIza" || !left_free(b64url) {
                return None;
            }
            let n = run(b, end, b64url);
            if n != 35 {
                return None;
            }
            secret(
                start,
                end + n,
                t,
                0.95,
                "google_api_key",
                "Google API key (AIza + 35)",
            )
        }
        Prefix::StripeLive | Prefix::StripeRestricted | Prefix::StripeTest => {
            if exact != exact.to_ascii_lowercase() || !left_free(alnum) {
                return None;
            }
            let n = run(b, end, alnum);
            if !(24..=128).contains(&n) {
                return None;
            }
            let (c, detail) = match prefix {
                Prefix::StripeLive => (0.95, "stripe_secret_key"),
                Prefix::StripeRestricted => (0.9, "stripe_restricted_key"),
                _ => (0.4, "stripe_test_key"),
            };
            secret(
                start,
                end + n,
                t,
                c,
                detail,
                &format!("Stripe key ({exact})"),
            )
        }
        Prefix::Jwt => jwt(t, start),
        Prefix::GitLab => {
            if exact != "glpat-" || !left_free(alnum) {
                return None;
            }
            let n = run(b, end, b64url);
            if !(20..=64).contains(&n) {
                return None;
            }
            secret(
                start,
                end + n,
                t,
                0.95,
                "gitlab_token",
                "GitLab personal access token (glpat-)",
            )
        }
        Prefix::Npm => {
            if exact != "npm_" || !left_free(alnum) {
                return None;
            }
            let n = run(b, end, alnum);
            if n != 36 {
                return None;
            }
            secret(
                start,
                end + n,
                t,
                0.9,
                "npm_token",
                "npm access token (npm_ + 36)",
            )
        }
        Prefix::OpenAi | Prefix::Anthropic => {
            if exact != exact.to_ascii_lowercase() || !left_free(alnum) {
                return None;
            }
            let n = run(b, end, b64url);
            if n < 32 {
                return None;
            }
            let detail = if prefix == Prefix::OpenAi {
                "openai_api_key"
            } else {
                "anthropic_api_key"
            };
            secret(
                start,
                end + n,
                t,
                0.9,
                detail,
                &format!("API key ({exact})"),
            )
        }
        Prefix::AzureAccountKey => {
            let n = run(b, end, |c| alnum(c) || c == b'+' || c == b'/' || c == b'=');
            let v = t.get(end..end + n)?;
            if !(80..=90).contains(&n) || !v.ends_with("==") {
                return None;
            }
            secret(
                end,
                end + n,
                t,
                0.9,
                "azure_storage_key",
                "Azure storage account key (AccountKey=)",
            )
        }
    }
}

/// A 40-character AWS secret access key at `p`.
fn aws_secret_at(t: &str, p: usize, confidence: f32, reason: &str) -> Option<Candidate> {
    let b = t.as_bytes();
    if p > 0
        && b.get(p - 1)
            .copied()
            .is_some_and(|c| alnum(c) || c == b'/' || c == b'+')
    {
        return None;
    }
    let n = run(b, p, |c| alnum(c) || c == b'/' || c == b'+');
    let v = t.get(p..p + n)?;
    // Forty characters of mixed case and digits (not a hex digest, not a word).
    let mixed =
        v.bytes().any(|c| c.is_ascii_uppercase()) && v.bytes().any(|c| c.is_ascii_lowercase());
    if n != 40 || !mixed || b.get(p + n) == Some(&b'=') {
        return None;
    }
    secret(p, p + n, t, confidence, "aws_secret_access_key", reason)
}

/// Finds the AWS secret key that usually follows an access key id (same line or the next
/// cell), without a key name: credentials CSVs, `aws configure` transcripts.
pub(super) fn aws_secret_near(t: &str, id_end: usize) -> Option<Candidate> {
    let b = t.as_bytes();
    let limit = (id_end + 120).min(b.len());
    let mut p = id_end;
    while p < limit {
        let c = *b.get(p)?;
        if alnum(c) || c == b'/' || c == b'+' {
            if let Some(found) = aws_secret_at(
                t,
                p,
                0.85,
                "AWS secret access key (next to an access key id)",
            ) {
                return Some(found);
            }
            p += run(b, p, |c| alnum(c) || c == b'/' || c == b'+');
        } else {
            p += 1;
        }
    }
    None
}

/// A PEM private-key block: `-----BEGIN … PRIVATE KEY-----` up to its END line.
/// How far after its header a PEM block's footer is looked for.
const PEM_MAX: usize = 256 * 1024;

/// `pem_ends` holds every `-----END ` of the text, found once per scan on the first header, so
/// that many headers without footers (a hostile file) cost a binary search each, not a scan
/// of the following 256 KiB each.
fn pem(t: &str, start: usize, end: usize, pem_ends: &mut Option<Vec<usize>>) -> Option<Candidate> {
    let rest = t.get(end..)?;
    let close = rest.get(..rest.len().min(64))?.find("-----")?;
    let label = rest.get(..close)?;
    if !label
        .bytes()
        .all(|c| c.is_ascii_uppercase() || c == b' ' || c.is_ascii_digit())
        || !(label.ends_with("PRIVATE KEY") || label.ends_with("PRIVATE KEY BLOCK"))
    {
        return None;
    }
    let header_end = end + close + 5;
    let footer = format!("-----END {label}-----");
    let limit = (header_end + PEM_MAX).min(t.len());
    let search = t.get(header_end..limit)?;
    let ends = pem_ends
        .get_or_insert_with(|| memchr::memmem::find_iter(t.as_bytes(), "-----END ").collect());
    let first = ends.partition_point(|&e| e < header_end);
    let footer_at = ends
        .get(first..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&e| e < limit)
        .take(16)
        .find(|&&e| t.get(e..).is_some_and(|r| r.starts_with(&footer)))
        .map(|&e| e - header_end);
    let kind = label
        .trim_end_matches(" BLOCK")
        .trim_end_matches("PRIVATE KEY")
        .trim();
    let what = if kind.is_empty() {
        "PKCS#8".to_owned()
    } else {
        kind.to_owned()
    };
    match footer_at {
        Some(i) => {
            let stop = header_end + i + footer.len();
            secret(
                start,
                stop,
                t,
                0.99,
                "private_key",
                &format!("PEM {what} private key block"),
            )
        }
        // A truncated block (a pasted fragment): the header and a line of key material still
        // say it; a header alone is documentation (`-----BEGIN PRIVATE KEY-----` in a manual).
        None => {
            let body = search.trim_start_matches(['\r', '\n', ' ']);
            let material = body
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
                .count();
            let c = if material >= 16 { 0.85 } else { 0.4 };
            secret(
                start,
                header_end,
                t,
                c,
                "private_key",
                &format!("PEM {what} private key header without its end"),
            )
        }
    }
}

/// A JSON Web Token: three base64url parts, the header a JSON object with `alg`.
fn jwt(t: &str, start: usize) -> Option<Candidate> {
    let b = t.as_bytes();
    if start > 0
        && b.get(start - 1)
            .copied()
            .is_some_and(|c| b64url(c) || c == b'.')
    {
        return None;
    }
    let h = run(b, start, b64url);
    if b.get(start + h) != Some(&b'.') {
        return None;
    }
    let p0 = start + h + 1;
    let p = run(b, p0, b64url);
    if p < 2 || b.get(p0 + p) != Some(&b'.') {
        return None;
    }
    let s0 = p0 + p + 1;
    let s = run(b, s0, b64url);
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.decode(t.get(start..start + h)?).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    let alg = header.get("alg")?.as_str()?;
    let payload_json = engine
        .decode(t.get(p0..p0 + p)?)
        .ok()
        .and_then(|v| serde_json::from_slice::<serde_json::Value>(&v).ok())
        .is_some_and(|v| v.is_object());
    let (c, signed) = if s == 0 {
        (0.8, "unsigned")
    } else {
        (if payload_json { 0.95 } else { 0.85 }, "signed")
    };
    secret(
        start,
        s0 + s,
        t,
        c,
        "jwt",
        &format!("JWT ({signed}, alg {alg})"),
    )
}

/// Values that are not secrets: placeholders, variables, calls.
pub(super) fn placeholder(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "xxxxxx",
        "none",
        "null",
        "nil",
        "true",
        "false",
        "undefined",
        "required",
        "optional",
        "string",
        "your_password",
        "yourpassword",
        "your-password",
        "example",
        "dummy",
        "secret",
        "hidden",
        "redacted",
        "changeit",
        "placeholder",
        "token",
        "value",
        "empty",
    ];
    WORDS.contains(&lower.as_str())
        || lower.starts_with("your")
        || v.starts_with(['$', '%', '<', '{', '@', '*', '&'])
        || v.contains(['(', ')', '[', ']', '{', '}', '<', '>'])
        || v.contains("::")
        || v.contains("...")
        || lower.starts_with("os.")
        || lower.starts_with("process.env")
        || lower.starts_with("env.")
        || lower.starts_with("self.")
        || lower.starts_with("this.")
        || v.chars().all(|c| c == v.chars().next().unwrap_or(' '))
}

/// A `key = value` / `key: value` / `パスワード：value` assignment at the key `t[start..end]`.
pub(super) fn check_password(t: &str, start: usize, end: usize) -> Option<Candidate> {
    let b = t.as_bytes();
    let key = t.get(start..end)?.to_ascii_lowercase();
    let ascii_key = key.is_ascii();
    if ascii_key {
        // A whole key: `db_password`, `DB.PASSWORD`, `"password"`, not `mypassword`,
        // `password_hash`, `passport`.
        if start > 0
            && b.get(start - 1)
                .copied()
                .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            return None;
        }
        let next = b.get(end).copied();
        if next.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-') {
            return None;
        }
    }
    // Closing quote of a JSON/YAML key, spaces, then the assignment.
    let mut p = end;
    while matches!(b.get(p), Some(b'"' | b'\'' | b' ' | b'\t')) {
        p += 1;
    }
    let rest = t.get(p..)?;
    let sep_len = if rest.starts_with(":=") || rest.starts_with("=>") {
        2
    } else if rest.starts_with([':', '=']) {
        1
    } else if !ascii_key && rest.starts_with('は') {
        'は'.len_utf8()
    } else {
        return None;
    };
    p += sep_len;
    while matches!(b.get(p), Some(b'"' | b'\'' | b' ' | b'\t' | b'`')) {
        p += 1;
    }
    // The value: printable ASCII up to a space, a quote or a delimiter.
    // (At most 513 bytes: longer values are rejected below, and `password=password=…` must
    // not read ahead its whole length at every key.)
    let n = run_upto(
        b,
        p,
        |c| c.is_ascii_graphic() && !matches!(c, b'"' | b'\'' | b'`' | b',' | b';'),
        513,
    );
    let v = t.get(p..p + n)?.trim_end_matches(['.', ':']);
    let n = v.len();
    if n == 0 || placeholder(v) {
        return None;
    }
    let classes = [
        v.bytes().any(|c| c.is_ascii_lowercase()),
        v.bytes().any(|c| c.is_ascii_uppercase()),
        v.bytes().any(|c| c.is_ascii_digit()),
        v.bytes().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    let (confidence, detail, reason) = match key.as_str() {
        "暗証番号" => {
            if !(4..=8).contains(&n) || !v.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            (0.55, "pin", "PIN after 暗証番号")
        }
        "password" | "passwd" | "pwd" | "passcode" | "pass" | "pw" | "パスワード" => {
            if !(6..=128).contains(&n) {
                return None;
            }
            // An identifier (`status_t`, `options.password`, `String`) is a type or a
            // variable, not a password: real ones have digits or symbols.
            let identifier = v
                .bytes()
                .all(|c| c.is_ascii_alphabetic() || matches!(c, b'_' | b'.' | b'-'));
            if !identifier && ((n >= 8 && classes >= 2) || classes >= 3) {
                (0.6, "password", "password assignment")
            } else {
                (0.4, "password", "password assignment (weak value)")
            }
        }
        _ => {
            // Tokens and API keys: long and random-looking — mixed case with digits, a long hex
            // string, or lower case with many digits; never a dotted path (`node.colon2_token`).
            let digits = v.bytes().filter(u8::is_ascii_digit).count();
            let hex = n >= 32 && v.bytes().all(|c| c.is_ascii_hexdigit());
            let mixed = v.bytes().any(|c| c.is_ascii_uppercase())
                && v.bytes().any(|c| c.is_ascii_lowercase())
                && digits > 0;
            let lower_digits = n >= 24 && digits * 5 >= n;
            if !(16..=512).contains(&n) || v.contains('.') || !(hex || mixed || lower_digits) {
                return None;
            }
            (0.6, "api_key", "token or API key assignment")
        }
    };
    secret(p, p + n, t, confidence, detail, reason)
}

#[cfg(test)]
mod tests {
    use crate::detect::{Detector, DetectorConfig, FindingKind};

    fn secrets(text: &str) -> Vec<(String, String, f32)> {
        let d = Detector::new(&DetectorConfig {
            min_confidence: 0.0,
            ..DetectorConfig::default()
        });
        d.scan(text)
            .into_iter()
            .filter(|f| f.kind == FindingKind::Secret)
            .map(|f| {
                let s: String = text.chars().skip(f.start).take(f.end - f.start).collect();
                assert_eq!(s, f.value);
                (s, f.detail.unwrap_or_default(), f.confidence)
            })
            .collect()
    }

    fn one(text: &str) -> (String, String, f32) {
        let s = secrets(text);
        assert_eq!(s.len(), 1, "{text}: {s:?}");
        s.into_iter().next().unwrap_or_default()
    }

    #[test]
    fn private_keys() {
        let key =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----";
        let (s, d, c) = one(&format!("鍵:\n{key}\n以上"));
        assert_eq!((s.as_str(), d.as_str(), c), (key, "private_key", 0.99));
        for label in [
            "EC PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
            "PRIVATE KEY",
            "PGP PRIVATE KEY BLOCK",
            "ENCRYPTED PRIVATE KEY",
        ] {
            let k = format!("-----BEGIN {label}-----\nabc\n-----END {label}-----");
            assert_eq!(one(&k).0, k);
        }
        assert_eq!(
            one("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA").2,
            0.85
        );
        assert_eq!(one("/// -----BEGIN PRIVATE KEY-----\n/// ```").2, 0.4);
        assert!(secrets("-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----").is_empty());
        assert!(secrets("-----BEGIN PUBLIC KEY-----").is_empty());
    }

    #[test]
    fn aws_keys() {
        let (s, d, _) = one("aws_access_key_id = AKIAIOSFODNN7EXAMPLE");
        assert_eq!(
            (s.as_str(), d.as_str()),
            ("AKIAIOSFODNN7EXAMPLE", "aws_access_key_id")
        );
        assert!(secrets("AKIAIOSFODNN7EXAMPL").is_empty());
        assert!(secrets("XAKIAIOSFODNN7EXAMPLE").is_empty());
        assert!(secrets("akiaiosfodnn7example").is_empty());
        assert!(secrets("Slovakia is a country").is_empty());
        let s = secrets("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert_eq!(s[0].1, "aws_secret_access_key");
        let s = secrets("AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n");
        assert_eq!(s.len(), 2, "{s:?}");
    }

    #[test]
    fn vendor_tokens() {
        let gh = format!("ghp_{}", "a1B2c3D4e5".repeat(3) + "f6G7h8");
        assert_eq!(one(&format!("token: {gh}")).0, gh);
        assert_eq!(one(&format!("token: {gh}")).1, "github_token");
        let pat = format!(
            "github_pat_11ABCDEFG0{}_{}",
            "x".repeat(12),
            "Y1".repeat(29)
        );
        assert_eq!(one(&pat).0, pat);
        let slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
        assert_eq!(one(slack).1, "slack_token");
        let google = format!("AIza{}", "Sy1_-abcdefghijklmnopqrstuvwxyz0123");
        assert_eq!(one(&google).1, "google_api_key");
        let stripe = format!("sk_live_{}", "4eC39HqLyjWDarjtT1zdp7dc");
        assert_eq!(one(&stripe).1, "stripe_secret_key");
        let hook = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";
        assert_eq!(one(hook).0, hook);
    }

    #[test]
    fn jwts() {
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        let (s, d, c) = one(&format!("Authorization: Bearer {jwt}"));
        assert_eq!((s.as_str(), d.as_str(), c), (jwt, "jwt", 0.95));
        // A header that is not JSON with alg.
        assert!(secrets("eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.abc").is_empty());
        assert!(secrets("eyJhbGciOiJIUzI1NiJ9").is_empty());
    }

    #[test]
    fn password_assignments() {
        let (s, d, c) = one("DB_PASSWORD=Xk9#mP2qLw");
        assert_eq!(one("password: hunter2!").2, 0.6);
        for weak in [
            "B_MAIL_WRONG_PASSWORD: status_t = 1",
            "password: options.password",
            "pass: Cell<usize>",
            "password: String",
        ] {
            assert!(
                secrets(weak).iter().all(|s| s.2 < 0.5),
                "{weak}: {:?}",
                secrets(weak)
            );
        }
        assert!(secrets("colon2_token: node.colon2_token,").is_empty());
        assert_eq!((s.as_str(), d.as_str(), c), ("Xk9#mP2qLw", "password", 0.6));
        assert_eq!(one("パスワード：Sakura2024!").0, "Sakura2024!");
        assert_eq!(one("\"password\": \"Tr0ub4dor&3\",").0, "Tr0ub4dor&3");
        assert_eq!(
            one("api_key = 'a8f5f167f44f4964e6c998dee827110c'").1,
            "api_key"
        );
        for no in [
            "password = os.environ['DB_PASSWORD']",
            "password: ${DB_PASSWORD}",
            "password=********",
            "password = <your password>",
            "password_hash = abcdefgh1234",
            "passport: TK1234567",
            "mypassword=Abcdefg123",
            "パスワードは別途お送りします",
            "password = input()",
        ] {
            assert!(
                secrets(no).iter().all(|s| s.2 < 0.5),
                "{no}: {:?}",
                secrets(no)
            );
        }
        assert!(secrets("password=abc").is_empty());
    }

    #[test]
    fn url_credentials() {
        assert!(secrets("abc://username:password@example.com:123/path").is_empty());
        let s = secrets("postgres://admin:Hunter2pass@db.example.com:5432/app");
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].1, "url_credentials");
    }
}
