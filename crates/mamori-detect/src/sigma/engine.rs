//! Many rules over many events, at a cost that grows slowly with the number of rules.
//!
//! Three things keep the per-event cost down:
//! - **Field ids.** Rules name fields; compiling gives each name a small id, and each event is
//!   read once into a table by id, its texts lower-cased once. Matchers never hash names.
//! - **Log source routes.** A rule for `windows/sysmon/process_creation` is never tried on a
//!   Security logon; the rules that can apply to a log source are worked out once and kept.
//! - **Literal prefilter.** From each rule's condition we derive literals at least one of which
//!   any matching event must contain in a given field (the most selective ANDed item; the
//!   union over ORed branches; nothing under `not`). One Aho–Corasick automaton per field finds
//!   all of them in one pass over the field's text, and only the rules whose literals were seen
//!   are evaluated. Rules without such literals (regexes only, numbers only, negations) are
//!   always evaluated for their log source.

use std::collections::HashMap;
use std::path::Path;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::correlation::{self, Correlation, CorrelationDoc, CorrelationInfo, Target};
use super::filter::{self, FilterDoc};
use super::matcher::{Entry, EntryKind, FieldId, Matcher, NONE, View};
use super::rule::{Cond, Detection, LoadError, LogSource, RuleInfo, compile_rule};

/// Where an event comes from, in Sigma's terms: rules whose `logsource` names another product,
/// service or category are not tried on it. An event may belong to several categories (a
/// Sysmon registry value set is both `registry_set` and `registry_event`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EventSource {
    pub product: Option<String>,
    pub service: Option<String>,
    pub categories: Vec<String>,
}
use super::value::{FieldTable, Item};
use super::yaml;

/// A field value of an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

/// An event as the engine reads it: named values (a name may repeat for a list).
pub trait Record {
    fn fields(&self) -> impl Iterator<Item = (&str, FieldValue<'_>)>;
}

/// A flat JSON object: scalars, and lists of scalars as repeated values. Nested objects are
/// not fields (flatten them first).
impl Record for serde_json::Map<String, serde_json::Value> {
    fn fields(&self) -> impl Iterator<Item = (&str, FieldValue<'_>)> {
        self.iter().flat_map(|(name, value)| {
            let values: Box<dyn Iterator<Item = &serde_json::Value>> = match value {
                serde_json::Value::Array(items) => Box::new(items.iter()),
                other => Box::new(std::iter::once(other)),
            };
            values.filter_map(move |v| json_value(v).map(|v| (name.as_str(), v)))
        })
    }
}

/// A JSON scalar as a field value (`None` for lists and objects).
pub(crate) fn json_value(value: &serde_json::Value) -> Option<FieldValue<'_>> {
    Some(match value {
        serde_json::Value::String(s) => FieldValue::Str(s),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => FieldValue::Int(i),
            None => FieldValue::Float(n.as_f64()?),
        },
        serde_json::Value::Bool(b) => FieldValue::Bool(*b),
        serde_json::Value::Null => FieldValue::Null,
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => return None,
    })
}

#[derive(Default)]
struct Fields {
    ids: HashMap<String, FieldId>,
    placeholders: HashMap<String, Vec<String>>,
}

impl FieldTable for Fields {
    fn field_id(&mut self, name: &str) -> FieldId {
        let next = FieldId::try_from(self.ids.len()).unwrap_or(NONE - 1);
        *self.ids.entry(name.to_string()).or_insert(next)
    }

    fn placeholder(&self, name: &str) -> Option<&[String]> {
        self.placeholders.get(name).map(Vec::as_slice)
    }
}

struct Rule {
    info: RuleInfo,
    detection: Detection,
}

