//! The right edge of a tiled tree: the hashes of the partial tile at every tile level.
//!
//! Shared by [`crate::TileLog`] (which writes what the edge produces) and the
//! [`crate::audit::Auditor`] (which compares it with what is on disk), so both derive tiles,
//! cache groups and roots with the same code.
//!
//! Per tile level `t` the edge keeps the hashes of tree level `8t` in the current tile
//! (`nodes`, fewer than 256) and, for every complete run of 16 of them, their subtree hash at
//! tree level `8t + 4` (`groups`). When a tile fills up, its root (from its 16 groups) becomes
//! the next hash of tile level `t + 1`.

use crate::Hash;
use crate::merkle::{fold_right_edge, leaf_hash, perfect_root};
use crate::tile::{MAX_TILE_LEVELS, TILE_HEIGHT, TILE_WIDTH};

/// Tile-level hashes per cache group (tree levels `8t` -> `8t + 4`).
pub(crate) const GROUP_WIDTH: usize = 16;
/// log2 of [`GROUP_WIDTH`].
pub(crate) const GROUP_HEIGHT: u32 = 4;

/// Receives everything the edge produces while leaves are pushed.
pub(crate) trait EdgeSink {
    type Error;
    /// A new hash at tree level `8 * tile_level` (for tile level 0: a leaf hash).
    fn node(&mut self, tile_level: u8, node_index: u64, hash: &Hash) -> Result<(), Self::Error>;
    /// A new hash at tree level `8 * tile_level + 4`.
    fn group(&mut self, tile_level: u8, group_index: u64, hash: &Hash) -> Result<(), Self::Error>;
    /// A tile became full; `nodes` are its 256 hashes.
    fn full_tile(
        &mut self,
        tile_level: u8,
        tile_index: u64,
        nodes: &[Hash],
    ) -> Result<(), Self::Error>;
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EdgeLevel {
    /// Hashes of the current (partial) tile, fewer than 256.
    pub nodes: Vec<Hash>,
    /// `perfect_root` of each complete run of 16 `nodes`.
    pub groups: Vec<Hash>,
}

impl EdgeLevel {
    /// Rebuild a level from the hashes of its partial tile.
    pub fn from_nodes(nodes: Vec<Hash>) -> Self {
        debug_assert!(nodes.len() < TILE_WIDTH);
        let groups = nodes.chunks_exact(GROUP_WIDTH).map(perfect_root).collect();
        EdgeLevel { nodes, groups }
    }
}

/// A complete subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Subtree {
    pub level: u8,
    pub index: u64,
    pub hash: Hash,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Edge {
    size: u64,
    /// Indexed by tile level.
    levels: Vec<EdgeLevel>,
}

impl Edge {
    pub fn new() -> Self {
        Self::default()
    }

