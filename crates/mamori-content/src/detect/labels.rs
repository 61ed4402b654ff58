//! Confidentiality labels: the marks a document carries (`【社外秘】`, `CONFIDENTIAL`,
//! `Internal Use Only`), from the configured vocabulary.
//!
//! A label word in running text is not always a mark: `秘` is inside `秘書` and `秘密`, `secret`
//! and `confidential` are ordinary English words, `SECRET` is a constant in code. So a match is
//! scored by how it is written:
//!
//! | how | Japanese word | single-character mark (`秘`) | English |
//! |---|---|---|---|
//! | in brackets, or alone on its line | 0.97 | 0.9 (`㊙`: 0.95 anywhere) | 0.95 |
//! | after `Classification:`, `区分：` … | 0.97 | 0.9 | 0.95 |
//! | upper case (`CONFIDENTIAL`) | — | — | 0.9 |
//! | at the start of a line, then `:`/`-`/end | 0.9 | — | 0.85 (not one short word: `Secret:`) |
//! | in a sentence | 0.85 (`極秘裏に`: 0.3) | between spaces: 0.85, else no finding | several words: 0.8 (in a code comment: 0.4); one word: 0.4 title case, 0.3 lower case |
//!
//! Quotes are not brackets (`"secret"` is a string in code), and a lower-case single word is
//! never a mark (`Some(secret)`).

use super::{Candidate, FindingKind, LabelRule};
use crate::normalize::{self, Normalized};

/// Characters looked at on each side of a match for its line.
const LINE_REACH: usize = 120;

/// Brackets around a mark. Not quotes: `"secret"` is a string in code far more often than a
/// mark.
const OPEN: &[char] = &[
    '【', '[', '(', '「', '『', '〔', '〈', '《', '<', '{', '［', '＜',
];
const CLOSE: &[char] = &[
    '】', ']', ')', '」', '』', '〕', '〉', '》', '>', '}', '］', '＞',
];
/// Decoration around a mark alone on its line: `■ 社外秘 ■`, `*** CONFIDENTIAL ***`, `- 秘 -`.
const DECORATION: &[char] = &[
    ' ', '\t', '\r', '*', '-', '=', '_', '#', '■', '□', '◆', '◇', '●', '○', '★', '☆', '※', '|',
    ':', '/', '~', '【', '】', '[', ']', '(', ')', '「', '」', '『', '』', '〔', '〕', '〈', '〉',
    '《', '》', '<', '>', '"', '\'',
];
/// Words that introduce a classification: `Classification: Confidential`, `機密区分：社外秘`.
const CLASSIFICATION_CUES: &[&str] = &[
    "classification",
    "classified",
    "label",
    "sensitivity",
    "security level",
    "機密区分",
    "機密性",
    "区分",
    "分類",
    "取扱区分",
    "秘密区分",
    "格付",
];

/// Where the line holding byte `at` starts, at most [`LINE_REACH`] characters back. The
/// newline is looked for first: counting characters back every time would cost more than
/// the rest of the check.
fn line_start(t: &str, at: usize) -> usize {
    let b = t.as_bytes();
    let floor = at.saturating_sub(4 * LINE_REACH);
    let ls = b
        .get(floor..at)
        .and_then(|x| memchr::memrchr(b'\n', x))
        .map_or(floor, |i| floor + i + 1);
    // At most LINE_REACH bytes is at most LINE_REACH characters.
    if at - ls <= LINE_REACH {
        ls
    } else {
        ls.max(normalize::chars_back(t, at, LINE_REACH))
    }
}

/// Where the line holding byte `at` ends, at most [`LINE_REACH`] characters on.
fn line_end(t: &str, at: usize) -> usize {
    let b = t.as_bytes();
    let ceiling = (at + 4 * LINE_REACH).min(b.len());
    let le = b
        .get(at..ceiling)
        .and_then(|x| memchr::memchr(b'\n', x))
        .map_or(ceiling, |i| at + i);
    if le - at <= LINE_REACH {
        le
    } else {
        le.min(normalize::chars_forward(t, at, LINE_REACH))
    }
}

