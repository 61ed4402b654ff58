//! A Sigma rule document: its metadata, log source and compiled detection.

use super::condition::{self, Expr};
use super::value::{FieldTable, Item, compile_item};
use super::yaml::{Node, Value};

/// Where a rule (or an error) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

/// A rule that could not be loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {reason}")]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// The kind of logs a rule is written for. Unset dimensions match any event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LogSource {
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
}

/// What a loaded rule says about itself (shown with every finding; the Detection Rule
/// Licence asks that findings credit the author).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub title: String,
    /// The title in Japanese, from the custom attribute `title_ja` (Mamori's rule packs
    /// give it; other rules have none and their English title is shown).
    pub title_ja: Option<String>,
    pub id: Option<String>,
    /// The `name` a correlation or filter may reference the rule by.
    pub name: Option<String>,
    pub status: Option<String>,
    pub level: Option<String>,
    pub author: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    pub falsepositives: Vec<String>,
    pub logsource: LogSource,
    pub origin: Origin,
}

/// A detection, ready to evaluate: selections (each an OR of ANDed items) and the condition.
#[derive(Debug, Clone)]
pub(crate) struct Detection {
    pub selections: Vec<Vec<Vec<Item>>>,
    pub condition: Cond,
}

#[derive(Debug, Clone)]
pub(crate) enum Cond {
    Selection(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

pub(crate) fn text(node: Option<&Node>) -> Option<String> {
    node.and_then(Node::as_str).map(str::to_string)
}

pub(crate) fn texts(node: Option<&Node>) -> Vec<String> {
    match node.map(|n| &n.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect(),
        Some(Value::Scalar { text, .. }) => vec![text.clone()],
        _ => Vec::new(),
    }
}

/// Reads one YAML document as a detection rule (correlation and filter documents are told
/// apart by the caller).
pub(crate) fn compile_rule(
    file: &str,
    doc: &Node,
    fields: &mut dyn FieldTable,
) -> Result<(RuleInfo, Detection), LoadError> {
    let fail = |line: usize, reason: String| LoadError {
        file: file.to_string(),
        line,
        reason,
    };
    if !matches!(doc.value, Value::Map(_)) {
        return Err(fail(doc.line, "a rule must be a YAML map".into()));
    }
    let title = text(doc.get("title"))
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| fail(doc.line, "the rule has no title".into()))?;
    let logsource_node = doc
        .get("logsource")
        .ok_or_else(|| fail(doc.line, "the rule has no logsource".into()))?;
    let logsource = read_logsource(logsource_node);
    let detection_node = doc
        .get("detection")
        .ok_or_else(|| fail(doc.line, "the rule has no detection".into()))?;
    let detection = compile_detection(file, detection_node, "detection", fields)?;
    let info = RuleInfo {
        title,
        title_ja: text(doc.get("title_ja")),
        id: text(doc.get("id")),
        name: text(doc.get("name")),
        status: text(doc.get("status")),
        level: text(doc.get("level")),
        author: text(doc.get("author")),
        description: text(doc.get("description")),
        tags: texts(doc.get("tags")),
        references: texts(doc.get("references")),
        falsepositives: texts(doc.get("falsepositives")),
        logsource,
        origin: Origin {
            file: file.to_string(),
            line: doc.line,
        },
    };
    Ok((info, detection))
}

/// Compiles a detection-like section: named search identifiers and a `condition`. `section`
/// names it in errors (`detection`, or `filter` for a filter document, whose `rules` key is
/// not a search identifier).
pub(crate) fn compile_detection(
    file: &str,
    node: &Node,
    section: &str,
    fields: &mut dyn FieldTable,
) -> Result<Detection, LoadError> {
    let fail = |line: usize, reason: String| LoadError {
        file: file.to_string(),
        line,
        reason,
    };
    let Value::Map(entries) = &node.value else {
        return Err(fail(node.line, format!("{section} must be a map")));
    };
    let mut names = Vec::new();
    let mut selections = Vec::new();
    let mut condition_node = None;
    for (key, value) in entries {
        let name = key.as_str().unwrap_or_default();
        if name == "condition" {
            condition_node = Some(value);
            continue;
        }
        if section == "filter" && name == "rules" {
            continue;
        }
        if name == "timeframe" {
            return Err(fail(
                key.line,
                "detection.timeframe belongs to Sigma 1.0 aggregations: use a correlation rule"
                    .into(),
            ));
        }
        let selection = compile_selection(value, fields)
            .map_err(|(line, reason)| fail(line, format!("{section}.{name}: {reason}")))?;
        names.push(name.to_string());
        selections.push(selection);
    }
    let condition_node =
        condition_node.ok_or_else(|| fail(node.line, format!("{section} has no condition")))?;
    let conditions: Vec<&Node> = match &condition_node.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![condition_node],
    };
    let mut parsed = Vec::new();
    for node in conditions {
        let source = node
            .as_str()
            .ok_or_else(|| fail(node.line, "a condition must be a string".into()))?;
        let expr = condition::parse(source)
            .map_err(|reason| fail(node.line, format!("condition {source:?}: {reason}")))?;
        parsed.push(
            resolve(&expr, &names)
                .map_err(|reason| fail(node.line, format!("condition {source:?}: {reason}")))?,
        );
    }
    let condition = if parsed.len() == 1 {
        parsed.remove(0)
    } else {
        Cond::Or(parsed)
    };
    Ok(Detection {
        selections,
        condition,
    })
}

