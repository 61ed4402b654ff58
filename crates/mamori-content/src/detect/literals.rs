//! The literal pass of a scan: every occurrence of the trigger words (labels, secret prefixes,
//! password keys, document cues), ASCII letters matched case-insensitively.
//!
//! **Why three searches and not one.** One Aho-Corasick automaton over all the words, ASCII
//! case-insensitive, has to step through every byte of the text (about 700 MB/s): case
//! folding and the mix of Japanese and ASCII words leave its prefilter nothing to skip with.
//! Split, each search gets a SIMD prefilter (Teddy) that skips most of the text:
//!
//! - the Japanese words (any word with a non-ASCII character), matched exactly, over the text
//!   itself (above 10 GB/s: few Japanese characters begin a trigger);
//! - the ASCII words of four bytes or more, lower-cased, over an ASCII-lower-cased copy of the
//!   text made one chunk at a time (no copy of the whole text);
//! - the short ASCII words (`pw`, `pwd`, `eyJ`) the same way but apart, since a two-byte word
//!   in the same automaton would weaken the prefilter of all the others.
//!
//! Within each search matches are leftmost-longest and do not overlap. A Japanese word and an
//! ASCII word never overlap (ASCII bytes are never part of a multi-byte character); a word
//! mixing both scripts (a configured label such as `Secret文書`) is searched with the Japanese
//! words, case-insensitively, and may overlap an ASCII match — the detectors resolve
//! overlapping findings afterwards.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// One match: byte offsets in the searched text and the index of the word in the list given
/// to [`Literals::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Literal {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) word: usize,
}

/// The compiled searches.
#[derive(Debug)]
pub(super) struct Literals {
    searches: Vec<Search>,
}

#[derive(Debug)]
struct Search {
    automaton: AhoCorasick,
    /// Index in the caller's list of each pattern of this automaton.
    words: Vec<usize>,
    /// Search a lower-cased copy (the patterns are lower-cased).
    fold: bool,
    /// The longest pattern, in bytes: how far a chunk must reach past its end.
    longest: usize,
}

/// Bytes lower-cased and searched at a time. Tiny in unit tests, so that every test text
/// crosses chunk boundaries.
#[cfg(not(test))]
const CHUNK: usize = 64 * 1024;
#[cfg(test)]
const CHUNK: usize = 16;

/// ASCII words shorter than this are searched apart.
const SHORT: usize = 4;

impl Literals {
    /// The searches for `words` (empty words are ignored).
    pub(super) fn new(words: &[String]) -> Literals {
        let mut japanese = (Vec::new(), Vec::new());
        let mut long = (Vec::new(), Vec::new());
        let mut short = (Vec::new(), Vec::new());
        for (i, w) in words.iter().enumerate() {
            let group = if w.is_empty() {
                continue;
            } else if !w.is_ascii() {
                &mut japanese
            } else if w.len() >= SHORT {
                &mut long
            } else {
                &mut short
            };
            group.0.push(if w.is_ascii() {
                w.to_ascii_lowercase()
            } else {
                w.clone()
            });
            group.1.push(i);
        }
        let mixed = japanese
            .0
            .iter()
            .any(|w: &String| w.bytes().any(|b| b.is_ascii_alphabetic()));
        let searches = [
            (japanese, false, mixed),
            (long, true, false),
            (short, true, false),
        ]
        .into_iter()
        .filter_map(|((patterns, words), fold, case_insensitive)| {
            let automaton = build(&patterns, case_insensitive)?;
            Some(Search {
                automaton,
                longest: patterns.iter().map(String::len).max().unwrap_or(0),
                words,
                fold,
            })
        })
        .collect();
        Literals { searches }
    }

    /// Every match in `text`, in order of start.
    pub(super) fn find(&self, text: &str, out: &mut Vec<Literal>) {
        out.clear();
        let mut folded = Vec::new();
        for search in &self.searches {
            if search.fold {
                search.find_folded(text.as_bytes(), &mut folded, out);
            } else {
                for m in search.automaton.find_iter(text) {
                    if let Some(&word) = search.words.get(m.pattern().as_usize()) {
                        out.push(Literal {
                            start: m.start(),
                            end: m.end(),
                            word,
                        });
                    }
                }
            }
        }
        if self.searches.len() > 1 {
            out.sort_by_key(|l| (l.start, std::cmp::Reverse(l.end)));
        }
    }
}

