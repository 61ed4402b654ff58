//! The decision engine: a validated [`Policy`] answers a [`Request`] with a [`Decision`].
//!
//! Every matching rule is listed (the explanation); the decision is the strictest action of
//! the enforced ones (allow < audit < warn < justify < block; of equals, the first in the
//! file), or the policy's `default_action` when none matches. Rules in `simulate` mode, and
//! every rule of a policy in `simulate` mode, are matched and reported but never decide.
//!
//! Deciding allocates only the list of matches: conditions are compiled into bit sets and
//! lower-cased lists when the policy is loaded, so a decision costs well under a microsecond
//! (`mamori bench policy`).

use jiff::tz::TimeZone;
use mamori_content::detect::FindingKind;
use mamori_event::Level;
use serde::{Deserialize, Serialize};

use crate::PolicyError;
use crate::model::{
    Action, Channel, ConditionFile, DeviceFile, FORMAT_VERSION, MAX_RULES, Message, Mode,
    PolicyFile, RuleFile, finding_kind, usb_id,
};

/// A validated policy, ready to decide.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub revision: u64,
    pub mode: Mode,
    pub default_action: Action,
    pub timezone: String,
    zone: TimeZone,
    pub sanctioned_domains: Vec<String>,
    pub devices: Vec<DeviceFile>,
    pub device_control: DeviceControl,
    rules: Vec<Rule>,
    /// For each channel, the indexes of the rules that may match it, in file order.
    by_channel: [Vec<u16>; Channel::ALL.len()],
}

/// The device control as validated.
#[derive(Debug, Clone)]
pub struct DeviceControl {
    pub removable_storage: Action,
    pub allowed_read_only: bool,
    pub message: Message,
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub action: Action,
    pub message: Message,
    pub mode: Mode,
    when: Condition,
    unless: Option<Condition>,
}

#[derive(Debug, Clone, Default)]
struct Condition {
    /// Bit per [`Channel`]; 0 = any channel.
    channels: u16,
    labels: Vec<String>,
    /// Bit per [`FindingKind`]; 0 = any kind (when `min_findings` is set).
    findings: u16,
    min_findings: Option<u32>,
    classified: Option<bool>,
    extensions: Vec<String>,
    device_allowed: Option<bool>,
    domain_sanctioned: Option<bool>,
    domains: Vec<String>,
    processes: Vec<String>,
    groups: Vec<String>,
    departments: Vec<String>,
    departing: Option<bool>,
    min_risk: Option<Level>,
    /// Minutes since local midnight: `[start, end)`, wrapping when `start > end`.
    hours: Option<(u16, u16)>,
    /// Bit per weekday, Monday = bit 0; 0 = every day.
    days: u8,
}

/// What an enforcer asks: who wants to send what, where, and when.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub channel: Option<Channel>,
    /// When the action is attempted (default: now, at the decider).
    #[serde(default)]
    pub time: Option<jiff::Timestamp>,
    /// The account acting.
    pub user: String,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub person: PersonFacts,
    #[serde(default)]
    pub object: ObjectFacts,
    #[serde(default)]
    pub destination: DestinationFacts,
    #[serde(default)]
    pub process: Option<ProcessFacts>,
    /// The reason the person wrote, for a `justify` decision.
    #[serde(default)]
    pub justification: Option<String>,
}

/// Longest text a request may carry in one field (a path, a justification).
pub const MAX_TEXT_CHARS: usize = 4096;
/// Most entries a request's lists (labels, groups, recipients) may hold.
pub const MAX_LIST: usize = 1000;

impl Request {
    /// Checks what the decision event would otherwise carry unbounded: a user is named, no
    /// text is longer than [`MAX_TEXT_CHARS`] or has control characters, no list is longer
    /// than [`MAX_LIST`]. Errors name the field.
    pub fn check(&self) -> Result<(), PolicyError> {
        let text = |field: &str, value: &str| -> Result<(), PolicyError> {
            if value.chars().count() > MAX_TEXT_CHARS {
                return Err(PolicyError::invalid(
                    field,
                    format!("longer than {MAX_TEXT_CHARS} characters"),
                ));
            }
            // A justification may run over lines; nothing else may.
            let control = if field == "justification" {
                value
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            } else {
                value.chars().any(char::is_control)
            };
            if control {
                return Err(PolicyError::invalid(field, "control characters"));
            }
            Ok(())
        };
        let list = |field: &str, values: &[String]| -> Result<(), PolicyError> {
            if values.len() > MAX_LIST {
                return Err(PolicyError::invalid(field, format!("more than {MAX_LIST}")));
            }
            for (n, value) in values.iter().enumerate() {
                text(&format!("{field}[{n}]"), value)?;
            }
            Ok(())
        };
        if self.user.trim().is_empty() {
            return Err(PolicyError::invalid("user", "empty"));
        }
        text("user", &self.user)?;
        let optional = [
            ("host", &self.host),
            ("person.department", &self.person.department),
            ("object.path", &self.object.path),
            ("object.extension", &self.object.extension),
            ("destination.domain", &self.destination.domain),
            ("destination.name", &self.destination.name),
            ("justification", &self.justification),
        ];
        for (field, value) in optional {
            if let Some(value) = value {
                text(field, value)?;
            }
        }
        if let Some(process) = &self.process {
            for (field, value) in [
                ("process.name", &process.name),
                ("process.path", &process.path),
            ] {
                if let Some(value) = value {
                    text(field, value)?;
                }
            }
        }
        if let Some(device) = &self.destination.device {
            crate::model::usb_id("destination.device.vendor", &device.vendor)?;
            crate::model::usb_id("destination.device.product", &device.product)?;
            if let Some(serial) = &device.serial {
                text("destination.device.serial", serial)?;
            }
        }
        list("person.groups", &self.person.groups)?;
        list("object.labels", &self.object.labels)?;
        list("destination.recipients", &self.destination.recipients)?;
        if self
            .object
            .size
            .is_some_and(|s| s > mamori_event::MAX_SAFE_INTEGER)
        {
            return Err(PolicyError::invalid("object.size", "larger than 2^53 - 1"));
        }
        Ok(())
    }
}

