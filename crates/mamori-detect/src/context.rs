//! What a rule needs to know beyond the event itself: who the account's person is and where
//! they stand with HR on that day, whether it is after hours, whose PC the host is, and what
//! this account has done before. Added to each event under `context.` (docs/rules.md lists
//! every field).
//!
//! History-based fields (`first_domain`, `days_since_last_seen`) need events in time order;
//! the [`Enricher`] remembers one entry per account (and per account and domain), so its
//! memory grows with the organisation, not with the number of events.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use jiff::civil::{Date, Weekday};
use mamori_event::{Event, PersonRecord};
use serde_json::{Map, Value, json};

const DAY_US: i64 = 86_400_000_000;

/// Distinct external domains whose look-alike verdict is remembered. The verdict is a pure
/// function of the domain, and the domains an organisation sends to repeat endlessly, so the
/// cache saves the string work of [`looks_like`] on nearly every event; past this many it is
/// emptied (and refilled) so that a stream of one-off domains cannot grow it without bound.
const LOOKALIKE_CACHE_DOMAINS: usize = 65_536;

/// Members a context usually has (see `docs/rules.md`): one allocation per event, not several.
const CONTEXT_CAPACITY: usize = 12;

/// How the organisation works.
#[derive(Debug, Clone)]
pub struct ContextOptions {
    /// Mail domains inside the organisation (sub-domains included). Empty: taken from the
    /// people's e-mail addresses.
    pub organisation_domains: Vec<String>,
    /// Local time of the organisation (events are stored in UTC).
    pub utc_offset: jiff::tz::Offset,
    /// The working day, in local hours: `[start, end)`.
    pub working_hours: (i8, i8),
}

impl Default for ContextOptions {
    fn default() -> Self {
        ContextOptions {
            organisation_domains: Vec::new(),
            utc_offset: jiff::tz::Offset::UTC,
            working_hours: (7, 20),
        }
    }
}

/// Computes each event's context. Feed events in time order.
pub struct Enricher {
    options: ContextOptions,
    /// Versions of each person, oldest first.
    people: HashMap<String, Vec<PersonRecord>>,
    person_of_account: HashMap<String, String>,
    host_owner: HashMap<String, String>,
    last_seen: HashMap<String, i64>,
    /// External domains each account has sent to; keyed by account first so that a lookup
    /// borrows the event's strings instead of building an owned pair.
    seen_domains: HashMap<String, HashSet<String>>,
    /// Domain → index in `options.organisation_domains` of the domain it imitates, if any.
    lookalikes: HashMap<String, Option<usize>>,
}

impl Enricher {
    pub fn new(people: Vec<PersonRecord>, mut options: ContextOptions) -> Enricher {
        let mut by_person: HashMap<String, Vec<PersonRecord>> = HashMap::new();
        let mut person_of_account = HashMap::new();
        let mut domains = HashSet::new();
        for record in people {
            for account in &record.accounts {
                person_of_account.insert(account.clone(), record.person_id.clone());
            }
            if let Some((_, domain)) = record.email.as_deref().and_then(|e| e.rsplit_once('@')) {
                domains.insert(domain.to_ascii_lowercase());
            }
            by_person
                .entry(record.person_id.clone())
                .or_default()
                .push(record);
        }
        for versions in by_person.values_mut() {
            versions.sort_by_key(|v| v.valid_from);
        }
        if options.organisation_domains.is_empty() {
            let mut domains: Vec<String> = domains.into_iter().collect();
            domains.sort();
            options.organisation_domains = domains;
        }
        for domain in &mut options.organisation_domains {
            *domain = domain.to_ascii_lowercase();
        }
        Enricher {
            options,
            people: by_person,
            person_of_account,
            host_owner: HashMap::new(),
            last_seen: HashMap::new(),
            seen_domains: HashMap::new(),
            lookalikes: HashMap::new(),
        }
    }