/// Collects rules, correlations and filters; [`EngineBuilder::build`] indexes them.
#[derive(Default)]
pub struct EngineBuilder {
    fields: Fields,
    rules: Vec<Rule>,
    correlations: Vec<CorrelationDoc>,
    filters: Vec<FilterDoc>,
    errors: Vec<LoadError>,
    /// `errors` plus the reference errors of correlations and filters, which can only be
    /// told once every file is in: worked out on demand, forgotten on every add.
    all_errors: std::sync::OnceLock<Vec<LoadError>>,
    no_prefilter: bool,
}

impl EngineBuilder {
    pub fn new() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The values of `%name%` placeholders in `|expand` values (set before adding rules):
    /// a value naming a placeholder becomes one alternative per placeholder value.
    pub fn placeholders(mut self, placeholders: HashMap<String, Vec<String>>) -> EngineBuilder {
        self.fields.placeholders = placeholders;
        self
    }

    /// Adds every document of a YAML text (detection rules, correlations, filters; `---`
    /// separates them); returns how many were added. Documents that cannot be used are
    /// recorded in [`EngineBuilder::errors`] with their line. What correlations and filters
    /// reference is resolved against everything added, in any order of files.
    pub fn add_yaml(&mut self, file: &str, text: &str) -> usize {
        self.all_errors = std::sync::OnceLock::new();
        let documents = match yaml::parse_documents(text) {
            Ok(documents) => documents,
            Err(e) => {
                self.errors.push(LoadError {
                    file: file.to_string(),
                    line: e.line,
                    reason: format!("not valid YAML: {}", e.reason),
                });
                return 0;
            }
        };
        let mut added = 0;
        for doc in &documents {
            if doc.get("correlation").is_some() {
                match correlation::parse_correlation(file, doc) {
                    Ok(c) => {
                        self.correlations.push(c);
                        added += 1;
                    }
                    Err(e) => self.errors.push(e),
                }
                continue;
            }
            if doc.get("filter").is_some() {
                match filter::parse_filter(file, doc, &mut self.fields) {
                    Ok(f) => {
                        self.filters.push(f);
                        added += 1;
                    }
                    Err(e) => self.errors.push(e),
                }
                continue;
            }
            let unsupported = if doc.get("action").is_some() {
                Some("multi-document actions (global, reset, repeat) are not supported")
            } else {
                None
            };
            if let Some(reason) = unsupported {
                self.errors.push(LoadError {
                    file: file.to_string(),
                    line: doc.line,
                    reason: reason.to_string(),
                });
                continue;
            }
            match compile_rule(file, doc, &mut self.fields) {
                Ok((info, detection)) => {
                    self.rules.push(Rule { info, detection });
                    added += 1;
                }
                Err(e) => self.errors.push(e),
            }
        }
        added
    }

