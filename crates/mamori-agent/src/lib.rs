//! # mamori-agent
//!
//! The Linux endpoint agent's library: the file sensor and the enforcement of prevention
//! policies on removable media.
//!
//! This crate owns:
//!
//! 1. **Mount discovery** ([`mounts`]): `/proc/self/mountinfo`, and which mounts are
//!    removable (sysfs `removable` flag, USB bus, or declared).
//! 2. **Capability probing** ([`probe`]): enforce, observe only, or nothing — with a reason a
//!    person can act on.
//! 3. **Classification** ([`classify`]): a file's labels and findings through
//!    `mamori-content`, bounded, cached by file identity.
//! 4. **Taint** ([`taint`]): which classified files each process read lately.
//! 5. **Processes** ([`process`]): name, executable, user, and whether an open is a write.
//! 6. **The sensor** ([`sensor`]): one fanotify group and its thread — file activity
//!    reported, permission events on removable mounts decided by `mamori-policy` and denied
//!    when the verdict does not permit; program launches on exec mounts reported and, when
//!    the policy has enforced `app_launch` rules, decided and denied likewise. Files
//!    created, deleted and renamed there come from a second group ([`dirent`]).
//! 7. **Logon sessions** ([`sessions`]): who is logged on, from where, from utmp.
//! 8. **Print jobs** ([`print`]): CUPS's page log, followed across restarts and rotation.
//! 9. **USB authorisation** ([`usb`]): new USB devices start unauthorised; removable storage
//!    the policy's device control blocks stays so (sysfs `authorized`, as USBGuard does).
//! 10. **Justifications** ([`justify`]): copies a `justify` rule stopped, waiting for their
//!     person's reason, and the grants a reason makes (per uid, file and mount, for minutes).
//!
//! It decides nothing itself (the policy does) and stores nothing (the caller turns
//! [`sensor::Record`]s into events, e.g. with [`mamori_policy::decision_event`]). It never
//! opens a file on a removable mount: that would wait on its own permission event.

pub mod classify;
pub mod dirent;
pub mod justify;
pub mod mounts;
pub mod print;
pub mod probe;
pub mod process;
pub mod sensor;
pub mod sessions;
pub mod taint;
pub mod uevent;
pub mod usb;

pub use classify::{Classification, Classifier, ClassifierConfig};
pub use justify::Justifications;
pub use mounts::{Mount, RemovableRules};
pub use probe::{Capability, probe};
pub use sensor::{
    ActivityKind, DecisionRecord, DeviceResolver, FileActivity, PolicyHandle, Record, Sensor,
    SensorConfig, SensorStats,
};
pub use taint::TaintConfig;

/// Why the agent could not do something.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A system call or file failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// fanotify cannot be used here (the reason says why and what to do).
    #[error("fanotify is not available: {0}")]
    Unavailable(String),
}

impl AgentError {
    pub(crate) fn io(what: &str, source: impl Into<std::io::Error>) -> AgentError {
        AgentError::Io {
            what: what.to_string(),
            source: source.into(),
        }
    }
}
