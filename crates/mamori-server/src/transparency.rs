//! `GET /transparency`: what is collected about employees, why, for how long, who is
//! responsible and whom to ask — in Japanese and English, without login (docs/privacy.md).
//!
//! The page is rendered from the privacy configuration (`privacy.toml` in the data
//! directory, or `serve --privacy FILE`), so what employees read is what the operator has set.
//! Without one, the page says that nothing has been declared: monitoring without declared
//! purposes is what the APPI guidance on employee monitoring warns against.

use axum::http::{HeaderMap, header};

use axum::response::{IntoResponse, Response};
use mamori_privacy::{Privacy, Text};

/// Page language: `?lang=` wins, then the first of `ja`/`en` in `Accept-Language`, then
/// Japanese.
pub(crate) fn language(headers: &HeaderMap, query: Option<&str>) -> Lang {
    match query {
        Some("en") => return Lang::En,
        Some("ja") => return Lang::Ja,
        _ => {}
    }
    let accepted = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for tag in accepted.split(',') {
        let tag = tag
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if tag == "ja" || tag.starts_with("ja-") {
            return Lang::Ja;
        }
        if tag == "en" || tag.starts_with("en-") {
            return Lang::En;
        }
    }
    Lang::Ja
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Ja,
}

impl Lang {
    fn of(self, text: &Text) -> &str {
        match self {
            Lang::En => &text.en,
            Lang::Ja => &text.ja,
        }
    }
}

/// The fixed words of the page.
struct Words {
    title: &'static str,
    controller: &'static str,
    responsible: &'static str,
    contact: &'static str,
    purposes: &'static str,
    collected: &'static str,
    retention: &'static str,
    days: &'static str,
    safeguards: &'static str,
    safeguard_items: [&'static str; 3],
    undeclared: &'static str,
    other: (&'static str, &'static str),
}

const EN: Words = Words {
    title: "Monitoring at work: what is collected and why",
    controller: "Organisation",
    responsible: "Responsible",
    contact: "Contact",
    purposes: "Purposes",
    collected: "What is collected",
    retention: "Kept for",
    days: "days",
    safeguards: "Safeguards",
    safeguard_items: [
        "People are shown to analysts under pseudonyms; a name is revealed only inside an investigation case, with a written reason naming one of the purposes above.",
        "Every search, view of a person's activity, reveal and export is recorded in an append-only log that auditors check.",
        "Events are kept as tamper-evident records and deleted when their retention period ends, unless a legal hold applies.",
    ],
    undeclared: "No purposes, data or retention periods have been declared for this installation yet.",
    other: ("ja", "日本語"),
};

const JA: Words = Words {
    title: "業務上のモニタリングについて：収集する情報とその目的",
    controller: "組織",
    responsible: "責任者",
    contact: "問い合わせ先",
    purposes: "利用目的",
    collected: "収集する情報",
    retention: "保存期間",
    days: "日",
    safeguards: "保護措置",
    safeguard_items: [
        "分析者には仮名で表示されます。氏名の表示は調査案件の中で、上記の利用目的のいずれかを挙げた理由を記録した場合に限られます。",
        "検索、個人の操作記録の閲覧、氏名の表示、書き出しはすべて追記専用の記録に残り、監査担当者が確認します。",
        "イベントは改ざん検知可能な形で保管し、保存期間が過ぎると削除します（訴訟ホールド中を除く）。",
    ],
    undeclared: "このシステムでは、利用目的・収集する情報・保存期間がまだ宣言されていません。",
    other: ("en", "English"),
};

/// The page as HTML (no script, no external resources).
pub fn page(privacy: Option<&Privacy>, headers: &HeaderMap, query: Option<&str>) -> Response {
    let lang = language(headers, query);
    let words = match lang {
        Lang::En => &EN,
        Lang::Ja => &JA,
    };
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n<h1>{}</h1>\n<p><a href=\"?lang={}\">{}</a></p>\n",
        if lang == Lang::En { "en" } else { "ja" },
        escape(words.title),
        escape(words.title),
        words.other.0,
        words.other.1,
    );
    match privacy {
        None => {
            html.push_str(&format!("<p>{}</p>\n", escape(words.undeclared)));
        }
        Some(privacy) => {
            html.push_str(&format!(
                "<dl><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>\n",
                escape(words.controller),
                escape(lang.of(&privacy.controller)),
                escape(words.responsible),
                escape(lang.of(&privacy.responsible)),
                escape(words.contact),
                escape(&privacy.contact),
            ));
            html.push_str(&format!("<h2>{}</h2>\n<ul>\n", escape(words.purposes)));
            for purpose in &privacy.purposes {
                html.push_str(&format!("<li>{}</li>\n", escape(lang.of(&purpose.text))));
            }
            html.push_str(&format!(
                "</ul>\n<h2>{}</h2>\n<table><tr><th>{}</th><th>{}</th></tr>\n",
                escape(words.collected),
                escape(words.collected),
                escape(words.retention)
            ));
            for item in &privacy.collected {
                html.push_str(&format!(
                    "<tr><td>{}</td><td>{} {}</td></tr>\n",
                    escape(lang.of(&item.text)),
                    item.retention_days,
                    escape(words.days)
                ));
            }
            html.push_str("</table>\n");
        }
    }
    html.push_str(&format!("<h2>{}</h2>\n<ul>\n", escape(words.safeguards)));
    for item in words.safeguard_items {
        html.push_str(&format!("<li>{}</li>\n", escape(item)));
    }
    html.push_str("</ul>\n</body></html>\n");
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_LANGUAGE,
                if lang == Lang::En { "en" } else { "ja" },
            ),
            (header::VARY, "Accept-Language"),
        ],
        html,
    )
        .into_response()
}

/// Text made safe for HTML (configuration is the operator's, but a page must never run it).
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_LANGUAGE, accept.parse().unwrap());
        headers
    }

    #[test]
    fn the_language_follows_the_query_then_accept_language_then_japanese() {
        assert!(language(&headers("en-GB,ja;q=0.5"), None) == Lang::En);
        assert!(language(&headers("ja-JP,en;q=0.8"), None) == Lang::Ja);
        assert!(language(&headers("fr-FR,en;q=0.8"), None) == Lang::En);
        assert!(language(&headers("fr-FR"), None) == Lang::Ja);
        assert!(language(&headers("en"), Some("ja")) == Lang::Ja);
    }

    #[test]
    fn configured_text_is_escaped() {
        assert_eq!(
            escape("<script>\"x\" & 'y'"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;"
        );
    }
}
