//! Explanations: every risk indicator, context factor and alert as a short sentence in English
//! and Japanese, e.g. `copied 340 files to removable media (usual 0, department 2)` /
//! `USB 等へ 340 ファイルをコピー（通常 0、同部署 2）`, and as JSON for the store.

use serde_json::{Value, json};

use crate::anomaly::Contribution;
use crate::features::Feature;
use crate::peers::ORGANISATION;
use crate::risk::{AlertReason, Factor, Indicator, Level, RiskDay};

/// The language of a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

/// The level's name: `high` / `高`.
pub fn level(level: Level, lang: Lang) -> &'static str {
    match lang {
        Lang::En => level.as_str(),
        Lang::Ja => match level {
            Level::None => "なし",
            Level::Low => "低",
            Level::Medium => "中",
            Level::High => "高",
            Level::Critical => "重大",
        },
    }
}

/// What a feature measures, with `…` where its value goes: `copied … files to removable
/// media` (lists of indicators, where no single value belongs).
pub fn feature_label(feature: Feature, lang: Lang) -> String {
    phrase(feature, lang).replace("{}", "…")
}

/// What a feature's value says, with `{}` where the value goes.
fn phrase(feature: Feature, lang: Lang) -> &'static str {
    use Feature::*;
    let (en, ja) = match feature {
        Events => ("{} events", "イベント {} 件"),
        Logons => ("{} logons", "ログオン {} 回"),
        LogonFirstMinute => ("first logon at {}", "最初のログオン {}"),
        LogonLastMinute => ("last logon at {}", "最後のログオン {}"),
        LogonsAfterHours => ("{} logons outside working hours", "時間外ログオン {} 回"),
        LogonsWeekend => ("{} weekend logons", "休日ログオン {} 回"),
        LogonsFailed => ("{} failed logons", "ログオン失敗 {} 回"),
        LogonHosts => ("logged on to {} computers", "{} 台の端末にログオン"),
        LogonHostsNotOwn => (
            "logged on to {} computers of other people",
            "他人の端末 {} 台にログオン",
        ),
        DeviceConnects => (
            "{} removable device connections",
            "リムーバブルデバイス接続 {} 回",
        ),
        DeviceConnectsAfterHours => (
            "{} removable device connections outside working hours",
            "時間外のリムーバブルデバイス接続 {} 回",
        ),
        RemovableCopies => (
            "copied {} files to removable media",
            "USB 等へ {} ファイルをコピー",
        ),
        CloudOrShareCopies => (
            "copied {} files to cloud or network shares",
            "クラウド・共有フォルダへ {} ファイルをコピー",
        ),
        DistinctFiles => ("worked on {} distinct files", "{} 個のファイルを操作"),
        ClassifiedFiles => (
            "handled {} classified files",
            "機密区分付きファイル {} 個を操作",
        ),
        TypeMismatchedFiles => (
            "{} files whose content does not match the extension",
            "拡張子と中身が一致しないファイル {} 個",
        ),
        ArchiveOrSourceFiles => (
            "{} archive or source-code files",
            "アーカイブ・ソースコード {} 個",
        ),
        WebVisits => ("{} web requests", "Web アクセス {} 件"),
        WebDownloads => ("{} downloads", "ダウンロード {} 件"),
        WebUploads => ("{} web uploads", "Web アップロード {} 件"),
        JobSearchVisits => ("{} visits to job sites", "求人サイト閲覧 {} 件"),
        CloudStorageVisits => ("{} visits to cloud storage", "クラウドストレージ閲覧 {} 件"),
        CloudStorageUploads => (
            "{} uploads to cloud storage",
            "クラウドストレージへのアップロード {} 件",
        ),
        WebmailVisits => ("{} visits to personal webmail", "個人 Web メール閲覧 {} 件"),
        WebmailUploads => (
            "{} uploads to personal webmail",
            "個人 Web メールへのアップロード {} 件",
        ),
        LeakOrHackingVisits => (
            "{} visits to leak or hacking sites",
            "リーク・ハッキングサイト閲覧 {} 件",
        ),
        LeakOrHackingUploads => (
            "{} uploads to leak or hacking sites",
            "リーク・ハッキングサイトへのアップロード {} 件",
        ),
        EmailsSent => ("sent {} mails", "メール送信 {} 通"),
        EmailExternalRecipients => ("{} external mail recipients", "社外の宛先 {} 件"),
        EmailPersonalRecipients => ("{} mails to personal addresses", "個人アドレス宛て {} 件"),
        EmailAttachments => ("{} mail attachments", "添付ファイル {} 個"),
        EmailAttachmentBytes => ("{} of mail attachments", "添付ファイル計 {}"),
        EmailNewDomains => (
            "{} mails to first-time domains",
            "初めてのドメイン宛てメール {} 通",
        ),
        EmailLookalikeDomains => (
            "{} mails to look-alike domains",
            "なりすましドメイン宛てメール {} 通",
        ),
        Prints => ("{} print jobs", "印刷 {} 件"),
        PrintPages => ("printed {} pages", "{} ページを印刷"),
        ClassifiedPrints => ("{} classified print jobs", "機密文書の印刷 {} 件"),
        RuleFindings => ("{} rule findings", "ルール検知 {} 件"),
        AccountChanges => ("{} account changes", "アカウント変更 {} 件"),
    };
    match lang {
        Lang::En => en,
        Lang::Ja => ja,
    }
}

