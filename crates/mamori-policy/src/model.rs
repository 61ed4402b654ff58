//! The policy file: its TOML form, its validation, and the vocabulary (channels, actions)
//! every enforcer shares. `docs/policy.md` documents every key; `docs/policy.toml` is a
//! complete example.
//!
//! Validation is strict: an unknown key, an unknown channel or finding kind, a malformed
//! device id or time window is an error naming the rule and the key, so a typo never turns
//! into a rule that silently matches nothing (or everything).

use std::fmt;

use mamori_content::detect::FindingKind;
use mamori_event::{DestinationKind, Kind, Level};
use serde::{Deserialize, Serialize};

use crate::PolicyError;

/// The policy file format this build reads.
pub const FORMAT_VERSION: u32 = 1;
/// Most rules one policy may hold.
pub const MAX_RULES: usize = 4096;

/// What a rule, or the device control, decides. Ordered by strictness:
/// allow < audit < warn < justify < block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Let it happen; record nothing beyond the activity itself.
    Allow,
    /// Let it happen and record the decision.
    Audit,
    /// Let it happen after showing the rule's coaching message.
    Warn,
    /// Let it happen once the user has written a reason (recorded); otherwise stop it.
    Justify,
    /// Stop it.
    Block,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Allow,
        Action::Audit,
        Action::Warn,
        Action::Justify,
        Action::Block,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Audit => "audit",
            Action::Warn => "warn",
            Action::Justify => "justify",
            Action::Block => "block",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How data leaves (or an application starts): what a rule's `channels` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A write or copy to removable media (USB storage, SD card, phone, optical disc).
    RemovableMedia,
    /// A print job.
    Print,
    /// An upload through a browser or other HTTP client.
    WebUpload,
    /// A file handed to a cloud storage sync client (OneDrive, Box, Dropbox…).
    CloudSync,
    /// An outgoing e-mail.
    Email,
    /// A copy to the clipboard.
    Clipboard,
    /// An application starting.
    AppLaunch,
    /// A write or copy to a network file share.
    NetworkShare,
}

impl Channel {
    pub const ALL: [Channel; 8] = [
        Channel::RemovableMedia,
        Channel::Print,
        Channel::WebUpload,
        Channel::CloudSync,
        Channel::Email,
        Channel::Clipboard,
        Channel::AppLaunch,
        Channel::NetworkShare,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::RemovableMedia => "removable_media",
            Channel::Print => "print",
            Channel::WebUpload => "web_upload",
            Channel::CloudSync => "cloud_sync",
            Channel::Email => "email",
            Channel::Clipboard => "clipboard",
            Channel::AppLaunch => "app_launch",
            Channel::NetworkShare => "network_share",
        }
    }

    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == name)
    }

    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The destination kind a decision event records for this channel.
    pub fn destination_kind(self) -> Option<DestinationKind> {
        Some(match self {
            Channel::RemovableMedia => DestinationKind::Removable,
            Channel::Print => DestinationKind::Printer,
            Channel::WebUpload => DestinationKind::Web,
            Channel::CloudSync => DestinationKind::Cloud,
            Channel::Email => DestinationKind::Email,
            Channel::Clipboard => DestinationKind::Clipboard,
            Channel::NetworkShare => DestinationKind::NetworkShare,
            Channel::AppLaunch => return None,
        })
    }

    /// The channel of a stored activity, for back-tests: `None` for activity no channel
    /// covers (a logon, a local file read).
    pub fn of_activity(kind: Kind, destination: Option<DestinationKind>) -> Option<Channel> {
        match kind {
            Kind::Print => return Some(Channel::Print),
            Kind::EmailSend => return Some(Channel::Email),
            Kind::ClipboardCopy => return Some(Channel::Clipboard),
            Kind::ProcessStart => return Some(Channel::AppLaunch),
            Kind::HttpUpload => {
                return Some(if destination == Some(DestinationKind::Cloud) {
                    Channel::CloudSync
                } else {
                    Channel::WebUpload
                });
            }
            Kind::FileCopy
            | Kind::FileMove
            | Kind::FileWrite
            | Kind::FileCreate
            | Kind::FileRename => {}
            _ => return None,
        }
        match destination? {
            DestinationKind::Removable => Some(Channel::RemovableMedia),
            DestinationKind::NetworkShare => Some(Channel::NetworkShare),
            DestinationKind::Cloud => Some(Channel::CloudSync),
            DestinationKind::Web => Some(Channel::WebUpload),
            DestinationKind::Email => Some(Channel::Email),
            DestinationKind::Printer => Some(Channel::Print),
            DestinationKind::Clipboard => Some(Channel::Clipboard),
            DestinationKind::Local => None,
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a policy (or one rule) is enforced or only tried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decisions are carried out.
    #[default]
    Enforce,
    /// Decisions are made and recorded, never carried out: everything is let through.
    Simulate,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Simulate => "simulate",
        }
    }
}

/// A message shown to the person whose action a rule stopped or warned about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    #[serde(default)]
    pub en: String,
    #[serde(default)]
    pub ja: String,
}