    /// Adds every `.yml` / `.yaml` file under `path` (or the file itself), in name order.
    pub fn add_path(&mut self, path: &Path) -> std::io::Result<usize> {
        let mut files = Vec::new();
        collect_yaml(path, &mut files)?;
        files.sort();
        let mut added = 0;
        for file in files {
            let name = file.display().to_string();
            match std::fs::read(&file) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => added += self.add_yaml(&name, &text),
                    Err(e) => self.errors.push(LoadError {
                        file: name,
                        line: 0,
                        reason: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
                    }),
                },
                Err(e) => self.errors.push(LoadError {
                    file: name,
                    line: 0,
                    reason: e.to_string(),
                }),
            }
        }
        Ok(added)
    }

    /// Evaluates every rule of an event's log source, without the literal prefilter: slower,
    /// for checking that the prefilter never loses a match.
    pub fn without_prefilter(mut self) -> EngineBuilder {
        self.no_prefilter = true;
        self
    }

    /// Documents that were not added, and why; and correlations and filters whose references
    /// do not resolve against what has been added so far (such a correlation is left out of
    /// the engine; a filter is left off the rules it cannot apply to).
    pub fn errors(&self) -> &[LoadError] {
        if self.correlations.is_empty() && self.filters.is_empty() {
            return &self.errors;
        }
        self.all_errors.get_or_init(|| {
            let mut all = self.errors.clone();
            all.extend(self.resolve().errors);
            all
        })
    }

    fn resolve(&self) -> correlation::Resolved {
        let infos: Vec<&RuleInfo> = self.rules.iter().map(|r| &r.info).collect();
        correlation::resolve(&infos, &self.correlations, &self.filters)
    }

    pub fn build(mut self) -> Engine {
        let resolved = self.resolve();
        for &(rule, f) in &resolved.filters {
            if let (Some(rule), Some(f)) = (self.rules.get_mut(rule), self.filters.get(f)) {
                filter::apply(&mut rule.detection, &f.detection);
            }
        }
        let correlations = Correlations::new(resolved, self.rules.len());
        let field_count = self.fields.ids.len();
        let mut field_needles: Vec<Vec<(String, u32)>> = vec![Vec::new(); field_count];
        let mut keyword_needles = Vec::new();
        let mut prefiltered = Vec::with_capacity(self.rules.len());
        let mut has_keywords = false;
        let mut frequencies = Frequencies::new();
        for rule in &self.rules {
            let mut seen = std::collections::HashSet::new();
            for item in rule.detection.selections.iter().flatten().flatten() {
                for needle in &item.needles {
                    if seen.insert((item.field, needle.as_str())) {
                        *frequencies.entry((item.field, needle.clone())).or_default() += 1;
                    }
                }
            }
        }
        for (index, rule) in self.rules.iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            has_keywords |= rule
                .detection
                .selections
                .iter()
                .flatten()
                .flatten()
                .any(|item| item.field.is_none());
            let need = if self.no_prefilter {
                Need::Always
            } else {
                need(&rule.detection.condition, &rule.detection, &frequencies)
            };
            match need {
                Need::Always => prefiltered.push(false),
                Need::Any(needles) => {
                    prefiltered.push(true);
                    for (field, needle) in needles {
                        match field {
                            Some(f) => field_needles[f as usize].push((needle, index)),
                            None => keyword_needles.push((needle, index)),
                        }
                    }
                }
            }
        }
        let mut names: Vec<(String, FieldId)> = self.fields.ids.into_iter().collect();
        names.sort_by_key(|(_, id)| *id);
        let mut filter = |needles| {
            LiteralFilter::new(needles).unwrap_or_else(|rules| {
                for rule in rules {
                    prefiltered[rule as usize] = false;
                }
                None
            })
        };
        let field_filters = field_needles.into_iter().map(&mut filter).collect();
        let keyword_filter = filter(keyword_needles);
        Engine {
            field_ids: names
                .iter()
                .map(|(n, id)| (n.clone().into_boxed_str(), *id))
                .collect(),
            field_filters,
            keyword_filter,
            has_keywords,
            prefiltered,
            rules: self.rules,
            correlations,
        }
    }
}

/// The engine's correlations and the tables [`correlation::Correlator`] walks.
#[derive(Default)]
struct Correlations {
    list: Vec<Correlation>,
    order: Vec<usize>,
    /// Per detection rule: (correlation, slot) referencing it.
    by_rule: Vec<Vec<(usize, usize)>>,
    /// Per correlation: (parent correlation, slot) referencing it.
    parents: Vec<Vec<(usize, usize)>>,
    silent_rules: Vec<bool>,
    silent: Vec<bool>,
    fields: Vec<String>,
    field_index: HashMap<Box<str>, usize, foldhash::fast::RandomState>,
}