impl Search {
    /// Leftmost-longest matches over `text` lower-cased, chunk by chunk. A chunk's search
    /// reaches `longest - 1` bytes past its end so a match starting in it is found whole; the
    /// next chunk starts where the last match ended, or at the chunk's end, which is where one
    /// search over the whole text would resume.
    fn find_folded(&self, text: &[u8], buf: &mut Vec<u8>, out: &mut Vec<Literal>) {
        let mut at = 0;
        while at < text.len() {
            let end = (at + CHUNK).min(text.len());
            let reach = (end + self.longest.saturating_sub(1)).min(text.len());
            buf.clear();
            buf.extend_from_slice(text.get(at..reach).unwrap_or_default());
            buf.make_ascii_lowercase();
            let mut next = end;
            for m in self.automaton.find_iter(buf.as_slice()) {
                if at + m.start() >= end {
                    break;
                }
                if let Some(&word) = self.words.get(m.pattern().as_usize()) {
                    out.push(Literal {
                        start: at + m.start(),
                        end: at + m.end(),
                        word,
                    });
                }
                next = next.max(at + m.end());
            }
            at = next;
        }
    }
}

/// A leftmost-longest automaton over `patterns`; `None` when there are none (or, never for
/// the fixed vocabularies, too many to build). A DFA: built once per detector, fastest to
/// search with, and it keeps the prefilter.
fn build(patterns: &[String], ascii_case_insensitive: bool) -> Option<AhoCorasick> {
    if patterns.is_empty() {
        return None;
    }
    let build = |kind: Option<AhoCorasickKind>| {
        AhoCorasick::builder()
            .ascii_case_insensitive(ascii_case_insensitive)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(kind)
            .build(patterns)
            .ok()
    };
    build(Some(AhoCorasickKind::DFA)).or_else(|| build(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| (*w).to_owned()).collect()
    }

    fn found(literals: &Literals, list: &[String], text: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        literals.find(text, &mut out);
        out.iter()
            .map(|l| (l.start, list[l.word].clone()))
            .collect()
    }

    #[test]
    fn every_script_and_case_in_text_order() {
        let list = words(&[
            "社外秘",
            "秘",
            "Confidential",
            "pw",
            "pwd",
            "password",
            "eyJ",
        ]);
        let lit = Literals::new(&list);
        let text = "【社外秘】 CONFIDENTIAL PWD=x eyj 秘 Password";
        let got = found(&lit, &list, text);
        let names: Vec<&str> = got.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(
            names,
            ["社外秘", "Confidential", "pwd", "eyJ", "秘", "password"]
        );
        // Offsets are byte offsets into the text as given.
        for (start, w) in &got {
            assert!(
                text[*start..]
                    .to_ascii_lowercase()
                    .starts_with(&w.to_ascii_lowercase())
            );
        }
    }

    #[test]
    fn matches_across_chunk_boundaries_like_one_search() {
        let list = words(&["password", "pass", "Internal Use Only", "pw"]);
        let lit = Literals::new(&list);
        // Put words across every position around the first chunk boundaries.
        for shift in 0..30 {
            let mut text = "x".repeat(CHUNK + shift).replacen('x', "", 10);
            text.push_str(" PassWord internal use only pw ");
            text.push_str(&"y".repeat(CHUNK));
            text.push_str("pass");
            let got = found(&lit, &list, &text);
            let names: Vec<&str> = got.iter().map(|(_, w)| w.as_str()).collect();
            assert_eq!(
                names,
                ["password", "Internal Use Only", "pw", "pass"],
                "shift {shift}"
            );
        }
    }

    proptest::proptest! {
        /// The split search finds what one ASCII-case-insensitive leftmost-longest automaton
        /// over all the words finds (for words where no ASCII word overlaps a short one).
        #[test]
        fn same_as_one_automaton(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("Pass"), proptest::strategy::Just("WORD"),
                    proptest::strategy::Just("pw"), proptest::strategy::Just("d"),
                    proptest::strategy::Just("eyJ"), proptest::strategy::Just("社外"),
                    proptest::strategy::Just("秘"), proptest::strategy::Just(" "),
                    proptest::strategy::Just("x"), proptest::strategy::Just("-----BEGIN "),
                ],
                0..60,
            )
        ) {
            let list = words(&[
                "pass", "password", "word", "pw", "pwd", "eyJ", "社外秘", "秘", "-----BEGIN ",
            ]);
            let text: String = pieces.concat();
            let reference = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&list)
                .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let expected: Vec<(usize, usize, usize)> = reference
                .find_iter(&text)
                .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
                .collect();
            let mut out = Vec::new();
            Literals::new(&list).find(&text, &mut out);
            let got: Vec<(usize, usize, usize)> = out.iter().map(|l| (l.start, l.end, l.word)).collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn leftmost_longest_without_overlap() {
        let list = words(&["pass", "password", "sword"]);
        let lit = Literals::new(&list);
        assert_eq!(
            found(&lit, &list, "password passwo"),
            [(0, "password".to_owned()), (9, "pass".to_owned())]
        );
    }

    #[test]
    fn mixed_script_words_ignore_ascii_case() {
        let list = words(&["Secret文書", "Secret"]);
        let lit = Literals::new(&list);
        let got = found(&lit, &list, "SECRET文書");
        assert!(got.contains(&(0, "Secret文書".to_owned())), "{got:?}");
    }
}
