//! Sigma correlation rules (`correlation:` documents, the Sigma correlation rules specification
//! v2.1): reading them, resolving the rules they reference (by `name` or `id`, chains of
//! correlations included), and evaluating them over a stream of events in event time with
//! bounded state ([`Correlator`]).
//!
//! Evaluation, per correlation and group (the values of its `group-by` fields):
//! - **Window.** An event counts while it is at most `timespan` older than the newest event of
//!   its group (`newest - time <= timespan`, both ends included).
//! - **Checking.** The condition is checked on every counted event, against the window that
//!   ends at the group's newest event.
//! - **Re-arm.** A hit at time `f` clears the group (its events are never counted again) and
//!   the group cannot fire again until one of its events is later than `f + timespan`; events
//!   in between are still counted. So a group fires at most once per timespan, and no two hits
//!   share an event.
//! - **Out of order.** Events are kept sorted by time, so any disorder within one timespan of
//!   the group's newest event is harmless (order-sensitive `temporal_ordered` uses event
//!   times, not arrival order). An event older than that is too late and is not counted.
//! - **Bounds.** Per group only the window's events are kept (at most
//!   [`Correlator::with_max_entries_per_group`], oldest dropped first); at most
//!   [`Correlator::with_max_groups`] groups are tracked over all correlations, the least
//!   recently seen evicted past it; a periodic sweep drops groups whose window the stream has
//!   left behind.
//! - **Events.** Each kept entry has the caller's id of its event (the `event` of
//!   [`Correlator::observe`]), so a hit names the events behind it ([`CorrelationHit::events`]);
//!   an entry made by a child correlation's hit keeps that hit's ids instead, at most
//!   `with_max_entries_per_group` of them per group (past it the oldest entries' are forgotten).

use std::collections::{HashMap, VecDeque};

use super::engine::{Engine, FieldValue, Record};
use super::filter::{FilterDoc, covers, describe, reference_list};
use super::rule::{LoadError, Origin, RuleInfo, text, texts};
use super::yaml::{Node, Value};

/// What a loaded correlation rule says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationInfo {
    pub title: String,
    /// The title in Japanese, from the custom attribute `title_ja` (Mamori's rule packs
    /// give it; other rules have none and their English title is shown).
    pub title_ja: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub level: Option<String>,
    pub author: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// The correlation type as written: `event_count`, `value_count`, `temporal`,
    /// `temporal_ordered`, `value_sum`, `value_avg` or `value_percentile`.
    pub kind: String,
    pub origin: Origin,
}

/// A correlation that fired for one group.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationHit {
    /// Index for [`Engine::correlation`].
    pub correlation: usize,
    /// The `group-by` names (aliases as written) and this group's values.
    pub group: Vec<(String, String)>,
    /// Time of the earliest and the latest event of the window that fired (microseconds).
    pub first_us: i64,
    pub last_us: i64,
    /// What the condition was checked against: the event count, distinct value count, number
    /// of rules seen (in order, for `temporal_ordered`), sum, average or percentile.
    pub value: f64,
    /// The caller's ids (the `event` of [`Correlator::observe`]) of the events in the window
    /// that made the hit: the counted events (`event_count`), the events whose values were
    /// counted (`value_count`) or aggregated (`value_sum`, `value_avg`, `value_percentile`),
    /// the latest event of each referenced rule in the window (`temporal`), the events of the
    /// in-order sequence that satisfied it (`temporal_ordered`). A child correlation's hit
    /// stands for the events of that hit. Sorted ascending, without duplicates, and at most
    /// [`Correlator::with_max_entries_per_group`] of them (the highest kept past it).
    pub events: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
}

const KINDS: [(&str, Kind); 7] = [
    ("event_count", Kind::EventCount),
    ("value_count", Kind::ValueCount),
    ("temporal", Kind::Temporal),
    ("temporal_ordered", Kind::TemporalOrdered),
    ("value_sum", Kind::ValueSum),
    ("value_avg", Kind::ValueAvg),
    ("value_percentile", Kind::ValuePercentile),
];

impl Kind {
    fn has_field(self) -> bool {
        matches!(
            self,
            Kind::ValueCount | Kind::ValueSum | Kind::ValueAvg | Kind::ValuePercentile
        )
    }

    fn temporal(self) -> bool {
        matches!(self, Kind::Temporal | Kind::TemporalOrdered)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl Op {
    fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Op::Gt => value > bound,
            Op::Gte => value >= bound,
            Op::Lt => value < bound,
            Op::Lte => value <= bound,
            Op::Eq => value == bound,
            Op::Neq => value != bound,
        }
    }
}

/// A correlation document as read, its references not yet resolved.
#[derive(Debug, Clone)]
pub(crate) struct CorrelationDoc {
    info: CorrelationInfo,
    kind: Kind,
    rules: Vec<(String, usize)>,
    group_by: Vec<String>,
    /// Alias name, then (rule name, field, line) per rule.
    aliases: Aliases,
    timespan_us: i64,
    /// All must hold (the specification's `gt` + `lte` range).
    bounds: Vec<(Op, f64)>,
    field: Vec<String>,
    /// pySigma's `percentile` key: compare the window's P-th percentile of `field`.
    percentile: Option<f64>,
    generate: bool,
}

const SECTION_KEYS: [&str; 7] = [
    "type",
    "rules",
    "group-by",
    "timespan",
    "condition",
    "aliases",
    "generate",
];

