//! Evidence bundles: disclosed entries with their proofs, verifiable offline.
//!
//! A bundle is a ZIP file (stored, uncompressed) holding:
//!
//! | file | what |
//! |---|---|
//! | `manifest.json` | format, log origin, verifier key, tree size, the caller's statement (what was exported and why), and the SHA-256 of every other file |
//! | `manifest.sig` | a C2SP signed note by the log key over `mamori-evidence-bundle/1` and the manifest's SHA-256 |
//! | `checkpoint` | the signed checkpoint all proofs lead to |
//! | `verifier.key` | the log's note verifier key (self-asserted: compare it with the published key) |
//! | `entries/<index>.json` | each disclosed entry's data: its SHA-256 is the ledger entry at `<index>` |
//! | `proofs/<index>.tlog-proof` | a C2SP tlog-proof of that entry |
//! | `VERIFY.md` | how to check all this by hand |
//!
//! The ZIP is written in one canonical form (fixed order and timestamps, no extra fields), and
//! [`verify`] rebuilds the archive from what it read and requires identical bytes, so a change
//! to any byte of the file — content, header or padding — is rejected.

use sha2::{Digest, Sha256};

use crate::Hash;
use crate::checkpoint::Checkpoint;
use crate::note::{self, Verifier};
use crate::proof::TlogProof;

/// The format line, also the first line of the manifest signature.
pub const FORMAT: &str = "mamori-evidence-bundle/1";
/// The `VERIFY.md` every bundle carries: how to check it without Mamori.
pub const README: &str = include_str!("bundle_readme.md");
/// The ZIP has no ZIP64 records, so it holds at most this many files.
pub const MAX_FILES: usize = 65_535;

/// A named file inside a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A disclosed entry: the data whose SHA-256 is the ledger entry, and its proof.
#[derive(Debug, Clone)]
pub struct Disclosed {
    pub index: u64,
    pub data: Vec<u8>,
    pub proof: TlogProof,
}

/// What a verified bundle holds.
#[derive(Debug, Clone)]
pub struct Verified {
    pub checkpoint: Checkpoint,
    pub statement: serde_json::Value,
    pub entries: Vec<(u64, Vec<u8>)>,
    /// Whether the key came from the caller (`true`) or only from the bundle itself.
    pub trusted_key: bool,
    pub verifier_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a canonical evidence bundle: {0}")]
    Archive(String),
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error("bundle too large: {0} files (at most {MAX_FILES}); export a narrower range")]
    TooLarge(usize),
    #[error("signing: {0}")]
    Sign(#[from] note::NoteError),
}

fn file_error(file: &str, reason: impl Into<String>) -> BundleError {
    BundleError::File {
        file: file.to_string(),
        reason: reason.into(),
    }
}

/// The entries of `events` (leaf index and stored data, `None` where retention erased it) to
/// disclose, each with its proof (`proof(index)`) to the tree of `tree_size` entries that
/// `checkpoint` signs, and the indices withheld: erased, or not in that tree yet.
pub fn disclose<E>(
    events: impl IntoIterator<Item = (u64, Option<Vec<u8>>)>,
    checkpoint: &str,
    tree_size: u64,
    mut proof: impl FnMut(u64) -> Result<Vec<Hash>, E>,
) -> Result<(Vec<Disclosed>, Vec<u64>), E> {
    let mut disclosed = Vec::new();
    let mut withheld = Vec::new();
    for (index, data) in events {
        match data {
            Some(data) if index < tree_size => disclosed.push(Disclosed {
                index,
                data,
                proof: TlogProof {
                    extra: None,
                    index,
                    hashes: proof(index)?,
                    checkpoint: checkpoint.to_string(),
                },
            }),
            _ => withheld.push(index),
        }
    }
    Ok((disclosed, withheld))
}