/// What is known of the person behind the account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonFacts {
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub departing: bool,
    #[serde(default)]
    pub risk: Option<Level>,
}

/// The data: a file, a document, a message body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectFacts {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Content findings by kind, e.g. `{"my_number": 3}`.
    #[serde(default)]
    pub findings: Findings,
    #[serde(default)]
    pub extension: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
}

/// Content finding counts by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Findings([u32; FindingKind::ALL.len()]);

impl Findings {
    pub fn add(&mut self, kind: FindingKind, count: u32) {
        let slot = &mut self.0[kind as usize];
        *slot = slot.saturating_add(count);
    }

    pub fn get(&self, kind: FindingKind) -> u32 {
        self.0[kind as usize]
    }

    pub fn total(&self) -> u32 {
        self.0.iter().fold(0u32, |sum, n| sum.saturating_add(*n))
    }

    /// The count of the kinds in `mask` (bit per kind).
    fn of(&self, mask: u16) -> u32 {
        FindingKind::ALL
            .iter()
            .filter(|k| mask & (1 << (**k as u16)) != 0)
            .fold(0u32, |sum, k| sum.saturating_add(self.0[*k as usize]))
    }

    /// Kind and count of every kind found at least once.
    pub fn iter(&self) -> impl Iterator<Item = (FindingKind, u32)> + '_ {
        FindingKind::ALL
            .into_iter()
            .map(|k| (k, self.0[k as usize]))
            .filter(|(_, n)| *n > 0)
    }
}

impl Serialize for Findings {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        for (kind, count) in self.iter() {
            map.serialize_entry(kind.as_str(), &count)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Findings {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<String, u32>::deserialize(deserializer)?;
        let mut findings = Findings::default();
        for (name, count) in map {
            let kind = finding_kind(&name).ok_or_else(|| {
                serde::de::Error::custom(format!("{name:?} is not a finding kind"))
            })?;
            findings.add(kind, count);
        }
        Ok(findings)
    }
}

/// Where the data goes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationFacts {
    #[serde(default)]
    pub device: Option<UsbDevice>,
    #[serde(default)]
    pub domain: Option<String>,
    /// Printer, share, mount point, service.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub recipients: Vec<String>,
}

/// A USB device as the kernel reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsbDevice {
    /// Four hexadecimal digits.
    pub vendor: String,
    pub product: String,
    #[serde(default)]
    pub serial: Option<String>,
}

/// The process acting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessFacts {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub pid: Option<u32>,
}

/// A policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What the enforcer does.
    pub action: Action,
    /// The rule that decided (`None`: the default action or the device control).
    pub rule: Option<usize>,
    /// What would have been decided had nothing been simulated, when that is stricter.
    pub simulated: Option<(Action, Option<usize>)>,
    /// Every matching rule, in file order.
    pub matched: Vec<usize>,
}

/// How a decided action ended, once the person's answer is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Allowed (`allow`, `audit`, or anything in simulation).
    Allowed,
    /// Allowed after a warning.
    Warned,
    /// Stopped (`block`, or `justify` without a reason).
    Blocked,
    /// `justify` with a written reason: allowed, and the reason recorded.
    Overridden,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Warned => "warned",
            Verdict::Blocked => "blocked",
            Verdict::Overridden => "overridden",
        }
    }

    /// Whether the action goes ahead.
    pub fn permits(self) -> bool {
        !matches!(self, Verdict::Blocked)
    }
}

impl Decision {
    /// The outcome, given the reason the person wrote (if any).
    pub fn verdict(&self, justification: Option<&str>) -> Verdict {
        match self.action {
            Action::Allow | Action::Audit => Verdict::Allowed,
            Action::Warn => Verdict::Warned,
            Action::Justify => match justification.map(str::trim) {
                Some(reason) if !reason.is_empty() => Verdict::Overridden,
                _ => Verdict::Blocked,
            },
            Action::Block => Verdict::Blocked,
        }
    }

    /// Whether the decision is worth an event: anything but a plain allow, or a simulated
    /// stricter action.
    pub fn is_recorded(&self) -> bool {
        self.action != Action::Allow || self.simulated.is_some()
    }
}