/// Reads a document that has a `correlation` key.
pub(crate) fn parse_correlation(file: &str, doc: &Node) -> Result<CorrelationDoc, LoadError> {
    let fail = |line: usize, reason: String| LoadError {
        file: file.to_string(),
        line,
        reason,
    };
    let title = text(doc.get("title"))
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| fail(doc.line, "the correlation has no title".into()))?;
    if doc.get("detection").is_some() {
        return Err(fail(
            doc.line,
            "a document cannot have both detection and correlation".into(),
        ));
    }
    let section = doc
        .get("correlation")
        .ok_or_else(|| fail(doc.line, "the document has no correlation section".into()))?;
    let Value::Map(entries) = &section.value else {
        return Err(fail(section.line, "correlation must be a map".into()));
    };
    for (key, _) in entries {
        let name = key.as_str().unwrap_or_default();
        if !SECTION_KEYS.contains(&name) {
            return Err(fail(
                key.line,
                format!("unknown key correlation.{name} (expected one of {SECTION_KEYS:?})"),
            ));
        }
    }
    let type_node = section
        .get("type")
        .ok_or_else(|| fail(section.line, "correlation has no type".into()))?;
    let type_name = type_node.as_str().unwrap_or_default();
    let kind = KINDS
        .iter()
        .find(|(name, _)| *name == type_name)
        .map(|(_, kind)| *kind)
        .ok_or_else(|| {
            let known: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
            fail(
                type_node.line,
                format!(
                    "unknown correlation type {type_name:?} (expected one of {})",
                    known.join(", ")
                ),
            )
        })?;
    let rules_node = section
        .get("rules")
        .ok_or_else(|| fail(section.line, "correlation has no rules".into()))?;
    let rules = reference_list(rules_node)
        .map_err(|(line, reason)| fail(line, format!("correlation.rules: {reason}")))?;
    let group_node = section
        .get("group-by")
        .ok_or_else(|| fail(section.line, "correlation has no group-by".into()))?;
    let group_by = reference_list(group_node)
        .map_err(|(line, reason)| {
            let reason = reason.replace("rule name or id", "field name");
            let reason = reason.replace("rule names or ids", "field names");
            fail(line, format!("correlation.group-by: {reason}"))
        })?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let timespan_node = section
        .get("timespan")
        .ok_or_else(|| fail(section.line, "correlation has no timespan".into()))?;
    let timespan_us = timespan_node
        .as_str()
        .ok_or_else(|| "must be a number and a unit, such as 90m".to_string())
        .and_then(parse_timespan)
        .map_err(|reason| {
            fail(
                timespan_node.line,
                format!("correlation.timespan: {reason}"),
            )
        })?;
    let (bounds, field, percentile) = match section.get("condition") {
        Some(node) => parse_condition(node, kind).map_err(|(line, r)| fail(line, r))?,
        None if kind.temporal() => (Vec::new(), Vec::new(), None),
        None => {
            return Err(fail(
                section.line,
                format!("correlation has no condition ({type_name} needs one, such as gte: 10)"),
            ));
        }
    };
    let aliases = match section.get("aliases") {
        Some(node) => parse_aliases(node).map_err(|(line, r)| fail(line, r))?,
        None => Vec::new(),
    };
    let generate = match section.get("generate").or_else(|| doc.get("generate")) {
        None => false,
        Some(node) => match node.as_str() {
            Some("true") => true,
            Some("false") => false,
            _ => return Err(fail(node.line, "generate must be true or false".into())),
        },
    };
    let info = CorrelationInfo {
        title,
        title_ja: text(doc.get("title_ja")),
        id: text(doc.get("id")),
        name: text(doc.get("name")),
        status: text(doc.get("status")),
        level: text(doc.get("level")),
        author: text(doc.get("author")),
        description: text(doc.get("description")),
        tags: texts(doc.get("tags")),
        kind: type_name.to_string(),
        origin: Origin {
            file: file.to_string(),
            line: doc.line,
        },
    };
    Ok(CorrelationDoc {
        info,
        kind,
        rules,
        group_by,
        aliases,
        timespan_us,
        bounds,
        field,
        percentile,
        generate,
    })
}

/// `number + unit` (`s`, `m`, `h`, `d`, lower case) in microseconds.
fn parse_timespan(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a number and a unit (s, m, h or d), such as 90m");
    let unit = text.chars().last().ok_or_else(bad)?;
    let scale: i64 = match unit {
        's' => 1_000_000,
        'm' => 60_000_000,
        'h' => 3_600_000_000,
        'd' => 86_400_000_000,
        _ => return Err(bad()),
    };
    let digits = &text[..text.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let count: i64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is too long"))?;
    if count == 0 {
        return Err(format!("{text:?} is empty: a timespan must be positive"));
    }
    count
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too long"))
}

type Condition = (Vec<(Op, f64)>, Vec<String>, Option<f64>);

fn parse_condition(node: &Node, kind: Kind) -> Result<Condition, (usize, String)> {
    let Value::Map(entries) = &node.value else {
        return Err((node.line, "correlation.condition must be a map".into()));
    };
    let mut bounds = Vec::new();
    let mut field = Vec::new();
    let mut percentile = None;
    for (key, value) in entries {
        let name = key.as_str().unwrap_or_default();
        let op = match name {
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "eq" => Op::Eq,
            "neq" => Op::Neq,
            "field" => {
                if !kind.has_field() {
                    return Err((
                        key.line,
                        "correlation.condition.field is only for value_count, value_sum, \
                         value_avg and value_percentile"
                            .into(),
                    ));
                }
                field = match &value.value {
                    Value::Scalar { text, .. } if !text.is_empty() => vec![text.clone()],
                    Value::Seq(items) if kind == Kind::ValueCount && !items.is_empty() => items
                        .iter()
                        .map(|n| n.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            (
                                value.line,
                                "correlation.condition.field: not a field name".into(),
                            )
                        })?,
                    _ => {
                        return Err((
                            value.line,
                            "correlation.condition.field must be a field name (a list of \
                             them only for value_count)"
                                .into(),
                        ));
                    }
                };
                continue;
            }
            "percentile" if kind == Kind::ValuePercentile => {
                let p = number(value)
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| {
                        (
                            value.line,
                            "correlation.condition.percentile must be a number from 0 to 100"
                                .to_string(),
                        )
                    })?;
                percentile = Some(p);
                continue;
            }
            _ => {
                return Err((
                    key.line,
                    format!(
                        "unknown correlation.condition key {name:?} (expected gt, gte, lt, \
                         lte, eq, neq or field)"
                    ),
                ));
            }
        };
        let bound = number(value).ok_or_else(|| {
            (
                value.line,
                format!("correlation.condition.{name} must be a number"),
            )
        })?;
        bounds.push((op, bound));
    }
    if bounds.is_empty() {
        return Err((
            node.line,
            "correlation.condition has no comparison (gt, gte, lt, lte, eq or neq)".into(),
        ));
    }
    if kind.has_field() && field.is_empty() {
        return Err((
            node.line,
            "correlation.condition has no field (the field whose values are aggregated)".into(),
        ));
    }
    Ok((bounds, field, percentile))
}