/// Builds a bundle. `statement` describes the export (who, what range, why); `checkpoint` is the
/// signed note every proof in `disclosed` refers to; `signer` signs the manifest.
pub fn build(
    statement: serde_json::Value,
    checkpoint: &str,
    disclosed: &[Disclosed],
    signer: &note::Signer,
    verify_md: &str,
) -> Result<Vec<u8>, BundleError> {
    let verifier = signer.verifier();
    let file_count = 2 * disclosed.len() + 5;
    if file_count > MAX_FILES {
        return Err(BundleError::TooLarge(file_count));
    }
    let mut files = vec![
        BundleFile {
            name: "checkpoint".into(),
            bytes: checkpoint.as_bytes().to_vec(),
        },
        BundleFile {
            name: "verifier.key".into(),
            bytes: format!("{}\n", verifier.to_vkey()).into_bytes(),
        },
        BundleFile {
            name: "VERIFY.md".into(),
            bytes: verify_md.as_bytes().to_vec(),
        },
    ];
    let mut entries = Vec::with_capacity(disclosed.len());
    for item in disclosed {
        let data_name = entry_file_name(item.index);
        let proof_name = proof_file_name(item.index);
        entries.push(serde_json::json!({
            "index": item.index,
            "file": data_name,
            "proof": proof_name,
            "entry": hex(&Sha256::digest(&item.data)),
        }));
        files.push(BundleFile {
            name: data_name,
            bytes: item.data.clone(),
        });
        files.push(BundleFile {
            name: proof_name,
            bytes: item.proof.encode().into_bytes(),
        });
    }
    let body = note::open(checkpoint, &verifier)?;
    let tree = Checkpoint::parse(&body).map_err(|e| file_error("checkpoint", e.to_string()))?;
    let hashes: Vec<serde_json::Value> = files
        .iter()
        .map(|f| serde_json::json!({"name": f.name, "sha256": hex(&Sha256::digest(&f.bytes))}))
        .collect();
    let manifest = serde_json::json!({
        "format": FORMAT,
        "origin": tree.origin,
        "tree_size": tree.size,
        "verifier_key": verifier.to_vkey(),
        "statement": statement,
        "entries": entries,
        "files": hashes,
    });
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| file_error("manifest.json", e.to_string()))?;
    manifest_bytes.push(b'\n');
    let signature = signer.sign(&manifest_signature_text(&manifest_bytes))?;
    let mut all = vec![
        BundleFile {
            name: "manifest.json".into(),
            bytes: manifest_bytes,
        },
        BundleFile {
            name: "manifest.sig".into(),
            bytes: signature.into_bytes(),
        },
    ];
    all.append(&mut files);
    Ok(zip::write(&all))
}

/// Verifies a bundle with no store and no network. With `trusted` the log key must be that key;
/// without it the bundle's own `verifier.key` is used (and reported as self-asserted).
pub fn verify(bytes: &[u8], trusted: Option<&Verifier>) -> Result<Verified, BundleError> {
    let files = zip::read(bytes)?;
    let find = |name: &str| {
        files
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| file_error(name, "missing"))
    };
    let manifest_file = find("manifest.json")?;
    let bundled_key = text(find("verifier.key")?)?.trim().to_string();
    let verifier = match trusted {
        Some(verifier) => verifier.clone(),
        None => Verifier::from_vkey(&bundled_key)
            .map_err(|e| file_error("verifier.key", e.to_string()))?,
    };
    let signed = note::open(text(find("manifest.sig")?)?, &verifier)
        .map_err(|e| file_error("manifest.sig", e.to_string()))?;
    if signed != manifest_signature_text(&manifest_file.bytes) {
        return Err(file_error(
            "manifest.sig",
            "does not sign this manifest.json",
        ));
    }
    let manifest: serde_json::Value = serde_json::from_slice(&manifest_file.bytes)
        .map_err(|e| file_error("manifest.json", e.to_string()))?;
    if manifest["format"] != FORMAT {
        return Err(file_error("manifest.json", "unknown format"));
    }
    check_file_hashes(&manifest, &files)?;
    let checkpoint_note = text(find("checkpoint")?)?;
    let body = note::open(checkpoint_note, &verifier)
        .map_err(|e| file_error("checkpoint", e.to_string()))?;
    let checkpoint =
        Checkpoint::parse(&body).map_err(|e| file_error("checkpoint", e.to_string()))?;
    if manifest["origin"] != checkpoint.origin.as_str() {
        return Err(file_error(
            "manifest.json",
            "origin differs from the checkpoint",
        ));
    }
    let listed = manifest["entries"]
        .as_array()
        .ok_or_else(|| file_error("manifest.json", "no entries list"))?;
    let mut entries = Vec::with_capacity(listed.len());
    for item in listed {
        let index = item["index"]
            .as_u64()
            .ok_or_else(|| file_error("manifest.json", "entry without index"))?;
        let data = find(&entry_file_name(index))?;
        let proof_name = proof_file_name(index);
        let proof = TlogProof::parse(text(find(&proof_name)?)?)
            .map_err(|e| file_error(&proof_name, e.to_string()))?;
        if proof.index != index {
            return Err(file_error(
                &proof_name,
                format!("proves index {}", proof.index),
            ));
        }
        if proof.checkpoint != checkpoint_note {
            return Err(file_error(&proof_name, "refers to another checkpoint"));
        }
        let entry: [u8; 32] = Sha256::digest(&data.bytes).into();
        proof
            .verify(&entry, &verifier, &checkpoint.origin)
            .map_err(|e| file_error(&proof_name, e.to_string()))?;
        entries.push((index, data.bytes.clone()));
    }
    Ok(Verified {
        checkpoint,
        statement: manifest["statement"].clone(),
        entries,
        trusted_key: trusted.is_some(),
        verifier_key: verifier.to_vkey(),
    })
}

