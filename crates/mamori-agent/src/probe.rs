//! What the kernel lets the agent do: enforce (fanotify permission events), only observe
//! (notification events), or nothing at all — with a reason a person can act on.
//!
//! Containers and CI runners usually lack `CAP_SYS_ADMIN`, which mount marks and permission
//! events need; some kernels are built without `CONFIG_FANOTIFY_ACCESS_PERMISSIONS`. The
//! agent says which, and the sensor degrades to observing instead of failing.

use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::AT_FDCWD;
use nix::sys::fanotify::{EventFFlags, Fanotify, InitFlags, MarkFlags, MaskFlags};

/// What the agent may do on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// Permission events work: writes can be denied.
    Enforce,
    /// Only notifications: activity is reported, decisions are made but not enforced.
    ObserveOnly(String),
    /// No fanotify at all.
    Unavailable(String),
}

impl Capability {
    pub fn enforces(&self) -> bool {
        matches!(self, Capability::Enforce)
    }

    /// The reason, for a log line or a status page.
    pub fn describe(&self) -> String {
        match self {
            Capability::Enforce => "enforcing: fanotify permission events are available".into(),
            Capability::ObserveOnly(why) => format!("observing only: {why}"),
            Capability::Unavailable(why) => format!("no file sensor: {why}"),
        }
    }
}

pub(crate) fn init_flags(class: InitFlags) -> InitFlags {
    class | InitFlags::FAN_CLOEXEC | InitFlags::FAN_NONBLOCK
}

pub(crate) fn event_flags() -> EventFFlags {
    EventFFlags::O_RDONLY | EventFFlags::O_LARGEFILE | EventFFlags::O_CLOEXEC
}

/// Why a fanotify call failed, in words.
pub(crate) fn explain(call: &str, errno: Errno) -> String {
    let hint = match errno {
        Errno::EPERM => {
            "the agent needs CAP_SYS_ADMIN (run it as root, outside an unprivileged container)"
        }
        Errno::ENOSYS => "the kernel has no fanotify (CONFIG_FANOTIFY)",
        Errno::EINVAL => {
            "the kernel refuses these flags (permission events need \
             CONFIG_FANOTIFY_ACCESS_PERMISSIONS; mount marks need Linux 2.6.37+)"
        }
        Errno::EMFILE => "too many fanotify groups or open files",
        Errno::ENOENT => "the path does not exist",
        Errno::ENODEV | Errno::EXDEV => "the file system cannot be marked",
        _ => "",
    };
    if hint.is_empty() {
        format!("{call}: {errno}")
    } else {
        format!("{call}: {} — {hint}", errno.desc())
    }
}

/// Tries a permission-class group with a mount mark on `path` (then a notification-class
/// one), and says what works. The groups are closed again.
pub fn probe(path: &Path) -> Capability {
    let content = Fanotify::init(init_flags(InitFlags::FAN_CLASS_CONTENT), event_flags())
        .map_err(|e| explain("fanotify_init(FAN_CLASS_CONTENT)", e))
        .and_then(|group| {
            group
                .mark(
                    MarkFlags::FAN_MARK_ADD | MarkFlags::FAN_MARK_MOUNT,
                    MaskFlags::FAN_OPEN_PERM,
                    AT_FDCWD,
                    Some(path),
                )
                .map_err(|e| explain("fanotify_mark(FAN_OPEN_PERM)", e))
        });
    let Err(why_not_enforce) = content else {
        return Capability::Enforce;
    };
    let notif = Fanotify::init(init_flags(InitFlags::FAN_CLASS_NOTIF), event_flags())
        .map_err(|e| explain("fanotify_init(FAN_CLASS_NOTIF)", e))
        .and_then(|group| {
            group
                .mark(
                    MarkFlags::FAN_MARK_ADD | MarkFlags::FAN_MARK_MOUNT,
                    MaskFlags::FAN_OPEN | MaskFlags::FAN_CLOSE_WRITE,
                    AT_FDCWD,
                    Some(path),
                )
                .map_err(|e| explain("fanotify_mark(FAN_OPEN)", e))
        });
    match notif {
        Ok(()) => Capability::ObserveOnly(format!("{why_not_enforce}; running as observer")),
        Err(why) => Capability::Unavailable(format!("{why_not_enforce}; {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_in_words() {
        let text = explain("fanotify_init", Errno::EPERM);
        assert!(text.contains("CAP_SYS_ADMIN"), "{text}");
        assert!(
            text.starts_with("fanotify_init: Operation not permitted"),
            "{text}"
        );
        assert_eq!(explain("x", Errno::EIO), format!("x: {}", Errno::EIO));
    }

    #[test]
    fn probe_answers() {
        // Whatever this machine allows, the answer has a reason when it is not Enforce.
        match probe(Path::new("/")) {
            Capability::Enforce => {}
            Capability::ObserveOnly(why) | Capability::Unavailable(why) => {
                assert!(!why.is_empty());
            }
        }
    }
}