fn number(node: &Node) -> Option<f64> {
    match &node.value {
        Value::Scalar {
            text,
            quoted: false,
        } => text.parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

type Aliases = Vec<(String, Vec<(String, String, usize)>)>;

fn parse_aliases(node: &Node) -> Result<Aliases, (usize, String)> {
    let Value::Map(entries) = &node.value else {
        return Err((node.line, "correlation.aliases must be a map".into()));
    };
    let mut out = Vec::new();
    for (alias, fields) in entries {
        let alias_name = alias.as_str().unwrap_or_default().to_string();
        let Value::Map(per_rule) = &fields.value else {
            return Err((
                fields.line,
                format!("correlation.aliases.{alias_name} must map rule names to field names"),
            ));
        };
        let mut mapping = Vec::new();
        for (rule, field) in per_rule {
            let field_name = field.as_str().filter(|f| !f.is_empty()).ok_or_else(|| {
                (
                    field.line,
                    format!("correlation.aliases.{alias_name}: the field must be a name"),
                )
            })?;
            mapping.push((
                rule.as_str().unwrap_or_default().to_string(),
                field_name.to_string(),
                rule.line,
            ));
        }
        out.push((alias_name, mapping));
    }
    Ok(out)
}

/// What a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Rule(usize),
    Correlation(usize),
}

/// A correlation ready to evaluate.
#[derive(Debug, Clone)]
pub(crate) struct Correlation {
    pub info: CorrelationInfo,
    kind: Kind,
    pub generate: bool,
    timespan_us: i64,
    bounds: Vec<(Op, f64)>,
    percentile: Option<f64>,
    group_by: Vec<String>,
    /// Per referenced rule (slot): what it is.
    pub slots: Vec<Target>,
    /// Per slot, per group-by entry: the field to read (aliases applied) and its index in
    /// [`Resolved::fields`].
    slot_fields: Vec<Vec<(String, usize)>>,
    value_fields: Vec<usize>,
}

/// Correlations and filters with their references resolved against every rule added.
#[derive(Debug, Default)]
pub(crate) struct Resolved {
    /// Valid correlations, in load order.
    pub correlations: Vec<Correlation>,
    /// Indexes into `correlations`, each after the correlations it references.
    pub order: Vec<usize>,
    /// (rule, filter) pairs to apply.
    pub filters: Vec<(usize, usize)>,
    /// Field names that correlations read (group-by and value fields).
    pub fields: Vec<String>,
    pub errors: Vec<LoadError>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    New,
    Visiting,
    Good,
    Bad,
}

/// Resolves every reference. Names are per file first: a reference to a name defined in its
/// own file (the specification's multi-document example) is not ambiguous because another
/// file uses the same name.
pub(crate) fn resolve(
    rules: &[&RuleInfo],
    docs: &[CorrelationDoc],
    filters: &[FilterDoc],
) -> Resolved {
    let mut index: HashMap<&str, Vec<Target>> = HashMap::new();
    let keys = rules
        .iter()
        .enumerate()
        .flat_map(|(i, r)| [(&r.id, Target::Rule(i)), (&r.name, Target::Rule(i))])
        .chain(docs.iter().enumerate().flat_map(|(i, d)| {
            [
                (&d.info.id, Target::Correlation(i)),
                (&d.info.name, Target::Correlation(i)),
            ]
        }));
    for (key, target) in keys {
        if let Some(key) = key {
            let targets = index.entry(key.as_str()).or_default();
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
    }
    let origin = |t: Target| match t {
        Target::Rule(i) => &rules[i].origin,
        Target::Correlation(i) => &docs[i].info.origin,
    };
    let lookup = |reference: &str, file: &str| -> Result<Target, String> {
        let candidates = index.get(reference).map_or(&[][..], Vec::as_slice);
        match candidates {
            [] => Err(format!(
                "no rule or correlation has the name or id {reference:?}"
            )),
            [one] => Ok(*one),
            many => {
                let local: Vec<Target> = many
                    .iter()
                    .copied()
                    .filter(|t| origin(*t).file == file)
                    .collect();
                match local.as_slice() {
                    [one] => Ok(*one),
                    _ => {
                        let places: Vec<String> = many
                            .iter()
                            .map(|t| format!("{}:{}", origin(*t).file, origin(*t).line))
                            .collect();
                        Err(format!(
                            "{reference:?} is ambiguous: it names {}",
                            places.join(" and ")
                        ))
                    }
                }
            }
        }
    };
    let mut out = Resolved::default();
    let error = |file: &str, line: usize, reason: String| LoadError {
        file: file.to_string(),
        line,
        reason,
    };

    // Filters name detection rules only.
    for (f, filter) in filters.iter().enumerate() {
        for (reference, line) in &filter.rules {
            match lookup(reference, &filter.file) {
                Ok(Target::Rule(r)) => {
                    if covers(&filter.logsource, &rules[r].logsource) {
                        out.filters.push((r, f));
                    } else {
                        out.errors.push(error(
                            &filter.file,
                            *line,
                            format!(
                                "filter {:?} is not applied to rule {reference:?}: its logsource \
                                 ({}) is not within the filter's ({})",
                                filter.title,
                                describe(&rules[r].logsource),
                                describe(&filter.logsource)
                            ),
                        ));
                    }
                }
                Ok(Target::Correlation(_)) => out.errors.push(error(
                    &filter.file,
                    *line,
                    format!("filter.rules: {reference:?} is a correlation; filters apply to detection rules"),
                )),
                Err(reason) => out
                    .errors
                    .push(error(&filter.file, *line, format!("filter.rules: {reason}"))),
            }
        }
    }

    // Correlations: references, then aliases, then chains (cycles, broken links).
    let mut targets: Vec<Vec<Target>> = Vec::with_capacity(docs.len());
    let mut marks = vec![Mark::New; docs.len()];
    for (c, doc) in docs.iter().enumerate() {
        let file = &doc.info.origin.file;
        let mut slots = Vec::new();
        for (reference, line) in &doc.rules {
            match lookup(reference, file) {
                Ok(target) => slots.push(target),
                Err(reason) => {
                    out.errors
                        .push(error(file, *line, format!("correlation.rules: {reason}")));
                    marks[c] = Mark::Bad;
                }
            }
        }
        if marks[c] != Mark::Bad {
            for (alias, mapping) in &doc.aliases {
                for (rule, _, line) in mapping {
                    let known = doc.rules.iter().zip(&slots).any(|((reference, _), t)| {
                        reference == rule || {
                            let (id, name) = match *t {
                                Target::Rule(i) => (&rules[i].id, &rules[i].name),
                                Target::Correlation(i) => (&docs[i].info.id, &docs[i].info.name),
                            };
                            id.as_deref() == Some(rule) || name.as_deref() == Some(rule)
                        }
                    });
                    if !known {
                        out.errors.push(error(
                            file,
                            *line,
                            format!(
                                "correlation.aliases.{alias}: {rule:?} is not one of the \
                                 correlation's rules"
                            ),
                        ));
                        marks[c] = Mark::Bad;
                    }
                }
            }
        }
        targets.push(slots);
    }
    let mut order = Vec::new();
    for c in 0..docs.len() {
        visit(c, docs, &targets, &mut marks, &mut order, &mut out.errors);
    }

    // Number the valid correlations in load order.
    let mut number = vec![usize::MAX; docs.len()];
    for (c, mark) in marks.iter().enumerate() {
        if *mark == Mark::Good {
            number[c] = out.correlations.len();
            out.correlations.push(compile(
                &docs[c],
                &targets[c],
                &number,
                rules,
                docs,
                &mut out.fields,
            ));
        }
    }
    // `number` of a child is known when its parent is compiled only if the child came first;
    // fix the slots up now that every valid one is numbered.
    for (c, doc_index) in (0..docs.len())
        .filter(|&c| marks[c] == Mark::Good)
        .enumerate()
    {
        for (slot, target) in targets[doc_index].iter().enumerate() {
            if let Target::Correlation(child) = target {
                out.correlations[c].slots[slot] = Target::Correlation(number[*child]);
            }
        }
    }
    out.order = order
        .into_iter()
        .filter(|&c| marks[c] == Mark::Good)
        .map(|c| number[c])
        .collect();
    out
}

/// Depth-first over the correlations a correlation references; pushes good ones to `order`
/// after their children.
fn visit(
    c: usize,
    docs: &[CorrelationDoc],
    targets: &[Vec<Target>],
    marks: &mut [Mark],
    order: &mut Vec<usize>,
    errors: &mut Vec<LoadError>,
) -> bool {
    match marks[c] {
        Mark::Good => return true,
        Mark::Bad => return false,
        Mark::Visiting | Mark::New => {}
    }
    marks[c] = Mark::Visiting;
    let doc = &docs[c];
    let mut good = true;
    for (target, (reference, line)) in targets[c].iter().zip(&doc.rules) {
        let Target::Correlation(child) = *target else {
            continue;
        };
        let reason = if marks[child] == Mark::Visiting {
            Some(format!(
                "correlation.rules: {reference:?} leads back to this correlation (a cycle)"
            ))
        } else if !visit(child, docs, targets, marks, order, errors) {
            Some(format!(
                "correlation.rules: {reference:?} is a correlation that could not be loaded"
            ))
        } else {
            None
        };
        if let Some(reason) = reason {
            errors.push(LoadError {
                file: doc.info.origin.file.clone(),
                line: *line,
                reason,
            });
            good = false;
        }
    }
    marks[c] = if good { Mark::Good } else { Mark::Bad };
    if good {
        order.push(c);
    }
    good
}

fn compile(
    doc: &CorrelationDoc,
    targets: &[Target],
    number: &[usize],
    rules: &[&RuleInfo],
    docs: &[CorrelationDoc],
    fields: &mut Vec<String>,
) -> Correlation {
    let mut field_index = |name: &str| match fields.iter().position(|f| f == name) {
        Some(i) => i,
        None => {
            fields.push(name.to_string());
            fields.len() - 1
        }
    };
    let slot_fields = doc
        .rules
        .iter()
        .zip(targets)
        .map(|((reference, _), target)| {
            let (id, name) = match *target {
                Target::Rule(i) => (&rules[i].id, &rules[i].name),
                Target::Correlation(i) => (&docs[i].info.id, &docs[i].info.name),
            };
            doc.group_by
                .iter()
                .map(|group| {
                    let field = doc
                        .aliases
                        .iter()
                        .find(|(alias, _)| alias == group)
                        .and_then(|(_, mapping)| {
                            mapping.iter().find(|(rule, _, _)| {
                                rule == reference
                                    || id.as_deref() == Some(rule)
                                    || name.as_deref() == Some(rule)
                            })
                        })
                        .map_or(group.as_str(), |(_, field, _)| field.as_str());
                    (field.to_string(), field_index(field))
                })
                .collect()
        })
        .collect();
    let value_fields = doc.field.iter().map(|f| field_index(f)).collect();
    Correlation {
        info: doc.info.clone(),
        kind: doc.kind,
        generate: doc.generate,
        timespan_us: doc.timespan_us,
        bounds: doc.bounds.clone(),
        percentile: doc.percentile,
        group_by: doc.group_by.clone(),
        slots: targets
            .iter()
            .map(|t| match *t {
                Target::Correlation(i) => Target::Correlation(number[i]),
                rule => rule,
            })
            .collect(),
        slot_fields,
        value_fields,
    }
}

/// Default for [`Correlator::with_max_groups`].
pub const DEFAULT_MAX_GROUPS: usize = 100_000;
/// Default for [`Correlator::with_max_entries_per_group`].
pub const DEFAULT_MAX_ENTRIES_PER_GROUP: usize = 10_000;
/// The sweep of stale groups runs once per this many observed events.
const SWEEP_EVERY: u64 = 1024;

/// The events behind one entry of a group's window: the caller's id of the event, or the
/// events of a child correlation's hit (a chain), which the parent counts as one event.
#[derive(Debug, Clone)]
enum Ids {
    One(u64),
    Many(Box<[u64]>),
}

impl Ids {
    /// The ids kept on the heap: a group holds at most `max_entries` of them (see [`trim`]).
    fn held(&self) -> usize {
        match self {
            Ids::One(_) => 0,
            Ids::Many(ids) => ids.len(),
        }
    }

    fn add_to(&self, out: &mut Vec<u64>) {
        match self {
            Ids::One(id) => out.push(*id),
            Ids::Many(ids) => out.extend_from_slice(ids),
        }
    }
}

/// Sorted ascending, deduplicated, at most `max` (the highest kept).
fn bounded(mut ids: Vec<u64>, max: usize) -> Vec<u64> {
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > max {
        ids.drain(..ids.len() - max);
    }
    ids
}

/// The events one slot of an update stands for: the event itself (a detection rule matched
/// it) or the events of the child correlation's hit.
fn slot_ids(event: u64, child: Option<usize>, hits: &[CorrelationHit]) -> Ids {
    match child.and_then(|h| hits.get(h)) {
        None => Ids::One(event),
        Some(hit) => Ids::Many(hit.events.clone().into()),
    }
}

/// The events one update of a group stands for when all its slots count as one entry.
fn merged_ids(
    event: u64,
    slots: &[(usize, Option<usize>)],
    hits: &[CorrelationHit],
    max: usize,
) -> Ids {
    if slots.iter().all(|(_, child)| child.is_none()) {
        return Ids::One(event);
    }
    let mut ids = Vec::new();
    for &(_, child) in slots {
        slot_ids(event, child, hits).add_to(&mut ids);
    }
    Ids::Many(bounded(ids, max).into())
}

/// What a group keeps: only what its window needs, each entry with the events behind it.
#[derive(Debug)]
enum State {
    /// `event_count`: event times.
    Count(VecDeque<(i64, Ids)>),
    /// `value_count`, and `value_percentile` without `percentile`: (time, value) and how
    /// often each value is in the window.
    Distinct {
        entries: VecDeque<(i64, Ids, Box<str>)>,
        counts: HashMap<Box<str>, u32>,
    },
    /// `value_sum`, `value_avg`, `value_percentile` with `percentile`: (time, number).
    Numbers {
        entries: VecDeque<(i64, Ids, f64)>,
        sum: f64,
    },
    /// `temporal`: per referenced rule, its latest time.
    Latest(Vec<Option<(i64, Ids)>>),
    /// `temporal_ordered`: per referenced rule, its times.
    Times(Vec<VecDeque<(i64, Ids)>>),
}

/// Keeps a group's chained ids (those of child hits) within `max`: past it, the oldest
/// entries' child events are forgotten (the entries still count).
fn trim(state: &mut State, linked: &mut usize, max: usize) {
    let mut forget = |ids: &mut Ids| {
        if *linked > max
            && let Ids::Many(list) = ids
        {
            *linked -= list.len();
            *list = Box::default();
        }
    };
    match state {
        State::Count(entries) => entries.iter_mut().for_each(|e| forget(&mut e.1)),
        State::Distinct { entries, .. } => entries.iter_mut().for_each(|e| forget(&mut e.1)),
        State::Numbers { entries, .. } => entries.iter_mut().for_each(|e| forget(&mut e.1)),
        State::Latest(latest) => latest.iter_mut().flatten().for_each(|e| forget(&mut e.1)),
        State::Times(per_slot) => per_slot.iter_mut().flatten().for_each(|e| forget(&mut e.1)),
    }
}

#[derive(Debug)]
struct Group {
    /// For least-recently-seen eviction: the correlator's counter when last touched.
    seen: u64,
    /// Time of the newest event of the group: the window ends here.
    newest: i64,
    /// After a hit at `f`: `f + timespan`; no hit while `newest` is not past it.
    muted_until: Option<i64>,
    state: State,
    /// How many ids of child hits `state` holds ([`Ids::held`]), at most `max_entries`.
    linked: usize,
}

/// Evaluates an engine's correlations over a stream of events (see the module doc for the
/// window, re-arm, ordering and memory rules). One per stream.
pub struct Correlator<'e> {
    engine: &'e Engine,
    /// Per correlation: groups by encoded key (see [`encode`]).
    groups: Vec<HashMap<Box<str>, Group, foldhash::fast::RandomState>>,
    group_total: usize,
    max_groups: usize,
    max_entries: usize,
    touches: u64,
    observed: u64,
    /// Newest event time seen over all groups.
    now: i64,
    /// The event's values of the fields correlations read, in `values` (reused).
    text: String,
    spans: Vec<Option<(usize, usize, Option<f64>)>>,
    key: String,
}

/// Per group key: (slot, child hit) of each trigger of the current event.
type Keyed = Vec<(String, Vec<(usize, Option<usize>)>)>;

/// One referenced rule (or child correlation) matched by the current event.
struct Trigger {
    correlation: usize,
    slot: usize,
    /// A child correlation's hit (index into the hits of this event).
    child: Option<usize>,
}

impl Engine {
    /// A correlator over this engine's correlations, with the default bounds.
    pub fn correlator(&self) -> Correlator<'_> {
        Correlator {
            engine: self,
            groups: (0..self.correlation_count())
                .map(|_| HashMap::default())
                .collect(),
            group_total: 0,
            max_groups: DEFAULT_MAX_GROUPS,
            max_entries: DEFAULT_MAX_ENTRIES_PER_GROUP,
            touches: 0,
            observed: 0,
            now: i64::MIN,
            text: String::new(),
            spans: vec![None; self.correlation_fields().len()],
            key: String::new(),
        }
    }
}

