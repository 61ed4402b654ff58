//! The policy: which action each check's findings lead to, and [`MailGuard`], the
//! [`Guard`] that runs the checks and applies the policy to every message.
//!
//! A policy is a TOML file (`docs/mailguard.toml` is a complete, commented example). Every
//! section is optional and every key has a default a Japanese organisation would expect:
//!
//! | check | default action |
//! |---|---|
//! | `lookalike_domain` | hold for the sender's confirmation |
//! | `first_external_domain` (new to the sender) | delay 5 minutes, cancellable |
//! | `first_external_domain_org` (new to the organisation) | delay 5 minutes, cancellable |
//! | `many_external` (more than 10 outside addresses in To/Cc) | move them to Bcc |
//! | `name_mismatch` | hold for the sender |
//! | `sensitive_content` (to outside recipients) | hold for approval |
//! | `encrypted_archive` (to outside recipients) | hold for the sender |
//! | `uninspectable_attachment` | pass (logged) |
//! | `unreadable_message` | hold for the sender |
//! | `sender_context` (departing, or risk high or above) | attachments to outside recipients held for approval, every other action one step stricter |
//!
//! The decision takes the strictest action of all findings (reject > hold for approval > hold
//! for sender > delay > pass; of two delays the longer), keeps every reason, and names the
//! approver: the sender's supervisor when known, else the policy's default approver (`None`
//! when there is neither: whoever handles held mail decides). For the first 14 days of a new
//! history (`first_external_domain.learning_days`) first-time domains are only reported:
//! every domain is new at first.
//!
//! Only messages with at least one outside recipient (envelope or header) are checked for
//! anything but look-alike domains: what stays inside the organisation is not a leak.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use mamori_content::detect::{DetectorConfig, FindingKind, LabelRule};
use serde::{Deserialize, Serialize};

use crate::checks::{
    self, ContentInspector, ContentScan, History, OwnDomains, Recipients, RiskLevel, SenderFacts,
    Senders,
};
use crate::decision::{Action, Decision, Envelope, Guard, Reason};
use crate::lookalike::{LookalikeError, Protected};
use crate::message::{self, Message};

/// The policy file format this build reads.
pub const POLICY_VERSION: u32 = 1;

/// What a policy says to do with a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    Pass,
    /// Delay by the section's `minutes`.
    Delay,
    HoldSender,
    HoldApproval,
    Reject,
    /// Only for `many_external`: deliver with To and Cc moved to Bcc.
    MoveToBcc,
}

impl Act {
    pub fn as_str(self) -> &'static str {
        match self {
            Act::Pass => "pass",
            Act::Delay => "delay",
            Act::HoldSender => "hold_sender",
            Act::HoldApproval => "hold_approval",
            Act::Reject => "reject",
            Act::MoveToBcc => "move_to_bcc",
        }
    }
}

/// The delay when a section's `minutes` is not given.
pub const DEFAULT_DELAY_MINUTES: u32 = 5;
/// The longest delay a policy may set: a week (longer is a hold, not a delay).
pub const MAX_DELAY_MINUTES: u32 = 7 * 24 * 60;

/// A check's section as the validation and the guard see it: on or off, and its action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub enabled: bool,
    pub action: Act,
    /// For `action = "delay"`.
    pub minutes: u32,
}

/// Sections with only `enabled`, `action` and `minutes`, each with its own default action:
/// serde fills a missing key from the section type's `Default`, so each needs a type.
macro_rules! simple_section {
    ($(#[$doc:meta])* $name:ident, $default:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// Run the check at all (off: no reason, no cost).
            pub enabled: bool,
            pub action: Act,
            /// For `action = "delay"`.
            pub minutes: u32,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    enabled: true,
                    action: $default,
                    minutes: DEFAULT_DELAY_MINUTES,
                }
            }
        }

        impl $name {
            pub fn rule(&self) -> Rule {
                Rule {
                    enabled: self.enabled,
                    action: self.action,
                    minutes: self.minutes,
                }
            }
        }
    };
}