/// Scores the match of `rule` at normalised bytes `start..end`; `None` if it is not a mark.
pub(super) fn check(
    norm: &Normalized<'_>,
    start: usize,
    end: usize,
    rule: &LabelRule,
) -> Option<Candidate> {
    let t = norm.as_str();
    let matched = t.get(start..end)?;
    let prev = t.get(..start)?.chars().next_back();
    let next = t.get(end..)?.chars().next();
    // Inside an identifier (`SECRET_KEY`, `top_secret`): not a mark.
    if prev.is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
        || next.is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
    {
        return None;
    }
    // The line around the match, at most LINE_REACH characters each way: a mark alone on its
    // line is on a short line, and an unbounded look would make a text of one long line full
    // of matches quadratic.
    let (ls, le) = (line_start(t, start), line_end(t, end));
    let before = t.get(ls..start)?;
    let after = t.get(end..le)?;
    let bracketed =
        prev.is_some_and(|c| OPEN.contains(&c)) && next.is_some_and(|c| CLOSE.contains(&c));
    let alone = before.chars().all(|c| DECORATION.contains(&c))
        && after.chars().all(|c| DECORATION.contains(&c));
    let cue_before = {
        let b = before
            .trim_end_matches([' ', ':', '：', '\t', '=', '】', '[', '【', '('])
            .as_bytes();
        // The cues are ASCII lower case or Japanese: an ASCII case-insensitive suffix test, no
        // copy of the line.
        CLASSIFICATION_CUES.iter().any(|c| {
            b.len()
                .checked_sub(c.len())
                .and_then(|from| b.get(from..))
                .is_some_and(|tail| tail.eq_ignore_ascii_case(c.as_bytes()))
        })
    };
    let mark = bracketed || alone || cue_before;
    let how = if bracketed {
        "in brackets"
    } else if alone {
        "alone on its line"
    } else if cue_before {
        "after a classification word"
    } else {
        ""
    };
    let ascii = rule.text.is_ascii();
    let (confidence, how) = if !ascii {
        if matched.chars().count() == 1 {
            let original = norm.original().get(norm.original_range(start..end))?;
            if original == "㊙" {
                (0.95, "㊙ mark")
            } else if mark {
                (0.9, how)
            } else if boundary_before(prev) && boundary_after(next) {
                (0.85, "between spaces")
            } else {
                return None;
            }
        } else if mark {
            (0.97, how)
        } else if matched == "極秘" && next == Some('裏') {
            (0.3, "in the word 極秘裏")
        } else if before.trim().is_empty() && after.starts_with([':', '：', ' ', '-']) {
            (0.9, "at the start of a line")
        } else {
            (0.85, "in a sentence")
        }
    } else {
        let letters = matched.chars().filter(char::is_ascii_alphabetic);
        let upper = matched.chars().any(|c| c.is_ascii_uppercase())
            && letters.clone().all(|c| c.is_ascii_uppercase());
        let one_word = !matched.contains(' ');
        // An identifier in code: `SECRET = …`, `obj.secret`, `const SECRET: &[u8] = &[`.
        let declaration = [
            "const ", "let ", "static ", "var ", "val ", "def ", "#define ", "final ",
        ]
        .iter()
        .any(|k| before.trim_end().ends_with(k.trim_end()) && before.ends_with(' '));
        let code_like = after.trim_start().starts_with(['=', '(', '.'])
            || prev == Some('.')
            || prev == Some('$')
            || declaration
            || after.trim_end().ends_with([';', '{', '['])
            || (after.starts_with(':') && after.contains('='));
        // A comment in source code (`/// For internal use only.`) speaks of an API, not of
        // the document.
        let comment = ["//", "#", "/*", "*", "--", "<!--"]
            .iter()
            .any(|c| before.trim_start().starts_with(c));
        // Lower case `secret` in brackets is code (`Some(secret)`), not a mark.
        let lower = !matched.chars().any(|c| c.is_ascii_uppercase());
        if mark && !code_like && !(lower && one_word) {
            (0.95, how)
        } else if upper && !code_like && letters.count() >= 4 {
            (0.9, "upper case")
        } else if before.trim().is_empty()
            && (after.trim().is_empty()
                || after.starts_with([':', ' ']) && after.trim_start().starts_with([':', '-', '–']))
            && matched.starts_with(|c: char| c.is_ascii_uppercase())
            && (!one_word || matched.len() >= 8)
            && !code_like
        {
            (0.85, "at the start of a line")
        } else if !one_word && comment {
            (0.4, "in a code comment")
        } else if !one_word {
            (0.8, "in a sentence")
        } else if matched.starts_with(|c: char| c.is_ascii_uppercase()) {
            (0.4, "word in a sentence")
        } else {
            (0.3, "word in a sentence")
        }
    };
    Some(Candidate {
        kind: FindingKind::Label,
        start,
        end,
        confidence,
        reason: format!(
            "label {}{}{how}",
            rule.text,
            if how.is_empty() { "" } else { ", " }
        ),
        value: rule.text.clone(),
        detail: Some(rule.level.clone()),
    })
}

fn boundary_before(c: Option<char>) -> bool {
    c.is_none_or(|c| c.is_whitespace() || OPEN.contains(&c) || matches!(c, ':' | '：' | '|'))
}

fn boundary_after(c: Option<char>) -> bool {
    c.is_none_or(|c| {
        c.is_whitespace() || CLOSE.contains(&c) || matches!(c, ':' | '：' | '|' | '。' | '、')
    })
}

#[cfg(test)]
mod tests {
    use super::{LINE_REACH, line_end, line_start};
    use crate::detect::{Detector, DetectorConfig, FindingKind};
    use crate::normalize;