impl Correlator<'_> {
    /// At most this many groups are tracked over all correlations (at least 1); past it, the
    /// least recently seen tenth are dropped.
    pub fn with_max_groups(mut self, max: usize) -> Self {
        self.max_groups = max.max(1);
        self
    }

    /// At most this many events are kept per group (at least 1); past it the oldest are
    /// dropped, so counts saturate there.
    pub fn with_max_entries_per_group(mut self, max: usize) -> Self {
        self.max_entries = max.max(1);
        self
    }

    /// How many groups are tracked now.
    pub fn group_count(&self) -> usize {
        self.group_total
    }

    /// Feeds one event: its time, the caller's id for it (opaque, reported in
    /// [`CorrelationHit::events`]), the detection rules it matched (as the Evaluator returned
    /// them, silent rules included) and the event itself. Returns the correlations that fire
    /// with it; intermediate correlations referenced only with `generate: false` feed the
    /// correlations above them but are not returned.
    pub fn observe<R: Record>(
        &mut self,
        time_us: i64,
        event: u64,
        matched: &[usize],
        record: &R,
    ) -> Vec<CorrelationHit> {
        let engine = self.engine;
        let mut out = Vec::new();
        self.observed += 1;
        self.now = self.now.max(time_us);
        if self.observed.is_multiple_of(SWEEP_EVERY) {
            self.sweep();
        }
        let mut triggers: Vec<Trigger> = Vec::new();
        for &rule in matched {
            for &(correlation, slot) in engine.rule_correlations(rule) {
                triggers.push(Trigger {
                    correlation,
                    slot,
                    child: None,
                });
            }
        }
        if triggers.is_empty() {
            return out;
        }
        self.read(record);
        // Every hit of this event, silent ones included: parents read them.
        let mut hits: Vec<CorrelationHit> = Vec::new();
        for &c in engine.correlation_order() {
            let Some(correlation) = engine.correlation_def(c) else {
                continue;
            };
            // Group this correlation's triggers by key; one event counts once per group.
            let mut keyed: Keyed = Vec::new();
            for trigger in triggers.iter().filter(|t| t.correlation == c) {
                let child = trigger.child.and_then(|h| hits.get(h));
                if !self.encode(correlation, trigger.slot, child) {
                    continue;
                }
                match keyed.iter_mut().find(|(k, _)| *k == self.key) {
                    Some((_, slots)) => slots.push((trigger.slot, trigger.child)),
                    None => keyed.push((self.key.clone(), vec![(trigger.slot, trigger.child)])),
                }
            }
            for (key, slots) in keyed {
                let hit = self.update(c, correlation, &key, &slots, (time_us, event), &hits);
                if let Some(hit) = hit {
                    for &(parent, slot) in engine.correlation_parents(c) {
                        triggers.push(Trigger {
                            correlation: parent,
                            slot,
                            child: Some(hits.len()),
                        });
                    }
                    hits.push(hit);
                }
            }
        }
        if self.group_total > self.max_groups {
            self.evict();
        }
        for hit in hits {
            if !engine.correlation_is_silent(hit.correlation) {
                out.push(hit);
            }
        }
        out
    }

    /// Copies the values of the fields correlations read (the first value of each).
    fn read<R: Record>(&mut self, record: &R) {
        self.text.clear();
        self.spans.fill(None);
        let fields = self.engine.correlation_fields_index();
        for (name, value) in record.fields() {
            let Some(&index) = fields.get(name) else {
                continue;
            };
            if self.spans.get(index).is_none_or(Option::is_some) {
                continue;
            }
            let start = self.text.len();
            let number = match value {
                FieldValue::Str(s) => {
                    self.text.push_str(s);
                    s.trim().parse::<f64>().ok().filter(|x| x.is_finite())
                }
                FieldValue::Int(n) => {
                    use std::fmt::Write;
                    let _ = write!(self.text, "{n}");
                    Some(n as f64)
                }
                FieldValue::Float(x) => {
                    use std::fmt::Write;
                    let _ = write!(self.text, "{x}");
                    Some(x).filter(|x| x.is_finite())
                }
                FieldValue::Bool(b) => {
                    self.text.push_str(if b { "true" } else { "false" });
                    None
                }
                // A null is no value: such an event has no group or value for this field.
                FieldValue::Null => continue,
            };
            self.spans[index] = Some((start, self.text.len(), number));
        }
    }

    fn field_text(&self, index: usize) -> Option<&str> {
        let (start, end, _) = (*self.spans.get(index)?)?;
        self.text.get(start..end)
    }

    /// Builds the group key of a trigger into `self.key`: each value as `length:value`, so
    /// values may hold any character. A child correlation's hit provides its own group values
    /// first. `false` if a group-by field is missing (the event is not counted, as a SIEM's
    /// `stats ... by` drops events without the field).
    fn encode(
        &mut self,
        correlation: &Correlation,
        slot: usize,
        child: Option<&CorrelationHit>,
    ) -> bool {
        use std::fmt::Write;
        self.key.clear();
        let Some(fields) = correlation.slot_fields.get(slot) else {
            return false;
        };
        for (name, index) in fields {
            let from_child = child.and_then(|hit| {
                hit.group
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            });
            let value = match from_child {
                Some(v) => v,
                None => match self.field_text(*index) {
                    Some(v) => v,
                    None => return false,
                },
            };
            // The borrow of `self.text` ends before `self.key` is written: copy via a local.
            let value = value.to_string();
            let _ = write!(self.key, "{}:{}", value.len(), value);
        }
        true
    }

    /// Counts one event (time, caller's id) for one group; `slots` are the referenced rules
    /// or child correlations it stands for, the latter with their hit in `hits`. Returns the
    /// hit if the condition now holds.
    fn update(
        &mut self,
        c: usize,
        correlation: &Correlation,
        key: &str,
        slots: &[(usize, Option<usize>)],
        (time, event): (i64, u64),
        hits: &[CorrelationHit],
    ) -> Option<CorrelationHit> {
        let span = correlation.timespan_us;
        // The event's aggregated value: read before the group is borrowed.
        let value_text = if correlation.value_fields.is_empty() {
            None
        } else {
            let mut joined = String::new();
            for &f in &correlation.value_fields {
                let text = self.field_text(f)?;
                joined.push_str(&format!("{}:{}", text.len(), text));
            }
            Some(joined)
        };
        let value_number = correlation
            .value_fields
            .first()
            .and_then(|&f| self.spans.get(f).copied().flatten())
            .and_then(|(_, _, n)| n);
        let needs_number = matches!(correlation.kind, Kind::ValueSum | Kind::ValueAvg)
            || (correlation.kind == Kind::ValuePercentile && correlation.percentile.is_some());
        if needs_number && value_number.is_none() {
            return None;
        }
        self.touches += 1;
        let seen = self.touches;
        let max_entries = self.max_entries;
        let groups = self.groups.get_mut(c)?;
        if !groups.contains_key(key) {
            groups.insert(
                key.into(),
                Group {
                    seen,
                    newest: i64::MIN,
                    muted_until: None,
                    state: new_state(correlation),
                    linked: 0,
                },
            );
            self.group_total += 1;
        }
        let group = groups.get_mut(key)?;
        group.seen = seen;
        if time < group.newest.saturating_sub(span) {
            return None; // Too late: its window is gone.
        }
        group.newest = group.newest.max(time);
        let horizon = group.newest.saturating_sub(span);
        let linked = &mut group.linked;
        match &mut group.state {
            State::Count(times) => {
                let ids = merged_ids(event, slots, hits, max_entries);
                *linked += ids.held();
                insert_sorted(times, (time, ids), |e| e.0);
                while times.front().is_some_and(|e| e.0 < horizon) || times.len() > max_entries {
                    if let Some((_, ids)) = times.pop_front() {
                        *linked -= ids.held();
                    }
                }
            }
            State::Distinct { entries, counts } => {
                let value: Box<str> = value_text.clone()?.into();
                *counts.entry(value.clone()).or_default() += 1;
                let ids = merged_ids(event, slots, hits, max_entries);
                *linked += ids.held();
                insert_sorted(entries, (time, ids, value), |e| e.0);
                while entries.front().is_some_and(|e| e.0 < horizon) || entries.len() > max_entries
                {
                    if let Some((_, ids, old)) = entries.pop_front() {
                        *linked -= ids.held();
                        if let Some(n) = counts.get_mut(&old) {
                            *n -= 1;
                            if *n == 0 {
                                counts.remove(&old);
                            }
                        }
                    }
                }
            }
            State::Numbers { entries, sum } => {
                let x = value_number?;
                *sum += x;
                let ids = merged_ids(event, slots, hits, max_entries);
                *linked += ids.held();
                insert_sorted(entries, (time, ids, x), |e| e.0);
                while entries.front().is_some_and(|e| e.0 < horizon) || entries.len() > max_entries
                {
                    if let Some((_, ids, old)) = entries.pop_front() {
                        *linked -= ids.held();
                        *sum -= old;
                    }
                }
                if entries.is_empty() {
                    *sum = 0.0;
                }
            }
            State::Latest(latest) => {
                for &(slot, child) in slots {
                    if let Some(l) = latest.get_mut(slot)
                        && l.as_ref().is_none_or(|(t, _)| *t <= time)
                    {
                        let ids = slot_ids(event, child, hits);
                        *linked += ids.held();
                        if let Some((_, old)) = l.replace((time, ids)) {
                            *linked -= old.held();
                        }
                    }
                }
                for l in latest.iter_mut() {
                    if l.as_ref().is_some_and(|(t, _)| *t < horizon)
                        && let Some((_, old)) = l.take()
                    {
                        *linked -= old.held();
                    }
                }
            }
            State::Times(per_slot) => {
                for &(slot, child) in slots {
                    if let Some(times) = per_slot.get_mut(slot) {
                        let ids = slot_ids(event, child, hits);
                        *linked += ids.held();
                        insert_sorted(times, (time, ids), |e| e.0);
                    }
                }
                for times in per_slot.iter_mut() {
                    while times.front().is_some_and(|e| e.0 < horizon) || times.len() > max_entries
                    {
                        if let Some((_, ids)) = times.pop_front() {
                            *linked -= ids.held();
                        }
                    }
                }
            }
        }
        if group.linked > max_entries {
            trim(&mut group.state, &mut group.linked, max_entries);
        }
        if let Some(until) = group.muted_until {
            if group.newest <= until {
                return None;
            }
            group.muted_until = None;
        }
        let (value, first) = measure(correlation, &group.state, value_text.as_deref())?;
        let holds = if correlation.bounds.is_empty() {
            // Temporal types without a condition: every referenced rule.
            value >= correlation.slots.len() as f64
        } else {
            correlation
                .bounds
                .iter()
                .all(|(op, bound)| op.holds(value, *bound))
        };
        if !holds {
            return None;
        }
        let last = group.newest;
        let events = hit_events(&group.state, max_entries);
        group.muted_until = Some(last.saturating_add(span));
        group.state = new_state(correlation);
        group.linked = 0;
        Some(CorrelationHit {
            correlation: c,
            group: correlation
                .group_by
                .iter()
                .cloned()
                .zip(decode(key))
                .collect(),
            first_us: first,
            last_us: last,
            value,
            events,
        })
    }

    /// Drops the least recently seen tenth of the groups (at least down to the cap).
    fn evict(&mut self) {
        let target = self.max_groups - self.max_groups / 10;
        let excess = self.group_total.saturating_sub(target);
        if excess == 0 {
            return;
        }
        let mut seen: Vec<u64> = self
            .groups
            .iter()
            .flat_map(|g| g.values().map(|group| group.seen))
            .collect();
        // `seen` values are distinct (one counter), so exactly `excess` are at or below it.
        let (_, threshold, _) = seen.select_nth_unstable(excess - 1);
        let threshold = *threshold;
        for groups in &mut self.groups {
            groups.retain(|_, group| group.seen > threshold);
        }
        self.group_total = self.groups.iter().map(HashMap::len).sum();
    }

    /// Drops groups the stream has left behind: newest event more than two timespans before
    /// the newest event seen at all (one timespan of slack for streams of different sources
    /// running a little apart), and not muted any more.
    fn sweep(&mut self) {
        let now = self.now;
        for (c, groups) in self.groups.iter_mut().enumerate() {
            let span = self.engine.correlation_def(c).map_or(0, |d| d.timespan_us);
            let stale = now.saturating_sub(span.saturating_mul(2));
            groups.retain(|_, g| g.newest >= stale || g.muted_until.is_some_and(|m| m >= now));
        }
        self.group_total = self.groups.iter().map(HashMap::len).sum();
    }
}

