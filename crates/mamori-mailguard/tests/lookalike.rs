//! The look-alike check as the relay and `mamori mailguard check` use it: each kind of
//! imitation with Japanese examples, our own domains and their subdomains, real unrelated
//! domains, and properties over arbitrary input.

use mamori_mailguard::lookalike::{Kind, LookalikeError, Protected};
use proptest::prelude::*;

const PROTECTED: &[&str] = &[
    "toyota.co.jp",
    "nec.co.jp",
    "mizuho-fg.co.jp",
    "docomo.ne.jp",
    "panasonic.jp",
    "mitsubishicorp.com",
    "microsoft.com",
    "nhk.or.jp",
    "トヨタ.jp",
];

fn protected() -> Protected {
    match Protected::new(PROTECTED) {
        Ok(protected) => protected,
        Err(error) => panic!("{error}"),
    }
}

/// Asserts that `candidate` is flagged as imitating `expected_protected` in the given way.
#[track_caller]
fn flagged(candidate: &str, expected_protected: &str, kind: Kind) {
    let protected = protected();
    let Some(found) = protected.check(candidate) else {
        panic!(
            "{candidate} is not flagged (expected {} of {expected_protected})",
            kind.as_str()
        );
    };
    assert_eq!(
        (found.protected.as_str(), found.kind),
        (expected_protected, kind),
        "{candidate}"
    );
}

#[track_caller]
fn passes(candidate: &str) {
    let found = protected().check(candidate);
    assert!(found.is_none(), "{candidate} is flagged: {found:?}");
}

#[test]
fn tld_and_sld_swaps_of_a_co_jp_domain() {
    flagged("toyota.jp", "toyota.co.jp", Kind::TldSwap);
    flagged("toyota.ne.jp", "toyota.co.jp", Kind::TldSwap);
    flagged("toyota.com", "toyota.co.jp", Kind::TldSwap);
    flagged("toyota.or.jp", "toyota.co.jp", Kind::TldSwap);
    flagged("docomo.co.jp", "docomo.ne.jp", Kind::TldSwap);
    flagged("panasonic.co.jp", "panasonic.jp", Kind::TldSwap);
    // A short label too: `nec.com` is flagged until it is listed as protected.
    flagged("nec.com", "nec.co.jp", Kind::TldSwap);
    flagged("nhk.jp", "nhk.or.jp", Kind::TldSwap);
}

#[test]
fn suffix_written_into_the_label() {
    flagged("toyotaco.jp", "toyota.co.jp", Kind::TldSwap);
    flagged("toyota-jp.com", "toyota.co.jp", Kind::TldSwap);
    flagged("toyotacojp.com", "toyota.co.jp", Kind::TldSwap);
    flagged("panasonicjp.com", "panasonic.jp", Kind::TldSwap);
}

#[test]
fn homoglyphs_ascii_and_unicode() {
    flagged("t0yota.co.jp", "toyota.co.jp", Kind::Homoglyph);
    flagged("t0y0ta.co.jp", "toyota.co.jp", Kind::Homoglyph);
    // Cyrillic а (U+0430) among Latin letters, in Unicode and in punycode.
    flagged("toyotа.co.jp", "toyota.co.jp", Kind::Homoglyph);
    flagged("xn--toyot-8ve.co.jp", "toyota.co.jp", Kind::Homoglyph);
    // Whole-script Cyrillic: every letter replaced.
    flagged("тоуота.co.jp", "toyota.co.jp", Kind::Homoglyph);
    flagged("rnicrosoft.com", "microsoft.com", Kind::Homoglyph);
    flagged("micr0s0ft.com", "microsoft.com", Kind::Homoglyph);
    flagged("microsoft.co.jp", "microsoft.com", Kind::TldSwap);
    flagged("dοcomo.ne.jp", "docomo.ne.jp", Kind::Homoglyph); // Greek ο
    flagged("clocomo.ne.jp", "docomo.ne.jp", Kind::Homoglyph);
    flagged("tóyota.com", "toyota.co.jp", Kind::Homoglyph);
    // One visual pair (`c` read as `e`) on a short label, under its own suffix.
    flagged("nee.co.jp", "nec.co.jp", Kind::Homoglyph);
    // Japanese IDN: katakana ト and the kanji 卜 look the same.
    flagged("卜ヨタ.jp", "トヨタ.jp", Kind::Homoglyph);
    flagged("トヨタ.com", "トヨタ.jp", Kind::TldSwap);
}