    /// An edge for a tree of `size` leaves from its partial tiles, lowest level first.
    pub fn from_levels(size: u64, levels: Vec<EdgeLevel>) -> Self {
        let edge = Edge { size, levels };
        debug_assert!(edge.is_consistent());
        edge
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn level(&self, tile_level: u8) -> Option<&EdgeLevel> {
        self.levels.get(usize::from(tile_level))
    }

    /// Append an entry's leaf hash, reporting every produced hash and full tile to `sink`.
    /// On error the edge is left partly updated: callers work on a copy.
    pub fn push_entry<S: EdgeSink>(&mut self, entry: &Hash, sink: &mut S) -> Result<(), S::Error> {
        let leaf_index = self.size;
        self.size += 1;
        let mut hash = leaf_hash(entry);
        let mut node_index = leaf_index;
        for tile_level in 0..MAX_TILE_LEVELS {
            sink.node(tile_level, node_index, &hash)?;
            let level = self.level_mut(tile_level);
            level.nodes.push(hash);
            if level.nodes.len().is_multiple_of(GROUP_WIDTH) {
                let group = perfect_root(&level.nodes[level.nodes.len() - GROUP_WIDTH..]);
                level.groups.push(group);
                sink.group(tile_level, node_index / GROUP_WIDTH as u64, &group)?;
            }
            if level.nodes.len() < TILE_WIDTH {
                break;
            }
            let tile_index = node_index / TILE_WIDTH as u64;
            sink.full_tile(tile_level, tile_index, &level.nodes)?;
            // The tile's root is the next hash one tile level up.
            hash = perfect_root(&level.groups);
            level.nodes.clear();
            level.groups.clear();
            node_index = tile_index;
        }
        debug_assert!(self.is_consistent());
        Ok(())
    }

    fn level_mut(&mut self, tile_level: u8) -> &mut EdgeLevel {
        let index = usize::from(tile_level);
        if self.levels.len() <= index {
            self.levels.resize_with(index + 1, EdgeLevel::default);
        }
        &mut self.levels[index]
    }

    /// The RFC 6962 root of the tree.
    pub fn root(&self) -> Hash {
        let hashes: Vec<Hash> = self.subtrees().iter().map(|s| s.hash).collect();
        fold_right_edge(&hashes)
    }

    /// The complete subtrees the tree is made of, largest (leftmost) first: exactly the aligned
    /// power-of-two runs of each level's partial tile (one per set bit of the size).
    pub fn subtrees(&self) -> Vec<Subtree> {
        let mut subtrees = Vec::with_capacity(64);
        let mut first_leaf = 0u64;
        for (tile_level, level) in self.levels.iter().enumerate().rev() {
            let width = level.nodes.len();
            let mut offset = 0;
            for bit in (0..TILE_HEIGHT).rev() {
                let run = 1usize << bit;
                if width & run == 0 {
                    continue;
                }
                let hash = if run >= GROUP_WIDTH {
                    let first_group = offset / GROUP_WIDTH;
                    perfect_root(&level.groups[first_group..first_group + run / GROUP_WIDTH])
                } else {
                    perfect_root(&level.nodes[offset..offset + run])
                };
                let height = TILE_HEIGHT * tile_level as u32 + bit;
                subtrees.push(Subtree {
                    level: height as u8,
                    index: first_leaf >> height,
                    hash,
                });
                first_leaf += 1u64 << height;
                offset += run;
            }
        }
        debug_assert_eq!(first_leaf, self.size);
        subtrees
    }

    /// Every level's partial tile has the width the size implies, and its groups match.
    fn is_consistent(&self) -> bool {
        self.levels.iter().enumerate().all(|(tile_level, level)| {
            let width = crate::tile::partial_width(self.size, tile_level as u8);
            level.nodes.len() == usize::from(width)
                && level.groups.len() == level.nodes.len() / GROUP_WIDTH
        })
    }
}

/// An [`EdgeSink`] that ignores everything (for root computations).
#[cfg(test)]
pub(crate) struct NoSink;

#[cfg(test)]
impl EdgeSink for NoSink {
    type Error = std::convert::Infallible;
    fn node(&mut self, _: u8, _: u64, _: &Hash) -> Result<(), Self::Error> {
        Ok(())
    }
    fn group(&mut self, _: u8, _: u64, _: &Hash) -> Result<(), Self::Error> {
        Ok(())
    }
    fn full_tile(&mut self, _: u8, _: u64, _: &[Hash]) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::merkle::TreeBuilder;

    #[test]
    fn edge_root_matches_tree_builder_across_tile_boundaries() {
        let mut edge = Edge::new();
        let mut builder = TreeBuilder::new();
        for i in 0u64..70_000 {
            let mut entry = [0u8; 32];
            entry[..8].copy_from_slice(&i.to_be_bytes());
            edge.push_entry(&entry, &mut NoSink).unwrap();
            builder.push(leaf_hash(&entry));
            let size = i + 1;
            if size < 600 || size % 4099 == 0 || size % 65_536 < 3 || size == 70_000 {
                assert_eq!(edge.root(), builder.root(), "size {size}");
            }
        }
    }
}