fn new_state(correlation: &Correlation) -> State {
    let slots = correlation.slots.len();
    match correlation.kind {
        Kind::EventCount => State::Count(VecDeque::new()),
        Kind::ValueCount => State::Distinct {
            entries: VecDeque::new(),
            counts: HashMap::new(),
        },
        Kind::ValuePercentile if correlation.percentile.is_none() => State::Distinct {
            entries: VecDeque::new(),
            counts: HashMap::new(),
        },
        Kind::ValueSum | Kind::ValueAvg | Kind::ValuePercentile => State::Numbers {
            entries: VecDeque::new(),
            sum: 0.0,
        },
        Kind::Temporal => State::Latest(vec![None; slots]),
        Kind::TemporalOrdered => State::Times(vec![VecDeque::new(); slots]),
    }
}

/// Inserts keeping time order; in-order events (the usual case) are appended.
fn insert_sorted<T>(items: &mut VecDeque<T>, item: T, time: impl Fn(&T) -> i64) {
    let t = time(&item);
    if items.back().is_none_or(|last| time(last) <= t) {
        items.push_back(item);
    } else {
        let at = items.partition_point(|x| time(x) <= t);
        items.insert(at, item);
    }
}

/// The window's value and the time of its earliest event.
fn measure(correlation: &Correlation, state: &State, current: Option<&str>) -> Option<(f64, i64)> {
    match state {
        State::Count(times) => Some((times.len() as f64, times.front()?.0)),
        State::Distinct { entries, counts } => {
            let first = entries.front()?.0;
            if correlation.kind == Kind::ValueCount {
                return Some((counts.len() as f64, first));
            }
            // value_percentile as the specification writes it: the share (in percent) of the
            // window's values that are this event's value, so `lte: 1` finds a value seen in
            // at most 1 % of the group's events.
            let mine = counts.get(current?).copied().unwrap_or(0);
            Some((100.0 * f64::from(mine) / entries.len() as f64, first))
        }
        State::Numbers { entries, sum } => {
            let first = entries.front()?.0;
            let n = entries.len() as f64;
            let value = match (correlation.kind, correlation.percentile) {
                (Kind::ValueSum, _) => *sum,
                (Kind::ValueAvg, _) => *sum / n,
                (_, Some(p)) => {
                    // Nearest rank, exact over the window.
                    let mut values: Vec<f64> = entries.iter().map(|e| e.2).collect();
                    values.sort_by(f64::total_cmp);
                    let rank = ((p / 100.0) * n).ceil().max(1.0) as usize;
                    *values.get(rank.min(values.len()) - 1)?
                }
                _ => return None,
            };
            Some((value, first))
        }
        State::Latest(latest) => {
            let present: Vec<i64> = latest.iter().flatten().map(|e| e.0).collect();
            Some((present.len() as f64, *present.iter().min()?))
        }
        State::Times(per_slot) => {
            let sequence = in_order(per_slot);
            Some((sequence.len() as f64, sequence.first()?.0))
        }
    }
}