    fn labels(text: &str) -> Vec<(String, String, f32)> {
        let d = Detector::new(&DetectorConfig {
            min_confidence: 0.0,
            ..DetectorConfig::default()
        });
        d.scan(text)
            .into_iter()
            .filter(|f| f.kind == FindingKind::Label)
            .map(|f| {
                let s: String = text.chars().skip(f.start).take(f.end - f.start).collect();
                (s, f.detail.unwrap_or_default(), f.confidence)
            })
            .collect()
    }

    #[test]
    fn japanese_marks() {
        let l = labels("【社外秘】2025年度 事業計画");
        assert_eq!(l, [("社外秘".to_owned(), "confidential".to_owned(), 0.97)]);
        let l = labels("この資料は関係者外秘です。");
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].1, "secret");
        assert!(l[0].2 >= 0.8);
        let l = labels("取扱い注意");
        assert_eq!(l[0].1, "confidential");
    }

    #[test]
    fn single_character_mark_only_standalone() {
        assert!(labels("秘書に秘密を話した").is_empty());
        assert_eq!(labels("【秘】会議資料").len(), 1);
        assert_eq!(labels("秘\n会議資料").len(), 1);
        let l = labels("㊙ 人事評価");
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].0, "㊙");
        assert_eq!(l[0].1, "secret");
        assert_eq!(labels("資料(秘)").len(), 1);
    }

    #[test]
    fn english_marks() {
        let l = labels("CONFIDENTIAL\nQuarterly results");
        assert_eq!(l[0].2, 0.95);
        let l = labels("Strictly Confidential - do not forward");
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].0, "Strictly Confidential");
        assert_eq!(l[0].1, "secret");
        let l = labels("This document is for internal use only.");
        assert_eq!(l[0].1, "internal");
        assert!(l[0].2 >= 0.8);
        let l = labels("Classification: Secret");
        assert_eq!(l[0].2, 0.95);
    }

    #[test]
    fn english_words_in_prose_are_weak() {
        let l = labels("The secret of success is confidential advice.");
        assert!(l.iter().all(|x| x.2 < 0.5), "{l:?}");
        assert!(labels("SECRET_KEY = 'abc'").is_empty());
        assert!(labels("top_secret").is_empty());
        assert!(labels("const SECRET: &[u8] = &[").iter().all(|x| x.2 < 0.5));
        let l = labels("SECRET = load()");
        assert!(l.iter().all(|x| x.2 < 0.5), "{l:?}");
    }

    #[test]
    fn full_width_and_configured_vocabulary() {
        let l = labels("ＣＯＮＦＩＤＥＮＴＩＡＬ");
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].0, "ＣＯＮＦＩＤＥＮＴＩＡＬ");
        let d = Detector::new(&DetectorConfig {
            labels: vec![crate::detect::LabelRule::new("機密", "restricted")],
            ..DetectorConfig::default()
        });
        let f = d.scan("【機密】");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].value, "機密");
        assert_eq!(f[0].detail.as_deref(), Some("restricted"));
        assert!(d.scan("【社外秘】").is_empty());
    }

    #[test]
    fn level_of_label() {
        let d = Detector::new(&DetectorConfig::default());
        assert_eq!(d.level_of_label("社外秘"), Some("confidential"));
        assert_eq!(
            d.level_of_label("  ｃｏｎｆｉｄｅｎｔｉａｌ "),
            Some("confidential")
        );
        assert_eq!(
            d.level_of_label("Highly Confidential\\All Employees"),
            Some("secret")
        );
        assert_eq!(
            d.level_of_label("Confidential - Finance"),
            Some("confidential")
        );
        assert_eq!(d.level_of_label("秘"), Some("secret"));
        assert_eq!(d.level_of_label("秘書"), None);
        assert_eq!(d.level_of_label("Public"), None);
        assert_eq!(d.level_of_label(""), None);
    }

    proptest::proptest! {
        /// The line bounds are those of the plain definition: the nearest newline, but no
        /// further than LINE_REACH characters.
        #[test]
        fn line_bounds_within_reach(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("\n"), proptest::strategy::Just("社外秘"),
                    proptest::strategy::Just("a"), proptest::strategy::Just("abcdefghij"),
                    proptest::strategy::Just("日本語の文章です"),
                ],
                0..200,
            ),
            cut in 0usize..1000,
        ) {
            let t: String = pieces.concat();
            let mut at = cut.min(t.len());
            while !t.is_char_boundary(at) {
                at -= 1;
            }
            let back = normalize::chars_back(&t, at, LINE_REACH);
            let fwd = normalize::chars_forward(&t, at, LINE_REACH);
            let ls = t[back..at].rfind('\n').map_or(back, |i| back + i + 1);
            let le = t[at..fwd].find('\n').map_or(fwd, |i| at + i);
            proptest::prop_assert_eq!(line_start(&t, at), ls);
            proptest::prop_assert_eq!(line_end(&t, at), le);
        }
    }
}
