//! Users and their preferences, the declared purposes, and the detection rules' settings.
//!
//! Rules are the files in the data directory's `rules/` folder (reviewed and versioned like
//! code); an administrator switches each on or off and may set its severity, which
//! `mamori rules run` then follows. Every change is in the access ledger.

use axum::http::StatusCode;
use mamori_store::auth::{Preferences, Role};
use mamori_store::{Level, RuleSetting};
use serde_json::{Value, json};

use crate::api::Work;
use crate::auth::json_body;
use crate::store::Refusal;

fn unprocessable(text: String) -> Refusal {
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, text)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PreferencesBody {
    lang: Option<String>,
    tz: Option<String>,
}

/// `PUT /api/v1/me/preferences`: the caller's language and time zone.
pub(crate) fn set_preferences(body: &[u8]) -> Result<Work, Refusal> {
    let PreferencesBody { lang, tz } = json_body(body)?;
    if let Some(lang) = &lang
        && !matches!(lang.as_str(), "ja" | "en")
    {
        return Err(unprocessable(format!("lang {lang:?}: ja or en")));
    }
    if let Some(tz) = &tz
        && jiff::tz::TimeZone::get(tz).is_err()
    {
        return Err(unprocessable(format!(
            "tz {tz:?}: not a time zone name (e.g. Asia/Tokyo)"
        )));
    }
    Ok(Box::new(move |ctx, caller| {
        let saved = ctx
            .store()
            .set_preferences(&caller.name, &Preferences { lang, tz })?;
        Ok((StatusCode::OK, preferences_view(&saved)))
    }))
}

/// Preferences as answered: the time zone defaults to Japan's.
pub(crate) fn preferences_view(preferences: &Preferences) -> Value {
    json!({
        "lang": preferences.lang,
        "tz": preferences.tz.as_deref().unwrap_or(DEFAULT_TZ),
    })
}

pub(crate) const DEFAULT_TZ: &str = "Asia/Tokyo";

/// `GET /api/v1/purposes`: the declared purposes a reveal or export must name.
pub(crate) fn purposes() -> Work {
    Box::new(|ctx, _caller| {
        let purposes: Vec<Value> = ctx
            .privacy
            .map(|p| {
                p.purposes
                    .iter()
                    .map(|p| json!({"id": p.id, "en": p.text.en, "ja": p.text.ja}))
                    .collect()
            })
            .unwrap_or_default();
        Ok((StatusCode::OK, json!({ "purposes": purposes })))
    })
}

/// `GET /api/v1/users`.
pub(crate) fn users() -> Work {
    Box::new(|ctx, caller| {
        ctx.record(&caller.name, "users.list", "")?;
        let now = crate::now_us();
        let users: Vec<Value> = ctx
            .appender
            .store()
            .users()?
            .into_iter()
            .map(|u| {
                json!({
                    "name": u.name,
                    "role": u.role,
                    "must_change_password": u.must_change_password,
                    "locked": u.locked_until_us.is_some_and(|until| until > now),
                    "created": crate::api::time(u.created_us),
                })
            })
            .collect();
        Ok((StatusCode::OK, json!({ "users": users })))
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    role: String,
}

/// `POST /api/v1/users`: a user with a one-time password, answered once.
pub(crate) fn add_user(body: &[u8]) -> Result<Work, Refusal> {
    let NewUser { name, role } = json_body(body)?;
    let role = Role::parse(&role).ok_or_else(|| {
        unprocessable(format!(
            "role {role:?}: admin, analyst, investigator, approver, auditor or employee"
        ))
    })?;
    Ok(Box::new(move |ctx, caller| {
        let password = ctx.store().add_user(&name, role, crate::now_us())?;
        ctx.record(
            &caller.name,
            "users.add",
            &format!("{name:?} as {}", role.as_str()),
        )?;
        Ok((
            StatusCode::CREATED,
            json!({"name": name, "role": role, "password": password}),
        ))
    }))
}

/// The rules in a data directory's `rules/` folder (`rules_dir`); files that cannot be read
/// are left out with a warning (`mamori rules lint` names them).
pub(crate) fn load_rules(
    rules_dir: &std::path::Path,
) -> Result<mamori_detect::sigma::Engine, Refusal> {
    let mut builder = mamori_detect::sigma::EngineBuilder::new();
    if rules_dir.exists() {
        let files = mamori_detect::sigma::rule_files(rules_dir).map_err(|e| {
            tracing::error!(error = %e, "reading the rules folder");
            Refusal::internal()
        })?;
        for file in files {
            if let Err(error) = builder.add_path(&file) {
                tracing::warn!(%error, "a rule file cannot be read");
            }
        }
    }
    Ok(builder.build())
}

/// `GET /api/v1/rules`: each rule with its setting and how many findings it has stored.
pub(crate) fn rules() -> Work {
    Box::new(|ctx, caller| {
        ctx.record(&caller.name, "rules.list", "")?;
        let engine = load_rules(&ctx.root.join("rules"))?;
        let store = ctx.appender.store();
        let settings = store.rule_settings()?;
        let findings = store.findings_per_rule()?;
        // Detection rules and correlations, by the id their findings and settings use.
        let rules: Vec<Value> = mamori_detect::hunt::hit_lists(&engine)
            .into_iter()
            .map(|rule| {
                let setting = settings.get(&rule.rule_id);
                json!({
                    "id": rule.rule_id,
                    "title_ja": rule.title_ja.as_deref().unwrap_or(&rule.title),
                    "title": rule.title,
                    "description": rule.description,
                    "level": rule.level,
                    "correlation": rule.correlation,
                    "enabled": setting.is_none_or(|s| s.enabled),
                    "severity": setting.and_then(|s| s.severity).map(Level::as_str),
                    "findings": findings.get(&rule.rule_id).copied().unwrap_or(0),
                })
            })
            .collect();
        Ok((StatusCode::OK, json!({ "rules": rules })))
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleChange {
    enabled: bool,
    severity: Option<String>,
}

/// `PUT /api/v1/rules/{id}`: switches a rule on or off and sets its severity (`null`: the
/// rule's own level).
pub(crate) fn set_rule(rule_id: String, body: &[u8]) -> Result<Work, Refusal> {
    let RuleChange { enabled, severity } = json_body(body)?;
    let severity = crate::api::choice(
        severity.as_deref(),
        "severity",
        |s| Level::parse(s).filter(|l| *l != Level::None),
        "low, medium, high or critical",
    )?;
    Ok(Box::new(move |ctx, caller| {
        let engine = load_rules(&ctx.root.join("rules"))?;
        let known = mamori_detect::hunt::hit_lists(&engine)
            .iter()
            .any(|r| r.rule_id == rule_id);
        if !known {
            return Err(Refusal::new(StatusCode::NOT_FOUND, "no such rule"));
        }
        let setting = RuleSetting { enabled, severity };
        ctx.store()
            .set_rule_setting(&rule_id, &setting, &caller.name, crate::now_us())?;
        ctx.record(
            &caller.name,
            "rules.set",
            &format!(
                "{rule_id} {} {}",
                if enabled { "on" } else { "off" },
                severity.map_or("own-level", Level::as_str)
            ),
        )?;
        Ok((
            StatusCode::OK,
            json!({"id": rule_id, "enabled": enabled, "severity": severity.map(Level::as_str)}),
        ))
    }))
}
