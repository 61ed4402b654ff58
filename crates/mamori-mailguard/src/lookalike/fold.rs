//! What a reader sees: a label reduced to a canonical spelling in which characters that look
//! alike are the same character.
//!
//! Three levels, from strict to loose:
//!
//! - [`fold`]: Unicode TR39 confusable skeleton, with diacritics removed and a few more
//!   look-alikes than TR39 knows (dnstwist's glyph tables, digits read as letters). Two labels
//!   with the same fold *look the same*: that is a homoglyph.
//! - [`visual_pair`] and [`pair_glyph_cost`]: ASCII characters that are easily misread (`c`/`e`,
//!   `b`/`d`, `i`/`l`, `u`/`v`, …) and letter pairs read as one letter (`cl`/`d`, `nn`/`m`): not
//!   the same glyph, so replacing one by the other counts as half an edit.
//! - [`coarse`]: the fold with every visual pair merged; only used to find candidates quickly
//!   (two labels that differ by visual pairs and one edit share a one-deletion variant of their
//!   coarse forms), never to decide.

use unicode_normalization::UnicodeNormalization;

/// Combining marks that only decorate a letter (accents, strokes, hooks drawn as overlays).
/// Japanese voiced-sound marks (U+3099, U+309A) are not among them: `バ` and `ハ` read as
/// different words, so they stay apart.
fn is_decoration(c: char) -> bool {
    matches!(
        c as u32,
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F
    )
}

/// Letters that TR39's table leaves alone or maps to another non-ASCII prototype although they
/// read as the ASCII letter in a domain name. Taken from dnstwist's Unicode and Cyrillic glyph
/// tables (every entry there folds to its Latin letter: see the unit test below).
fn extra(c: char) -> Option<char> {
    let to = match c {
        'ȝ' | 'ʒ' => '3',
        'ƽ' => 's',
        'ǝ' | 'ə' => 'a',
        'ƅ' | 'ʙ' | 'ь' => 'b',
        'ƈ' => 'c',
        'ɢ' | 'ԍ' => 'g',
        'ⱨ' => 'h',
        'ʝ' => 'j',
        'ĸ' | 'ⱪ' | 'ᴋ' | 'к' => 'k',
        'ʍ' | 'ᴍ' | 'м' => 'm',
        'ꞑ' => 'n',
        'ʀ' | 'ɾ' => 'r',
        'ᴛ' | 'т' => 't',
        'ʉ' => 'u',
        'ᶌ' | 'ⱴ' | 'ⱱ' => 'v',
        'ⱳ' => 'w',
        _ => return None,
    };
    Some(to)
}

/// Lower case, decomposed, decorations removed, the extra look-alikes mapped.
fn plain(text: &str, out: &mut String) {
    for c in text.chars().flat_map(char::to_lowercase).nfd() {
        if is_decoration(c) {
            continue;
        }
        out.push(extra(c).unwrap_or(c));
    }
}

/// The canonical look of a label: two labels with the same fold look the same to a reader.
///
/// ASCII characters are lower-cased, and the digits read as letters become those letters
/// (`0` → `o`, `1` → `l`, `5` → `s`). Every other character is reduced on its own: lower case
/// without decorations (`á` → `a`, `ł` → `l`), the letters TR39 misses (Cyrillic `к`, `т`, `м`,
/// small capitals), then its TR39 skeleton (`а` Cyrillic → `a`, `ο` Greek → `o`, `ト` → `卜`).
///
/// Character by character, not the whole label through TR39: the skeleton writes `m` as
/// `rn`, which would make an `m` typed for another letter two edits instead of one
/// (`toyotam`), and would read `kirn` as `kim`. Letter pairs that resemble one letter (`rn`,
/// `cl`, `vv`) are half an edit in the distance instead ([`pair_glyph_cost`]).
pub(super) fn fold(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for c in label.chars() {
        if c.is_ascii() {
            out.push(match c.to_ascii_lowercase() {
                '0' => 'o',
                '1' => 'l',
                '5' => 's',
                lower => lower,
            });
            continue;
        }
        let mut before = String::new();
        plain(c.encode_utf8(&mut [0; 4]), &mut before);
        let skeleton: String = unicode_security::skeleton(&before).collect();
        let mut after = String::new();
        plain(&skeleton, &mut after);
        match after.as_str() {
            "rn" => out.push('m'),
            "vv" => out.push('w'),
            "cl" => out.push('d'),
            "0" => out.push('o'),
            "1" => out.push('l'),
            _ => out.push_str(&after),
        }
    }
    out
}