simple_section!(
    /// `[lookalike_domain]`: a recipient domain imitating an own or partner domain.
    LookalikeSection,
    Act::HoldSender
);
simple_section!(
    /// `[first_external_domain_org]`: an outside domain nobody in the organisation has sent
    /// to before.
    FirstExternalOrgSection,
    Act::Delay
);
simple_section!(
    /// `[name_mismatch]`: a known contact's display name with another address.
    NameMismatchSection,
    Act::HoldSender
);
simple_section!(
    /// `[encrypted_archive]`: a password-protected attachment to outside recipients.
    EncryptedArchiveSection,
    Act::HoldSender
);
simple_section!(
    /// `[uninspectable_attachment]`: an attachment that could not be fully inspected.
    UninspectableSection,
    Act::Pass
);
simple_section!(
    /// `[unreadable_message]`: a message (or its To/Cc header) that could not be read.
    UnreadableSection,
    Act::HoldSender
);

/// `[first_external_domain]`: an outside domain this sender has never sent to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FirstExternalSection {
    pub enabled: bool,
    pub action: Act,
    pub minutes: u32,
    /// For this many days after the history was started, first-time domains (of both
    /// checks) are reported but not acted on: the history is still learning who writes to
    /// whom, and every domain would be new.
    pub learning_days: u32,
}

impl Default for FirstExternalSection {
    fn default() -> Self {
        FirstExternalSection {
            enabled: true,
            action: Act::Delay,
            minutes: DEFAULT_DELAY_MINUTES,
            learning_days: 14,
        }
    }
}

/// `[many_external]`: more outside addresses in To and Cc than `threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ManyExternalSection {
    pub enabled: bool,
    /// More than this many outside addresses (To and Cc together) is a finding.
    pub threshold: usize,
    /// `move_to_bcc` (deliver with the recipients hidden from each other), or any action
    /// (`hold_sender` offers the sender to resend with Bcc).
    pub action: Act,
    pub minutes: u32,
}

impl Default for ManyExternalSection {
    fn default() -> Self {
        ManyExternalSection {
            enabled: true,
            threshold: 10,
            action: Act::MoveToBcc,
            minutes: DEFAULT_DELAY_MINUTES,
        }
    }
}

/// `[sensitive_content]`: personal data, labels or secrets to outside recipients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensitiveContentSection {
    pub enabled: bool,
    pub action: Act,
    pub minutes: u32,
    /// The finding kinds that count (`my_number`, `credit_card`, `bank_account`,
    /// `passport`, `label`, `secret`, `corporate_number`, `phone_jp`, `postal_code_jp`,
    /// `email`, `source_code`, `type_mismatch`).
    pub kinds: Vec<String>,
    /// Findings at least this sure (0 to 1): 0.8 is where shape, check digit and context
    /// all agree.
    pub min_confidence: f32,
    /// Wall-clock bound on inspecting a message's attachments, in seconds: each one, and
    /// all of them together (those left when it is spent are reported as not inspected).
    pub max_seconds: f64,
    /// The organisation's own label vocabulary instead of the built-in one (`社外秘`,
    /// `極秘`, `Confidential`, …).
    pub labels: Option<Vec<LabelRule>>,
}

impl Default for SensitiveContentSection {
    fn default() -> Self {
        SensitiveContentSection {
            enabled: true,
            action: Act::HoldApproval,
            minutes: DEFAULT_DELAY_MINUTES,
            kinds: checks::DEFAULT_SENSITIVE_KINDS
                .iter()
                .map(|kind| kind.as_str().to_owned())
                .collect(),
            min_confidence: 0.8,
            max_seconds: 2.0,
            labels: None,
        }
    }
}

/// `[sender_context]`: a departing or high-risk sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SenderContextSection {
    pub enabled: bool,
    /// A departing employee is a risky sender.
    pub departing: bool,
    /// A sender at this risk level or above is a risky sender.
    pub min_risk: RiskLevel,
    /// Any message to outside recipients from a risky sender.
    pub action: Act,
    /// A message with attachments to outside recipients from a risky sender.
    pub attachments_action: Act,
    /// For `delay` in either action.
    pub minutes: u32,
    /// Every other finding's action one step stricter (delay → hold for sender → hold for
    /// approval; approval is not escalated to rejection).
    pub escalate: bool,
}

impl Default for SenderContextSection {
    fn default() -> Self {
        SenderContextSection {
            enabled: true,
            departing: true,
            min_risk: RiskLevel::High,
            action: Act::Pass,
            attachments_action: Act::HoldApproval,
            minutes: DEFAULT_DELAY_MINUTES,
            escalate: true,
        }
    }
}