    /// Learns whose PC each host is from logons `(host, account)`: the person behind the
    /// account with most logons there, when they are at least 60 % of the host's logons (a
    /// shared PC has no owner).
    pub fn learn_host_owners<'a>(&mut self, logons: impl Iterator<Item = (&'a str, &'a str)>) {
        let mut counts: HashMap<&str, HashMap<String, u64>> = HashMap::new();
        for (host, account) in logons {
            let who = self.who(account);
            *counts.entry(host).or_default().entry(who).or_default() += 1;
        }
        for (host, by_who) in counts {
            let total: u64 = by_who.values().sum();
            if let Some((who, n)) = by_who
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                && n * 10 >= total * 6
            {
                self.host_owner.insert(host.to_string(), who);
            }
        }
    }

    /// The person an account belongs to, or the account itself when HR does not know it.
    fn who(&self, account: &str) -> String {
        self.who_ref(account).to_string()
    }

    fn who_ref<'a>(&'a self, account: &'a str) -> &'a str {
        self.person_of_account
            .get(account)
            .map_or(account, String::as_str)
    }

    /// The organisation's mail domains in use.
    pub fn organisation_domains(&self) -> &[String] {
        &self.options.organisation_domains
    }

    /// The context of `event`, and what it teaches about later events.
    pub fn context(&mut self, event: &Event) -> Map<String, Value> {
        let mut context = Map::with_capacity(CONTEXT_CAPACITY);
        let account = event.account();
        let time_us = event.time.as_microsecond();
        let local = self.options.utc_offset.to_datetime(event.time);
        let day = local.date();
        let person = self.person_of_account.get(account);
        match person.and_then(|p| self.version_on(p, day)) {
            Some(version) => {
                context.insert("person".into(), json!(version.person_id));
                if let Some(d) = &version.department {
                    context.insert("department".into(), json!(d));
                }
                if let Some(r) = &version.role {
                    context.insert("role".into(), json!(r));
                }
                context.insert("employment".into(), json!(employment(version, day)));
                if let Some(end) = version.termination_date {
                    // Whole days; a civil date difference cannot overflow here.
                    let days = day.duration_until(end).as_hours() / 24;
                    context.insert("days_to_termination".into(), json!(days));
                }
            }
            None => {
                context.insert("employment".into(), json!("unknown"));
            }
        }
        let weekend = matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday);
        let (start, end) = self.options.working_hours;
        let hour = local.hour();
        context.insert("weekend".into(), json!(weekend));
        context.insert(
            "after_hours".into(),
            json!(weekend || hour < start || hour >= end),
        );
        if let Some(host) = event.actor.host.as_deref()
            && let Some(owner) = self.host_owner.get(host)
        {
            context.insert("host_owner".into(), json!(owner));
            context.insert("host_is_own".into(), json!(owner == self.who_ref(account)));
        }
        let domains = destination_domains(event);
        let external: Vec<&String> = domains.iter().filter(|d| !self.is_internal(d)).collect();
        if event.kind.as_str() == "email.send" || event.kind.as_str() == "email.receive" {
            let recipients = event.destination.as_ref().map_or(0, |d| d.recipients.len());
            let outside = event
                .destination
                .iter()
                .flat_map(|d| d.recipients.iter())
                .filter(|r| {
                    r.rsplit_once('@')
                        .is_some_and(|(_, d)| !self.is_internal(d))
                })
                .count();
            if recipients > 0 {
                context.insert("external_recipients".into(), json!(outside));
            }
        }
        for domain in &external {
            if let Some(target) = self.lookalike(domain) {
                context.insert("lookalike_of".into(), json!(target));
                break;
            }
        }
        if is_outbound(event) && !external.is_empty() {
            let first = match self.seen_domains.get_mut(account) {
                Some(seen) => {
                    let mut first = false;
                    for d in &external {
                        if !seen.contains(d.as_str()) {
                            seen.insert((*d).clone());
                            first = true;
                        }
                    }
                    first
                }
                None => {
                    let seen = external.iter().map(|d| (*d).clone()).collect();
                    self.seen_domains.insert(account.to_string(), seen);
                    true
                }
            };
            context.insert("first_domain".into(), json!(first));
        }
        match self.last_seen.get_mut(account) {
            Some(last) => {
                context.insert(
                    "days_since_last_seen".into(),
                    json!((time_us - *last).max(0) / DAY_US),
                );
                *last = (*last).max(time_us);
            }
            None => {
                self.last_seen.insert(account.to_string(), time_us);
            }
        }
        if let Some(mismatch) = type_mismatch(event) {
            context.insert("type_mismatch".into(), json!(mismatch));
        }
        context
    }

    fn version_on(&self, person: &str, day: Date) -> Option<&PersonRecord> {
        let versions = self.people.get(person)?;
        versions
            .iter()
            .rev()
            .find(|v| v.valid_from <= day)
            .or_else(|| versions.first())
    }

    /// Whether `domain` (any ASCII case) is an organisation domain or below one.
    fn is_internal(&self, domain: &str) -> bool {
        self.options
            .organisation_domains
            .iter()
            .any(|org| is_domain_or_below(domain, org))
    }

    /// The organisation domain that `domain` imitates, if any.
    fn lookalike(&mut self, domain: &str) -> Option<&str> {
        let orgs = &self.options.organisation_domains;
        let target = match self.lookalikes.get(domain) {
            Some(&target) => target,
            None => {
                let target = orgs.iter().position(|org| looks_like(domain, org));
                if self.lookalikes.len() >= LOOKALIKE_CACHE_DOMAINS {
                    self.lookalikes.clear();
                }
                self.lookalikes.insert(domain.to_string(), target);
                target
            }
        };
        orgs.get(target?).map(String::as_str)
    }
}

