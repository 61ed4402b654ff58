//! `lookalike::Protected::check` on any text (the bytes read as UTF-8, invalid sequences
//! replaced), against ten fixed protected domains, Japanese and IDN among them: never panics;
//! a match names one of the protected domains and its reason can be written; what
//! `is_protected` calls ours is never flagged, nor is any subdomain of a protected domain
//! (the text put in front of one); each protected domain itself is never flagged (asserted
//! once, when the index is built).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mamori_mailguard::lookalike::Protected;

const DOMAINS: &[&str] = &[
    "example.co.jp",
    "toyota.co.jp",
    "例え.jp",
    "mizuho-fg.co.jp",
    "partner.ne.jp",
    "nec.co.jp",
    "mitsubishicorp.com",
    "xn--wgv71a119e.jp",
    "kyoto-u.ac.jp",
    "トヨタ.jp",
];

fuzz_target!(|data: &[u8]| {
    static PROTECTED: OnceLock<Protected> = OnceLock::new();
    let protected = PROTECTED.get_or_init(|| {
        let protected = Protected::new(DOMAINS).expect("the protected domains are valid");
        assert_eq!(protected.len(), DOMAINS.len());
        for domain in DOMAINS {
            assert!(protected.is_protected(domain), "{domain} is not ours");
            let found = protected.check(domain);
            assert!(found.is_none(), "{domain} is flagged: {found:?}");
        }
        protected
    });
    let text = String::from_utf8_lossy(data);
    if let Some(found) = protected.check(&text) {
        assert!(
            protected.domains().any(|d| d == found.protected),
            "{found:?} names no protected domain"
        );
        assert!(
            !protected.is_protected(&text),
            "ours and flagged: {found:?}"
        );
        let _ = found.reason();
    }
    let domain = DOMAINS[data.len() % DOMAINS.len()];
    let subdomain = format!("{text}.{domain}");
    let found = protected.check(&subdomain);
    assert!(found.is_none(), "{subdomain:?} is flagged: {found:?}");
});