/// `[domains]`: the organisation's own domains (recipients there are internal) and its
/// partners' (outside, but protected from look-alikes like its own).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DomainsSection {
    pub own: Vec<String>,
    pub partner: Vec<String>,
}

/// The whole policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// The file format ([`POLICY_VERSION`]).
    pub version: u32,
    /// Who approves held messages of senders without a known supervisor.
    pub default_approver: Option<String>,
    pub domains: DomainsSection,
    pub lookalike_domain: LookalikeSection,
    pub first_external_domain: FirstExternalSection,
    pub first_external_domain_org: FirstExternalOrgSection,
    pub many_external: ManyExternalSection,
    pub name_mismatch: NameMismatchSection,
    pub sensitive_content: SensitiveContentSection,
    pub encrypted_archive: EncryptedArchiveSection,
    pub uninspectable_attachment: UninspectableSection,
    pub unreadable_message: UnreadableSection,
    pub sender_context: SenderContextSection,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            version: POLICY_VERSION,
            default_approver: None,
            domains: DomainsSection::default(),
            lookalike_domain: LookalikeSection::default(),
            first_external_domain: FirstExternalSection::default(),
            first_external_domain_org: FirstExternalOrgSection::default(),
            many_external: ManyExternalSection::default(),
            name_mismatch: NameMismatchSection::default(),
            sensitive_content: SensitiveContentSection::default(),
            encrypted_archive: EncryptedArchiveSection::default(),
            uninspectable_attachment: UninspectableSection::default(),
            unreadable_message: UnreadableSection::default(),
            sender_context: SenderContextSection::default(),
        }
    }
}

/// A policy that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A key with a wrong value or type, an unknown key, or a TOML syntax error; `field` is
    /// the key's dotted path (`many_external.threshold`), empty for the file as a whole.
    #[error("{}{message}", if field.is_empty() { String::new() } else { format!("{field}: ") })]
    Invalid { field: String, message: String },
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("domains: {0}")]
    Domains(#[from] LookalikeError),
}

