//! E-mail addresses: each `@` (full-width `＠` is `@` after NFKC) with a plausible local part
//! before it and a domain with a real-looking top-level domain after it.
//!
//! The local part is the practical subset (`A-Z a-z 0-9 . _ % + -`, no leading, trailing or
//! doubled dot), not every RFC 5322 form: quoted local parts and `!#$&'*/=?^{|}~` are legal but
//! in text they are far more often URL query syntax (`?to=a@b.jp`) than addresses. Retina image
//! names (`icon@2x.png`) are not addresses: the top-level domain must be letters and not a file
//! extension. `user:password@host` after `scheme://` is a credential in a URL, reported as a
//! secret by [`super::secrets`], not as an address.

use std::ops::Range;

use super::{Candidate, FindingKind};

/// Top-level "domains" that are file extensions in practice.
const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "css", "js", "ts", "map", "json",
    "xml", "html", "htm", "txt", "pdf", "mp4", "mp3", "wav", "tif", "tiff", "heic", "avif", "md",
    "rs", "py", "go", "java", "c", "h", "cpp", "rb", "sh", "log", "csv",
];

fn local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn domain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// Finds the e-mail addresses whose `@` is in `range` of the normalised text `t`.
pub(super) fn scan(t: &str, range: Range<usize>, out: &mut Vec<Candidate>) {
    let Some(b) = t.as_bytes().get(range.start..range.end.min(t.len())) else {
        return;
    };
    for at in memchr::memchr_iter(b'@', b) {
        if let Some(c) = check(t, range.start + at) {
            out.push(c);
        }
    }
}

fn check(t: &str, at: usize) -> Option<Candidate> {
    let b = t.as_bytes();
    // Local part: back from the @, at most 64 bytes.
    let mut s = at;
    while s > 0 && at - s < 64 && b.get(s - 1).copied().is_some_and(local_byte) {
        s -= 1;
    }
    if s > 0 && b.get(s - 1).copied().is_some_and(local_byte) {
        return None; // longer than 64
    }
    // Trim leading dots and hyphens (punctuation before the address, `--taro@…`).
    while s < at && matches!(b.get(s), Some(b'.' | b'-')) {
        s += 1;
    }
    let local = t.get(s..at)?;
    if local.is_empty() || local.ends_with('.') || local.contains("..") {
        return None;
    }
    // `scheme://user:password@host`: a URL credential, not an address.
    if s > 0 && b.get(s - 1) == Some(&b':') && t.get(..s).is_some_and(|p| p.contains("://")) {
        return url_credentials(t, s, at);
    }
    // Domain: forward from the @, at most 253 bytes, trailing dots and hyphens dropped.
    let mut e = at + 1;
    while e < b.len() && e - at <= 253 && b.get(e).copied().is_some_and(domain_byte) {
        e += 1;
    }
    while e > at + 1 && matches!(b.get(e - 1), Some(b'.' | b'-')) {
        e -= 1;
    }
    let domain = t.get(at + 1..e)?;
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels
            .iter()
            .any(|l| l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-'))
    {
        return None;
    }
    let tld = labels.last()?;
    let tld_ok =
        (tld.len() >= 2 && tld.len() <= 24 && tld.bytes().all(|c| c.is_ascii_alphabetic()))
            || (tld.starts_with("xn--") && tld.len() > 4);
    if !tld_ok || FILE_EXTENSIONS.contains(&tld.to_ascii_lowercase().as_str()) {
        return None;
    }
    // The address must not continue into an identifier (`a@b.jp_x`) or another `@`.
    if b.get(e).is_some_and(|&c| c == b'_' || c == b'@') {
        return None;
    }
    let value = format!("{local}@{domain}").to_ascii_lowercase();
    Some(Candidate {
        kind: FindingKind::Email,
        start: s,
        end: e,
        confidence: 0.95,
        reason: "e-mail address".to_owned(),
        value,
        detail: None,
    })
}

/// The `user:password` of `scheme://user:password@host`, whose password is `t[pass..at]`.
fn url_credentials(t: &str, pass: usize, at: usize) -> Option<Candidate> {
    let b = t.as_bytes();
    let colon = pass.checked_sub(1)?;
    let mut u = colon;
    while u > 0 && b.get(u - 1).copied().is_some_and(local_byte) {
        u -= 1;
    }
    if !t.get(..u)?.ends_with("://") {
        return None;
    }
    let password = t.get(pass..at)?;
    if password.len() < 4 || super::secrets::placeholder(password) {
        return None;
    }
    Some(Candidate {
        kind: FindingKind::Secret,
        start: u,
        end: at,
        confidence: 0.8,
        reason: "user and password in a URL".to_owned(),
        value: t.get(u..at)?.to_owned(),
        detail: Some("url_credentials".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emails(t: &str) -> Vec<String> {
        let mut out = Vec::new();
        scan(t, 0..usize::MAX, &mut out);
        out.into_iter()
            .map(|c| t[c.start..c.end].to_owned())
            .collect()
    }

    #[test]
    fn finds_addresses() {
        assert_eq!(
            emails("メール: taro.yamada@example.co.jp です"),
            ["taro.yamada@example.co.jp"]
        );
        assert_eq!(
            emails("<a.b+tag@mail-1.example.com>."),
            ["a.b+tag@mail-1.example.com"]
        );
        assert_eq!(emails("mailto:hanako@example.jp"), ["hanako@example.jp"]);
        assert_eq!(emails("連絡はsato@example.jpまで"), ["sato@example.jp"]);
        assert_eq!(
            emails("x@xn--eckwd4c7c.xn--zckzah"),
            ["x@xn--eckwd4c7c.xn--zckzah"]
        );
    }

    #[test]
    fn rejects_non_addresses() {
        assert!(emails("icon@2x.png").is_empty());
        assert!(emails("@mention and foo@ and @bar.com").is_empty());
        assert!(emails("user@localhost").is_empty());
        assert!(emails("a..b@example.com").is_empty());
        assert!(emails("a@-example.com").is_empty());
        let mut out = Vec::new();
        scan(
            "postgres://admin:hunter2@db.example.com/x",
            0..usize::MAX,
            &mut out,
        );
        assert!(out.iter().all(|c| c.kind == FindingKind::Secret));
        assert!(emails("a@b.c").is_empty());
        assert!(emails("a@example.123").is_empty());
    }

    #[test]
    fn value_is_lower_case() {
        let mut out = Vec::new();
        scan("Taro@Example.JP", 0..usize::MAX, &mut out);
        assert_eq!(
            out.first().map(|c| c.value.as_str()),
            Some("taro@example.jp")
        );
    }
}