impl Policy {
    /// Parses and validates a policy's TOML text.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        Policy::new(PolicyFile::from_toml(text)?)
    }

    /// Validates a parsed policy file.
    pub fn new(file: PolicyFile) -> Result<Policy, PolicyError> {
        if file.format != FORMAT_VERSION {
            return Err(PolicyError::invalid(
                "format",
                format!("{} is not {FORMAT_VERSION}", file.format),
            ));
        }
        if file.name.trim().is_empty() || file.name.chars().any(char::is_control) {
            return Err(PolicyError::invalid(
                "name",
                "empty or has control characters",
            ));
        }
        let zone = TimeZone::get(&file.timezone).map_err(|e| {
            PolicyError::invalid(
                "timezone",
                format!("{:?} is not an IANA time zone ({e})", file.timezone),
            )
        })?;
        let sanctioned_domains = file
            .sanctioned_domains
            .iter()
            .enumerate()
            .map(|(i, d)| domain(&format!("sanctioned_domains[{i}]"), d))
            .collect::<Result<Vec<_>, _>>()?;
        let mut devices = Vec::with_capacity(file.devices.len());
        for (i, device) in file.devices.into_iter().enumerate() {
            let at = |key: &str| format!("devices[{i}].{key}");
            let serial = match device.serial {
                Some(s) if s.is_empty() || s.chars().any(char::is_control) || s.contains('"') => {
                    return Err(PolicyError::invalid(
                        &at("serial"),
                        "empty, or has quotes or control characters",
                    ));
                }
                other => other,
            };
            devices.push(DeviceFile {
                vendor: usb_id(&at("vendor"), &device.vendor)?,
                product: device
                    .product
                    .as_deref()
                    .map(|p| usb_id(&at("product"), p))
                    .transpose()?,
                serial,
                name: text(&at("name"), device.name)?,
            });
        }
        let control = file.device_control;
        if control.removable_storage > Action::Audit && control.removable_storage != Action::Block {
            return Err(PolicyError::invalid(
                "device_control.removable_storage",
                format!(
                    "{}: a device is allowed, audited or blocked (warn and justify need a file)",
                    control.removable_storage
                ),
            ));
        }
        if file.rules.len() > MAX_RULES {
            return Err(PolicyError::invalid(
                "rules",
                format!("more than {MAX_RULES}"),
            ));
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(file.rules.len());
        let mut by_channel: [Vec<u16>; Channel::ALL.len()] = Default::default();
        for (i, rule) in file.rules.into_iter().enumerate() {
            let rule = compile_rule(i, rule)?;
            if rules.iter().any(|r| r.id == rule.id) {
                return Err(PolicyError::invalid(
                    &format!("rules[{i}].id"),
                    format!("{:?} is the id of an earlier rule", rule.id),
                ));
            }
            for channel in Channel::ALL {
                if rule.when.channels == 0 || rule.when.channels & channel.bit() != 0 {
                    // MAX_RULES keeps the index within u16.
                    by_channel[channel as usize].push(u16::try_from(i).unwrap_or(u16::MAX));
                }
            }
            rules.push(rule);
        }
        Ok(Policy {
            name: file.name,
            revision: file.revision,
            mode: file.mode,
            default_action: file.default_action,
            timezone: file.timezone,
            zone,
            sanctioned_domains,
            devices,
            device_control: DeviceControl {
                removable_storage: control.removable_storage,
                allowed_read_only: control.allowed_read_only,
                message: control.message,
            },
            rules,
            by_channel,
        })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether this policy can stop something on `channel`: it is enforced and has an enforced
    /// `block` or `justify` rule for that channel (or for every channel). An enforcer that has
    /// to hold every action up to ask (an exec permission event) asks only then.
    pub fn enforces_channel(&self, channel: Channel) -> bool {
        self.mode == Mode::Enforce
            && self.by_channel[channel as usize].iter().any(|&index| {
                let rule = &self.rules[usize::from(index)];
                rule.mode == Mode::Enforce && rule.action >= Action::Justify
            })
    }

    /// Decides `request`; `now` stands for its time when it has none.
    pub fn decide(&self, request: &Request, now: jiff::Timestamp) -> Decision {
        let Some(channel) = request.channel else {
            return self.finish(Vec::new(), None);
        };
        let mut facts = Facts {
            request,
            time: request.time.unwrap_or(now),
            local: None,
            device_allowed: None,
            domain_sanctioned: None,
        };
        let mut matched = Vec::new();
        for &index in &self.by_channel[channel as usize] {
            let index = usize::from(index);
            let rule = &self.rules[index];
            if rule.when.holds(self, &mut facts)
                && !rule
                    .unless
                    .as_ref()
                    .is_some_and(|c| c.holds(self, &mut facts))
            {
                matched.push(index);
            }
        }
        self.finish(matched, None)
    }

    /// Decides whether a removable storage device may be used at all (USB authorisation).
    pub fn decide_device(&self, device: &UsbDevice) -> Decision {
        let action = if self.device_allowed(device) {
            Action::Allow
        } else {
            self.device_control.removable_storage
        };
        self.finish(Vec::new(), Some(action))
    }

    /// The strictest enforced action of `matched` (or `fixed`, or the default action).
    fn finish(&self, matched: Vec<usize>, fixed: Option<Action>) -> Decision {
        let base = fixed.unwrap_or(self.default_action);
        let mut enforced: (Action, Option<usize>) = (base, None);
        let mut any: (Action, Option<usize>) = (base, None);
        for &index in &matched {
            let rule = &self.rules[index];
            let candidate = (rule.action, Some(index));
            if rule.action > any.0 || any.1.is_none() && rule.action >= any.0 {
                any = candidate;
            }
            if rule.mode == Mode::Enforce
                && (rule.action > enforced.0 || enforced.1.is_none() && rule.action >= enforced.0)
            {
                enforced = candidate;
            }
        }
        if self.mode == Mode::Simulate {
            enforced = (Action::Allow, None);
        }
        Decision {
            action: enforced.0,
            rule: enforced.1,
            simulated: (any.0 > enforced.0).then_some(any),
            matched,
        }
    }

    /// Whether `device` is on the allow-list.
    pub fn device_allowed(&self, device: &UsbDevice) -> bool {
        self.devices.iter().any(|entry| {
            entry.vendor.eq_ignore_ascii_case(&device.vendor)
                && entry
                    .product
                    .as_deref()
                    .is_none_or(|p| p.eq_ignore_ascii_case(&device.product))
                && entry
                    .serial
                    .as_deref()
                    .is_none_or(|s| device.serial.as_deref() == Some(s))
        })
    }

    /// Whether `domain` is sanctioned (or a subdomain of a sanctioned one).
    pub fn domain_sanctioned(&self, domain: &str) -> bool {
        in_domains(&self.sanctioned_domains, domain)
    }

    /// The message to show for a decision, if it has one.
    pub fn message(&self, decision: &Decision) -> Option<&Message> {
        match decision.rule {
            Some(index) => self.rules.get(index).map(|r| &r.message),
            None if decision.action != Action::Allow && decision.matched.is_empty() => {
                Some(&self.device_control.message)
            }
            None => None,
        }
        .filter(|m| !m.en.is_empty() || !m.ja.is_empty())
    }
}

/// A request and what has been worked out of it so far (each at most once per decision).
struct Facts<'r> {
    request: &'r Request,
    time: jiff::Timestamp,
    /// Minutes since local midnight and weekday (Monday = 0).
    local: Option<(u16, u8)>,
    device_allowed: Option<bool>,
    domain_sanctioned: Option<bool>,
}