/// `temporal_ordered`: the longest prefix of the rules seen in order, each at or after the
/// previous one, one entry per rule; taking the earliest candidate each time finds the longest.
fn in_order(per_slot: &[VecDeque<(i64, Ids)>]) -> Vec<&(i64, Ids)> {
    let mut at = i64::MIN;
    let mut sequence = Vec::new();
    for times in per_slot {
        let i = times.partition_point(|e| e.0 < at);
        let Some(entry) = times.get(i) else {
            break;
        };
        at = entry.0;
        sequence.push(entry);
    }
    sequence
}

/// The events behind a hit (see [`CorrelationHit::events`]).
fn hit_events(state: &State, max: usize) -> Vec<u64> {
    let mut out = Vec::new();
    match state {
        State::Count(entries) => entries.iter().for_each(|e| e.1.add_to(&mut out)),
        State::Distinct { entries, .. } => entries.iter().for_each(|e| e.1.add_to(&mut out)),
        State::Numbers { entries, .. } => entries.iter().for_each(|e| e.1.add_to(&mut out)),
        State::Latest(latest) => latest.iter().flatten().for_each(|e| e.1.add_to(&mut out)),
        State::Times(per_slot) => in_order(per_slot)
            .into_iter()
            .for_each(|e| e.1.add_to(&mut out)),
    }
    bounded(out, max)
}