/// Letter pairs that can be read as one letter (dnstwist's ASCII glyphs and TR39's `rn`).
const PAIR_GLYPHS: [(char, char, char); 8] = [
    ('r', 'n', 'm'),
    ('n', 'n', 'm'),
    ('v', 'v', 'w'),
    ('c', 'l', 'd'),
    ('d', 'l', 'd'),
    ('l', 'h', 'h'),
    ('l', 'c', 'k'),
    ('l', 'b', 'b'),
];

/// The cost, in visual steps, of reading `first` `second` as `target`: one for a letter pair
/// (`cl` as `d`), one more for each letter that is itself a visual pair of the one needed
/// (`c1` as `d`, `cl` as `b` through `d`). `None` when they are not read so.
pub(super) fn pair_glyph_cost(first: char, second: char, target: char) -> Option<u32> {
    let step = |have: char, want: char| {
        if have == want {
            Some(0)
        } else if visual_pair(have, want) {
            Some(1)
        } else {
            None
        }
    };
    PAIR_GLYPHS
        .iter()
        .filter_map(|&(a, b, glyph)| {
            Some(1 + step(first, a)? + step(second, b)? + step(glyph, target)?)
        })
        .min()
}

/// The class of a folded character when visual pairs are merged (see [`coarse`]).
fn visual_class(c: char) -> char {
    match c {
        'i' => 'l',
        'c' => 'e',
        'b' => 'd',
        'q' => 'g',
        'v' => 'u',
        'm' | 'r' => 'n',
        '8' => '3',
        '9' => '6',
        other => other,
    }
}

/// ASCII characters that are easily misread for each other at a glance but are not the same
/// glyph (dnstwist's ASCII glyph table): replacing one by the other is half an edit.
pub(super) fn visual_pair(a: char, b: char) -> bool {
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    matches!(
        (a, b),
        ('i', 'l')
            | ('c', 'e')
            | ('b', 'd')
            | ('g', 'q')
            | ('u', 'v')
            | ('m', 'n')
            | ('n', 'r')
            | ('3', '8')
            | ('6', '9')
    )
}

