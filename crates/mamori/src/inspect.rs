//! `mamori inspect PATH…`: what files hold — Japanese personal data, confidentiality labels,
//! secrets, source code, disguised file types — as one line per finding (docs/inspect.md).
//! Values are shown only with `--show-values`: the output of an inspection is itself
//! personal data otherwise.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mamori_content::detect::DetectorConfig;
use mamori_content::detect::Finding;
use mamori_content::extract::Limits;
use mamori_content::inspect::{DEFAULT_MIN_CONFIDENCE, Inspector, Summariser};
use serde_json::json;

use crate::BadInput;

#[derive(clap::Args)]
pub struct InspectArgs {
    /// Files or directories (searched recursively, in name order); `-` reads standard input.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print each finding's value (normalised: digits only for numbers).
    #[arg(long)]
    show_values: bool,
    /// Report findings at least this confident (0 to 1).
    #[arg(long, default_value_t = DEFAULT_MIN_CONFIDENCE)]
    min_confidence: f32,
    /// The organisation's label vocabulary instead of the built-in one: a TOML file of
    /// `[[label]]` tables with `text` and `level` (docs/inspect.md).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Print the text read from each part instead of findings (what the detectors see).
    #[arg(long, conflicts_with = "show_values")]
    text: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelFile {
    label: Vec<mamori_content::detect::LabelRule>,
}

/// The detector configuration: the built-in one, or with the labels of `file`.
pub fn config(file: Option<&Path>) -> anyhow::Result<DetectorConfig> {
    let mut config = DetectorConfig::default();
    if let Some(file) = file {
        let name = file.display();
        let text = std::fs::read_to_string(file).map_err(|e| BadInput(format!("{name}: {e}")))?;
        let labels: LabelFile =
            toml::from_str(&text).map_err(|e| BadInput(format!("{name}: {e}")))?;
        if labels
            .label
            .iter()
            .any(|l| l.text.trim().is_empty() || l.level.trim().is_empty())
        {
            return Err(BadInput(format!("{name}: a label needs a text and a level")).into());
        }
        config.labels = labels.label;
    }
    Ok(config)
}

pub fn run(args: &InspectArgs, json: bool) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.min_confidence) {
        return Err(BadInput(format!(
            "--min-confidence {}: between 0 and 1",
            args.min_confidence
        ))
        .into());
    }
    let inspector = Inspector::new(
        &config(args.labels.as_deref())?,
        Limits::default(),
        args.min_confidence,
    );
    let mut files = Vec::new();
    for path in &args.paths {
        if path.as_os_str() == "-" {
            files.push(path.clone());
            continue;
        }
        if !path.exists() {
            return Err(BadInput(format!("{}: no such file or directory", path.display())).into());
        }
        collect(path, &mut files).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut unreadable = 0;
    for file in &files {
        let name = file.display().to_string();
        let bytes = match read(file, inspector.limits().max_input_bytes) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                emit_problem(
                    &mut out,
                    json,
                    &name,
                    "too_large",
                    "over the input size limit",
                )?;
                continue;
            }
            Err(error) => {
                unreadable += 1;
                eprintln!("mamori: {name}: {error}");
                continue;
            }
        };
        if args.text {
            print_text(&mut out, &name, &bytes, inspector.limits())?;
            continue;
        }
        // Findings are printed as they are found: a file dense with them costs no memory
        // for the list.
        let mut failed = None;
        let report = inspector.inspect_each(&name, &bytes, |file, finding| {
            if failed.is_none()
                && let Err(error) = emit(&mut out, json, args.show_values, file, &finding)
            {
                failed = Some(error);
            }
        });
        if let Some(error) = failed {
            return Err(error);
        }
        for problem in &report.problems {
            let kind = serde_json::to_value(problem.kind)?;
            emit_problem(
                &mut out,
                json,
                &problem.path,
                kind.as_str().unwrap_or("problem"),
                &problem.detail,
            )?;
        }
    }
    out.flush()?;
    Ok(if unreadable == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Files under `path` in name order (not following symbolic links out of directories).
pub fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            collect(&entry, out)?;
        }
    } else if meta.is_file() || (meta.file_type().is_symlink() && path.is_file()) {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// The file's bytes, or `None` when it is larger than `limit` (not read).
fn read(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut bytes)?;
    } else {
        if std::fs::metadata(path)?.len() > limit {
            return Ok(None);
        }
        std::fs::File::open(path)?
            .take(limit + 1)
            .read_to_end(&mut bytes)?;
    }
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

fn emit(
    out: &mut impl Write,
    json: bool,
    show_values: bool,
    file: &str,
    finding: &Finding,
) -> anyhow::Result<()> {
    if json {
        let mut line = json!({
            "file": file,
            "type": finding.kind.as_str(),
            "start": finding.start,
            "end": finding.end,
            "confidence": (f64::from(finding.confidence) * 1000.0).round() / 1000.0,
            "reason": finding.reason,
        });
        if let Some(detail) = &finding.detail {
            line["detail"] = json!(detail);
        }
        if show_values {
            line["value"] = json!(finding.value);
        }
        writeln!(out, "{line}")?;
    } else {
        let value = if show_values {
            format!("  {}", finding.value)
        } else {
            String::new()
        };
        writeln!(
            out,
            "{file}  {}  {}-{}  {:.2}  {}{value}",
            finding.kind.as_str(),
            finding.start,
            finding.end,
            finding.confidence,
            finding.reason
        )?;
    }
    Ok(())
}