fn invalid(field: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

impl Policy {
    /// Reads a policy from TOML text; every error names the key it is about.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let deserializer =
            toml::Deserializer::parse(text).map_err(|e| invalid("", e.to_string()))?;
        let policy: Policy = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let field = e.path().to_string();
            let field = if field == "." { String::new() } else { field };
            invalid(&field, e.inner().to_string().trim_end())
        })?;
        policy.validate()?;
        Ok(policy)
    }

    /// Reads a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Policy::from_toml(&text)
    }

    /// Checks what types alone do not: ranges, names, and which action goes where.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.version != POLICY_VERSION {
            return Err(invalid(
                "version",
                format!(
                    "version {} is not known to this build, which reads version {POLICY_VERSION}",
                    self.version
                ),
            ));
        }
        if let Some(approver) = &self.default_approver
            && !approver.contains('@')
        {
            return Err(invalid(
                "default_approver",
                format!("{approver:?} is not an e-mail address"),
            ));
        }
        for (field, list) in [
            ("domains.own", &self.domains.own),
            ("domains.partner", &self.domains.partner),
        ] {
            if let Some(empty) = list.iter().position(|d| d.trim().is_empty()) {
                return Err(invalid(&format!("{field}[{empty}]"), "an empty domain"));
            }
        }
        let rules = [
            ("lookalike_domain", self.lookalike_domain.rule()),
            (
                "first_external_domain",
                Rule {
                    enabled: self.first_external_domain.enabled,
                    action: self.first_external_domain.action,
                    minutes: self.first_external_domain.minutes,
                },
            ),
            (
                "first_external_domain_org",
                self.first_external_domain_org.rule(),
            ),
            ("name_mismatch", self.name_mismatch.rule()),
            (
                "sensitive_content",
                Rule {
                    enabled: self.sensitive_content.enabled,
                    action: self.sensitive_content.action,
                    minutes: self.sensitive_content.minutes,
                },
            ),
            ("encrypted_archive", self.encrypted_archive.rule()),
            (
                "uninspectable_attachment",
                self.uninspectable_attachment.rule(),
            ),
            ("unreadable_message", self.unreadable_message.rule()),
            (
                "sender_context",
                Rule {
                    enabled: self.sender_context.enabled,
                    action: self.sender_context.action,
                    minutes: self.sender_context.minutes,
                },
            ),
        ];
        for (section, rule) in &rules {
            if rule.action == Act::MoveToBcc {
                return Err(invalid(
                    &format!("{section}.action"),
                    "move_to_bcc is only for many_external",
                ));
            }
            validate_minutes(section, rule.minutes)?;
        }
        if self.sender_context.attachments_action == Act::MoveToBcc {
            return Err(invalid(
                "sender_context.attachments_action",
                "move_to_bcc is only for many_external",
            ));
        }
        validate_minutes("many_external", self.many_external.minutes)?;
        let content = &self.sensitive_content;
        for (index, kind) in content.kinds.iter().enumerate() {
            if checks::finding_kind(kind).is_none() {
                let known: Vec<&str> = FindingKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err(invalid(
                    &format!("sensitive_content.kinds[{index}]"),
                    format!("unknown kind {kind:?}; known: {}", known.join(", ")),
                ));
            }
        }
        if !(0.0..=1.0).contains(&content.min_confidence) {
            return Err(invalid(
                "sensitive_content.min_confidence",
                format!("{} is not between 0 and 1", content.min_confidence),
            ));
        }
        if !(content.max_seconds > 0.0 && content.max_seconds <= 600.0) {
            return Err(invalid(
                "sensitive_content.max_seconds",
                format!(
                    "{} is not between 0 (excluded) and 600",
                    content.max_seconds
                ),
            ));
        }
        if let Some(labels) = &content.labels
            && let Some(index) = labels
                .iter()
                .position(|l| l.text.trim().is_empty() || l.level.trim().is_empty())
        {
            return Err(invalid(
                &format!("sensitive_content.labels[{index}]"),
                "a label needs a text and a level",
            ));
        }
        Ok(())
    }

    /// The domains protected from look-alikes: own, then partner.
    pub fn protected_domains(&self) -> impl Iterator<Item = &str> {
        self.domains
            .own
            .iter()
            .chain(self.domains.partner.iter())
            .map(String::as_str)
    }

    /// The detector configuration for content inspection (the policy's labels, or the
    /// built-in vocabulary).
    fn detector_config(&self) -> DetectorConfig {
        let mut config = DetectorConfig::default();
        if let Some(labels) = &self.sensitive_content.labels {
            config.labels = labels.clone();
        }
        config
    }

    fn sensitive_kinds(&self) -> Vec<FindingKind> {
        self.sensitive_content
            .kinds
            .iter()
            .filter_map(|kind| checks::finding_kind(kind))
            .collect()
    }
}