impl Correlations {
    fn new(resolved: correlation::Resolved, rule_count: usize) -> Correlations {
        let count = resolved.correlations.len();
        let mut by_rule = vec![Vec::new(); rule_count];
        let mut parents = vec![Vec::new(); count];
        // Silent: referenced, and only by correlations with `generate: false` (the default).
        let mut referenced_rules = vec![(false, false); rule_count];
        let mut referenced = vec![(false, false); count];
        for (c, correlation) in resolved.correlations.iter().enumerate() {
            for (slot, target) in correlation.slots.iter().enumerate() {
                let (list, seen) = match *target {
                    Target::Rule(r) => (by_rule.get_mut(r), referenced_rules.get_mut(r)),
                    Target::Correlation(k) => (parents.get_mut(k), referenced.get_mut(k)),
                };
                if let Some(list) = list {
                    list.push((c, slot));
                }
                if let Some((any, generated)) = seen {
                    *any = true;
                    *generated |= correlation.generate;
                }
            }
        }
        let silent = |flags: Vec<(bool, bool)>| {
            flags
                .into_iter()
                .map(|(any, generated)| any && !generated)
                .collect()
        };
        Correlations {
            order: resolved.order,
            by_rule,
            parents,
            silent_rules: silent(referenced_rules),
            silent: silent(referenced),
            field_index: resolved
                .fields
                .iter()
                .enumerate()
                .map(|(i, f)| (f.clone().into_boxed_str(), i))
                .collect(),
            fields: resolved.fields,
            list: resolved.correlations,
        }
    }
}

fn collect_yaml(path: &Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            collect_yaml(&entry?.path(), out)?;
        }
    } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Literals a matching event must contain (one of), per field; `Always` when none can be told.
enum Need {
    Always,
    Any(Vec<(Option<FieldId>, String)>),
}

/// How many rules use each (field, literal): a literal many rules share (`\powershell.exe`)
/// is a common value, so it makes a poor filter.
type Frequencies = HashMap<(Option<FieldId>, String), usize>;

impl Need {
    /// Roughly how often this need lets an event through: lower is more selective. Each
    /// literal counts by how many rules share it and, a little, by how short it is.
    fn cost(&self, frequencies: &Frequencies) -> f64 {
        match self {
            Need::Always => f64::INFINITY,
            Need::Any(needles) => needles
                .iter()
                .map(|key| {
                    let shared = frequencies.get(key).copied().unwrap_or(1) as f64;
                    shared + 16.0 / key.1.len().max(1) as f64
                })
                .sum(),
        }
    }
}

fn need(cond: &Cond, detection: &Detection, frequencies: &Frequencies) -> Need {
    match cond {
        Cond::Selection(i) => detection.selections.get(*i).map_or(Need::Always, |groups| {
            any_of(
                groups
                    .iter()
                    .map(|items| all_of(items.iter().map(item_need), frequencies)),
            )
        }),
        Cond::Not(_) => Need::Always,
        Cond::And(terms) => all_of(
            terms.iter().map(|t| need(t, detection, frequencies)),
            frequencies,
        ),
        Cond::Or(terms) => any_of(terms.iter().map(|t| need(t, detection, frequencies))),
    }
}

fn item_need(item: &Item) -> Need {
    if item.needles.is_empty() {
        Need::Always
    } else {
        Need::Any(
            item.needles
                .iter()
                .map(|n| (item.field, n.clone()))
                .collect(),
        )
    }
}

/// For terms that must all hold: the most selective term's literals.
fn all_of(needs: impl Iterator<Item = Need>, frequencies: &Frequencies) -> Need {
    needs
        .filter(|n| matches!(n, Need::Any(_)))
        .map(|n| (n.cost(frequencies), n))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(Need::Always, |(_, n)| n)
}

/// For terms one of which must hold: every term's literals, if every term has some.
fn any_of(needs: impl Iterator<Item = Need>) -> Need {
    let mut all = Vec::new();
    for n in needs {
        match n {
            Need::Always => return Need::Always,
            Need::Any(v) => all.extend(v),
        }
    }
    if all.is_empty() {
        Need::Always
    } else {
        Need::Any(all)
    }
}

/// One automaton over the literals of one field (or of keywords), and the rules of each.
struct LiteralFilter {
    automaton: AhoCorasick,
    rules: Vec<Vec<u32>>,
}