/// A feature value in its unit: `09:05` for logon minutes, `12.3 MB` for bytes, else a count.
pub fn value(feature: Feature, value: f64) -> String {
    match feature {
        Feature::LogonFirstMinute | Feature::LogonLastMinute => {
            let minute = value.round().clamp(0.0, 1439.0) as i64;
            format!("{:02}:{:02}", minute / 60, minute % 60)
        }
        Feature::EmailAttachmentBytes => format!("{:.1} MB", value / 1e6),
        _ if value.fract() == 0.0 => format!("{value:.0}"),
        _ => format!("{value:.1}"),
    }
}

/// `copied 340 files to removable media (usual 0, department 2)`; `peer_group` names the
/// peers (the organisation, or a department).
pub fn contribution(c: &Contribution, peer_group: &str, lang: Lang) -> String {
    let mut text = phrase(c.feature, lang).replacen("{}", &value(c.feature, c.value), 1);
    let mut refs = Vec::new();
    if c.usual.is_finite() {
        let usual = value(c.feature, c.usual);
        refs.push(match lang {
            Lang::En => format!("usual {usual}"),
            Lang::Ja => format!("通常 {usual}"),
        });
    }
    if c.peer.is_finite() {
        let peer = value(c.feature, c.peer);
        let organisation = peer_group == ORGANISATION;
        refs.push(match (lang, organisation) {
            (Lang::En, true) => format!("organisation {peer}"),
            (Lang::En, false) => format!("department {peer}"),
            (Lang::Ja, true) => format!("全社 {peer}"),
            (Lang::Ja, false) => format!("同部署 {peer}"),
        });
    }
    if !refs.is_empty() {
        text += &match lang {
            Lang::En => format!(" ({})", refs.join(", ")),
            Lang::Ja => format!("（{}）", refs.join("、")),
        };
    }
    text
}

/// One indicator as a sentence.
pub fn indicator(indicator: &Indicator, peer_group: &str, lang: Lang) -> String {
    match indicator {
        Indicator::Anomaly(c) => contribution(c, peer_group, lang),
        Indicator::Forest {
            score, features, ..
        } => {
            let names: Vec<&str> = features.iter().map(|f| f.name()).collect();
            match lang {
                Lang::En => format!(
                    "rare combination in the organisation (isolation score {score:.2}: {})",
                    names.join(", ")
                ),
                Lang::Ja => format!(
                    "組織内で珍しい組み合わせ（孤立スコア {score:.2}：{}）",
                    names.join("、")
                ),
            }
        }
        Indicator::Rule { finding, .. } => {
            let level_name = level(finding.level, lang);
            match lang {
                Lang::En => format!("rule “{}” ({level_name}) {}×", finding.title, finding.count),
                Lang::Ja => format!(
                    "ルール「{}」（{level_name}）{} 件",
                    finding.title_ja.as_deref().unwrap_or(&finding.title),
                    finding.count
                ),
            }
        }
        Indicator::Cumulative {
            total,
            peer_median,
            previous,
            days,
            ..
        } => {
            let ratio = total / peer_median.max(1.0);
            match lang {
                Lang::En => format!(
                    "{total:.0} copies, uploads and personal mails in {days} days \
                     ({ratio:.1}× the peers' {peer_median:.0}; {previous:.0} in the {days} days before)"
                ),
                Lang::Ja => format!(
                    "{days} 日間の持ち出し {total:.0} 件（同僚の {ratio:.1} 倍、その前の {days} 日間は {previous:.0} 件）"
                ),
            }
        }
    }
}