/// Whether `domain` equals `org` (lower case) or is a sub-domain of it, ignoring ASCII case:
/// what `domain.to_ascii_lowercase()` compared with `org` and `.{org}` gives, without the
/// allocations.
fn is_domain_or_below(domain: &str, org: &str) -> bool {
    let (domain, org) = (domain.as_bytes(), org.as_bytes());
    if domain.len() == org.len() {
        return domain.eq_ignore_ascii_case(org);
    }
    let Some(dot) = domain.len().checked_sub(org.len() + 1) else {
        return false;
    };
    domain[dot] == b'.' && domain[dot + 1..].eq_ignore_ascii_case(org)
}

/// Destination domains: `destination.domain` and the recipients' domains, lower-cased.
fn destination_domains(event: &Event) -> Vec<String> {
    let Some(destination) = event.destination.as_ref() else {
        return Vec::new();
    };
    let mut domains: Vec<String> = destination
        .recipients
        .iter()
        .filter_map(|r| r.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()))
        .chain(destination.domain.iter().map(|d| d.to_ascii_lowercase()))
        .collect();
    domains.sort();
    domains.dedup();
    domains
}

fn employment(version: &PersonRecord, day: Date) -> &'static str {
    match (version.notice_date, version.termination_date) {
        (_, Some(end)) if day > end => "terminated",
        (Some(notice), _) if day >= notice => "notice",
        _ => "active",
    }
}

/// Kinds that send data somewhere.
fn is_outbound(event: &Event) -> bool {
    matches!(
        event.kind.as_str(),
        "email.send" | "http.upload" | "http.request" | "file.copy" | "file.move"
    )
}

/// Whether `candidate` (not the organisation's own) imitates `org`: the same name under
/// another suffix (`dtaa.co`, `dtaa.com.cn`), the name with an edit or two (`dtaa.corn`,
/// `dtta.com`), confusable characters (`dtaa.c0m`), or the whole domain inside another
/// (`dtaa-com.net`, `dtaa.com.evil.io`).
pub fn looks_like(candidate: &str, org: &str) -> bool {
    let (candidate, org) = (candidate.to_ascii_lowercase(), org.to_ascii_lowercase());
    if candidate == org || candidate.ends_with(&format!(".{org}")) {
        return false;
    }
    let label = |d: &str| d.split('.').next().unwrap_or_default().to_string();
    let org_label = label(&org);
    if org_label.len() >= 3 && label(&candidate) == org_label {
        return true;
    }
    let flat = |d: &str| d.replace(['-', '.'], "");
    if org.len() >= 6 && flat(&candidate).contains(&flat(&org)) {
        return true;
    }
    let confusable = |d: &str| {
        d.replace("rn", "m")
            .replace("vv", "w")
            .chars()
            .map(|c| match c {
                '0' => 'o',
                '1' | 'i' => 'l',
                '5' => 's',
                _ => c,
            })
            .collect::<String>()
    };
    if confusable(&candidate) == confusable(&org) {
        return true;
    }
    org.len() >= 6 && edit_distance(&candidate, &org) <= if org.len() >= 10 { 2 } else { 1 }
}