impl LiteralFilter {
    /// `Ok(None)` without literals; `Err(rules)` in the unlikely case no automaton can be
    /// built, naming the rules that then have to be evaluated on every event.
    fn new(needles: Vec<(String, u32)>) -> Result<Option<LiteralFilter>, Vec<u32>> {
        if needles.is_empty() {
            return Ok(None);
        }
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut patterns = Vec::new();
        let mut rules: Vec<Vec<u32>> = Vec::new();
        for (needle, rule) in needles {
            let id = *ids.entry(needle.clone()).or_insert_with(|| {
                patterns.push(needle);
                rules.push(Vec::new());
                patterns.len() - 1
            });
            if rules[id].last() != Some(&rule) {
                rules[id].push(rule);
            }
        }
        // A DFA is the fastest to search; past its size limits, the default (an NFA) will do.
        let build = |kind| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .kind(kind)
                .build(&patterns)
        };
        match build(Some(AhoCorasickKind::DFA)).or_else(|_| build(None)) {
            Ok(automaton) => Ok(Some(LiteralFilter { automaton, rules })),
            Err(_) => Err(rules.into_iter().flatten().collect()),
        }
    }

    fn mark(&self, text: &str, hits: &mut [u64], found: &mut Vec<u32>) {
        for m in self.automaton.find_overlapping_iter(text) {
            for &rule in &self.rules[m.pattern().as_usize()] {
                let (word, bit) = (rule as usize / 64, 1u64 << (rule % 64));
                if hits[word] & bit == 0 {
                    hits[word] |= bit;
                    found.push(rule);
                }
            }
        }
    }
}

/// Compiled rules, shared by any number of [`Evaluator`]s.
pub struct Engine {
    field_ids: HashMap<Box<str>, FieldId, foldhash::fast::RandomState>,
    rules: Vec<Rule>,
    /// Per field id.
    field_filters: Vec<Option<LiteralFilter>>,
    keyword_filter: Option<LiteralFilter>,
    has_keywords: bool,
    /// Per rule: evaluated only when the prefilter saw one of its literals.
    prefiltered: Vec<bool>,
    correlations: Correlations,
}

impl Engine {
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    pub fn rule(&self, index: usize) -> Option<&RuleInfo> {
        self.rules.get(index).map(|r| &r.info)
    }

    pub fn correlation_count(&self) -> usize {
        self.correlations.list.len()
    }

    pub fn correlation(&self, index: usize) -> Option<&CorrelationInfo> {
        self.correlations.list.get(index).map(|c| &c.info)
    }

    /// Whether detection rule `index` is referenced only by correlations with `generate: false`
    /// (its own matches are then not reported).
    pub fn rule_is_silent(&self, index: usize) -> bool {
        self.correlations
            .silent_rules
            .get(index)
            .copied()
            .unwrap_or(false)
    }

    pub(crate) fn correlation_def(&self, index: usize) -> Option<&Correlation> {
        self.correlations.list.get(index)
    }

    /// Correlations in evaluation order: each after those it references.
    pub(crate) fn correlation_order(&self) -> &[usize] {
        &self.correlations.order
    }

    pub(crate) fn rule_correlations(&self, rule: usize) -> &[(usize, usize)] {
        self.correlations
            .by_rule
            .get(rule)
            .map_or(&[], Vec::as_slice)
    }

    pub(crate) fn correlation_parents(&self, index: usize) -> &[(usize, usize)] {
        self.correlations
            .parents
            .get(index)
            .map_or(&[], Vec::as_slice)
    }

    /// A correlation referenced only by correlations with `generate: false`: an intermediate
    /// step whose hits are not reported.
    pub(crate) fn correlation_is_silent(&self, index: usize) -> bool {
        self.correlations
            .silent
            .get(index)
            .copied()
            .unwrap_or(false)
    }

    pub(crate) fn correlation_fields(&self) -> &[String] {
        &self.correlations.fields
    }

