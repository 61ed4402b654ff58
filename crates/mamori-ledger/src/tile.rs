//! C2SP tlog-tiles resource paths, and the tile geometry shared by the log and the auditor.
//!
//! A tile at level `L` holds 256 consecutive hashes of tree level `8 * L` (level 0: leaf
//! hashes); the `N`-th tile at level `L` covers leaves `N * 256^(L+1) .. (N+1) * 256^(L+1)`.
//! The rightmost tile of each level is usually *partial* (1 to 255 hashes, `.p/<W>` suffix).
//! Entry bundles (`tile/entries/...`) follow the geometry of level 0.
//!
//! Paths are relative to the log prefix (`tile/0/x001/x234/067.p/8`); the index `N` is written
//! in zero-padded 3-digit groups, all but the last prefixed with `x`, so a file system can store
//! every resource without a file/directory clash.

/// Hashes in a full tile.
pub const FULL_WIDTH: u16 = 256;
/// Bytes in one hash.
pub const HASH_SIZE: usize = 32;
/// Bytes of one entry in an entry bundle: big-endian `u16` length (always 32) then the entry.
pub const ENTRY_RECORD_SIZE: usize = 2 + HASH_SIZE;
/// Highest tile level the spec allows in a path.
pub const MAX_LEVEL: u8 = 63;

/// Tree levels spanned by one tile level.
pub(crate) const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile, as a `usize`.
pub(crate) const TILE_WIDTH: usize = FULL_WIDTH as usize;
/// Tile levels a `u64`-sized tree can have (256^8 = 2^64).
pub(crate) const MAX_TILE_LEVELS: u8 = 8;

/// A parsed tile resource path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TilePath {
    /// `tile/<level>/<index>[.p/<width>]`; `width == 256` for a full tile.
    Hashes { level: u8, index: u64, width: u16 },
    /// `tile/entries/<index>[.p/<width>]`; `width == 256` for a full bundle.
    Entries { index: u64, width: u16 },
}

impl TilePath {
    /// The canonical relative path of this resource.
    pub fn to_path(&self) -> String {
        match *self {
            TilePath::Hashes {
                level,
                index,
                width,
            } => tile_path(level, index, width),
            TilePath::Entries { index, width } => entries_path(index, width),
        }
    }
}

/// `tile/<level>/<index>[.p/<width>]`. `width` is 1..=256, 256 meaning a full tile.
pub fn tile_path(level: u8, index: u64, width: u16) -> String {
    debug_assert!(level <= MAX_LEVEL, "tile level {level}");
    format!("tile/{level}/{}", index_and_width(index, width))
}

/// `tile/entries/<index>[.p/<width>]`. `width` is 1..=256, 256 meaning a full bundle.
pub fn entries_path(index: u64, width: u16) -> String {
    format!("tile/entries/{}", index_and_width(index, width))
}

fn index_and_width(index: u64, width: u16) -> String {
    debug_assert!((1..=FULL_WIDTH).contains(&width), "tile width {width}");
    let mut path = encode_index(index);
    if width < FULL_WIDTH {
        path.push_str(&format!(".p/{width}"));
    }
    path
}

/// `1234067` -> `x001/x234/067`.
fn encode_index(index: u64) -> String {
    let mut groups = Vec::with_capacity(7);
    let mut rest = index;
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(position, group)| {
            if position == last {
                format!("{group:03}")
            } else {
                format!("x{group:03}/")
            }
        })
        .collect()
}

/// Parse a tile or entry-bundle path relative to the log prefix. Strict: only the canonical
/// form [`tile_path`]/[`entries_path`] produce is accepted (no leading zero groups, no `./`,
/// `..`, empty components, trailing slash, `.p/256`, `.p/0` or leading zeros in numbers), so
/// the result maps one-to-one onto a file under the log directory.
pub fn parse_tile_path(path: &str) -> Option<TilePath> {
    let rest = path.strip_prefix("tile/")?;
    let (kind, rest) = rest.split_once('/')?;
    let mut components = rest.split('/');
    let (index, width) = parse_index_and_width(&mut components)?;
    if components.next().is_some() {
        return None;
    }
    if kind == "entries" {
        return Some(TilePath::Entries { index, width });
    }
    let level = parse_canonical_decimal(kind)?;
    let level = u8::try_from(level).ok().filter(|l| *l <= MAX_LEVEL)?;
    Some(TilePath::Hashes {
        level,
        index,
        width,
    })
}