impl Facts<'_> {
    fn local(&mut self, zone: &TimeZone) -> (u16, u8) {
        *self.local.get_or_insert_with(|| {
            let civil = zone.to_offset(self.time).to_datetime(self.time);
            let minutes = u16::try_from(i32::from(civil.hour()) * 60 + i32::from(civil.minute()))
                .unwrap_or(0);
            let weekday = u8::try_from(civil.weekday().to_monday_zero_offset()).unwrap_or(0);
            (minutes, weekday)
        })
    }
}

impl Condition {
    fn holds(&self, policy: &Policy, facts: &mut Facts<'_>) -> bool {
        let request = facts.request;
        let object = &request.object;
        if !self.labels.is_empty()
            && !object
                .labels
                .iter()
                .any(|l| self.labels.iter().any(|w| w.eq_ignore_ascii_case(l.trim())))
        {
            return false;
        }
        if self.findings != 0 || self.min_findings.is_some() {
            let count = if self.findings == 0 {
                object.findings.total()
            } else {
                object.findings.of(self.findings)
            };
            if count < self.min_findings.unwrap_or(1) {
                return false;
            }
        }
        if let Some(want) = self.classified {
            let classified = !object.labels.is_empty() || object.findings.total() > 0;
            if classified != want {
                return false;
            }
        }
        if !self.extensions.is_empty()
            && !object.extension.as_deref().is_some_and(|e| {
                let e = e.trim_start_matches('.');
                self.extensions.iter().any(|w| w.eq_ignore_ascii_case(e))
            })
        {
            return false;
        }
        let destination = &request.destination;
        if let Some(want) = self.device_allowed {
            let allowed = *facts.device_allowed.get_or_insert_with(|| {
                destination
                    .device
                    .as_ref()
                    .is_some_and(|d| policy.device_allowed(d))
            });
            if allowed != want {
                return false;
            }
        }
        if let Some(want) = self.domain_sanctioned {
            let sanctioned = *facts.domain_sanctioned.get_or_insert_with(|| {
                destination
                    .domain
                    .as_deref()
                    .is_some_and(|d| policy.domain_sanctioned(d))
            });
            if sanctioned != want {
                return false;
            }
        }
        if !self.domains.is_empty()
            && !destination
                .domain
                .as_deref()
                .is_some_and(|d| in_domains(&self.domains, d))
        {
            return false;
        }
        if !self.processes.is_empty()
            && !request
                .process
                .as_ref()
                .and_then(|p| {
                    p.name
                        .as_deref()
                        .or_else(|| p.path.as_deref().map(base_name))
                })
                .is_some_and(|name| {
                    self.processes.iter().any(|w| {
                        w.eq_ignore_ascii_case(name)
                            || name.len() == w.len() + 4
                                && name
                                    .get(..w.len())
                                    .is_some_and(|n| n.eq_ignore_ascii_case(w))
                                && name
                                    .get(w.len()..)
                                    .is_some_and(|s| s.eq_ignore_ascii_case(".exe"))
                    })
                })
        {
            return false;
        }
        let person = &request.person;
        if !self.groups.is_empty()
            && !person
                .groups
                .iter()
                .any(|g| self.groups.iter().any(|w| w.eq_ignore_ascii_case(g)))
        {
            return false;
        }
        if !self.departments.is_empty()
            && !person
                .department
                .as_deref()
                .is_some_and(|d| self.departments.iter().any(|w| w.eq_ignore_ascii_case(d)))
        {
            return false;
        }
        if self.departing.is_some_and(|want| want != person.departing) {
            return false;
        }
        if self
            .min_risk
            .is_some_and(|min| person.risk.unwrap_or(Level::None) < min)
        {
            return false;
        }
        if self.hours.is_some() || self.days != 0 {
            let (minutes, weekday) = facts.local(&policy.zone);
            if self.days != 0 && self.days & (1 << weekday) == 0 {
                return false;
            }
            if let Some((start, end)) = self.hours {
                let inside = if start <= end {
                    start <= minutes && minutes < end
                } else {
                    minutes >= start || minutes < end
                };
                if !inside {
                    return false;
                }
            }
        }
        true
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Whether `domain` is one of `list` (lower case, no trailing dot) or a subdomain of one.
fn in_domains(list: &[String], domain: &str) -> bool {
    let domain = domain.trim_end_matches('.');
    list.iter().any(|entry| {
        domain.len() >= entry.len()
            && domain
                .get(domain.len() - entry.len()..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(entry))
            && (domain.len() == entry.len()
                || domain.as_bytes()[domain.len() - entry.len() - 1] == b'.')
    })
}

fn text(field: &str, value: String) -> Result<String, PolicyError> {
    if value.trim().is_empty() || value.chars().any(char::is_control) {
        return Err(PolicyError::invalid(
            field,
            "empty or has control characters",
        ));
    }
    Ok(value)
}

fn domain(field: &str, value: &str) -> Result<String, PolicyError> {
    let value = value.trim_end_matches('.').to_ascii_lowercase();
    let value = value.strip_prefix("*.").unwrap_or(&value).to_string();
    if value.is_empty()
        || !value.contains('.')
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        || value.split('.').any(str::is_empty)
    {
        return Err(PolicyError::invalid(
            field,
            format!("{value:?} is not a domain name (ASCII; IDNs in their xn-- form)"),
        ));
    }
    Ok(value)
}

fn compile_rule(i: usize, rule: RuleFile) -> Result<Rule, PolicyError> {
    let at = |key: &str| format!("rules[{i}].{key}");
    if rule.id.is_empty()
        || rule.id.len() > 64
        || !rule
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(PolicyError::invalid(
            &at("id"),
            format!("{:?}: 1 to 64 letters, digits, '-', '_' or '.'", rule.id),
        ));
    }
    let at = |key: &str| format!("rules[{i}] ({}).{key}", rule.id);
    let when = compile_condition(&at("when"), &rule.when)?;
    let unless = rule
        .unless
        .as_ref()
        .map(|c| compile_condition(&at("unless"), c))
        .transpose()?;
    if unless.as_ref().is_some_and(|c| c.channels != 0) {
        return Err(PolicyError::invalid(
            &at("unless.channels"),
            "channels belong in `when`",
        ));
    }
    Ok(Rule {
        id: rule.id,
        description: rule.description,
        action: rule.action,
        message: rule.message,
        mode: rule.mode,
        when,
        unless,
    })
}

fn compile_condition(at: &str, file: &ConditionFile) -> Result<Condition, PolicyError> {
    let key = |name: &str| format!("{at}.{name}");
    let mut condition = Condition::default();
    for (n, name) in file.channels.iter().enumerate() {
        let channel = Channel::parse(name).ok_or_else(|| {
            PolicyError::invalid(
                &format!("{}[{n}]", key("channels")),
                format!(
                    "{name:?} is not a channel ({})",
                    Channel::ALL.map(Channel::as_str).join(", ")
                ),
            )
        })?;
        condition.channels |= channel.bit();
    }
    for (n, name) in file.findings.iter().enumerate() {
        let kind = finding_kind(name).ok_or_else(|| {
            PolicyError::invalid(
                &format!("{}[{n}]", key("findings")),
                format!(
                    "{name:?} is not a finding kind ({})",
                    FindingKind::ALL.map(FindingKind::as_str).join(", ")
                ),
            )
        })?;
        condition.findings |= 1 << (kind as u16);
    }
    if file.min_findings == Some(0) {
        return Err(PolicyError::invalid(
            &key("min_findings"),
            "0 always holds; leave it out",
        ));
    }
    condition.min_findings = file.min_findings;
    let list = |name: &str, values: &[String]| -> Result<Vec<String>, PolicyError> {
        values
            .iter()
            .enumerate()
            .map(|(n, v)| {
                let v = v.trim();
                if v.is_empty() || v.chars().any(char::is_control) {
                    Err(PolicyError::invalid(
                        &format!("{}[{n}]", key(name)),
                        "empty or has control characters",
                    ))
                } else {
                    Ok(v.to_string())
                }
            })
            .collect()
    };
    condition.labels = list("labels", &file.labels)?;
    condition.extensions = list("extensions", &file.extensions)?
        .into_iter()
        .map(|e| e.trim_start_matches('.').to_string())
        .collect();
    condition.processes = list("processes", &file.processes)?;
    condition.groups = list("groups", &file.groups)?;
    condition.departments = list("departments", &file.departments)?;
    condition.domains = file
        .domains
        .iter()
        .enumerate()
        .map(|(n, d)| domain(&format!("{}[{n}]", key("domains")), d))
        .collect::<Result<_, _>>()?;
    condition.classified = file.classified;
    condition.device_allowed = file.device_allowed;
    condition.domain_sanctioned = file.domain_sanctioned;
    condition.departing = file.departing;
    condition.min_risk = file.min_risk;
    if let Some(hours) = &file.hours {
        condition.hours = Some(parse_hours(hours).ok_or_else(|| {
            PolicyError::invalid(
                &key("hours"),
                format!("{hours:?}: HH:MM-HH:MM expected (e.g. 22:00-06:00)"),
            )
        })?);
    }
    for (n, day) in file.days.iter().enumerate() {
        let index = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .position(|d| d.eq_ignore_ascii_case(day))
            .ok_or_else(|| {
                PolicyError::invalid(
                    &format!("{}[{n}]", key("days")),
                    format!("{day:?}: mon, tue, wed, thu, fri, sat or sun"),
                )
            })?;
        condition.days |= 1 << index;
    }
    Ok(condition)
}

/// `HH:MM-HH:MM` as minutes since midnight; `24:00` ends a day.
fn parse_hours(text: &str) -> Option<(u16, u16)> {
    let (start, end) = text.split_once('-')?;
    let minutes = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
        (m < 60 && (h < 24 || h == 24 && m == 0)).then_some(h * 60 + m)
    };
    let (start, end) = (minutes(start)?, minutes(end)?);
    (start != end && start < 24 * 60).then_some((start, end))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const POLICY: &str = r#"
        format = 1
        name = "test"
        revision = 3
        sanctioned_domains = ["box.com", "*.sharepoint.com"]

