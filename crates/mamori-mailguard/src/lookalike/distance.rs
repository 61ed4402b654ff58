//! How far apart two folded labels are, in half edits, and what the one edit was.

use super::fold::{pair_glyph_cost, visual_pair};
use super::words::keyboard_neighbours;

/// One edit, in half units: an insertion, deletion, replacement or swap of neighbours.
pub(super) const EDIT: u32 = 2;
/// Replacing a character by one easily misread for it (`c`/`e`, `i`/`l`): half an edit.
pub(super) const VISUAL: u32 = 1;

/// Optimal-string-alignment distance (Damerau–Levenshtein without re-editing a swapped pair)
/// in half units, where a visual-pair replacement and a letter pair read as one letter
/// (`cl` for `d`) cost half an edit. Returns `None` as soon as the distance must exceed
/// `limit`, so a far pair costs one or two rows, not the whole table.
pub(super) fn weighted(a: &[char], b: &[char], limit: u32) -> Option<u32> {
    alignment(a, b, limit, EDIT)
}

/// Whether `a` differs from `b` only by visual pairs and letter pairs read as one letter
/// (`c1ocomo` for `docomo`): it looks the same, so it is a homoglyph however many there are.
pub(super) fn looks_the_same(a: &[char], b: &[char]) -> bool {
    // Ordinary edits are priced out of reach; the limit allows any number of visual ones.
    let limit = u32::try_from(a.len().max(b.len())).unwrap_or(u32::MAX);
    alignment(a, b, limit, FORBIDDEN).is_some_and(|cost| cost > 0)
}

/// Cost that no limit reaches: an edit that is not allowed.
const FORBIDDEN: u32 = 1 << 20;

fn alignment(a: &[char], b: &[char], limit: u32, edit: u32) -> Option<u32> {
    // Each character of length difference costs at least half an edit (a letter pair).
    let length_gap = u32::try_from(a.len().abs_diff(b.len())).unwrap_or(u32::MAX);
    if length_gap.saturating_mul(VISUAL) > limit {
        return None;
    }
    let width = b.len() + 1;
    let step = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).saturating_mul(edit);
    // Three rows: two back (swaps and letter pairs), one back, current.
    let mut before: Vec<u32> = vec![FORBIDDEN; width];
    let mut previous: Vec<u32> = (0..width).map(step).collect();
    let mut current: Vec<u32> = vec![0; width];
    let mut previous_row_min = 0;
    for i in 1..=a.len() {
        current[0] = step(i);
        let mut row_min = current[0];
        for j in 1..width {
            let (ca, cb) = (a[i - 1], b[j - 1]);
            let replace = if ca == cb {
                0
            } else if visual_pair(ca, cb) {
                VISUAL
            } else {
                edit
            };
            let mut best = previous[j - 1]
                .saturating_add(replace)
                .min(previous[j].saturating_add(edit))
                .min(current[j - 1].saturating_add(edit));
            if i > 1 && j > 1 && ca == b[j - 2] && a[i - 2] == cb && ca != cb {
                best = best.min(before[j - 2].saturating_add(edit));
            }
            // Two letters of `a` read as one of `b` (`cl` → `d`), and the other way round.
            if i > 1
                && let Some(steps) = pair_glyph_cost(a[i - 2], ca, cb)
            {
                best = best.min(before[j - 1].saturating_add(steps * VISUAL));
            }
            if j > 1
                && let Some(steps) = pair_glyph_cost(b[j - 2], cb, ca)
            {
                best = best.min(previous[j - 2].saturating_add(steps * VISUAL));
            }
            current[j] = best;
            row_min = row_min.min(best);
        }
        // A letter pair reaches two rows back, so give up only when two rows are out of reach.
        if row_min > limit && previous_row_min > limit {
            return None;
        }
        previous_row_min = row_min;
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    let distance = previous[width - 1];
    (distance <= limit).then_some(distance)
}

/// What separates a candidate label from a protected one, when it is a single change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Edit {
    /// A character replaced by a QWERTY neighbour, or a neighbour typed beside a character.
    Keyboard,
    /// A character replaced by one easily misread for it, any number of times.
    Visual,
    /// A character left out.
    Omission,
    /// A character typed twice.
    Repetition,
    /// Any other character added.
    Insertion,
    /// Any other character replaced (vowel swap, bit flip).
    Replacement,
    /// Two neighbouring characters swapped.
    Transposition,
}

/// The single edit turning `protected` into `candidate`, if there is exactly one (visual-pair
/// replacements count as one edit together).
pub(super) fn classify(candidate: &[char], protected: &[char]) -> Option<Edit> {
    let (c, p) = (candidate, protected);
    if c.len() == p.len() {
        let differing: Vec<usize> = (0..c.len()).filter(|&i| c[i] != p[i]).collect();
        if differing.is_empty() {
            return None;
        }
        if differing.iter().all(|&i| visual_pair(c[i], p[i])) {
            return Some(Edit::Visual);
        }
        if let [only] = differing[..] {
            if keyboard_neighbours(c[only], p[only]) {
                return Some(Edit::Keyboard);
            }
            return Some(Edit::Replacement);
        }
        if let [first, second] = differing[..]
            && second == first + 1
            && c[first] == p[second]
            && c[second] == p[first]
        {
            return Some(Edit::Transposition);
        }
        return None;
    }
    if c.len() + 1 == p.len() {
        return removes_one(p, c).then_some(Edit::Omission);
    }
    if c.len() == p.len() + 1 {
        let at = inserted_at(c, p)?;
        let added = c[at];
        let left = at.checked_sub(1).and_then(|i| c.get(i)).copied();
        let right = c.get(at + 1).copied();
        if left == Some(added) || right == Some(added) {
            return Some(Edit::Repetition);
        }
        let beside_neighbour = |n: Option<char>| n.is_some_and(|n| keyboard_neighbours(n, added));
        if beside_neighbour(left) || beside_neighbour(right) {
            return Some(Edit::Keyboard);
        }
        return Some(Edit::Insertion);
    }
    None
}