/// `--text`: each part's extracted text under a line naming the part, its type and encoding.
fn print_text(
    out: &mut impl Write,
    name: &str,
    bytes: &[u8],
    limits: &Limits,
) -> anyhow::Result<()> {
    let extracted = mamori_content::extract::extract(name, bytes, limits);
    for part in &extracted.parts {
        let kind = serde_json::to_value(part.file_type)?;
        let encoding = part.encoding.as_deref().unwrap_or("-");
        writeln!(
            out,
            "== {} ({}, {encoding})",
            part.path,
            kind.as_str().unwrap_or("?")
        )?;
        if let Some(text) = &part.text {
            writeln!(out, "{text}")?;
        }
    }
    for problem in &extracted.problems {
        eprintln!(
            "mamori: {}: {:?}: {}",
            problem.path, problem.kind, problem.detail
        );
    }
    Ok(())
}

/// A part that could not be inspected (whole or in part): on stdout with `--json`, so one
/// stream says what was and was not looked at; on stderr otherwise.
fn emit_problem(
    out: &mut impl Write,
    json: bool,
    file: &str,
    problem: &str,
    detail: &str,
) -> anyhow::Result<()> {
    if json {
        writeln!(
            out,
            "{}",
            json!({"file": file, "problem": problem, "detail": detail})
        )?;
    } else {
        eprintln!("mamori: {file}: {problem}: {detail}");
    }
    Ok(())
}

/// `import files PATH… --user ACCOUNT`: one event per file, of `kind`, with what inspecting
/// it found — the labels in `object.labels`, per finding type the count and keyed hashes of
/// the values in `raw.content_findings` (never the values) — so rules and analytics see what
/// was in the files an account touched (docs/inspect.md).
pub struct FileEvents<'a> {
    pub user: &'a str,
    pub host: Option<&'a str>,
    pub kind: &'a str,
}

/// What [`file_events`] made: the NDJSON events, the problems met (file: reason), and how
/// many files were left out (unreadable or too large).
pub struct FileBatch {
    pub lines: Vec<u8>,
    pub problems: Vec<String>,
    pub skipped: usize,
}

/// The NDJSON events of `files`, inspected.
pub fn file_events(
    files: &[PathBuf],
    how: &FileEvents<'_>,
    key: &mamori_content::ContentKey,
) -> anyhow::Result<FileBatch> {
    use sha2::Digest;
    let inspector = Inspector::new(
        &DetectorConfig::default(),
        Limits::default(),
        DEFAULT_MIN_CONFIDENCE,
    );
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut skipped = 0;
    for file in files {
        let name = file.display().to_string();
        // A file that cannot be read is named and left out; the others are imported.
        let loaded = std::fs::metadata(file).and_then(|meta| {
            read(file, inspector.limits().max_input_bytes).map(|bytes| (meta, bytes))
        });
        let (meta, bytes) = match loaded {
            Ok((meta, Some(bytes))) => (meta, bytes),
            Ok((_, None)) => {
                problems.push(format!("{name}: too large to inspect: not imported"));
                skipped += 1;
                continue;
            }
            Err(error) => {
                problems.push(format!("{name}: {error}: not imported"));
                skipped += 1;
                continue;
            }
        };
        let mut summary = Summariser::new(key);
        let report = inspector.inspect_each(&name, &bytes, |_, finding| summary.add(&finding));
        let summary = summary.finish();
        problems.extend(
            report
                .problems
                .iter()
                .map(|p| format!("{}: {:?}: {}", p.path, p.kind, p.detail)),
        );
        let time = meta
            .modified()
            .ok()
            .and_then(|t| jiff::Timestamp::try_from(t).ok())
            .unwrap_or_else(jiff::Timestamp::now);
        let mut object = json!({
            "path": name,
            "name": file.file_name().map(|n| n.to_string_lossy().into_owned()),
            "size": meta.len(),
            "sha256": hex::encode(sha2::Sha256::digest(&bytes)),
        });
        if let Some(extension) = file.extension() {
            object["extension"] = json!(extension.to_string_lossy().to_lowercase());
        }
        if !summary.labels.is_empty() {
            object["labels"] = json!(summary.labels);
        }
        let mut actor = json!({ "user": how.user });
        if let Some(host) = how.host {
            actor["host"] = json!(host);
        }
        let mut raw = json!({ "content_findings": summary.findings });
        if let Some(part) = report.parts.first() {
            raw["content_type"] = serde_json::to_value(part.file_type)?;
            raw["content_type_mismatch"] = json!(part.type_mismatch);
        }
        let event = json!({
            "time": time.to_string(),
            "kind": how.kind,
            "actor": actor,
            "object": object,
            "outcome": "success",
            "source": {"name": "inspect"},
            "raw": raw,
        });
        serde_json::to_writer(&mut lines, &event)?;
        lines.push(b'\n');
    }
    Ok(FileBatch {
        lines,
        problems,
        skipped,
    })
}