#[test]
fn keyboard_and_other_typing_errors() {
    flagged("toyita.co.jp", "toyota.co.jp", Kind::KeyboardTypo);
    flagged("toyotq.co.jp", "toyota.co.jp", Kind::KeyboardTypo);
    flagged("toyta.co.jp", "toyota.co.jp", Kind::Omission);
    flagged("tooyota.co.jp", "toyota.co.jp", Kind::Repetition);
    flagged("tyoota.co.jp", "toyota.co.jp", Kind::Transposition);
    flagged("toyotu.co.jp", "toyota.co.jp", Kind::Replacement);
    flagged("toyotax.co.jp", "toyota.co.jp", Kind::Insertion);
    flagged("toyotap.co.jp", "toyota.co.jp", Kind::Insertion);
    flagged("toyotas.co.jp", "toyota.co.jp", Kind::KeyboardTypo);
    flagged("mizesuho-fg.co.jp", "mizuho-fg.co.jp", Kind::Insertion);
    // Bit flip: `o` (0x6f) → `g` (0x67).
    flagged("tgyota.co.jp", "toyota.co.jp", Kind::Replacement);
    // Typos of a long label under another suffix still count (one edit).
    flagged("toyots.com", "toyota.co.jp", Kind::KeyboardTypo);
    flagged("toyoda.com", "toyota.co.jp", Kind::Replacement);
    // Two edits of a long label under its own suffix.
    flagged(
        "mitsubisihcorp.com",
        "mitsubishicorp.com",
        Kind::Transposition,
    );
    flagged("mitsubsihcorp.com", "mitsubishicorp.com", Kind::Similar);
}

#[test]
fn short_labels_need_their_own_suffix_for_a_typo() {
    flagged("nwc.co.jp", "nec.co.jp", Kind::KeyboardTypo);
    // `m` for `n` is a neighbouring key and a look-alike: the look wins.
    flagged("mec.co.jp", "nec.co.jp", Kind::Homoglyph);
    flagged("ne.co.jp", "nec.co.jp", Kind::Omission);
    flagged("necc.co.jp", "nec.co.jp", Kind::Repetition);
    // The same edits under other suffixes are real, unrelated organisations.
    passes("mec.com");
    passes("neu.edu");
    passes("nic.ad.jp");
    passes("nhs.uk");
    passes("ned.org");
}

#[test]
fn hyphenation() {
    flagged("toy-ota.co.jp", "toyota.co.jp", Kind::Hyphenation);
    flagged("mizuhofg.co.jp", "mizuho-fg.co.jp", Kind::Hyphenation);
    flagged("mi-zuho-fg.co.jp", "mizuho-fg.co.jp", Kind::Hyphenation);
    flagged("t0y-ota.com", "toyota.co.jp", Kind::Hyphenation);
}

#[test]
fn label_split_by_a_dot_and_ours_in_front() {
    flagged("toy.ota.co.jp", "toyota.co.jp", Kind::LabelSplit);
    flagged("t.oyota.co.jp", "toyota.co.jp", Kind::LabelSplit);
    flagged("n.ec.co.jp", "nec.co.jp", Kind::LabelSplit);
    flagged("toyota.co.jp.example.com", "toyota.co.jp", Kind::Subdomain);
    flagged(
        "mail.toyota.co.jp.example.net",
        "toyota.co.jp",
        Kind::Subdomain,
    );
}

#[test]
fn combosquatting_with_words() {
    flagged("toyota-login.com", "toyota.co.jp", Kind::Combosquatting);
    flagged("mail-toyota.co.jp", "toyota.co.jp", Kind::Combosquatting);
    flagged("toyotalogin.co.jp", "toyota.co.jp", Kind::Combosquatting);
    flagged("securetoyota.com", "toyota.co.jp", Kind::Combosquatting);
    flagged("nec-login.com", "nec.co.jp", Kind::Combosquatting);
    flagged("mynec.co.jp", "nec.co.jp", Kind::Combosquatting);
    flagged(
        "mizuho-login.co.jp",
        "mizuho-fg.co.jp",
        Kind::Combosquatting,
    );
    flagged(
        "mizuho-fg-secure.com",
        "mizuho-fg.co.jp",
        Kind::Combosquatting,
    );
    // Long brands are found with any word around them.
    flagged(
        "mitsubishicorpjapan.net",
        "mitsubishicorp.com",
        Kind::Combosquatting,
    );
    flagged(
        "xmicrosoftcloudx.com",
        "microsoft.com",
        Kind::Combosquatting,
    );
    // A short brand inside an unrelated word is not a brand.
    passes("connect.com");
    passes("necktie.com");
    passes("nectar.co.jp");
    passes("genecare.co.jp");
}

#[test]
fn ours_and_our_subdomains_are_not_look_alikes() {
    let protected = protected();
    for domain in [
        "toyota.co.jp",
        "TOYOTA.CO.JP.",
        "mail.toyota.co.jp",
        "a.b.toyota.co.jp",
        "user@toyota.co.jp",
        "トヨタ.jp",
        "xn--5ckr0h.jp",
        "mail.トヨタ.jp",
        "ＴＯＹＯＴＡ．ＣＯ．ＪＰ",
    ] {
        assert!(protected.is_protected(domain), "{domain}");
        assert!(protected.check(domain).is_none(), "{domain}");
    }
    assert!(!protected.is_protected("toyota.com"));
    assert!(!protected.is_protected("nottoyota.co.jp"));
    assert!(!protected.is_protected("co.jp"));
}

