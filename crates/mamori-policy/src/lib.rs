//! # mamori-policy
//!
//! Prevention policies: what may leave, how, and for whom.
//!
//! This crate owns:
//!
//! 1. **The policy file** (module [`model`], documented in `docs/policy.md`): versioned TOML
//!    with rules on channel (removable media, print, web upload, cloud sync, e-mail,
//!    clipboard, app launch, network share), labels and content findings, destination
//!    (allow-listed USB devices, sanctioned domains), the person (group, department,
//!    departing, risk level) and time of day; actions `allow`, `audit`, `warn`, `justify`,
//!    `block`; enforce or simulate, per policy and per rule.
//! 2. **The decision engine** (module [`engine`]): [`Policy::decide`] answers a [`Request`]
//!    in well under a microsecond, listing every rule that matched.
//! 3. **Decisions as evidence** (module [`record`]): each decision as a `policy.decision`
//!    event for the ledger, and stored activity as the requests it would have made, for
//!    back-tests.
//! 4. **Native compilers** (module [`compile`]): the device part of a policy as USBGuard rules
//!    and as Microsoft Defender Device Control XML.
//!
//! It knows nothing of HTTP, storage or the operating system: the server, the agent and the
//! mail guard ask it, and carry out what it decides.
//!
//! ```
//! use mamori_policy::{Action, Channel, Policy, Request};
//!
//! let policy = Policy::from_toml(r#"
//!     format = 1
//!     name = "example"
//!     revision = 1
//!     [[rules]]
//!     id = "usb-confidential"
//!     action = "block"
//!     message.ja = "社外秘のファイルはUSBメモリにコピーできません。"
//!     when.channels = ["removable_media"]
//!     when.labels = ["社外秘"]
//! "#)?;
//! let mut request = Request { channel: Some(Channel::RemovableMedia), user: "u1".into(),
//!     ..Request::default() };
//! request.object.labels.push("社外秘".into());
//! let decision = policy.decide(&request, jiff::Timestamp::now());
//! assert_eq!(decision.action, Action::Block);
//! assert_eq!(policy.rules()[decision.rule.unwrap()].id, "usb-confidential");
//! # Ok::<(), mamori_policy::PolicyError>(())
//! ```

pub mod compile;
pub mod engine;
pub mod model;
pub mod record;

pub use engine::{
    Decision, DestinationFacts, Findings, ObjectFacts, PersonFacts, Policy, ProcessFacts, Request,
    Rule, UsbDevice, Verdict,
};
pub use model::{Action, Channel, FORMAT_VERSION, Message, Mode, PolicyFile};
pub use record::{answer, decision_event, request_of_event};

/// Why a policy was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The text is not TOML of the policy's shape (the message names the line and the key).
    #[error("{0}")]
    Syntax(String),
    /// A value is not acceptable.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
}

impl PolicyError {
    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> PolicyError {
        PolicyError::Invalid {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}
