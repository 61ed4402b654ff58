//! `mamori eval --answers DIR`: detection quality against a CERT-layout answer key.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use mamori_eval::metrics::{Comparison, Figures};
use mamori_eval::{AnswerKey, Observations, Options};
use mamori_store::DataDir;

use crate::BadInput;

pub fn run(
    data_dir: &Path,
    answers: &Path,
    dataset: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let key = AnswerKey::read(answers, dataset).map_err(|e| BadInput(e.to_string()))?;
    if key.incidents.is_empty() {
        return Err(BadInput(format!(
            "{}: no incidents{}",
            answers.join("insiders.csv").display(),
            dataset
                .map(|d| format!(" for dataset {d}"))
                .unwrap_or_default()
        ))
        .into());
    }
    let data = DataDir::open(data_dir)?;
    let store = data.store();
    // Activity is by account; scores, alerts and the answer key's users resolve to persons.
    let mut people: HashMap<String, String> = HashMap::new();
    let mut person_of = |account: &str| -> anyhow::Result<String> {
        if let Some(person) = people.get(account) {
            return Ok(person.clone());
        }
        let person = store
            .person_of_account(account)?
            .unwrap_or_else(|| account.to_owned());
        people.insert(account.to_owned(), person.clone());
        Ok(person)
    };
    let mut active: HashMap<String, Vec<i64>> = HashMap::new();
    for (account, days) in store.active_account_days()? {
        active.entry(person_of(&account)?).or_default().extend(days);
    }
    for days in active.values_mut() {
        days.sort_unstable();
        days.dedup();
    }
    let mut users = HashMap::new();
    for incident in &key.incidents {
        users.insert(incident.user.clone(), person_of(&incident.user)?);
    }
    let observations = Observations {
        active,
        scores: store.scores()?,
        alerts: store.alert_times()?,
    };
    let resolve = |user: &str| users.get(user).cloned().unwrap_or_else(|| user.to_owned());
    let report = mamori_eval::evaluate(&key, &resolve, &observations, &Options::default());
    for missing in &key.missing_files {
        tracing::warn!(file = %missing.display(), "incident file named by insiders.csv not found");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} incidents, {} persons, {} active person-days ({} malicious){}",
        report.overall.incidents,
        report.persons,
        report.person_days,
        report.malicious_person_days,
        if report.incidents_without_activity > 0 {
            format!(
                "; {} incidents have no stored activity (counted as missed)",
                report.incidents_without_activity
            )
        } else {
            String::new()
        }
    );
    if report.all_scores_zero {
        println!(
            "every stored score is 0: no analytics have run, so the model ranks by chance \
             (すべてのスコアが 0 です。分析が未実行のため、順位は偶然によります)"
        );
    }
    print_comparison("overall", &report.overall);
    for (scenario, comparison) in &report.scenarios {
        print_comparison(&format!("scenario {scenario}"), comparison);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_comparison(title: &str, comparison: &Comparison) {
    println!("\n{title} ({} incidents)", comparison.incidents);
    println!("  {:<38} {:>12} {:>12}", "", "model", "random");
    let (model, random) = (&comparison.model, &comparison.random);
    for (m, r) in model.budgets.iter().zip(&random.budgets) {
        let label = format!("recall, daily top {}%", m.budget * 100.0);
        println!(
            "  {label:<38} {:>12} {:>12}",
            percent(m.recall),
            percent(r.recall)
        );
        println!(
            "  {:<38} {:>12} {:>12}",
            "  median days to detection",
            days(m.median_days_to_detection),
            days(r.median_days_to_detection)
        );
    }
    println!(
        "  {:<38} {:>12} {:>12}",
        "person-day ROC AUC",
        auc(model),
        auc(random)
    );
    println!(
        "  {:<38} {:>12} {:>12}",
        format!("median days to first alert ({} alerted)", model.alerted),
        days(model.median_days_to_first_alert),
        "-"
    );
}

fn percent(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

fn days(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |d| format!("{d:.1}"))
}

fn auc(figures: &Figures) -> String {
    figures
        .auc
        .map_or_else(|| "-".to_owned(), |a| format!("{a:.3}"))
}