    pub(crate) fn correlation_fields_index(
        &self,
    ) -> &HashMap<Box<str>, usize, foldhash::fast::RandomState> {
        &self.correlations.field_index
    }

    /// A reusable evaluation context (buffers and routes); one per thread.
    pub fn evaluator(&self) -> Evaluator<'_> {
        Evaluator {
            engine: self,
            routes: HashMap::new(),
            raw: String::new(),
            lower: String::new(),
            entries: Vec::new(),
            slots: vec![NONE; self.field_ids.len()],
            tails: vec![NONE; self.field_ids.len()],
            all: Vec::new(),
            hits: vec![0; self.rules.len().div_ceil(64)],
            found: Vec::new(),
            matched: Vec::new(),
        }
    }

    fn route(&self, source: &EventSource) -> Route {
        let mut route = Route {
            always: Vec::new(),
            member: vec![0; self.rules.len().div_ceil(64)],
        };
        for (index, rule) in self.rules.iter().enumerate() {
            if !applies(&rule.info.logsource, source) {
                continue;
            }
            route.member[index / 64] |= 1 << (index % 64);
            if !self.prefiltered[index] {
                route.always.push(u32::try_from(index).unwrap_or(u32::MAX));
            }
        }
        route
    }
}

/// Whether a rule written for `rule` applies to an event from `event`: every dimension the
/// rule sets must be the event's.
fn applies(rule: &LogSource, event: &EventSource) -> bool {
    let same = |r: &Option<String>, e: &Option<String>| r.is_none() || r == e;
    same(&rule.product, &event.product)
        && same(&rule.service, &event.service)
        && rule
            .category
            .as_ref()
            .is_none_or(|c| event.categories.contains(c))
}

struct Route {
    /// Rules of this log source that are always evaluated.
    always: Vec<u32>,
    /// Bit per rule: applies to this log source.
    member: Vec<u64>,
}

/// Evaluates events one at a time, reusing its buffers.
pub struct Evaluator<'e> {
    engine: &'e Engine,
    routes: HashMap<EventSource, Route>,
    raw: String,
    lower: String,
    entries: Vec<Entry>,
    slots: Vec<u32>,
    tails: Vec<u32>,
    all: Vec<u32>,
    hits: Vec<u64>,
    found: Vec<u32>,
    matched: Vec<usize>,
}