/// One context factor as a phrase.
pub fn factor(factor: &Factor, lang: Lang) -> String {
    match (factor, lang) {
        (
            Factor::Departing {
                notice,
                termination,
                ..
            },
            Lang::En,
        ) => match notice {
            Some(notice) => format!("departing (notice {notice}, last day {termination})"),
            None => format!("departing (last day {termination})"),
        },
        (
            Factor::Departing {
                notice,
                termination,
                ..
            },
            Lang::Ja,
        ) => match notice {
            Some(notice) => format!("退職予定（申出 {notice}、最終日 {termination}）"),
            None => format!("退職予定（最終日 {termination}）"),
        },
        (Factor::BeforeDeparting { start, .. }, Lang::En) => {
            format!("in the months before departing (from {start})")
        }
        (Factor::BeforeDeparting { start, .. }, Lang::Ja) => {
            format!("退職予定期間（{start}〜）の前の期間")
        }
        (Factor::Priority { .. }, Lang::En) => "priority user".into(),
        (Factor::Priority { .. }, Lang::Ja) => "重点監視対象".into(),
        (Factor::Contractor { .. }, Lang::En) => "contractor or temporary staff".into(),
        (Factor::Contractor { .. }, Lang::Ja) => "委託・派遣・臨時".into(),
        (Factor::PriorIncident { .. }, Lang::En) => "prior confirmed incident".into(),
        (Factor::PriorIncident { .. }, Lang::Ja) => "過去に確認済みのインシデントあり".into(),
    }
}

/// Indicators, strongest first: rules by points, anomalies by z, then the cumulative one;
/// at most `limit`.
fn strongest(day: &RiskDay, limit: usize) -> Vec<&Indicator> {
    let mut all: Vec<&Indicator> = day.indicators.iter().collect();
    let weight = |i: &Indicator| match i {
        Indicator::Rule { points, .. } | Indicator::Forest { points, .. } => *points,
        Indicator::Anomaly(c) => c.z,
        Indicator::Cumulative { points, .. } => *points,
    };
    all.sort_by(|a, b| weight(b).total_cmp(&weight(a)));
    all.truncate(limit);
    all
}

/// The title of an alert: what happened, its strongest reasons and its context.
pub fn alert_title(reason: &AlertReason, day: &RiskDay, peer_group: &str, lang: Lang) -> String {
    let head = match (reason, lang) {
        (AlertReason::LevelRose { to, .. }, Lang::En) => {
            format!("Risk went up to {}", level(*to, lang))
        }
        (AlertReason::LevelRose { to, .. }, Lang::Ja) => {
            format!("リスクが「{}」に上昇", level(*to, lang))
        }
        (AlertReason::Rule(finding), Lang::En) => format!(
            "{}-severity rule “{}” {}×",
            level(finding.level, lang),
            finding.title,
            finding.count
        ),
        (AlertReason::Rule(finding), Lang::Ja) => format!(
            "重大度「{}」のルール「{}」{} 件",
            level(finding.level, lang),
            finding.title_ja.as_deref().unwrap_or(&finding.title),
            finding.count
        ),
    };
    let mut parts: Vec<String> = match reason {
        AlertReason::LevelRose { .. } => strongest(day, 3)
            .into_iter()
            .map(|i| indicator(i, peer_group, lang))
            .collect(),
        AlertReason::Rule(_) => Vec::new(),
    };
    parts.extend(day.factors.iter().map(|f| factor(f, lang)));
    if parts.is_empty() {
        return head;
    }
    match lang {
        Lang::En => format!("{head}: {}", parts.join("; ")),
        Lang::Ja => format!("{head}：{}", parts.join("、")),
    }
}