fn parse_index_and_width<'a>(components: &mut impl Iterator<Item = &'a str>) -> Option<(u64, u16)> {
    let mut index: u64 = 0;
    let mut leading = true;
    loop {
        let component = components.next()?;
        if let Some(group) = component.strip_prefix('x') {
            let group = parse_group(group)?;
            // A zero most-significant group would be a second spelling of a smaller index.
            if leading && group == 0 {
                return None;
            }
            leading = false;
            index = index.checked_mul(1000)?.checked_add(group)?;
            continue;
        }
        let (last_group, partial) = match component.strip_suffix(".p") {
            Some(group) => (group, true),
            None => (component, false),
        };
        index = index
            .checked_mul(1000)?
            .checked_add(parse_group(last_group)?)?;
        if !partial {
            return Some((index, FULL_WIDTH));
        }
        let width = parse_canonical_decimal(components.next()?)?;
        let width = u16::try_from(width)
            .ok()
            .filter(|w| (1..FULL_WIDTH).contains(w))?;
        return Some((index, width));
    }
}

/// Exactly three ASCII digits.
fn parse_group(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0u64, |value, digit| value * 10 + u64::from(digit - b'0')),
    )
}

/// A decimal number with no sign and no leading zeros (except `0` itself).
pub(crate) fn parse_canonical_decimal(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    bytes.iter().try_fold(0u64, |value, digit| {
        value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}

/// `x >> bits`, zero once every bit is shifted out (plain `>>` panics for `bits >= 64`).
pub(crate) fn shr(x: u64, bits: u32) -> u64 {
    x.checked_shr(bits).unwrap_or(0)
}

/// Number of hashes (complete subtrees) at tile level `tile_level` in a tree of `tree_size`.
pub(crate) fn nodes_at(tree_size: u64, tile_level: u8) -> u64 {
    shr(tree_size, TILE_HEIGHT * u32::from(tile_level))
}

/// Number of full tiles at `tile_level` in a tree of `tree_size` leaves.
pub(crate) fn full_tiles(tree_size: u64, tile_level: u8) -> u64 {
    shr(tree_size, TILE_HEIGHT * (u32::from(tile_level) + 1))
}

/// Width of the partial tile at `tile_level` (0 if there is none): `floor(s / 256^L) mod 256`.
pub(crate) fn partial_width(tree_size: u64, tile_level: u8) -> u16 {
    (nodes_at(tree_size, tile_level) % u64::from(FULL_WIDTH)) as u16
}

/// Tile levels that hold at least one hash in a tree of `tree_size` leaves.
pub(crate) fn tile_levels(tree_size: u64) -> u8 {
    (0..MAX_TILE_LEVELS)
        .take_while(|level| nodes_at(tree_size, *level) > 0)
        .count() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_matches_the_spec_example() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
        // level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width
        // 17, and one partial level 2 tile of width 1."
        assert_eq!(full_tiles(70_000, 0), 273);
        assert_eq!(partial_width(70_000, 0), 112);
        assert_eq!(full_tiles(70_000, 1), 1);
        assert_eq!(partial_width(70_000, 1), 17);
        assert_eq!(full_tiles(70_000, 2), 0);
        assert_eq!(partial_width(70_000, 2), 1);
        assert_eq!(tile_levels(70_000), 3);
        // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
        // tile of width 1."
        assert_eq!((full_tiles(256, 0), partial_width(256, 0)), (1, 0));
        assert_eq!((full_tiles(256, 1), partial_width(256, 1)), (0, 1));
        assert_eq!(tile_levels(0), 0);
        assert_eq!(tile_levels(u64::MAX), 8);
        assert_eq!(partial_width(u64::MAX, 7), 255);
    }
}
