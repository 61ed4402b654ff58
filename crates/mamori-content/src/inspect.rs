//! From a file's bytes to what it holds: [`extract`] finds its parts (nested
//! archives, attachments) and their text; [`detect`](crate::detect) finds personal data,
//! labels and secrets in each text; the part's metadata adds sensitivity labels, its bytes a
//! file-type mismatch, and its name and text whether it is source code.
//!
//! Findings carry their value for the one who asked (`mamori inspect --show-values`); what is
//! stored with an event ([`Summary`]) has the type, count and a keyed hash of each value,
//! never the value itself.

use std::collections::BTreeMap;

use hmac::{KeyInit, Mac};

use crate::detect::{Detector, DetectorConfig, Finding, FindingKind};
use crate::extract::{self, Limits, Part, Problem};
use crate::features::ContentKey;

/// A finding in one part of an inspected file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileFinding {
    /// The part: the file's name, or `outer.zip!inner/doc.docx` for nested items.
    pub file: String,
    pub finding: Finding,
}

/// What inspecting one file found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<FileFinding>,
    /// Every part, its text dropped.
    pub parts: Vec<Part>,
    /// What could not be read (bombs, depth, malformed files): the rest was inspected.
    pub problems: Vec<Problem>,
}

/// Extraction and detection, configured once and used for many files (`Send + Sync`).
pub struct Inspector {
    detector: Detector,
    limits: Limits,
    min_confidence: f32,
}

/// Findings below this confidence are not reported by default: a valid check digit without
/// any context, a bare `123-4567`.
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.5;

impl Inspector {
    /// An inspector reporting findings at least `min_confidence` sure (which replaces the
    /// configuration's own threshold).
    pub fn new(config: &DetectorConfig, limits: Limits, min_confidence: f32) -> Inspector {
        let config = DetectorConfig {
            min_confidence,
            ..config.clone()
        };
        Inspector {
            detector: Detector::new(&config),
            limits,
            min_confidence,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Inspects one file, named `name` (its extension is compared with its bytes).
    pub fn inspect(&self, name: &str, bytes: &[u8]) -> Report {
        let mut findings = Vec::new();
        let mut report = self.inspect_each(name, bytes, |file, finding| {
            findings.push(FileFinding {
                file: file.to_owned(),
                finding,
            });
        });
        report.findings = findings;
        report
    }

    /// [`Inspector::inspect`], handing each finding with its part's name to `each` as it is
    /// found instead of collecting them (the report's `findings` stay empty): the memory a
    /// file costs is its text, not its findings ([`Detector::scan_each`]).
    pub fn inspect_each(
        &self,
        name: &str,
        bytes: &[u8],
        mut each: impl FnMut(&str, Finding),
    ) -> Report {
        let extracted = extract::extract(name, bytes, &self.limits);
        let mut parts = Vec::with_capacity(extracted.parts.len());
        for mut part in extracted.parts {
            let mut found = |finding: Finding| {
                if finding.confidence >= self.min_confidence {
                    each(&part.path, finding);
                }
            };
            if part.type_mismatch {
                found(Finding {
                    kind: FindingKind::TypeMismatch,
                    start: 0,
                    end: 0,
                    confidence: 1.0,
                    reason: format!(
                        "the bytes are {:?}, the name says .{}",
                        part.file_type,
                        part.declared.as_deref().unwrap_or("")
                    ),
                    value: format!("{:?}", part.file_type).to_lowercase(),
                    detail: part.declared.clone(),
                });
            }
            for label in &part.labels {
                found(Finding {
                    kind: FindingKind::Label,
                    start: 0,
                    end: 0,
                    confidence: 1.0,
                    reason: "sensitivity label in the file's metadata".into(),
                    value: label.clone(),
                    detail: self.detector.level_of_label(label).map(str::to_string),
                });
            }
            if let Some(text) = &part.text {
                let file_name = part.path.rsplit('!').next().unwrap_or(&part.path);
                self.detector.scan_each(text, &mut found);
                if let Some(code) = self.detector.source_code(Some(file_name), text) {
                    found(code);
                }
            }
            part.text = None;
            parts.push(part);
        }
        Report {
            findings: Vec::new(),
            parts,
            problems: extracted.problems,
        }
    }
}

/// What an event keeps of an inspection: the labels, and per finding type the count and
/// keyed hashes of the distinct values (HMAC-SHA-256 under the content key, hex), so equal
/// values can be matched across events without being stored.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub labels: Vec<String>,
    pub findings: BTreeMap<String, TypeSummary>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TypeSummary {
    pub count: u64,
    /// Distinct values' keyed hashes, sorted; at most [`MAX_HASHES`].
    pub hashes: Vec<String>,
}

/// Hashes kept per finding type: enough to match a leaked record, not a copy of a database.
pub const MAX_HASHES: usize = 100;

/// Builds the [`Summary`] of an inspection one finding at a time (from
/// [`Inspector::inspect_each`]).
pub struct Summariser {
    summary: Summary,
    /// HMAC-SHA-256 keyed with the content key, cloned for each value.
    keyed: Option<hmac::Hmac<sha2::Sha256>>,
}

impl Summariser {
    pub fn new(key: &ContentKey) -> Summariser {
        Summariser {
            summary: Summary::default(),
            // HMAC takes keys of any length: a 32-byte key is always accepted.
            keyed: <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key.0).ok(),
        }
    }

    /// Counts `finding` and keeps the keyed hash of its value (up to [`MAX_HASHES`] per type).
    pub fn add(&mut self, finding: &Finding) {
        let Some(keyed) = &self.keyed else { return };
        let summary = &mut self.summary;
        if finding.kind == FindingKind::Label && !summary.labels.contains(&finding.value) {
            summary.labels.push(finding.value.clone());
        }
        let entry = summary
            .findings
            .entry(finding.kind.as_str().to_string())
            .or_default();
        entry.count += 1;
        let mut mac = keyed.clone();
        mac.update(finding.kind.as_str().as_bytes());
        mac.update(b"\0");
        mac.update(finding.value.as_bytes());
        let hash = hex_lower(&mac.finalize().into_bytes());
        if let Err(at) = entry.hashes.binary_search(&hash)
            && entry.hashes.len() < MAX_HASHES
        {
            entry.hashes.insert(at, hash);
        }
    }

    pub fn finish(mut self) -> Summary {
        self.summary.labels.sort();
        self.summary
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}
