//! Sigma filter documents (`filter:`, the Sigma filters specification v2.1): a selection that
//! tunes the rules it names. Filters are applied when the engine is built: a filtered rule
//! matches when `its condition and not the filter's condition` holds, so a filter costs
//! nothing on events of other rules.

use super::rule::{Cond, Detection, LoadError, LogSource, compile_detection, read_logsource, text};
use super::value::FieldTable;
use super::yaml::{Node, Value};

/// A filter document, compiled but not yet applied (the rules it names may be in files not
/// read yet).
#[derive(Debug, Clone)]
pub(crate) struct FilterDoc {
    pub title: String,
    pub file: String,
    pub logsource: LogSource,
    /// The names or ids of the rules to filter, each with its line.
    pub rules: Vec<(String, usize)>,
    pub detection: Detection,
}

/// Reads a document that has a `filter` key.
pub(crate) fn parse_filter(
    file: &str,
    doc: &Node,
    fields: &mut dyn FieldTable,
) -> Result<FilterDoc, LoadError> {
    let fail = |line: usize, reason: &str| LoadError {
        file: file.to_string(),
        line,
        reason: reason.to_string(),
    };
    let title = text(doc.get("title"))
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| fail(doc.line, "the filter has no title"))?;
    if doc.get("detection").is_some() {
        return Err(fail(
            doc.line,
            "a document cannot have both detection and filter",
        ));
    }
    // The specification makes logsource mandatory: it is what keeps a filter written for
    // process creations off a rule about, say, file events.
    let logsource_node = doc
        .get("logsource")
        .ok_or_else(|| fail(doc.line, "the filter has no logsource"))?;
    if !matches!(logsource_node.value, Value::Map(_)) {
        return Err(fail(logsource_node.line, "logsource must be a map"));
    }
    let logsource = read_logsource(logsource_node);
    let section = doc
        .get("filter")
        .ok_or_else(|| fail(doc.line, "the filter has no filter section"))?;
    if !matches!(section.value, Value::Map(_)) {
        return Err(fail(section.line, "filter must be a map"));
    }
    let rules_node = section
        .get("rules")
        .ok_or_else(|| fail(section.line, "filter has no rules (the rules to filter)"))?;
    let rules = reference_list(rules_node)
        .map_err(|(line, reason)| fail(line, &format!("filter.rules: {reason}")))?;
    if section.get("selection").is_none() {
        return Err(fail(section.line, "filter has no selection"));
    }
    let detection = compile_detection(file, section, "filter", fields)?;
    Ok(FilterDoc {
        title,
        file: file.to_string(),
        logsource,
        rules,
        detection,
    })
}

/// A non-empty list of distinct rule names or ids, each with its line (shared with
/// correlations, whose `rules` has the same shape).
pub(crate) fn reference_list(node: &Node) -> Result<Vec<(String, usize)>, (usize, String)> {
    let Value::Seq(items) = &node.value else {
        return Err((node.line, "must be a list of rule names or ids".into()));
    };
    if items.is_empty() {
        return Err((node.line, "the list is empty".into()));
    }
    let mut out: Vec<(String, usize)> = Vec::with_capacity(items.len());
    for item in items {
        let reference = item
            .as_str()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                (
                    item.line,
                    "each entry must be a rule name or id".to_string(),
                )
            })?;
        if out.iter().any(|(r, _)| r == reference) {
            return Err((item.line, format!("{reference:?} is listed twice")));
        }
        out.push((reference.to_string(), item.line));
    }
    Ok(out)
}

/// Whether a filter written for `filter` may tune a rule written for `rule`: every dimension
/// the filter sets must be the rule's (as pySigma's `logsource in filter.logsource`). A filter
/// for `windows` covers a `windows/process_creation` rule; one for `process_creation` does not
/// cover a `file_event` rule, nor a rule that leaves the category open.
pub(crate) fn covers(filter: &LogSource, rule: &LogSource) -> bool {
    let same = |f: &Option<String>, r: &Option<String>| f.is_none() || f == r;
    same(&filter.product, &rule.product)
        && same(&filter.service, &rule.service)
        && same(&filter.category, &rule.category)
}

/// `rule = rule and not filter`: the filter's selections are appended to the rule's and its
/// condition renumbered to point at them.
pub(crate) fn apply(rule: &mut Detection, filter: &Detection) {
    let offset = rule.selections.len();
    rule.selections.extend(filter.selections.iter().cloned());
    let excluded = Cond::Not(Box::new(shift(&filter.condition, offset)));
    let original = std::mem::replace(&mut rule.condition, Cond::And(Vec::new()));
    rule.condition = Cond::And(vec![original, excluded]);
}

fn shift(cond: &Cond, offset: usize) -> Cond {
    match cond {
        Cond::Selection(i) => Cond::Selection(i + offset),
        Cond::Not(inner) => Cond::Not(Box::new(shift(inner, offset))),
        Cond::And(terms) => Cond::And(terms.iter().map(|t| shift(t, offset)).collect()),
        Cond::Or(terms) => Cond::Or(terms.iter().map(|t| shift(t, offset)).collect()),
    }
}

/// How a log source reads in an error message.
pub(crate) fn describe(source: &LogSource) -> String {
    let parts: Vec<String> = [
        ("product", &source.product),
        ("service", &source.service),
        ("category", &source.category),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
    .collect();
    if parts.is_empty() {
        "any".to_string()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn source(product: Option<&str>, category: Option<&str>) -> LogSource {
        LogSource {
            product: product.map(str::to_string),
            service: None,
            category: category.map(str::to_string),
        }
    }

    #[test]
    fn a_filter_covers_rules_at_least_as_specific_as_itself() {
        let filter = source(Some("windows"), Some("process_creation"));
        assert!(covers(
            &filter,
            &source(Some("windows"), Some("process_creation"))
        ));
        assert!(!covers(
            &filter,
            &source(Some("windows"), Some("file_event"))
        ));
        assert!(!covers(&filter, &source(Some("windows"), None)));
        assert!(covers(&source(Some("windows"), None), &filter));
        assert_eq!(
            describe(&filter),
            "product: windows, category: process_creation"
        );
        assert_eq!(describe(&LogSource::default()), "any");
    }

    #[test]
    fn applying_renumbers_the_filter_selections() {
        let mut rule = Detection {
            selections: vec![Vec::new(), Vec::new()],
            condition: Cond::Selection(1),
        };
        let filter = Detection {
            selections: vec![Vec::new()],
            condition: Cond::Selection(0),
        };
        apply(&mut rule, &filter);
        assert_eq!(rule.selections.len(), 3);
        let Cond::And(terms) = &rule.condition else {
            panic!("{:?}", rule.condition)
        };
        assert!(matches!(terms[0], Cond::Selection(1)));
        assert!(matches!(&terms[1], Cond::Not(inner) if matches!(**inner, Cond::Selection(2))));
    }
}
