//! Rules over a stream of stored events: which rules each event matches (Mamori's view and,
//! for Windows records, Sigma's Windows view), the correlations the matches complete, and the
//! hits per rule — what `mamori rules run`/`backtest`, `analyze` and the console's back-test
//! share.

use mamori_event::Event;
use serde_json::{Map, Value};

use crate::event::{EventRecord, event_source};
use crate::sigma::{CorrelationHit, Correlator, Engine};
use crate::windows::WindowsRecord;

/// The name a finding credits a rule by: its id, else where it is written.
pub fn rule_key(engine: &Engine, index: usize) -> String {
    engine.rule(index).map_or_else(String::new, |rule| {
        rule.id
            .clone()
            .unwrap_or_else(|| format!("{}:{}", rule.origin.file, rule.origin.line))
    })
}

/// Runs the rules over events one at a time, in time order: Mamori's view of each event
/// (`product: mamori`), and for Windows records also Sigma's Windows view; and the
/// correlations over the matches.
pub struct Detector<'e> {
    evaluator: crate::sigma::Evaluator<'e>,
    correlator: Correlator<'e>,
    /// Rules the last event matched, and correlations it completed.
    pub matched: Vec<usize>,
    pub hits: Vec<CorrelationHit>,
}

impl<'e> Detector<'e> {
    pub fn new(engine: &'e Engine) -> Detector<'e> {
        Detector {
            evaluator: engine.evaluator(),
            correlator: engine.correlator(),
            matched: Vec::new(),
            hits: Vec::new(),
        }
    }

    /// Evaluates `event` (ledger leaf `leaf`, or any id the caller uses) with its `context`;
    /// the results are in `self.matched` and `self.hits`.
    pub fn detect(&mut self, leaf: u64, event: &Event, context: &Map<String, Value>) {
        self.matched.clear();
        self.hits.clear();
        let time_us = event.time.as_microsecond();
        let source = event_source(event);
        if self.evaluator.applies(&source) {
            let record = EventRecord::new(event, context);
            let matched = self.evaluator.evaluate(&record, &source);
            self.matched.extend_from_slice(matched);
            self.hits
                .extend(self.correlator.observe(time_us, leaf, matched, &record));
        }
        let from_evtx = event
            .source
            .as_ref()
            .and_then(|s| s.name.as_deref())
            .is_some_and(|n| n.eq_ignore_ascii_case("evtx"));
        if from_evtx {
            let windows = WindowsRecord::new(&event.raw);
            let matched = self.evaluator.evaluate(&windows, &windows.source());
            self.matched.extend_from_slice(matched);
            self.hits
                .extend(self.correlator.observe(time_us, leaf, matched, &windows));
        }
        self.matched.sort_unstable();
        self.matched.dedup();
    }
}

/// Hits of one rule (or correlation) over the history.
#[derive(Debug, Default)]
pub struct RuleHits {
    pub rule_id: String,
    pub title: String,
    pub title_ja: Option<String>,
    pub description: Option<String>,
    pub level: Option<String>,
    /// A correlation (over other rules' matches) rather than a detection rule.
    pub correlation: bool,
    pub hits: u64,
    /// Persons (HR), or accounts HR does not know.
    pub persons: std::collections::BTreeSet<String>,
    pub first_us: Option<i64>,
    pub last_us: Option<i64>,
}

impl RuleHits {
    /// Counts a hit by `who` over `[first_us, last_us]`.
    pub fn count(&mut self, who: &str, first_us: i64, last_us: i64) {
        self.hits += 1;
        self.persons.insert(who.to_string());
        self.first_us = Some(self.first_us.map_or(first_us, |f| f.min(first_us)));
        self.last_us = Some(self.last_us.map_or(last_us, |l| l.max(last_us)));
    }
}

/// The detection rules' hit lists, then the correlations' (index `rule_count + c`): also the
/// list of every rule with the id findings and settings know it by.
pub fn hit_lists(engine: &Engine) -> Vec<RuleHits> {
    let rules = (0..engine.rule_count()).map(|i| {
        let rule = engine.rule(i);
        RuleHits {
            rule_id: rule_key(engine, i),
            title: rule.map(|r| r.title.clone()).unwrap_or_default(),
            title_ja: rule.and_then(|r| r.title_ja.clone()),
            description: rule.and_then(|r| r.description.clone()),
            level: rule.and_then(|r| r.level.clone()),
            ..RuleHits::default()
        }
    });
    let correlations = (0..engine.correlation_count()).filter_map(|c| {
        let info = engine.correlation(c)?;
        Some(RuleHits {
            rule_id: info
                .id
                .clone()
                .or_else(|| info.name.clone())
                .unwrap_or_else(|| format!("{}:{}", info.origin.file, info.origin.line)),
            title: info.title.clone(),
            title_ja: info.title_ja.clone(),
            description: info.description.clone(),
            level: info.level.clone(),
            correlation: true,
            ..RuleHits::default()
        })
    });
    rules.chain(correlations).collect()
}