/// A folded label with visual pairs merged, and with letter pairs read as one letter when
/// `read_pairs`, for finding candidates only: a look-alike made of visual pairs and letter
/// pairs plus one other edit is one deletion away from the protected label's coarse form
/// (with or without the pairs read).
pub(super) fn coarse(folded: &[char], read_pairs: bool) -> String {
    let mut out = String::with_capacity(folded.len());
    let mut at = 0;
    while let Some(&c) = folded.get(at) {
        let pair = folded
            .get(at + 1)
            .filter(|_| read_pairs)
            .and_then(|&next| PAIR_GLYPHS.iter().find(|(a, b, _)| *a == c && *b == next));
        if let Some(&(_, _, glyph)) = pair {
            out.push(visual_class(glyph));
            at += 2;
        } else {
            out.push(visual_class(c));
            at += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    /// dnstwist's glyph tables (`glyphs_unicode`, `latin_to_cyrillic`): every glyph folds to
    /// its Latin letter, so every dnstwist homoglyph of one character is a fold match.
    #[test]
    fn dnstwist_glyphs_fold_to_their_letter() {
        let table: &[(&str, &str)] = &[
            ("3", "ʒ"),
            ("5", "ƽ"),
            ("a", "ạăȧɑåąâǎáəäãāàа"),
            ("b", "ḃḅƅʙḇɓь"),
            ("c", "čᴄċçćĉƈс"),
            ("d", "ďḍḋɖḏɗḓḑđԁ"),
            ("e", "êẹęèḛěɇėĕéëēȩе"),
            ("f", "ḟƒ"),
            ("g", "ǧġǵğɡǥĝģɢԍ"),
            ("h", "ȟḫḩḣɦḥḧħẖⱨĥһ"),
            ("i", "ɩǐíɪỉȋɨïīĩịîıĭįìі"),
            ("j", "ǰĵʝɉј"),
            ("k", "ĸǩⱪḵķᴋḳк"),
            ("l", "ĺłɫļľӏ"),
            ("m", "ᴍṁḿṃɱм"),
            ("n", "ņǹńňṅṉṇꞑñŋ"),
            ("o", "öóȯỏôᴏōòŏơőõọøо"),
            ("p", "ṗƿƥṕр"),
            ("q", "ʠԛ"),
            ("r", "ʀȓɍɾřṛɽȑṙŗŕɼṟ"),
            ("s", "ṡșŝꜱʂšśṣşѕ"),
            ("t", "ťƫţṭṫțŧт"),
            ("u", "ᴜųŭūűǔȕưùůʉúȗüûũụ"),
            ("v", "ᶌṿᴠⱴⱱṽѵ"),
            ("w", "ᴡẇẅẃẘẉⱳŵẁԝ"),
            ("x", "ẋẍх"),
            ("y", "ŷÿʏẏɏƴȳýỿỵу"),
            ("z", "žƶẓẕⱬᴢżźʐ"),
            ("ae", "æ"),
            ("oe", "œ"),
        ];
        let mut misses = Vec::new();
        for (letter, glyphs) in table {
            for glyph in glyphs.chars() {
                let folded = fold(&glyph.to_string());
                if folded != fold(letter) {
                    misses.push(format!("{glyph} (U+{:04X}) → {folded}", glyph as u32));
                }
            }
        }
        assert!(misses.is_empty(), "{misses:?}");
    }

    #[test]
    fn ascii_look_alikes_fold_together() {
        assert_eq!(fold("microsoft"), "microsoft");
        assert_eq!(fold("kirn"), "kirn");
        assert_ne!(fold("clocomo"), fold("docomo"));
        assert_eq!(
            coarse(&chars("clocomo"), true),
            coarse(&chars("docomo"), true)
        );
        assert_eq!(coarse(&chars("hitaclhi"), true), "hltadhl");
        assert_eq!(coarse(&chars("hitaclhi"), false), "hltaelhl");
        assert_eq!(pair_glyph_cost('r', 'n', 'm'), Some(1));
        assert_eq!(pair_glyph_cost('c', 'l', 'b'), Some(2));
        assert_eq!(pair_glyph_cost('i', 'c', 'k'), Some(2));
        assert_eq!(pair_glyph_cost('a', 'b', 'c'), None);
        assert_eq!(fold("t0y0ta"), fold("toyota"));
        assert_eq!(fold("hitachl"), fold("hitach1"));
        assert_eq!(fold("5ony"), fold("sony"));
        assert_eq!(fold("TOYOTA"), "toyota");
        assert_eq!(fold("ɱ"), "m");
        assert_ne!(fold("hitachi"), fold("hitachl"));
        assert!(visual_pair('i', 'l'));
        assert!(visual_pair('n', 'm'));
        assert!(!visual_pair('m', 'r'));
        assert!(!visual_pair('a', 'o'));
    }

    #[test]
    fn japanese_voiced_marks_stay() {
        assert_ne!(fold("バンク"), fold("ハンク"));
        assert_eq!(fold("トヨタ"), fold("卜ヨタ"));
    }
}