        [[devices]]
        name = "corporate USB"
        vendor = "0951"
        product = "1666"
        serial = "AAA1"

        [device_control]
        removable_storage = "block"

        [[rules]]
        id = "usb-classified"
        action = "block"
        message.en = "Classified files cannot be copied to USB media."
        when.channels = ["removable_media"]
        when.classified = true
        unless.device_allowed = true

        [[rules]]
        id = "usb-any"
        action = "audit"
        when.channels = ["removable_media"]

        [[rules]]
        id = "leaver-upload"
        action = "justify"
        when.channels = ["web_upload", "cloud_sync"]
        when.departing = true
        when.domain_sanctioned = false

        [[rules]]
        id = "night-print"
        action = "warn"
        mode = "simulate"
        when.channels = ["print"]
        when.hours = "22:00-06:00"

        [[rules]]
        id = "my-number-mail"
        action = "block"
        when.channels = ["email"]
        when.findings = ["my_number"]
        when.min_findings = 10
        unless.groups = ["人事部"]
    "#;

    fn policy() -> Policy {
        Policy::from_toml(POLICY).unwrap()
    }

    fn request(channel: Channel) -> Request {
        Request {
            channel: Some(channel),
            user: "u1".into(),
            time: Some("2026-12-01T03:00:00Z".parse().unwrap()),
            ..Request::default()
        }
    }

