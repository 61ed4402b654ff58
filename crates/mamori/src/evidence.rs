//! `mamori evidence export|verify`

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use mamori_ledger::bundle;
use mamori_ledger::checkpoint::Checkpoint;

use crate::BadInput;

pub fn export(
    data_dir: &Path,
    person: &str,
    from: &str,
    to: &str,
    out: &Path,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (from_time, to_time) = (parse_time(from)?, parse_time(to)?);
    if from_time >= to_time {
        return Err(BadInput(format!("--from {from} is not before --to {to}")).into());
    }
    let mut session = crate::cases::Session::open(data_dir)?;
    let actor = session.actor().to_string();
    let data = session.data();
    // Every export is covered by a fresh checkpoint of the whole log.
    let checkpoint = data.checkpoint()?;
    let tree = Checkpoint::parse(&mamori_ledger::note::open(&checkpoint, &data.verifier())?)?;
    // A person linked by HR data stands for all their accounts; otherwise the ID is an account.
    let store = data.store();
    let mut accounts = store.accounts_of(person)?;
    if accounts.is_empty() {
        accounts.push(person.to_owned());
    }
    let mut found = Vec::new();
    for account in &accounts {
        found.extend(store.events_of_account(
            account,
            from_time.as_microsecond(),
            to_time.as_microsecond(),
        )?);
    }
    found.sort_by_key(|event| event.leaf_index);
    let (disclosed, withheld) = bundle::disclose(
        found
            .into_iter()
            .map(|event| (event.leaf_index, event.json)),
        &checkpoint,
        tree.size,
        |index| data.log().inclusion_proof(index, tree.size),
    )?;
    let statement = serde_json::json!({
        "subject": { "person": person, "accounts": accounts },
        "from": from_time.to_string(),
        "to": to_time.to_string(),
        "exported_at": jiff::Timestamp::now().to_string(),
        "events": disclosed.len(),
        "withheld_purged_by_retention": withheld,
        "exported_by": format!("mamori {}", env!("CARGO_PKG_VERSION")),
    });
    let signer = data.signer();
    let bytes = bundle::build(statement, &checkpoint, &disclosed, signer, bundle::README)?;
    write_private(out, &bytes)?;
    // Recorded once the bundle exists: an export that failed disclosed nothing.
    data.record_access(
        &actor,
        "evidence.export",
        &format!(
            "{person} {from_time}..{to_time}: {} events",
            disclosed.len()
        ),
        crate::cases::now_us(),
    )?;
    if json {
        let summary = serde_json::json!({
            "out": out,
            "events": disclosed.len(),
            "withheld": withheld.len(),
            "tree_size": tree.size,
            "bytes": bytes.len(),
        });
        println!("{summary}");
    } else {
        println!(
            "wrote {}: {} events of {person} with proofs to the checkpoint at size {}{}",
            out.display(),
            disclosed.len(),
            tree.size,
            if withheld.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} purged by retention, listed as withheld)",
                    withheld.len()
                )
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(file: &Path, key: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).map_err(|e| BadInput(format!("{}: {e}", file.display())))?;
    let trusted = key.map(crate::read_verifier).transpose()?;
    match bundle::verify(&bytes, trusted.as_ref()) {
        Ok(verified) => {
            if json {
                let summary = serde_json::json!({
                    "ok": true,
                    "events": verified.entries.len(),
                    "origin": verified.checkpoint.origin,
                    "tree_size": verified.checkpoint.size,
                    "verifier_key": verified.verifier_key,
                    "key_trusted": verified.trusted_key,
                    "statement": verified.statement,
                });
                println!("{summary}");
            } else {
                println!(
                    "ok: {} events proven included in {} at size {}",
                    verified.entries.len(),
                    verified.checkpoint.origin,
                    verified.checkpoint.size
                );
            }
            if !verified.trusted_key {
                eprintln!(
                    "note: checked with the key inside the bundle ({}); pass --key with the log's published key to rule out a forged bundle",
                    verified.verifier_key
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "error": error.to_string()})
                );
            }
            eprintln!("mamori: evidence verify failed: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// RFC 3339, or a calendar date meaning its midnight UTC.
fn parse_time(text: &str) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Ok(timestamp);
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| {
        BadInput(format!(
            "{text:?} is neither an RFC 3339 time nor a YYYY-MM-DD date"
        ))
    })?;
    Ok(jiff::tz::Offset::UTC.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))?)
}

/// Evidence and reports hold personal data: readable by their owner only, written whole or
/// not at all.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