/// Damerau–Levenshtein distance (optimal string alignment) over bytes.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous2 = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(previous2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut previous2, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// File types by leading bytes (as `raw.content_magic` writes them) and the extensions each
/// may carry.
const MAGIC: &[(&str, &[&str])] = &[
    (
        "D0-CF-11-E0",
        &["doc", "xls", "ppt", "msg", "msi", "vsd", "pub"],
    ),
    (
        "50-4B-03-04",
        &[
            "zip", "docx", "xlsx", "pptx", "jar", "odt", "ods", "odp", "apk", "epub", "vsdx",
        ],
    ),
    ("25-50-44-46", &["pdf"]),
    ("4D-5A", &["exe", "dll", "sys", "scr", "com", "ocx", "cpl"]),
    ("FF-D8-FF", &["jpg", "jpeg"]),
    ("89-50-4E-47", &["png"]),
    ("47-49-46-38", &["gif"]),
    ("52-61-72-21", &["rar"]),
    ("37-7A-BC-AF", &["7z"]),
    ("1F-8B", &["gz", "tgz"]),
];

/// Whether the content's type (from its magic bytes) disagrees with the file's extension;
/// `None` when either is unknown.
fn type_mismatch(event: &Event) -> Option<bool> {
    let magic = event
        .raw
        .get("content_magic")?
        .as_str()?
        .to_ascii_uppercase();
    let extension = event
        .object
        .as_ref()?
        .extension
        .as_deref()?
        .to_ascii_lowercase();
    let (_, allowed) = MAGIC.iter().find(|(prefix, _)| magic.starts_with(prefix))?;
    Some(!allowed.contains(&extension.as_str()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn person(id: &str, account: &str, notice: Option<&str>, end: Option<&str>) -> PersonRecord {
        PersonRecord {
            person_id: id.into(),
            valid_from: "2020-01-01".parse().unwrap(),
            name: id.into(),
            email: Some(format!("{id}@dtaa.com")),
            business_unit: None,
            functional_unit: None,
            department: Some("R&D".into()),
            team: None,
            role: Some("Engineer".into()),
            supervisor: None,
            employment_type: None,
            hire_date: None,
            notice_date: notice.map(|d| d.parse().unwrap()),
            termination_date: end.map(|d| d.parse().unwrap()),
            priority: false,
            accounts: vec![account.into()],
        }
    }

    fn event(json: &str) -> Event {
        Event::from_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn employment_follows_notice_and_termination() {
        let mut enricher = Enricher::new(
            vec![person("P1", "ACM1", Some("2024-03-01"), Some("2024-03-31"))],
            ContextOptions::default(),
        );
        let at = |day: &str| {
            event(&format!(
                r#"{{"time":"{day}T10:00:00Z","kind":"logon","actor":{{"user":"ACM1"}},"outcome":"success"}}"#
            ))
        };
        assert_eq!(enricher.context(&at("2024-02-29"))["employment"], "active");
        let notice = enricher.context(&at("2024-03-31"));
        assert_eq!(notice["employment"], "notice");
        assert_eq!(notice["days_to_termination"], 0);
        assert_eq!(notice["days_since_last_seen"], 31);
        assert_eq!(
            enricher.context(&at("2024-04-01"))["employment"],
            "terminated"
        );
        let stranger = event(
            r#"{"time":"2024-04-01T10:00:00Z","kind":"logon","actor":{"user":"X"},"outcome":"success"}"#,
        );
        assert_eq!(enricher.context(&stranger)["employment"], "unknown");
    }

    #[test]
    fn after_hours_in_local_time() {
        let options = ContextOptions {
            utc_offset: jiff::tz::Offset::constant(9),
            ..ContextOptions::default()
        };
        let mut enricher = Enricher::new(vec![], options);
        // 12:30 UTC is 21:30 in Tokyo on a Tuesday.
        let late = event(
            r#"{"time":"2024-03-05T12:30:00Z","kind":"logon","actor":{"user":"A"},"outcome":"success"}"#,
        );
        let context = enricher.context(&late);
        assert_eq!(context["after_hours"], true);
        assert_eq!(context["weekend"], false);
        let morning = event(
            r#"{"time":"2024-03-05T01:00:00Z","kind":"logon","actor":{"user":"A"},"outcome":"success"}"#,
        );
        assert_eq!(enricher.context(&morning)["after_hours"], false);
    }

    #[test]
    fn hosts_recipients_and_domains() {
        let mut enricher = Enricher::new(
            vec![person("P1", "A", None, None), person("P2", "B", None, None)],
            ContextOptions::default(),
        );
        let logons = [
            ("PC-1", "A"),
            ("PC-1", "A"),
            ("PC-1", "B"),
            ("PC-2", "A"),
            ("PC-2", "B"),
        ];
        enricher.learn_host_owners(logons.iter().copied());
        let on = |host: &str, user: &str| {
            event(&format!(
                r#"{{"time":"2024-03-05T10:00:00Z","kind":"logon","actor":{{"user":"{user}","host":"{host}"}},"outcome":"success"}}"#
            ))
        };
        assert_eq!(enricher.context(&on("PC-1", "B"))["host_is_own"], false);
        assert_eq!(enricher.context(&on("PC-1", "A"))["host_is_own"], true);
        assert!(
            enricher
                .context(&on("PC-2", "A"))
                .get("host_owner")
                .is_none(),
            "shared PC"
        );
        let mail = |to: &str| {
            event(&format!(
                r#"{{"time":"2024-03-05T10:00:00Z","kind":"email.send","actor":{{"user":"A"}},"destination":{{"kind":"email","recipients":[{to}]}},"outcome":"success"}}"#
            ))
        };
        let first = enricher.context(&mail(r#""x@dtaa.com","y@gmail.com","z@dtaa-com.net""#));
        assert_eq!(first["external_recipients"], 2);
        assert_eq!(first["first_domain"], true);
        assert_eq!(first["lookalike_of"], "dtaa.com");
        let again = enricher.context(&mail(r#""y@gmail.com""#));
        assert_eq!(again["first_domain"], false);
        assert!(again.get("lookalike_of").is_none());
        let internal = enricher.context(&mail(r#""x@dtaa.com""#));
        assert_eq!(internal["external_recipients"], 0);
        assert!(internal.get("first_domain").is_none());
    }

    #[test]
    fn lookalike_domains() {
        for fake in [
            "dtaa.co",
            "dtaa.com.cn",
            "dtaa-com.net",
            "dtaa.c0m",
            "dtta.com",
            "dtaa.corn",
        ] {
            assert!(looks_like(fake, "dtaa.com"), "{fake}");
        }
        for fine in ["dtaa.com", "mail.dtaa.com", "gmail.com", "dell.com"] {
            assert!(!looks_like(fine, "dtaa.com"), "{fine}");
        }
        assert!(looks_like("examp1e.co.jp", "example.co.jp"));
        assert!(looks_like("exarnple.co.jp", "example.co.jp"));
    }

    #[test]
    fn magic_bytes_against_extensions() {
        let copy = |magic: &str, ext: &str| {
            event(&format!(
                r#"{{"time":"2024-03-05T10:00:00Z","kind":"file.copy","actor":{{"user":"A"}},"object":{{"name":"f.{ext}","extension":"{ext}"}},"raw":{{"content_magic":"{magic}"}},"outcome":"success"}}"#
            ))
        };
        assert_eq!(type_mismatch(&copy("4D-5A-90-00", "txt")), Some(true));
        assert_eq!(type_mismatch(&copy("50-4B-03-04-14", "docx")), Some(false));
        assert_eq!(type_mismatch(&copy("00-11", "txt")), None);
    }
}