/// `longer` is `shorter` with one character added.
fn removes_one(longer: &[char], shorter: &[char]) -> bool {
    inserted_at(longer, shorter).is_some()
}

/// Where one character was added to `shorter` to make `longer` (the first such place).
fn inserted_at(longer: &[char], shorter: &[char]) -> Option<usize> {
    if longer.len() != shorter.len() + 1 {
        return None;
    }
    let at = (0..shorter.len())
        .find(|&i| longer[i] != shorter[i])
        .unwrap_or(shorter.len());
    (longer.get(at + 1..)? == shorter.get(at..)?).then_some(at)
}

/// `candidate` is `protected` with `es` added somewhere inside (dnstwist's plural adds `s`,
/// or `es` after `s`, `x`, `z`: `mizuho` → `mizesuho`). A single `s` is an insertion already.
pub(super) fn is_plural(candidate: &[char], protected: &[char]) -> bool {
    if candidate.len() != protected.len() + 2 {
        return false;
    }
    (1..protected.len()).any(|at| {
        candidate.get(at..at + 2) == Some(&['e', 's'][..])
            && candidate.get(..at) == protected.get(..at)
            && candidate.get(at + 2..) == protected.get(at..)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    fn distance(a: &str, b: &str) -> Option<u32> {
        weighted(&chars(a), &chars(b), 8)
    }

    #[test]
    fn weighted_distance_in_half_edits() {
        assert_eq!(distance("toyota", "toyota"), Some(0));
        assert_eq!(distance("toyota", "toyata"), Some(2));
        assert_eq!(distance("toyota", "tyoota"), Some(2));
        assert_eq!(distance("toyota", "toyot"), Some(2));
        assert_eq!(distance("toyota", "toyotaa"), Some(2));
        assert_eq!(distance("nee", "nec"), Some(1));
        assert_eq!(distance("rnee", "nnec"), Some(2));
        assert_eq!(weighted(&chars("toyota"), &chars("honda"), 4), None);
        assert_eq!(weighted(&chars("toyota"), &chars("tayata"), 2), None);
        assert_eq!(distance("", "abc"), Some(6));
        assert_eq!(distance("clocomo", "docomo"), Some(1));
        assert_eq!(distance("docomo", "clocomo"), Some(1));
        assert_eq!(distance("hltaclhi", "hitachi"), Some(2));
        assert_eq!(distance("toyotam", "toyota"), Some(2));
        assert_eq!(distance("rnicrosoft", "microsoft"), Some(1));
        assert_eq!(distance("toshicla", "toshiba"), Some(2));
    }

    #[test]
    fn visual_differences_only() {
        let same = |a: &str, b: &str| looks_the_same(&chars(a), &chars(b));
        assert!(same("clocomo", "docomo"));
        assert!(same("hltaclhi", "hitachi"));
        assert!(same("nee", "nec"));
        assert!(same("rnicrosoft", "microsoft"));
        assert!(same("vvestern", "western"));
        assert!(!same("toyota", "toyota"));
        assert!(!same("toyita", "toyota"));
        assert!(!same("toyot", "toyota"));
    }

    #[test]
    fn single_edits_are_named() {
        let edit = |c: &str, p: &str| classify(&chars(c), &chars(p));
        assert_eq!(edit("toyita", "toyota"), Some(Edit::Keyboard));
        assert_eq!(edit("toyeta", "toyota"), Some(Edit::Replacement));
        assert_eq!(edit("tyoota", "toyota"), Some(Edit::Transposition));
        assert_eq!(edit("toyta", "toyota"), Some(Edit::Omission));
        assert_eq!(edit("tooyota", "toyota"), Some(Edit::Repetition));
        assert_eq!(edit("toyotaa", "toyota"), Some(Edit::Repetition));
        assert_eq!(edit("toyiota", "toyota"), Some(Edit::Keyboard));
        assert_eq!(edit("toyotax", "toyota"), Some(Edit::Insertion));
        assert_eq!(edit("nee", "nec"), Some(Edit::Visual));
        assert_eq!(edit("toyota", "toyota"), None);
        assert_eq!(edit("tayata", "toyota"), None);
    }

    #[test]
    fn plural_adds_es() {
        assert!(is_plural(&chars("mizesuho"), &chars("mizuho")));
        assert!(!is_plural(&chars("mizuhoes"), &chars("mizuho")));
        assert!(!is_plural(&chars("mizuho"), &chars("mizuho")));
    }
}