/// The policy file as written (`docs/policy.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// The file format: [`FORMAT_VERSION`].
    pub format: u32,
    /// The policy's name, recorded in every decision.
    pub name: String,
    /// The policy's revision: raise it with every change; recorded in every decision, so a
    /// decision can be traced to the exact policy text.
    pub revision: u64,
    #[serde(default)]
    pub mode: Mode,
    /// IANA time zone of the rules' `hours` and `days` (default `Asia/Tokyo`).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// What happens when no rule matches (default `allow`).
    #[serde(default = "default_action")]
    pub default_action: Action,
    /// Sanctioned cloud and web domains (a domain also covers its subdomains).
    #[serde(default)]
    pub sanctioned_domains: Vec<String>,
    /// Allow-listed removable devices.
    #[serde(default)]
    pub devices: Vec<DeviceFile>,
    /// Device authorisation: what happens to a removable device that is not allow-listed.
    #[serde(default)]
    pub device_control: DeviceControlFile,
    /// The rules, in the order their matches are listed.
    #[serde(default)]
    pub rules: Vec<RuleFile>,
}

fn default_timezone() -> String {
    "Asia/Tokyo".to_string()
}

fn default_action() -> Action {
    Action::Allow
}

/// One allow-listed device.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceFile {
    /// A name for people (e.g. "総務部 暗号化USB").
    pub name: String,
    /// USB vendor id: four hexadecimal digits.
    pub vendor: String,
    /// USB product id: four hexadecimal digits; absent = every product of the vendor.
    #[serde(default)]
    pub product: Option<String>,
    /// Serial number (iSerial); absent = every device of the vendor and product.
    #[serde(default)]
    pub serial: Option<String>,
}

/// The `[device_control]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceControlFile {
    /// The action for a removable storage device that is not allow-listed: `allow`, `audit`
    /// or `block` (default `allow`: no device control).
    #[serde(default = "default_action")]
    pub removable_storage: Action,
    /// Whether allow-listed devices may only be read (Windows Device Control enforces this;
    /// USBGuard cannot and says so in its output).
    #[serde(default)]
    pub allowed_read_only: bool,
    #[serde(default)]
    pub message: Message,
}

impl Default for DeviceControlFile {
    fn default() -> Self {
        DeviceControlFile {
            removable_storage: Action::Allow,
            allowed_read_only: false,
            message: Message::default(),
        }
    }
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Unique id (letters, digits, `-`, `_`, `.`).
    pub id: String,
    #[serde(default)]
    pub description: String,
    pub action: Action,
    /// Shown to the person for `warn`, `justify` and `block`.
    #[serde(default)]
    pub message: Message,
    /// `simulate` tries the rule out in an enforced policy: its matches are recorded, never
    /// carried out.
    #[serde(default)]
    pub mode: Mode,
    /// Every given condition must hold.
    pub when: ConditionFile,
    /// The rule does not apply when every condition given here holds.
    #[serde(default)]
    pub unless: Option<ConditionFile>,
}

/// Conditions: every key given must hold; a list holds when any of its values does.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionFile {
    #[serde(default)]
    pub channels: Vec<String>,
    /// Classification labels (e.g. `社外秘`), compared without regard to ASCII case.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Content finding kinds (`my_number`, `credit_card`…).
    #[serde(default)]
    pub findings: Vec<String>,
    /// How many findings of the kinds in `findings` (or of any kind) are needed (default 1).
    #[serde(default)]
    pub min_findings: Option<u32>,
    /// `true`: the data carries a label or a finding; `false`: neither.
    #[serde(default)]
    pub classified: Option<bool>,
    /// File name extensions without the dot.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// `true`: the destination device is allow-listed; `false`: it is not (or unknown).
    #[serde(default)]
    pub device_allowed: Option<bool>,
    /// `true`: the destination domain is sanctioned; `false`: it is not (or unknown).
    #[serde(default)]
    pub domain_sanctioned: Option<bool>,
    /// Destination domains (each also covering its subdomains).
    #[serde(default)]
    pub domains: Vec<String>,
    /// Process image names (e.g. `chrome`, `torbrowser.exe`), without regard to ASCII case.
    #[serde(default)]
    pub processes: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub departments: Vec<String>,
    /// `true`: the person has a notice or termination date (a leaver).
    #[serde(default)]
    pub departing: Option<bool>,
    /// The person's risk level is at least this.
    #[serde(default)]
    pub min_risk: Option<Level>,
    /// Local time window `HH:MM-HH:MM` in the policy's zone; may wrap midnight.
    #[serde(default)]
    pub hours: Option<String>,
    /// Days of the week (`mon` … `sun`) in the policy's zone.
    #[serde(default)]
    pub days: Vec<String>,
}

impl PolicyFile {
    /// Parses a policy's TOML text. Errors name the line and the key.
    pub fn from_toml(text: &str) -> Result<PolicyFile, PolicyError> {
        let file: PolicyFile =
            toml::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
        if file.format != FORMAT_VERSION {
            return Err(PolicyError::invalid(
                "format",
                format!(
                    "{} is not a policy format this build reads ({FORMAT_VERSION})",
                    file.format
                ),
            ));
        }
        Ok(file)
    }
}

/// The finding kind named `name`.
pub(crate) fn finding_kind(name: &str) -> Option<FindingKind> {
    FindingKind::ALL.into_iter().find(|k| k.as_str() == name)
}

/// Four hexadecimal digits, lower-cased.
pub(crate) fn usb_id(field: &str, text: &str) -> Result<String, PolicyError> {
    if text.len() == 4 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(PolicyError::invalid(
            field,
            format!("{text:?}: four hexadecimal digits expected (e.g. 0951)"),
        ))
    }
}