/// A `logsource` section, lower-cased (log source names compare case-insensitively).
pub(crate) fn read_logsource(node: &Node) -> LogSource {
    let lower = |n: Option<&Node>| text(n).map(|t| t.to_ascii_lowercase());
    LogSource {
        product: lower(node.get("product")),
        service: lower(node.get("service")),
        category: lower(node.get("category")),
    }
}

/// A search identifier: a map (items ANDed), a list of maps (ORed), or keywords.
fn compile_selection(
    node: &Node,
    fields: &mut dyn FieldTable,
) -> Result<Vec<Vec<Item>>, (usize, String)> {
    match &node.value {
        Value::Map(entries) => Ok(vec![compile_map(node.line, entries, fields)?]),
        Value::Seq(items) if items.iter().all(|n| matches!(n.value, Value::Map(_))) => items
            .iter()
            .map(|n| match &n.value {
                Value::Map(entries) => compile_map(n.line, entries, fields),
                _ => Ok(Vec::new()),
            })
            .collect(),
        Value::Seq(items)
            if items
                .iter()
                .all(|n| matches!(n.value, Value::Scalar { .. })) =>
        {
            let item = compile_item("", node, fields).map_err(|r| (node.line, r))?;
            Ok(vec![vec![item]])
        }
        Value::Seq(_) => Err((
            node.line,
            "a list must hold only maps or only keywords".into(),
        )),
        Value::Scalar { .. } => {
            let item = compile_item("", node, fields).map_err(|r| (node.line, r))?;
            Ok(vec![vec![item]])
        }
    }
}

fn compile_map(
    line: usize,
    entries: &[(Node, Node)],
    fields: &mut dyn FieldTable,
) -> Result<Vec<Item>, (usize, String)> {
    if entries.is_empty() {
        return Err((
            line,
            "an empty map matches everything; write the fields".into(),
        ));
    }
    entries
        .iter()
        .map(|(key, value)| {
            let name = key.as_str().unwrap_or_default();
            compile_item(name, value, fields).map_err(|r| (key.line, r))
        })
        .collect()
}

/// Replaces names and patterns with selection indexes.
fn resolve(expr: &Expr, names: &[String]) -> Result<Cond, String> {
    Ok(match expr {
        Expr::Ident(name) => Cond::Selection(
            names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| format!("no search identifier named {name:?}"))?,
        ),
        Expr::Of { all, pattern } => {
            let matching: Vec<Cond> = names
                .iter()
                .enumerate()
                .filter(|(_, n)| {
                    if pattern == "them" {
                        !n.starts_with('_')
                    } else {
                        condition::pattern_matches(pattern, n)
                    }
                })
                .map(|(i, _)| Cond::Selection(i))
                .collect();
            if matching.is_empty() {
                return Err(format!("no search identifier matches {pattern:?}"));
            }
            if *all {
                Cond::And(matching)
            } else {
                Cond::Or(matching)
            }
        }
        Expr::Not(inner) => Cond::Not(Box::new(resolve(inner, names)?)),
        Expr::And(terms) => Cond::And(
            terms
                .iter()
                .map(|t| resolve(t, names))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(terms) => Cond::Or(
            terms
                .iter()
                .map(|t| resolve(t, names))
                .collect::<Result<_, _>>()?,
        ),
    })
}