    fn ids(policy: &Policy, decision: &Decision) -> Vec<String> {
        decision
            .matched
            .iter()
            .map(|i| policy.rules()[*i].id.clone())
            .collect()
    }

    #[test]
    fn strictest_enforced_rule_decides_and_every_match_is_listed() {
        let policy = policy();
        let mut r = request(Channel::RemovableMedia);
        r.object.labels = vec!["社外秘".into()];
        let d = policy.decide(&r, jiff::Timestamp::now());
        assert_eq!(d.action, Action::Block);
        assert_eq!(policy.rules()[d.rule.unwrap()].id, "usb-classified");
        assert_eq!(ids(&policy, &d), ["usb-classified", "usb-any"]);
        assert_eq!(d.verdict(None), Verdict::Blocked);
        assert_eq!(
            policy.message(&d).unwrap().en,
            "Classified files cannot be copied to USB media."
        );

        // The allow-listed device is the exception; the audit rule still applies.
        r.destination.device = Some(UsbDevice {
            vendor: "0951".into(),
            product: "1666".into(),
            serial: Some("AAA1".into()),
        });
        let d = policy.decide(&r, jiff::Timestamp::now());
        assert_eq!(
            (d.action, ids(&policy, &d)),
            (Action::Audit, vec!["usb-any".into()])
        );
        // Another serial of the same model is not allow-listed.
        r.destination.device.as_mut().unwrap().serial = Some("AAA2".into());
        assert_eq!(
            policy.decide(&r, jiff::Timestamp::now()).action,
            Action::Block
        );

        // Unclassified data to USB is only audited.
        let d = policy.decide(&request(Channel::RemovableMedia), jiff::Timestamp::now());
        assert_eq!(d.action, Action::Audit);
    }

