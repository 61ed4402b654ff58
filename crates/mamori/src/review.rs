//! `mamori report access-review`: a manager's people, their accounts, groups and last use, and
//! the latest keep/revoke decision on each, for periodic attestation (docs/review.md).
//!
//! The report names persons and accounts, so it is recorded in the access log
//! (`report.access_review`) before it is shown or its file appears.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jiff::civil::Date;
use mamori_detect::review::{AccessReview, Attestation, ReviewedAccount, State};
use serde_json::json;

use crate::BadInput;
use crate::cases::Lang;
use crate::watchlist::{Format, csv_field};

#[derive(clap::Args)]
pub struct AccessReviewArgs {
    /// The manager (HR `person_id`): the people whose record names them as supervisor are
    /// reviewed.
    #[arg(long)]
    manager: String,
    /// The day to answer for (YYYY-MM-DD, UTC; default: today).
    #[arg(long)]
    as_of: Option<String>,
    /// Also the people of the manager's people, down every level.
    #[arg(long)]
    all_levels: bool,
    #[arg(long, value_enum, default_value = "en")]
    lang: Lang,
    #[arg(long, value_enum, default_value = "md")]
    format: Format,
    /// Write the report here (readable by its owner only) instead of on stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn access_review(
    data_dir: &Path,
    args: &AccessReviewArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let as_of = match args.as_of.as_deref() {
        Some(text) => text
            .parse::<Date>()
            .map_err(|_| BadInput(format!("--as-of {text:?}: expected YYYY-MM-DD")))?,
        None => jiff::tz::Offset::UTC
            .to_datetime(jiff::Timestamp::now())
            .date(),
    };
    let mut session = crate::cases::Session::open(data_dir)?;
    let store = session.store();
    if store.person_history(&args.manager)?.is_empty() {
        return Err(BadInput(format!("no HR record for person {:?}", args.manager)).into());
    }
    // The same composition as the API's (`GET /api/v1/access-reviews/{manager}`).
    let review =
        mamori_server::review::access_review(store, &args.manager, as_of, args.all_levels)?;
    // Recorded before anything is shown or written: the report names persons and accounts.
    session.record(
        "report.access_review",
        &format!(
            "manager {} as of {as_of}{}: {} persons, {} accounts, {} {}",
            args.manager,
            if args.all_levels { " all levels" } else { "" },
            review.summary.persons,
            review.summary.accounts,
            args.format.as_str(),
            if args.out.is_some() { "file" } else { "stdout" },
        ),
    )?;
    let bytes = match args.format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&review)?;
            text.push('\n');
            text.into_bytes()
        }
        Format::Csv => csv(&review).into_bytes(),
        Format::Md => markdown(&review, args.lang).into_bytes(),
    };
    match &args.out {
        None => std::io::stdout().write_all(&bytes)?,
        Some(out) => {
            crate::evidence::write_private(out, &bytes)?;
            if json {
                let summary = json!({
                    "out": out,
                    "format": args.format.as_str(),
                    "manager": review.manager,
                    "as_of": review.as_of,
                    "summary": review.summary,
                    "bytes": bytes.len(),
                });
                println!("{summary}");
            } else {
                println!(
                    "wrote {}: access review of {} ({} persons, {} accounts)",
                    out.display(),
                    review.manager,
                    review.summary.persons,
                    review.summary.accounts
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Text in the report's language.
fn t(lang: Lang, en: &'static str, ja: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Ja => ja,
    }
}

fn state_text(lang: Lang, state: State) -> &'static str {
    match state {
        State::Pending => t(lang, "pending", "未判断"),
        State::Keep => t(lang, "keep", "継続"),
        State::Revoke => t(lang, "revoke", "削除"),
    }
}

fn decision_text(lang: Lang, decision: &Attestation) -> String {
    let state = state_text(lang, decision.state);
    match (&decision.decided_by, &decision.decided) {
        (Some(by), Some(at)) => format!("{state} ({by}, {})", at.strftime("%Y-%m-%d")),
        _ => state.to_owned(),
    }
}

fn last_use_text(lang: Lang, account: &ReviewedAccount) -> String {
    let sign_in = account
        .last_sign_in
        .map_or_else(|| "-".to_owned(), |t| t.to_string());
    let activity = account
        .last_activity
        .map_or_else(|| "-".to_owned(), |t| t.to_string());
    let idle = account.idle_days.map_or_else(
        || t(lang, "never seen used", "利用記録なし").to_owned(),
        |days| format!("{days}{}", t(lang, " days ago", " 日前")),
    );
    format!("{sign_in} / {activity} ({idle})")
}

/// A Markdown table cell: a `|` or a line break would break the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn markdown(review: &AccessReview, lang: Lang) -> String {
    let mut out = String::new();
    let summary = &review.summary;
    out.push_str(&format!(
        "# {} {}\n\n",
        t(
            lang,
            "Access review for manager",
            "アクセスレビュー: 管理者"
        ),
        review.manager
    ));
    out.push_str(&format!(
        "{}: {}{}\n\n",
        t(lang, "As of", "基準日"),
        review.as_of,
        if review.all_levels {
            t(lang, " (all levels)", "(全階層)")
        } else {
            ""
        }
    ));
    out.push_str(&format!("## {}\n\n", t(lang, "Summary", "概要")));
    let rows: [(&str, usize); 8] = [
        (t(lang, "Persons", "対象者"), summary.persons),
        (t(lang, "Accounts", "アカウント"), summary.accounts),
        (t(lang, "Groups", "グループ"), summary.groups),
        (
            t(lang, "Privileged grants", "特権グループ"),
            summary.privileged_grants,
        ),
        (
            t(
                lang,
                "Accounts not used in 90 days (suggested to revoke)",
                "90 日以上未使用のアカウント(削除を提案)",
            ),
            summary.unused_accounts,
        ),
        (t(lang, "Pending decisions", "未判断"), summary.pending),
        (t(lang, "Kept", "継続"), summary.keep),
        (t(lang, "Revoked", "削除"), summary.revoke),
    ];
    for (label, count) in rows {
        out.push_str(&format!("- {label}: {count}\n"));
    }
    if review.persons.is_empty() {
        out.push_str(&format!(
            "\n{}\n",
            t(
                lang,
                "Nobody reports to this manager on this day.",
                "この日にこの管理者の部下はいません。"
            )
        ));
    }
    for person in &review.persons {
        out.push_str(&format!(
            "\n## {} ({})\n\n",
            cell(&person.name),
            person.person_id
        ));
        if let Some(department) = &person.department {
            out.push_str(&format!(
                "{}: {}\n",
                t(lang, "Department", "部署"),
                cell(department)
            ));
        }
        if let Some(day) = person.termination_date {
            out.push_str(&format!("{}: {day}\n", t(lang, "Last day", "退職日")));
        }
        if person.accounts.is_empty() {
            out.push_str(&format!(
                "\n{}\n",
                t(lang, "No account linked.", "紐付くアカウントはありません。")
            ));
            continue;
        }
        out.push_str(&format!(
            "\n| {} | {} | {} | {} | {} | {} |\n|---|---|---|---|---|---|\n",
            t(lang, "Account", "アカウント"),
            t(lang, "Grant", "権限"),
            t(lang, "Directory", "ディレクトリ"),
            t(lang, "Enabled", "有効"),
            t(
                lang,
                "Last sign-in / last activity",
                "最終サインイン / 最終操作"
            ),
            t(lang, "Decision", "判断"),
        ));
        for account in &person.accounts {
            let enabled = match account.enabled {
                Some(true) => t(lang, "yes", "はい"),
                Some(false) => t(lang, "no", "いいえ"),
                None => "-",
            };
            let mut decision = decision_text(lang, &account.decision);
            if account.unused && account.decision.state == State::Pending {
                decision.push_str(t(
                    lang,
                    " — suggested: revoke (unused)",
                    " — 提案: 削除(未使用)",
                ));
            }
            out.push_str(&format!(
                "| {} | {} | {} | {enabled} | {} | {} |\n",
                cell(&account.account),
                t(lang, "(account)", "(アカウント)"),
                account.directory.as_deref().unwrap_or("HR"),
                last_use_text(lang, account),
                cell(&decision),
            ));
            for group in &account.groups {
                let privileged = if group.privileged {
                    t(lang, " **privileged**", " **特権**")
                } else {
                    ""
                };
                out.push_str(&format!(
                    "| {} | {}{privileged} | | | | {} |\n",
                    cell(&account.account),
                    cell(&group.group),
                    cell(&decision_text(lang, &group.decision)),
                ));
            }
        }
    }
    out
}

const CSV_HEADER: &str = "person,name,supervisor,account,directory,grant,privileged,enabled,last_sign_in,last_activity,idle_days,unused,decision,decided_by,decided,comment";

/// One row per account (grant empty) and per group of each account.
fn csv(review: &AccessReview) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    let optional = |value: Option<String>| value.unwrap_or_default();
    for person in &review.persons {
        for account in &person.accounts {
            let common = [
                person.person_id.clone(),
                person.name.clone(),
                person.supervisor.clone(),
                account.account.clone(),
                optional(account.directory.clone()),
            ];
            let usage = [
                optional(account.enabled.map(|e| e.to_string())),
                optional(account.last_sign_in.map(|t| t.to_string())),
                optional(account.last_activity.map(|t| t.to_string())),
                optional(account.idle_days.map(|d| d.to_string())),
                account.unused.to_string(),
            ];
            let grants = std::iter::once((String::new(), account.privileged, &account.decision))
                .chain(
                    account
                        .groups
                        .iter()
                        .map(|g| (g.group.clone(), g.privileged, &g.decision)),
                );
            for (grant, privileged, decision) in grants {
                let mut fields: Vec<String> = common.to_vec();
                fields.push(grant);
                fields.push(privileged.to_string());
                fields.extend(usage.iter().cloned());
                fields.push(decision.state.as_str().to_owned());
                fields.push(optional(decision.decided_by.clone()));
                fields.push(optional(decision.decided.map(|t| t.to_string())));
                fields.push(optional(decision.comment.clone()));
                let line: Vec<_> = fields.iter().map(|f| csv_field(f)).collect();
                out.push_str(&line.join(","));
                out.push('\n');
            }
        }
    }
    out
}