/// The values of an encoded group key.
fn decode(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = key;
    while let Some((len, tail)) = rest.split_once(':') {
        let Ok(len) = len.parse::<usize>() else {
            break;
        };
        let Some(value) = tail.get(..len) else {
            break;
        };
        out.push(value.to_string());
        rest = &tail[len..];
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn timespans_take_seconds_minutes_hours_and_days() {
        assert_eq!(parse_timespan("90m"), Ok(90 * 60_000_000));
        assert_eq!(parse_timespan("1s"), Ok(1_000_000));
        assert_eq!(parse_timespan("2h"), Ok(7_200_000_000));
        assert_eq!(parse_timespan("1d"), Ok(86_400_000_000));
        for bad in ["", "m", "10", "10M", "1w", "-1m", "1.5h", "0s", " 5m"] {
            assert!(parse_timespan(bad).is_err(), "{bad}");
        }
        assert!(parse_timespan("99999999999999999d").is_err());
    }

    #[test]
    fn keys_encode_any_value_and_decode_back() {
        let key = "3:a:b0:5:12345";
        assert_eq!(decode(key), vec!["a:b", "", "12345"]);
    }

    #[test]
    fn out_of_order_items_are_inserted_in_time_order() {
        let mut items = VecDeque::from(vec![1, 5, 9]);
        insert_sorted(&mut items, 6, |t| *t);
        insert_sorted(&mut items, 10, |t| *t);
        insert_sorted(&mut items, 0, |t| *t);
        assert_eq!(items, VecDeque::from(vec![0, 1, 5, 6, 9, 10]));
    }

    #[test]
    fn conditions_compare_as_written() {
        assert!(Op::Gt.holds(2.0, 1.0) && !Op::Gt.holds(1.0, 1.0));
        assert!(Op::Gte.holds(1.0, 1.0) && !Op::Gte.holds(0.0, 1.0));
        assert!(Op::Lt.holds(0.0, 1.0) && !Op::Lt.holds(1.0, 1.0));
        assert!(Op::Lte.holds(1.0, 1.0) && !Op::Lte.holds(2.0, 1.0));
        assert!(Op::Eq.holds(1.0, 1.0) && !Op::Eq.holds(2.0, 1.0));
        assert!(Op::Neq.holds(2.0, 1.0) && !Op::Neq.holds(1.0, 1.0));
    }
}