    #[test]
    fn justify_needs_a_written_reason() {
        let policy = policy();
        let mut r = request(Channel::WebUpload);
        r.person.departing = true;
        r.destination.domain = Some("files.example.net".into());
        let d = policy.decide(&r, jiff::Timestamp::now());
        assert_eq!(d.action, Action::Justify);
        assert_eq!(d.verdict(None), Verdict::Blocked);
        assert_eq!(d.verdict(Some("  ")), Verdict::Blocked);
        assert_eq!(d.verdict(Some("引継ぎ資料の送付")), Verdict::Overridden);
        // A sanctioned domain (or a subdomain of one) is not this rule's business.
        for domain in ["box.com", "app.box.com", "acme.sharepoint.com.", "BOX.COM"] {
            r.destination.domain = Some(domain.into());
            assert_eq!(
                policy.decide(&r, jiff::Timestamp::now()).action,
                Action::Allow,
                "{domain}"
            );
        }
        // A look-alike suffix is not a subdomain.
        r.destination.domain = Some("evilbox.com".into());
        assert_eq!(
            policy.decide(&r, jiff::Timestamp::now()).action,
            Action::Justify
        );
        r.person.departing = false;
        assert_eq!(
            policy.decide(&r, jiff::Timestamp::now()).action,
            Action::Allow
        );
    }

    #[test]
    fn simulated_rules_are_reported_never_enforced() {
        let policy = policy();
        // 03:00Z is 12:00 in Tokyo: outside the night window.
        let d = policy.decide(&request(Channel::Print), jiff::Timestamp::now());
        assert_eq!((d.action, d.simulated), (Action::Allow, None));
        let mut r = request(Channel::Print);
        r.time = Some("2026-12-01T14:30:00Z".parse().unwrap()); // 23:30 JST
        let d = policy.decide(&r, jiff::Timestamp::now());
        assert_eq!(d.action, Action::Allow);
        let (action, rule) = d.simulated.unwrap();
        assert_eq!(
            (action, policy.rules()[rule.unwrap()].id.as_str()),
            (Action::Warn, "night-print")
        );
        assert!(d.is_recorded());

        // A policy in simulate mode enforces nothing and reports what it would have done.
        let simulated =
            Policy::from_toml(&POLICY.replace("revision = 3", "revision = 3\nmode = \"simulate\""))
                .unwrap();
        let mut r = request(Channel::RemovableMedia);
        r.object.findings.add(FindingKind::MyNumber, 1);
        let d = simulated.decide(&r, jiff::Timestamp::now());
        assert_eq!(d.action, Action::Allow);
        assert_eq!(d.simulated.map(|s| s.0), Some(Action::Block));
        assert_eq!(d.verdict(None), Verdict::Allowed);
    }

    #[test]
    fn findings_thresholds_and_exceptions_by_group() {
        let policy = policy();
        let mut r = request(Channel::Email);
        r.object.findings.add(FindingKind::MyNumber, 9);
        r.object.findings.add(FindingKind::PhoneJp, 50);
        assert_eq!(
            policy.decide(&r, jiff::Timestamp::now()).action,
            Action::Allow
        );
        r.object.findings.add(FindingKind::MyNumber, 1);
        assert_eq!(
            policy.decide(&r, jiff::Timestamp::now()).action,
            Action::Block
        );
        r.person.groups = vec!["人事部".into()];
        assert_eq!(
            policy.decide(&r, jiff::Timestamp::now()).action,
            Action::Allow
        );
    }

    #[test]
    fn channels_with_enforced_stopping_rules_are_known() {
        let policy = policy();
        assert!(policy.enforces_channel(Channel::RemovableMedia));
        assert!(policy.enforces_channel(Channel::WebUpload)); // justify
        assert!(!policy.enforces_channel(Channel::Print)); // a simulated warn
        assert!(!policy.enforces_channel(Channel::AppLaunch));
        let simulated =
            Policy::from_toml(&POLICY.replace("revision = 3", "revision = 3\nmode = \"simulate\""))
                .unwrap();
        assert!(!simulated.enforces_channel(Channel::RemovableMedia));
        // A rule naming no channel covers every channel.
        let any = Policy::from_toml(
            "format = 1\nname = \"p\"\nrevision = 1\n[[rules]]\nid = \"any\"\n\
             action = \"block\"\nwhen.processes = [\"tor\"]\n",
        )
        .unwrap();
        assert!(any.enforces_channel(Channel::AppLaunch));
    }

    #[test]
    fn device_authorisation_follows_the_allow_list() {
        let policy = policy();
        let mut device = UsbDevice {
            vendor: "0951".into(),
            product: "1666".into(),
            serial: Some("AAA1".into()),
        };
        assert_eq!(policy.decide_device(&device).action, Action::Allow);
        device.serial = None;
        assert_eq!(policy.decide_device(&device).action, Action::Block);
    }

    #[test]
    fn time_windows_wrap_midnight_and_days_use_the_policy_zone() {
        assert_eq!(parse_hours("22:00-06:00"), Some((1320, 360)));
        assert_eq!(parse_hours("09:00-24:00"), Some((540, 1440)));
        for bad in [
            "9:00-18:00",
            "09:00",
            "25:00-01:00",
            "10:00-10:00",
            "09:60-10:00",
        ] {
            assert_eq!(parse_hours(bad), None, "{bad}");
        }
        let policy = Policy::from_toml(
            r#"format = 1
            name = "t"
            revision = 1
            [[rules]]
            id = "weekend"
            action = "warn"
            when.days = ["sat", "sun"]
            when.hours = "09:00-18:00""#,
        )
        .unwrap();
        let mut r = request(Channel::Clipboard);
        // Friday 2026-12-04 16:00Z = Saturday 01:00 JST: Saturday, outside hours.
        r.time = Some("2026-12-04T16:00:00Z".parse().unwrap());
        assert_eq!(
            policy.decide(&r, jiff::Timestamp::now()).action,
            Action::Allow
        );
        // Saturday 02:00Z = 11:00 JST.
        r.time = Some("2026-12-05T02:00:00Z".parse().unwrap());
        assert_eq!(
            policy.decide(&r, jiff::Timestamp::now()).action,
            Action::Warn
        );
        // Monday 02:00Z.
        r.time = Some("2026-12-07T02:00:00Z".parse().unwrap());
        assert_eq!(
            policy.decide(&r, jiff::Timestamp::now()).action,
            Action::Allow
        );
    }