#[test]
fn real_unrelated_domains_pass() {
    for domain in [
        "gmail.com",
        "yahoo.co.jp",
        "u-tokyo.ac.jp",
        "kyoto-u.ac.jp",
        "waseda.jp",
        "nifty.com",
        "biglobe.ne.jp",
        "ezweb.ne.jp",
        "softbank.ne.jp",
        "sony.co.jp",
        "hitachi.co.jp",
        "ntt.co.jp",
        "ne.jp",
        "amazon.co.jp",
        "example.com",
        // A vendor's tenant named after the brand: only our whole domain in front counts.
        "toyota.zendesk.com",
        "",
        "not a domain",
        "localhost",
    ] {
        passes(domain);
    }
}

#[test]
fn the_reason_names_both_domains_in_english_and_japanese() {
    let protected = protected();
    let Some(found) = protected.check("xn--toyot-8ve.co.jp") else {
        panic!("not flagged");
    };
    assert_eq!(found.candidate, "toyotа.co.jp");
    let reason = found.reason();
    assert_eq!(reason.check, "lookalike_domain");
    assert!(reason.en.contains("toyota.co.jp"), "{}", reason.en);
    assert!(reason.en.contains("xn--toyot-8ve.co.jp"), "{}", reason.en);
    assert!(reason.ja.contains("保護ドメイン"), "{}", reason.ja);
}

#[test]
fn invalid_protected_domains_are_named() {
    for (bad, why) in [
        ("", "empty"),
        ("co.jp", "public suffix"),
        ("toyota..co.jp", "empty label"),
        ("-toyota.co.jp", "hyphen"),
        ("toy ota.co.jp", "characters"),
        ("xn--zz.com", "valid"),
    ] {
        match Protected::new(["toyota.co.jp", bad]) {
            Err(LookalikeError::InvalidDomain {
                line,
                domain,
                reason,
            }) => {
                assert_eq!(line, 2);
                assert_eq!(domain, bad);
                assert!(reason.contains(why), "{bad:?}: {reason}");
            }
            Ok(_) => panic!("{bad:?} accepted"),
        }
    }
    assert!(Protected::new(Vec::<String>::new()).is_ok_and(|p| p.is_empty()));
}

#[test]
fn every_kind_has_a_distinct_name() {
    let mut names: Vec<&str> = Kind::ALL.iter().map(Kind::as_str).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Kind::ALL.len());
}

/// The committed evaluation list (scripts/lookalike-eval): every domain is protected and none
/// is flagged as a look-alike of another.
#[test]
fn the_evaluation_list_protects_itself() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/lookalike/protected.txt"
    );
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => panic!("{path}: {error}"),
    };
    let domains: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let protected = match Protected::new(&domains) {
        Ok(protected) => protected,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(protected.len(), domains.len());
    for domain in domains {
        assert!(protected.is_protected(domain), "{domain}");
        assert_eq!(protected.check(domain), None, "{domain}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn check_never_panics_on_any_text(text in any::<String>()) {
        let protected = protected();
        let _ = protected.check(&text);
        let _ = protected.is_protected(&text);
    }

    #[test]
    fn check_never_panics_on_domain_like_text(text in "[a-zа-яー0-9.@ -]{0,40}(\\.co\\.jp|\\.com|\\.jp)?") {
        let protected = protected();
        let _ = protected.check(&text);
    }

    #[test]
    fn our_subdomains_are_ours(sub in "[a-z0-9]{1,12}(\\.[a-z0-9]{1,12}){0,2}", index in 0..PROTECTED.len()) {
        let protected = protected();
        let domain = format!("{sub}.{}", PROTECTED[index]);
        prop_assert!(protected.is_protected(&domain));
        prop_assert_eq!(protected.check(&domain), None);
    }

    #[test]
    fn a_protected_list_protects_each_of_its_domains(
        labels in proptest::collection::vec("[a-z][a-z0-9-]{0,10}[a-z0-9]", 1..12),
        suffix in prop::sample::select(vec!["co.jp", "jp", "ne.jp", "or.jp", "com", "net"]),
    ) {
        let domains: Vec<String> = labels.iter().map(|l| format!("{l}.{suffix}")).collect();
        let Ok(protected) = Protected::new(&domains) else {
            // Labels with `--` in the third and fourth place are not valid host names.
            return Ok(());
        };
        for domain in &domains {
            prop_assert!(protected.is_protected(domain));
            prop_assert_eq!(protected.check(domain), None);
        }
    }
}