impl Evaluator<'_> {
    /// The indexes (see [`Engine::rule`]) of the rules that match `record`, which comes from
    /// `source`, in rule order.
    pub fn evaluate<R: Record>(&mut self, record: &R, source: &EventSource) -> &[usize] {
        let engine = self.engine;
        self.matched.clear();
        if !self.applies(source) {
            // No rule is written for this log source: the event need not even be read.
            return &self.matched;
        }
        self.read(record);
        let Some(route) = self.routes.get(source) else {
            return &[];
        };
        self.found.clear();
        self.hits.fill(0);
        let view = View {
            raw: &self.raw,
            lower: &self.lower,
            entries: &self.entries,
            slots: &self.slots,
            all: &self.all,
        };
        for entry in view.entries {
            if let Some(Some(filter)) = engine.field_filters.get(entry.field as usize) {
                filter.mark(view.lower(entry), &mut self.hits, &mut self.found);
            }
        }
        if let Some(filter) = &engine.keyword_filter {
            for &at in view.all {
                if let Some(entry) = view.entries.get(at as usize) {
                    filter.mark(view.lower(entry), &mut self.hits, &mut self.found);
                }
            }
        }
        let candidates = route.always.iter().chain(
            self.found
                .iter()
                .filter(|&&r| route.member[r as usize / 64] & (1 << (r % 64)) != 0),
        );
        for &index in candidates {
            let index = index as usize;
            if let Some(rule) = engine.rules.get(index)
                && condition(&rule.detection.condition, &rule.detection, &view)
            {
                self.matched.push(index);
            }
        }
        self.matched.sort_unstable();
        &self.matched
    }

    /// Whether any rule applies to events from `source` (callers can skip building a record
    /// for events no rule is written for).
    pub fn applies(&mut self, source: &EventSource) -> bool {
        if !self.routes.contains_key(source) {
            self.routes
                .insert(source.clone(), self.engine.route(source));
        }
        self.routes
            .get(source)
            .is_some_and(|route| route.member.iter().any(|&word| word != 0))
    }

    /// Loads `record` into the entry table.
    fn read<R: Record>(&mut self, record: &R) {
        self.raw.clear();
        self.lower.clear();
        self.entries.clear();
        self.all.clear();
        self.slots.fill(NONE);
        self.tails.fill(NONE);
        let engine = self.engine;
        for (name, value) in record.fields() {
            let field = engine.field_ids.get(name).copied();
            if field.is_none() && !engine.has_keywords {
                continue;
            }
            let raw_start = self.raw.len();
            let kind = match value {
                FieldValue::Str(s) => {
                    self.raw.push_str(s);
                    EntryKind::Str
                }
                FieldValue::Int(n) => {
                    use std::fmt::Write;
                    let _ = write!(self.raw, "{n}");
                    EntryKind::Int(n)
                }
                FieldValue::Float(x) => {
                    use std::fmt::Write;
                    let _ = write!(self.raw, "{x}");
                    EntryKind::Float(x)
                }
                FieldValue::Bool(b) => {
                    self.raw.push_str(if b { "true" } else { "false" });
                    EntryKind::Bool(b)
                }
                FieldValue::Null => EntryKind::Null,
            };
            let raw_end = self.raw.len();
            let lower_start = self.lower.len();
            let text = &self.raw[raw_start..raw_end];
            if text.is_ascii() {
                self.lower
                    .extend(text.chars().map(|c| c.to_ascii_lowercase()));
            } else {
                self.lower.push_str(&text.to_lowercase());
            }
            let at = u32::try_from(self.entries.len()).unwrap_or(NONE);
            let as_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            self.entries.push(Entry {
                field: field.unwrap_or(NONE),
                kind,
                raw: (as_u32(raw_start), as_u32(raw_end)),
                lower: (as_u32(lower_start), as_u32(self.lower.len())),
                next: NONE,
            });
            self.all.push(at);
            if let Some(field) = field {
                let f = field as usize;
                match self.tails[f] {
                    NONE => self.slots[f] = at,
                    tail => {
                        if let Some(previous) = self.entries.get_mut(tail as usize) {
                            previous.next = at;
                        }
                    }
                }
                self.tails[f] = at;
            }
        }
    }
}

fn condition(cond: &Cond, detection: &Detection, view: &View<'_>) -> bool {
    match cond {
        Cond::Selection(i) => detection.selections.get(*i).is_some_and(|groups| {
            groups
                .iter()
                .any(|items| items.iter().all(|item| item_matches(item, view)))
        }),
        Cond::Not(inner) => !condition(inner, detection, view),
        Cond::And(terms) => terms.iter().all(|t| condition(t, detection, view)),
        Cond::Or(terms) => terms.iter().any(|t| condition(t, detection, view)),
    }
}

fn item_matches(item: &Item, view: &View<'_>) -> bool {
    let present = item.field.is_none_or(|f| view.present(f));
    if let Some(want) = item.exists {
        return present == want;
    }
    let value_matches = |alternatives: &Vec<Matcher>| {
        alternatives
            .iter()
            .any(|matcher| match (matcher, item.field) {
                (Matcher::Null, Some(_)) if !present => true,
                (_, Some(field)) => view.values(field).any(|e| matcher.matches(view, e)),
                (_, None) => view
                    .all
                    .iter()
                    .filter_map(|&at| view.entries.get(at as usize))
                    .any(|e| matcher.matches(view, e)),
            })
    };
    let matched = if item.all {
        item.values.iter().all(value_matches)
    } else {
        item.values.iter().any(value_matches)
    };
    matched != item.negate
}