/// The risk day as JSON: score, level, points, multiplier, and each indicator and factor with
/// its numbers and both sentences.
pub fn details(day: &RiskDay, peer_group: &str) -> Value {
    let number = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
    let indicators: Vec<Value> = day
        .indicators
        .iter()
        .map(|i| {
            let mut item = match i {
                Indicator::Anomaly(c) => json!({
                    "type": "anomaly", "feature": c.feature.name(), "value": number(c.value),
                    "usual": number(c.usual), "peer": number(c.peer), "own_z": number(c.own_z),
                    "peer_z": number(c.peer_z), "z": number(c.z),
                }),
                Indicator::Forest { score, features, points } => json!({
                    "type": "forest", "score": number(*score), "points": number(*points),
                    "features": features.iter().map(|f| f.name()).collect::<Vec<_>>(),
                }),
                Indicator::Rule { finding, points, weight } => json!({
                    "type": "rule", "rule_id": finding.rule_id, "title": finding.title,
                    "title_ja": finding.title_ja.as_deref().unwrap_or(&finding.title),
                    "level": finding.level.as_str(), "count": finding.count,
                    "points": number(*points), "weight": number(*weight),
                }),
                Indicator::Cumulative { total, peer_median, previous, days, points } => json!({
                    "type": "cumulative", "total": number(*total), "peer_median": number(*peer_median),
                    "previous": number(*previous), "days": days, "points": number(*points),
                }),
            };
            item["en"] = json!(indicator(i, peer_group, Lang::En));
            item["ja"] = json!(indicator(i, peer_group, Lang::Ja));
            item
        })
        .collect();
    let factors: Vec<Value> = day
        .factors
        .iter()
        .map(|f| json!({"factor": number(f.factor()), "en": factor(f, Lang::En), "ja": factor(f, Lang::Ja)}))
        .collect();
    json!({
        "risk": number(day.risk), "level": day.level.as_str(), "points": number(day.points),
        "multiplier": number(day.multiplier), "peer_group": peer_group,
        "indicators": indicators, "factors": factors,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Alert titles and explanations go through the pseudonymiser, which replaces every word
    /// that is the name of someone in the organisation (docs/privacy.md): their own words
    /// must not be names, or "Risk rose to high" reads "Risk N-… to high".
    #[test]
    fn the_words_of_explanations_are_not_first_names() {
        let names: std::collections::HashSet<String> = mamori_sim::vocab::FIRST_NAMES
            .iter()
            .map(|n| n.to_lowercase())
            .collect();
        let mut texts: Vec<String> = crate::features::FEATURES
            .iter()
            .map(|f| phrase(*f, Lang::En).to_string())
            .collect();
        texts.push(format!("Risk went up to {}", level(Level::High, Lang::En)));
        for text in texts {
            for word in text.split(|c: char| !c.is_alphanumeric()) {
                assert!(
                    !names.contains(&word.to_lowercase()),
                    "{word:?} in {text:?}"
                );
            }
        }
    }

    fn copies() -> Contribution {
        Contribution {
            feature: Feature::RemovableCopies,
            value: 340.0,
            usual: 0.0,
            peer: 2.0,
            own_z: 10.0,
            peer_z: 10.0,
            z: 10.0,
        }
    }

    #[test]
    fn contributions_read_as_sentences_in_both_languages() {
        assert_eq!(
            contribution(&copies(), "設計部", Lang::Ja),
            "USB 等へ 340 ファイルをコピー（通常 0、同部署 2）"
        );
        assert_eq!(
            contribution(&copies(), ORGANISATION, Lang::En),
            "copied 340 files to removable media (usual 0, organisation 2)"
        );
        let early = Contribution {
            feature: Feature::LogonFirstMinute,
            value: 312.0,
            usual: f64::NAN,
            peer: 545.0,
            ..copies()
        };
        assert_eq!(
            contribution(&early, "R&D", Lang::En),
            "first logon at 05:12 (department 09:05)"
        );
        assert_eq!(
            value(Feature::EmailAttachmentBytes, 12_345_678.0),
            "12.3 MB"
        );
    }

    #[test]
    fn rules_read_with_their_japanese_title_when_they_have_one() {
        let finding = crate::risk::Finding {
            rule_id: "r".into(),
            title: "Mass File Copy to Removable Media".into(),
            title_ja: Some("USB 等への大量ファイルコピー".into()),
            level: Level::High,
            count: 2,
            first_us: 0,
            events: vec![],
        };
        let rule = Indicator::Rule {
            finding,
            points: 15.0,
            weight: 1.0,
        };
        assert_eq!(
            indicator(&rule, ORGANISATION, Lang::Ja),
            "ルール「USB 等への大量ファイルコピー」（高）2 件"
        );
        assert_eq!(
            indicator(&rule, ORGANISATION, Lang::En),
            "rule “Mass File Copy to Removable Media” (high) 2×"
        );
    }

    #[test]
    fn every_feature_has_a_phrase_with_one_value() {
        for &feature in crate::features::FEATURES {
            for lang in [Lang::En, Lang::Ja] {
                assert_eq!(
                    phrase(feature, lang).matches("{}").count(),
                    1,
                    "{feature:?}"
                );
            }
        }
    }
}