    #[test]
    fn processes_match_with_or_without_exe() {
        let policy = Policy::from_toml(
            r#"format = 1
            name = "t"
            revision = 1
            [[rules]]
            id = "tor"
            action = "block"
            when.channels = ["app_launch"]
            when.processes = ["torbrowser"]"#,
        )
        .unwrap();
        let mut r = request(Channel::AppLaunch);
        for (name, path, action) in [
            (Some("TorBrowser.exe"), None, Action::Block),
            (None, Some("/opt/tor/torbrowser"), Action::Block),
            (Some("torbrowser.exe.bak"), None, Action::Allow),
            (Some("firefox"), None, Action::Allow),
        ] {
            r.process = Some(ProcessFacts {
                name: name.map(str::to_string),
                path: path.map(str::to_string),
                pid: None,
            });
            assert_eq!(
                policy.decide(&r, jiff::Timestamp::now()).action,
                action,
                "{name:?} {path:?}"
            );
        }
    }

    #[test]
    fn invalid_policies_name_the_key() {
        let cases = [
            ("format = 2\nname = \"t\"\nrevision = 1", "format"),
            (
                "format = 1\nname = \"t\"\nrevision = 1\ntimezone = \"Mars/Base\"",
                "timezone",
            ),
            ("format = 1\nname = \"t\"\nrevision = 1\nbogus = 1", "bogus"),
            (
                "format = 1\nname = \"t\"\nrevision = 1\n[[devices]]\nname = \"x\"\nvendor = \"95\"",
                "devices[0].vendor",
            ),
            (
                "format = 1\nname = \"t\"\nrevision = 1\n[[rules]]\nid = \"a\"\naction = \"block\"\nwhen.channels = [\"usb\"]",
                "rules[0] (a).when.channels[0]",
            ),
            (
                "format = 1\nname = \"t\"\nrevision = 1\n[[rules]]\nid = \"a\"\naction = \"block\"\nwhen.findings = [\"mynumber\"]",
                "when.findings[0]",
            ),
            (
                "format = 1\nname = \"t\"\nrevision = 1\n[[rules]]\nid = \"a\"\naction = \"block\"\nwhen.hours = \"9-17\"",
                "when.hours",
            ),
            (
                "format = 1\nname = \"t\"\nrevision = 1\n[[rules]]\nid = \"a\"\naction = \"block\"\nwhen = {}\n[[rules]]\nid = \"a\"\naction = \"warn\"\nwhen = {}",
                "rules[1].id",
            ),
            (
                "format = 1\nname = \"t\"\nrevision = 1\n[device_control]\nremovable_storage = \"warn\"",
                "device_control.removable_storage",
            ),
            (
                "format = 1\nname = \"t\"\nrevision = 1\n[[rules]]\nid = \"a\"\naction = \"stop\"\nwhen = {}",
                "action",
            ),
        ];
        for (text, field) in cases {
            let error = Policy::from_toml(text).unwrap_err().to_string();
            assert!(error.contains(field), "{text:?}: {error}");
        }
    }

    #[test]
    fn request_checks_name_the_field() {
        let mut r = request(Channel::Print);
        r.check().unwrap();
        r.user = " ".into();
        assert!(r.check().unwrap_err().to_string().starts_with("user:"));
        r.user = "u1".into();
        r.object.labels = vec!["a\u{7}".into()];
        assert!(
            r.check()
                .unwrap_err()
                .to_string()
                .starts_with("object.labels[0]:")
        );
        r.object.labels.clear();
        r.justification = Some("line one\nline two".into());
        r.check().unwrap();
        r.destination.device = Some(UsbDevice {
            vendor: "xyz".into(),
            product: "0001".into(),
            serial: None,
        });
        assert!(
            r.check()
                .unwrap_err()
                .to_string()
                .starts_with("destination.device.vendor:")
        );
    }

    #[test]
    fn requests_parse_from_json_with_findings_by_kind() {
        let r: Request = serde_json::from_str(
            r#"{"channel":"email","user":"u1","object":{"findings":{"my_number":3,"credit_card":1}}}"#,
        )
        .unwrap();
        assert_eq!(r.object.findings.get(FindingKind::MyNumber), 3);
        assert_eq!(r.object.findings.total(), 4);
        let back = serde_json::to_value(r.object.findings).unwrap();
        assert_eq!(back, serde_json::json!({"my_number": 3, "credit_card": 1}));
        assert!(
            serde_json::from_str::<Request>(
                r#"{"user":"u1","object":{"findings":{"mynumber":1}}}"#
            )
            .is_err()
        );
    }
}
