//! The CMU SEI CERT Insider Threat Test Dataset (releases r4.2, r5.2, r6.2).
//!
//! A dataset directory holds five activity files (`logon.csv`, `device.csv`, `file.csv`,
//! `http.csv`, `email.csv`), monthly `LDAP/YYYY-MM.csv` snapshots and `psychometric.csv`.
//!
//! - [`discover`] lists which files a directory has and the release style of each.
//! - [`CertFileSource`] reads one activity file as a [`crate::Source`]: one [`mamori_event::Event`]
//!   or one [`crate::Rejected`] per row, in constant memory, resumable at any record boundary.
//!   The CERT id goes to `source.ref`, so answer keys join by id.
//! - [`read_ldap`] turns the snapshots into time-versioned [`mamori_event::PersonRecord`]s
//!   (joiners, leavers, moves); [`read_psychometric`] reads the Big Five scores.
//!
//! The `content` columns (web pages, e-mails, copied files) are never stored as text: see
//! [`content`]. The dataset itself is not redistributable: tests write their own fixtures.
//! Layouts, sources and every mapping choice are documented in `docs/cert.md`.

pub use mamori_content::features as content;
mod layout;
mod ldap;
mod row;
mod source;
mod time;

use std::fs;
use std::path::{Path, PathBuf};

pub use crate::ResumePoint;
pub use content::{CONTENT_CATEGORIES, ContentDigester, ContentFeatures, ContentKey};
pub use layout::{FileKind, Layout, Release};
pub use ldap::{LdapHistory, Psychometric, PsychometricTable, read_ldap, read_psychometric};
pub use row::{CLOUD_STORAGE_DOMAINS, raw_key};
pub use source::CertFileSource;

/// `source.name` of every event this importer makes.
pub const SOURCE_NAME: &str = "cert";

/// The organisation's e-mail domain in every CERT release.
pub const CERT_ORGANISATION_DOMAIN: &str = "dtaa.com";

/// How to read a dataset.
#[derive(Debug, Clone)]
pub struct CertOptions {
    /// Key of the content HMACs (`raw.content_hmac`). Keep it secret and stable across imports
    /// that must be comparable.
    pub content_key: ContentKey,
    /// The dataset writes local times without a zone; this offset turns them into UTC.
    pub utc_offset: jiff::tz::Offset,
    /// E-mail domains inside the organisation (sub-domains included); a message to any other
    /// domain is `destination.external`.
    pub organisation_domains: Vec<String>,
}

impl CertOptions {
    /// UTC times and the CERT organisation's domain.
    pub fn new(content_key: ContentKey) -> CertOptions {
        CertOptions {
            content_key,
            utc_offset: jiff::tz::Offset::UTC,
            organisation_domains: vec![CERT_ORGANISATION_DOMAIN.to_string()],
        }
    }
}

/// Why a CERT file or directory cannot be read at all (bad rows never cause one).
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error(
        "{file}: not a CERT activity file (expected logon.csv, device.csv, file.csv, http.csv or email.csv)"
    )]
    UnknownFile { file: String },
    #[error("{file}: the file is empty, so its columns cannot be told")]
    Empty { file: String },
    #[error("{file}: unknown {kind} header {columns:?}; known column sets: {}", known_layouts(*kind))]
    UnknownHeader {
        file: String,
        kind: FileKind,
        columns: Vec<String>,
    },
    #[error(
        "{file}: no header, and {count} fields in the first record match no known {kind} layout; known column sets: {}",
        known_layouts(*kind)
    )]
    UnknownFieldCount {
        file: String,
        kind: FileKind,
        count: usize,
    },
    #[error("{file}: resume offset {offset} is past the end of the file ({total_bytes} bytes)")]
    ResumeBeyondEnd {
        file: String,
        offset: u64,
        total_bytes: u64,
    },
    #[error("{dir}: no LDAP snapshots (files named YYYY-MM.csv)")]
    NoLdapSnapshots { dir: String },
    #[error("{file}: {reason}")]
    BadFile { file: String, reason: String },
}

impl CertError {
    pub(crate) fn io(file: &str, source: std::io::Error) -> CertError {
        CertError::Io {
            file: file.to_string(),
            source,
        }
    }
}

fn known_layouts(kind: FileKind) -> String {
    Layout::ALL
        .iter()
        .filter(|layout| layout.kind() == kind)
        .map(|layout| format!("[{}]", layout.columns().join(",")))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// One activity file found by [`discover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredFile {
    pub kind: FileKind,
    pub path: PathBuf,
    pub layout: Layout,
    pub has_header: bool,
    pub bytes: u64,
}

/// What a dataset directory holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertLayout {
    pub dir: PathBuf,
    /// Activity files present, in [`FileKind::ALL`] order.
    pub files: Vec<DiscoveredFile>,
    /// The LDAP directory, when there is one.
    pub ldap_dir: Option<PathBuf>,
    /// First day of each LDAP snapshot month, oldest first.
    pub ldap_months: Vec<jiff::civil::Date>,
    pub psychometric: Option<PathBuf>,
    /// The releases every file's layout is consistent with (several when the files present
    /// cannot tell them apart, e.g. r4.2 and r5.2 share `http.csv` and `logon.csv`).
    pub releases: Vec<Release>,
}

impl CertLayout {
    /// The release, when the files present leave only one.
    pub fn release(&self) -> Option<Release> {
        match self.releases.as_slice() {
            [only] => Some(*only),
            _ => None,
        }
    }

    pub fn file(&self, kind: FileKind) -> Option<&DiscoveredFile> {
        self.files.iter().find(|file| file.kind == kind)
    }
}

/// Lists the CERT files in `dir` and detects the layout of each activity file from its first
/// record. File names are matched without regard to case.
pub fn discover(dir: &Path) -> Result<CertLayout, CertError> {
    let dir_display = dir.display().to_string();
    let mut files = Vec::new();
    let mut ldap_dir = None;
    let mut psychometric = None;
    let entries = fs::read_dir(dir).map_err(|error| CertError::io(&dir_display, error))?;
    for entry in entries {
        let entry = entry.map_err(|error| CertError::io(&dir_display, error))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
        if name == "ldap" && path.is_dir() {
            ldap_dir = Some(path);
        } else if name == "psychometric.csv" {
            psychometric = Some(path);
        } else if let Some(kind) = FileKind::from_file_name(&name) {
            files.push(discover_file(kind, path)?);
        }
    }
    files.sort_by_key(|file| file.kind);
    let ldap_months = match &ldap_dir {
        Some(ldap) => ldap::snapshot_files(ldap)?
            .into_iter()
            .map(|(month, _)| month)
            .collect(),
        None => Vec::new(),
    };
    let mut releases = vec![Release::R4_2, Release::R5_2, Release::R6_2];
    for file in &files {
        releases.retain(|release| file.layout.releases().contains(release));
    }
    Ok(CertLayout {
        dir: dir.to_path_buf(),
        files,
        ldap_dir,
        ldap_months,
        psychometric,
        releases,
    })
}

fn discover_file(kind: FileKind, path: PathBuf) -> Result<DiscoveredFile, CertError> {
    let display = path.display().to_string();
    let file = fs::File::open(&path).map_err(|error| CertError::io(&display, error))?;
    let bytes = file
        .metadata()
        .map_err(|error| CertError::io(&display, error))?
        .len();
    let mut reader = source::csv_reader(file);
    let detected = source::detect(&mut reader, kind, &display)?;
    Ok(DiscoveredFile {
        kind,
        layout: detected.columns.layout,
        has_header: detected.has_header,
        bytes,
        path,
    })
}