/// Every file but the manifest and its signature is listed with its hash, and nothing else is.
fn check_file_hashes(
    manifest: &serde_json::Value,
    files: &[BundleFile],
) -> Result<(), BundleError> {
    let listed = manifest["files"]
        .as_array()
        .ok_or_else(|| file_error("manifest.json", "no files list"))?;
    let present: Vec<&BundleFile> = files
        .iter()
        .filter(|f| f.name != "manifest.json" && f.name != "manifest.sig")
        .collect();
    if listed.len() != present.len() {
        return Err(file_error(
            "manifest.json",
            format!(
                "lists {} files, the bundle holds {}",
                listed.len(),
                present.len()
            ),
        ));
    }
    for (item, file) in listed.iter().zip(present) {
        if item["name"] != file.name.as_str() {
            return Err(file_error(&file.name, "not where the manifest lists it"));
        }
        if item["sha256"] != hex(&Sha256::digest(&file.bytes)).as_str() {
            return Err(file_error(&file.name, "SHA-256 differs from the manifest"));
        }
    }
    Ok(())
}

fn manifest_signature_text(manifest: &[u8]) -> String {
    format!("{FORMAT}\nsha256 {}\n", hex(&Sha256::digest(manifest)))
}

fn entry_file_name(index: u64) -> String {
    format!("entries/{index:020}.json")
}

fn proof_file_name(index: u64) -> String {
    format!("proofs/{index:020}.tlog-proof")
}