fn validate_minutes(section: &str, minutes: u32) -> Result<(), PolicyError> {
    if minutes == 0 || minutes > MAX_DELAY_MINUTES {
        return Err(invalid(
            &format!("{section}.minutes"),
            format!("{minutes} is not between 1 and {MAX_DELAY_MINUTES} (a week)"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Combining findings
// ---------------------------------------------------------------------------------------------

/// How strict an action is: reject > hold for approval > hold for sender > delay > pass.
fn rank(action: &Action) -> u8 {
    match action {
        Action::Pass => 0,
        Action::Delay { .. } => 1,
        Action::HoldForSender => 2,
        Action::HoldForApproval { .. } => 3,
        Action::Reject => 4,
    }
}

/// The stricter of two actions; of two delays the longer.
pub fn strictest(a: Action, b: Action) -> Action {
    match (&a, &b) {
        (Action::Delay { minutes: x }, Action::Delay { minutes: y }) => Action::Delay {
            minutes: (*x).max(*y),
        },
        _ if rank(&b) > rank(&a) => b,
        _ => a,
    }
}

/// One step stricter: delay → hold for sender → hold for approval. Pass stays pass (nothing
/// was found to be stricter about); approval is not turned into rejection, which would lose a
/// message a supervisor may rightly release.
pub fn escalate(action: Action, approver: Option<String>) -> Action {
    match action {
        Action::Pass => Action::Pass,
        Action::Delay { .. } => Action::HoldForSender,
        Action::HoldForSender | Action::HoldForApproval { .. } => {
            Action::HoldForApproval { approver }
        }
        Action::Reject => Action::Reject,
    }
}

/// The decision's action for a policy action (`move_to_bcc` delivers, so it is a pass).
fn action_of(act: Act, minutes: u32, approver: &Option<String>) -> Action {
    match act {
        Act::Pass | Act::MoveToBcc => Action::Pass,
        Act::Delay => Action::Delay { minutes },
        Act::HoldSender => Action::HoldForSender,
        Act::HoldApproval => Action::HoldForApproval {
            approver: approver.clone(),
        },
        Act::Reject => Action::Reject,
    }
}

// ---------------------------------------------------------------------------------------------
// The guard
// ---------------------------------------------------------------------------------------------

/// The mail guard: reads each message once, runs the checks the policy enables, and
/// decides. `Send + Sync`: one guard serves every connection.
pub struct MailGuard {
    policy: Policy,
    protected: Protected,
    own: OwnDomains,
    senders: Arc<Senders>,
    history: History,
    content: ContentInspector,
    /// Until when first-time domains are reported but not acted on.
    learning_until: Option<jiff::Timestamp>,
    /// The organisation's prevention policy (docs/policy.md), asked about every message to
    /// outside recipients on its `email` channel, next to the guard's own checks; replaced
    /// whole when a newer revision arrives.
    prevention: RwLock<Option<Arc<mamori_policy::Policy>>>,
}

impl std::fmt::Debug for MailGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailGuard")
            .field("policy", &self.policy)
            .field("history", &self.history)
            .finish_non_exhaustive()
    }
}

/// A finding and the action the policy gives it.
struct Finding {
    reason: Reason,
    action: Action,
    move_to_bcc: bool,
}

impl MailGuard {
    /// A guard applying `policy` (validated by [`Policy::from_toml`]), with `protected` the
    /// own and partner domains ([`Policy::protected_domains`]), `senders` the facts the
    /// server provides and `history` what has been sent before.
    pub fn new(
        policy: Policy,
        protected: Protected,
        senders: Arc<Senders>,
        history: History,
    ) -> MailGuard {
        let own = OwnDomains::new(&policy.domains.own);
        let content = &policy.sensitive_content;
        let content = ContentInspector::new(
            &policy.detector_config(),
            content.min_confidence,
            &policy.sensitive_kinds(),
            checks::mail_limits(content.max_seconds),
        );
        let learning_days = i64::from(policy.first_external_domain.learning_days);
        let learning_until = if learning_days == 0 {
            None
        } else {
            match history.created_at() {
                Ok(created) => created
                    .checked_add(jiff::SignedDuration::from_hours(learning_days * 24))
                    .ok(),
                Err(error) => {
                    tracing::warn!(%error, "history start unknown; no learning period");
                    None
                }
            }
        };
        MailGuard {
            policy,
            protected,
            own,
            senders,
            history,
            content,
            learning_until,
            prevention: RwLock::new(None),
        }
    }

    /// Also asks `policy`'s `email` rules about every message to outside recipients: `block`
    /// rejects it, `justify` holds it for the sender, `warn` delays it (cancellable, with a
    /// notice), `audit` records the match; each matching rule is a reason.
    pub fn with_prevention(self, policy: mamori_policy::Policy) -> MailGuard {
        self.set_prevention(policy);
        self
    }

    /// Puts `policy` in force for the messages decided from now on.
    pub fn set_prevention(&self, policy: mamori_policy::Policy) {
        *self
            .prevention
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(policy));
    }

    /// The revision of the prevention policy in force, if there is one.
    pub fn prevention_revision(&self) -> Option<u64> {
        self.prevention
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|p| p.revision)
    }

    /// A guard whose protected domains are the policy's own and partner domains.
    pub fn from_policy(
        policy: Policy,
        senders: Arc<Senders>,
        history: History,
    ) -> Result<MailGuard, PolicyError> {
        let protected = Protected::new(policy.protected_domains())?;
        Ok(MailGuard::new(policy, protected, senders, history))
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    pub fn senders(&self) -> &Arc<Senders> {
        &self.senders
    }

    /// [`Guard::decide`] at a given time (the learning period depends on it).
    pub fn decide_at(&self, envelope: &Envelope, raw: &[u8], now: jiff::Timestamp) -> Decision {
        let message = message::read(raw);
        self.evaluate(envelope, &message, now)
    }

    /// The decision about a message already read.
    pub fn evaluate(
        &self,
        envelope: &Envelope,
        message: &Message,
        now: jiff::Timestamp,
    ) -> Decision {
        let policy = &self.policy;
        let sender = checks::sender_of(envelope, message);
        let facts = self.facts_of(&sender, message);
        let approver = facts
            .as_ref()
            .and_then(|f| f.supervisor.clone())
            .or_else(|| policy.default_approver.clone());
        let recipients = Recipients::collect(envelope, message, &self.own);
        let external = recipients.any_external();
        let mut findings: Vec<Finding> = Vec::new();
        let mut add = |reasons: Vec<Reason>, act: Act, minutes: u32| {
            for reason in reasons {
                findings.push(Finding {
                    reason,
                    action: action_of(act, minutes, &approver),
                    move_to_bcc: act == Act::MoveToBcc,
                });
            }
        };

        if policy.lookalike_domain.enabled {
            let rule = &policy.lookalike_domain;
            add(
                checks::lookalike_domain(&self.protected, &recipients),
                rule.action,
                rule.minutes,
            );
        }
        if external {
            if policy.unreadable_message.enabled {
                let rule = &policy.unreadable_message;
                add(
                    checks::unreadable_message(message),
                    rule.action,
                    rule.minutes,
                );
            }
            self.history_checks(&sender, &recipients, now, &mut add);
            if policy.many_external.enabled {
                let rule = &policy.many_external;
                add(
                    checks::many_external(&recipients, rule.threshold),
                    rule.action,
                    rule.minutes,
                );
            }
            let scan = self.content_checks(message, &mut add);
            let prevention = self
                .prevention
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some(prevention) = &prevention {
                let scan = scan.unwrap_or_else(|| self.content.scan(message));
                let request = prevention_request(&sender, facts.as_ref(), &recipients, &scan, now);
                for (reasons, act) in prevention_findings(prevention, &request, now) {
                    add(reasons, act, DEFAULT_DELAY_MINUTES);
                }
            }
        }

        // The sender's context changes the others' actions, so it comes last.
        let context = &policy.sender_context;
        let mut context_reasons = Vec::new();
        if context.enabled && external {
            let min_risk = context.min_risk;
            context_reasons =
                checks::sender_context(&sender, facts.as_ref(), context.departing, min_risk);
        }
        let risky = !context_reasons.is_empty();
        let mut action = Action::Pass;
        let mut move_to_bcc = false;
        let mut reasons = Vec::with_capacity(findings.len() + 1);
        for finding in findings {
            let finding_action = if risky && context.escalate {
                escalate(finding.action, approver.clone())
            } else {
                finding.action
            };
            action = strictest(action, finding_action);
            move_to_bcc |= finding.move_to_bcc;
            reasons.push(finding.reason);
        }
        if risky {
            let act = if message.attachments.is_empty() {
                context.action
            } else {
                context.attachments_action
            };
            action = strictest(action, action_of(act, context.minutes, &approver));
            reasons.extend(context_reasons);
        }
        Decision {
            action,
            reasons,
            move_to_bcc,
        }
    }

    /// The facts about the sender: by the envelope sender, else by a header From address.
    fn facts_of(&self, sender: &str, message: &Message) -> Option<SenderFacts> {
        self.senders.get(sender).or_else(|| {
            message
                .from
                .iter()
                .find_map(|mailbox| self.senders.get(&mailbox.address))
        })
    }

    /// `first_external_domain(_org)` and `name_mismatch`, which read the history. A history
    /// that cannot be read is reported (and logged) but does not stop mail: every message
    /// would be held otherwise, and the other checks still run.
    fn history_checks(
        &self,
        sender: &str,
        recipients: &Recipients,
        now: jiff::Timestamp,
        add: &mut impl FnMut(Vec<Reason>, Act, u32),
    ) {
        let policy = &self.policy;
        let first = &policy.first_external_domain;
        let first_org = &policy.first_external_domain_org;
        if first.enabled || first_org.enabled {
            let learning = self.learning_until.is_some_and(|until| now < until);
            match checks::first_external_domain(&self.history, sender, recipients) {
                Ok(reasons) => {
                    for reason in reasons {
                        let (enabled, act, minutes) =
                            if reason.check == checks::FIRST_EXTERNAL_DOMAIN_ORG {
                                (first_org.enabled, first_org.action, first_org.minutes)
                            } else {
                                (first.enabled, first.action, first.minutes)
                            };
                        if !enabled {
                            continue;
                        }
                        let act = if learning { Act::Pass } else { act };
                        add(vec![reason], act, minutes);
                    }
                }
                Err(error) => add(
                    vec![history_unavailable(&error)],
                    Act::Pass,
                    DEFAULT_DELAY_MINUTES,
                ),
            }
        }
        let rule = &policy.name_mismatch;
        if rule.enabled {
            match checks::name_mismatch(&self.history, sender, recipients) {
                Ok(reasons) => add(reasons, rule.action, rule.minutes),
                Err(error) => add(
                    vec![history_unavailable(&error)],
                    Act::Pass,
                    DEFAULT_DELAY_MINUTES,
                ),
            }
        }
    }

    /// `sensitive_content`, `encrypted_archive` and `uninspectable_attachment`, from one
    /// inspection of the body and attachments (returned, for the prevention policy).
    fn content_checks(
        &self,
        message: &Message,
        add: &mut impl FnMut(Vec<Reason>, Act, u32),
    ) -> Option<ContentScan> {
        let policy = &self.policy;
        let sensitive = &policy.sensitive_content;
        let encrypted = &policy.encrypted_archive;
        let uninspectable = &policy.uninspectable_attachment;
        if !(sensitive.enabled || encrypted.enabled || uninspectable.enabled) {
            return None;
        }
        let scan = self.content.scan(message);
        if sensitive.enabled {
            add(
                checks::sensitive_content(&scan),
                sensitive.action,
                sensitive.minutes,
            );
        }
        if encrypted.enabled {
            add(
                checks::encrypted_archive(&scan),
                encrypted.action,
                encrypted.minutes,
            );
        }
        if uninspectable.enabled {
            add(
                checks::uninspectable_attachment(&scan),
                uninspectable.action,
                uninspectable.minutes,
            );
        }
        Some(scan)
    }

    /// [`Guard::delivered`] at a given time.
    pub fn delivered_at(&self, envelope: &Envelope, raw: &[u8], now: jiff::Timestamp) {
        let message = message::read(raw);
        let sender = checks::sender_of(envelope, &message);
        let recipients = Recipients::collect(envelope, &message, &self.own);
        let delivery = checks::delivery(&sender, &recipients);
        if delivery.domains.is_empty() && delivery.contacts.is_empty() {
            return;
        }
        if let Err(error) = self.history.record(&delivery, now) {
            tracing::warn!(%error, "history not updated");
        }
    }
}

/// The prevention policy's request for a message: channel `email`, the sender (and what the
/// server says of them), the labels and findings of the body and attachments, the outside
/// recipients and the first outside domain.
fn prevention_request(
    sender: &str,
    facts: Option<&SenderFacts>,
    recipients: &Recipients,
    scan: &ContentScan,
    now: jiff::Timestamp,
) -> mamori_policy::Request {
    let mut object = mamori_policy::ObjectFacts::default();
    for (_, counts) in &scan.places {
        for (kind, count) in &counts.by_kind {
            if let Some(kind) = FindingKind::ALL.into_iter().find(|k| k.as_str() == *kind) {
                object.findings.add(kind, *count);
            }
        }
        for label in &counts.labels {
            if !object.labels.contains(label) {
                object.labels.push(label.clone());
            }
        }
    }
    let outside: Vec<&checks::Recipient> = recipients.list.iter().filter(|r| !r.internal).collect();
    mamori_policy::Request {
        channel: Some(mamori_policy::Channel::Email),
        time: Some(now),
        user: facts.and_then(|f| f.user.clone()).unwrap_or_else(|| {
            if sender.is_empty() {
                "(null sender)".into()
            } else {
                sender.to_string()
            }
        }),
        person: mamori_policy::PersonFacts {
            departing: facts.is_some_and(|f| f.departing),
            risk: facts.and_then(|f| f.risk),
            ..Default::default()
        },
        object,
        destination: mamori_policy::DestinationFacts {
            domain: outside.first().map(|r| r.domain.clone()),
            recipients: outside.iter().map(|r| r.address.clone()).collect(),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// What the prevention policy's decision adds: one reason per matching rule, with the act the
/// decision maps to (`block` → reject, `justify` → hold for the sender, `warn` → delay,
/// `audit` and simulated rules → recorded only).
fn prevention_findings(
    policy: &mamori_policy::Policy,
    request: &mamori_policy::Request,
    now: jiff::Timestamp,
) -> Vec<(Vec<Reason>, Act)> {
    use mamori_policy::Action as P;
    let decision = policy.decide(request, now);
    decision
        .matched
        .iter()
        .filter_map(|index| policy.rules().get(*index))
        .map(|rule| {
            let deciding = rule.mode == mamori_policy::Mode::Enforce
                && policy.mode == mamori_policy::Mode::Enforce;
            let act = match rule.action {
                P::Block if deciding => Act::Reject,
                P::Justify if deciding => Act::HoldSender,
                P::Warn if deciding => Act::Delay,
                _ => Act::Pass,
            };
            let en = if rule.message.en.is_empty() {
                format!(
                    "prevention policy {} rule {} ({})",
                    policy.name, rule.id, rule.action
                )
            } else {
                format!(
                    "{} (policy {} rule {})",
                    rule.message.en, policy.name, rule.id
                )
            };
            let ja = if rule.message.ja.is_empty() {
                format!(
                    "情報保護ポリシー {} のルール {}（{}）",
                    policy.name, rule.id, rule.action
                )
            } else {
                format!(
                    "{}（ポリシー {} ルール {}）",
                    rule.message.ja, policy.name, rule.id
                )
            };
            (
                vec![Reason {
                    check: PREVENTION_POLICY,
                    en,
                    ja,
                }],
                act,
            )
        })
        .collect()
}

/// The check name of the prevention policy's reasons.
pub const PREVENTION_POLICY: &str = "prevention_policy";

/// The reason recorded when the history cannot be read; the error itself (with the file's
/// path) goes to the log, not into a reason the sender may be shown.
fn history_unavailable(error: &checks::HistoryError) -> Reason {
    tracing::warn!(%error, "history unavailable; first-time domain and name checks skipped");
    Reason {
        check: checks::HISTORY_UNAVAILABLE,
        en: "the sending history could not be read: first-time domains and display names \
             were not checked"
            .to_owned(),
        ja: "送信履歴を読み取れなかったため、初回送信先と表示名の確認は行っていません".to_owned(),
    }
}

impl Guard for MailGuard {
    fn decide(&self, envelope: &Envelope, message: &[u8]) -> Decision {
        self.decide_at(envelope, message, jiff::Timestamp::now())
    }

    fn delivered(&self, envelope: &Envelope, message: &[u8]) {
        self.delivered_at(envelope, message, jiff::Timestamp::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strictest_action_wins_and_the_longest_delay() {
        let approval = Action::HoldForApproval { approver: None };
        assert_eq!(
            strictest(Action::Pass, Action::HoldForSender),
            Action::HoldForSender
        );
        assert_eq!(strictest(approval.clone(), Action::HoldForSender), approval);
        assert_eq!(strictest(Action::Reject, approval.clone()), Action::Reject);
        assert_eq!(
            strictest(Action::Delay { minutes: 5 }, Action::Delay { minutes: 30 }),
            Action::Delay { minutes: 30 }
        );
        assert_eq!(
            strictest(Action::Delay { minutes: 5 }, Action::Pass),
            Action::Delay { minutes: 5 }
        );
    }

    #[test]
    fn escalation_stops_at_approval() {
        let boss = Some("boss@example.co.jp".to_owned());
        assert_eq!(escalate(Action::Pass, boss.clone()), Action::Pass);
        assert_eq!(
            escalate(Action::Delay { minutes: 5 }, boss.clone()),
            Action::HoldForSender
        );
        assert_eq!(
            escalate(Action::HoldForSender, boss.clone()),
            Action::HoldForApproval {
                approver: boss.clone()
            }
        );
        assert_eq!(escalate(Action::Reject, boss), Action::Reject);
    }

    #[test]
    fn the_default_policy_is_valid() {
        assert!(Policy::default().validate().is_ok());
    }
}
