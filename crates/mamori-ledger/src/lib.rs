//! mamori-ledger: an append-only, verifiable log of 32-byte entries, stored as a
//! [C2SP tiled transparency log](https://c2sp.org/tlog-tiles) with
//! [signed checkpoints](https://c2sp.org/tlog-checkpoint).
//!
//! This crate knows nothing of events, SQLite or JSON: a caller hashes whatever it records
//! into a 32-byte digest, and that digest is the log entry.
//!
//! # Concepts
//!
//! - **Log**: a sequence of entries `D[0], D[1], ...`, only ever appended to, summarised by the
//!   root of an [RFC 6962] Merkle tree: a leaf hash is `SHA-256(0x00 || entry)`, an interior
//!   node `SHA-256(0x01 || left || right)`, and a tree of `n > 1` leaves splits at the largest
//!   power of two below `n` ([`merkle`]).
//! - **Tile**: 256 consecutive hashes of one tree level, the storage and serving unit
//!   ([`tile`]). Level-0 tiles hold leaf hashes; a level-`L` tile holds the roots of 256 full
//!   tiles of level `L - 1`. The rightmost tile of each level is usually partial. Entries are
//!   served beside them in *entry bundles* with the same geometry as level 0. On disk the tiles
//!   of a level are stored end to end in one append-only file ([`TileLog`]), and
//!   [`TileReader`] cuts the C2SP resources out of them.
//! - **Checkpoint**: a text naming the log (its *origin*), a tree size and the root at that
//!   size ([`checkpoint`]), signed as a [signed note](https://c2sp.org/signed-note) with an
//!   Ed25519 key ([`note`]). A log never signs two checkpoints that are inconsistent.
//! - **Proof**: an inclusion proof (audit path) shows an entry is in the tree a checkpoint
//!   commits to; a consistency proof shows one tree is a prefix of another. A
//!   [tlog-proof](https://c2sp.org/tlog-proof) file bundles an inclusion proof with its signed
//!   checkpoint, verifiable offline ([`proof`]).
//!
//! # From an entry to a signed checkpoint
//!
//! 1. [`TileLog::append`] takes entries, computes their leaf hashes, and appends the entries
//!    and the level-0 hashes; every 256 hashes of a level make a full tile whose root is the
//!    next hash of the level above; the tree levels 4, 12, 20, ... are stored too, for fast
//!    proofs. The new size is committed last (see [`TileLog`] for the crash-safety protocol).
//! 2. [`TileLog::sign_checkpoint`] computes the root from the partial tiles, formats the
//!    [`checkpoint::Checkpoint`] text, signs it ([`note::Signer::sign`]), and stores it as
//!    `checkpoint` and in `checkpoints/`.
//! 3. Clients fetch tiles and checkpoints, or receive a [`proof::TlogProof`], and verify with
//!    [`merkle::verify_inclusion`] / [`proof::TlogProof::verify`] and the log's public key.
//! 4. [`audit::Auditor`] recomputes every tile, bundle and checkpoint root from the
//!    authoritative entries and compares them byte for byte with the directory.
//!
//! # Example
//!
//! ```
//! use mamori_ledger::{TileLog, merkle, note, checkpoint::Checkpoint, proof::TlogProof};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let origin = "example.com/events";
//! let mut log = TileLog::open(dir.path(), origin)?;
//!
//! // Entries are 32-byte digests computed by the caller.
//! let entries: Vec<[u8; 32]> = (0u8..100).map(|i| [i; 32]).collect();
//! log.append(&entries)?;
//!
//! let signer = note::Signer::generate(origin)?;
//! let verifier = signer.verifier(); // publish verifier.to_vkey()
//! let signed = log.sign_checkpoint(&signer)?;
//!
//! // A verifier trusts only what the key signed.
//! let body = note::open(&signed, &verifier)?;
//! let checkpoint = Checkpoint::parse(&body)?;
//! assert_eq!(checkpoint.size, 100);
//!
//! // Prove entry 42 is in that tree.
//! let hashes = log.inclusion_proof(42, checkpoint.size)?;
//! merkle::verify_inclusion(&merkle::leaf_hash(&entries[42]), 42, 100, &hashes, &checkpoint.root)?;
//!
//! // Or hand out a self-contained tlog-proof.
//! let proof = TlogProof { extra: None, index: 42, hashes, checkpoint: signed };
//! let parsed = TlogProof::parse(&proof.encode())?;
//! parsed.verify(&entries[42], &verifier, origin)?;
//!
//! // Audit the directory against the authoritative entries.
//! let mut auditor = mamori_ledger::audit::Auditor::new(dir.path(), &verifier, origin)?;
//! for entry in &entries {
//!     auditor.push(entry)?;
//! }
//! assert_eq!(auditor.finish()?.checkpoints_checked, 2); // `checkpoint` and its history copy
//! # Ok(()) }
//! ```
//!
//! [RFC 6962]: https://www.rfc-editor.org/rfc/rfc6962#section-2.1

pub mod audit;
pub mod bundle;
pub mod checkpoint;
mod edge;
mod error;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod tile;
mod tilelog;

pub use error::LedgerError;
pub use tilelog::{TileLog, TileReader};

/// A SHA-256 digest: a log entry, a leaf hash, or a tree node.
pub type Hash = [u8; 32];