fn text(file: &BundleFile) -> Result<&str, BundleError> {
    std::str::from_utf8(&file.bytes).map_err(|_| file_error(&file.name, "not UTF-8"))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The canonical stored-only ZIP used for bundles (PKWARE APPNOTE 6.3: local headers, central
/// directory, end record; method 0, UTF-8 names, DOS time 1980-01-01 00:00, no extra fields).
mod zip {
    use super::{BundleError, BundleFile};

    const LOCAL: u32 = 0x0403_4b50;
    const CENTRAL: u32 = 0x0201_4b50;
    const END: u32 = 0x0605_4b50;
    const VERSION: u16 = 20;
    /// Bit 11: file names are UTF-8.
    const FLAGS: u16 = 0x0800;
    const DOS_TIME: u16 = 0;
    /// 1980-01-01.
    const DOS_DATE: u16 = 0x0021;
    /// Unix file mode 0644 in the high half, as Info-ZIP writes it.
    const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;
    /// Version made by: 2.0, Unix.
    const MADE_BY: u16 = (3 << 8) | 20;

    pub fn write(files: &[BundleFile]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for file in files {
            let offset = out.len() as u32;
            let crc = crc32fast::hash(&file.bytes);
            let size = file.bytes.len() as u32;
            let name = file.name.as_bytes();
            put32(&mut out, LOCAL);
            put16(&mut out, VERSION);
            put16(&mut out, FLAGS);
            put16(&mut out, 0);
            put16(&mut out, DOS_TIME);
            put16(&mut out, DOS_DATE);
            put32(&mut out, crc);
            put32(&mut out, size);
            put32(&mut out, size);
            put16(&mut out, name.len() as u16);
            put16(&mut out, 0);
            out.extend_from_slice(name);
            out.extend_from_slice(&file.bytes);

            put32(&mut central, CENTRAL);
            put16(&mut central, MADE_BY);
            put16(&mut central, VERSION);
            put16(&mut central, FLAGS);
            put16(&mut central, 0);
            put16(&mut central, DOS_TIME);
            put16(&mut central, DOS_DATE);
            put32(&mut central, crc);
            put32(&mut central, size);
            put32(&mut central, size);
            put16(&mut central, name.len() as u16);
            put16(&mut central, 0);
            put16(&mut central, 0);
            put16(&mut central, 0);
            put16(&mut central, 0);
            put32(&mut central, EXTERNAL_ATTRIBUTES);
            put32(&mut central, offset);
            central.extend_from_slice(name);
        }
        let central_offset = out.len() as u32;
        let central_size = central.len() as u32;
        out.append(&mut central);
        put32(&mut out, END);
        put16(&mut out, 0);
        put16(&mut out, 0);
        put16(&mut out, files.len() as u16);
        put16(&mut out, files.len() as u16);
        put32(&mut out, central_size);
        put32(&mut out, central_offset);
        put16(&mut out, 0);
        out
    }

    /// Reads the local entries in order, then requires that writing them back gives `bytes`.
    pub fn read(bytes: &[u8]) -> Result<Vec<BundleFile>, BundleError> {
        let mut files = Vec::new();
        let mut at = 0usize;
        while get32(bytes, at) == Some(LOCAL) {
            let size = get32(bytes, at + 22).ok_or_else(truncated)? as usize;
            let name_len = get16(bytes, at + 26).ok_or_else(truncated)? as usize;
            let name_start = at + 30;
            let data_start = name_start.checked_add(name_len).ok_or_else(truncated)?;
            let data_end = data_start.checked_add(size).ok_or_else(truncated)?;
            let name = bytes.get(name_start..data_start).ok_or_else(truncated)?;
            let data = bytes.get(data_start..data_end).ok_or_else(truncated)?;
            let name = String::from_utf8(name.to_vec())
                .map_err(|_| BundleError::Archive("file name is not UTF-8".into()))?;
            if get32(bytes, at + 14) != Some(crc32fast::hash(data)) {
                return Err(BundleError::Archive(format!("{name}: CRC-32 mismatch")));
            }
            if files.iter().any(|f: &BundleFile| f.name == name) {
                return Err(BundleError::Archive(format!("{name}: listed twice")));
            }
            files.push(BundleFile {
                name,
                bytes: data.to_vec(),
            });
            at = data_end;
        }
        if files.len() > super::MAX_FILES || write(&files) != bytes {
            return Err(BundleError::Archive(
                "the archive differs from its canonical form (a byte was changed, added or removed)"
                    .into(),
            ));
        }
        Ok(files)
    }

    fn truncated() -> BundleError {
        BundleError::Archive("truncated entry".into())
    }

    fn put16(out: &mut Vec<u8>, value: u16) {
        out.extend_from_slice(&value.to_le_bytes());
    }

    fn put32(out: &mut Vec<u8>, value: u32) {
        out.extend_from_slice(&value.to_le_bytes());
    }

    fn get16(bytes: &[u8], at: usize) -> Option<u16> {
        let slice = bytes.get(at..at.checked_add(2)?)?;
        Some(u16::from_le_bytes([slice[0], slice[1]]))
    }

    fn get32(bytes: &[u8], at: usize) -> Option<u32> {
        let slice = bytes.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes([slice[0], slice[1], slice[2], slice[3]]))
    }
}
