//! Justifications on the endpoint: a `justify` rule lifted by the person's written reason.
//!
//! A copy to removable media that a `justify` rule stops is remembered as a [`Denial`] for
//! the uid of the process that tried it. When that uid then gives a reason (`mamori justify`,
//! over the agent's socket, the uid taken from the kernel by [`peer_uid`]), each of its
//! denials becomes a grant for the same source file and the same mount, for
//! [`GRANT_LIFETIME`]: the next try is allowed, and its decision is recorded as `overridden`
//! with the reason. Nothing else can be lifted — a `block` rule never records a denial — and
//! nothing is lifted for anyone else: grants are per uid, source and destination.
//!
//! Everything is bounded (a uid, or all uids together, cannot make the agent hold more than
//! [`MAX_PER_UID`] / [`MAX_TOTAL`] of each, the oldest go first) and short-lived (denials
//! [`DENIAL_LIFETIME`], grants [`GRANT_LIFETIME`]); the time is always given by the caller,
//! so the logic is tested without waiting.

use std::collections::VecDeque;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::{SignedDuration, Timestamp};
use mamori_policy::{Action, Decision, Message, Policy, Request};

/// How long a denial waits for a reason.
pub const DENIAL_LIFETIME: SignedDuration = SignedDuration::from_mins(15);
/// How long a justified copy may be tried again.
pub const GRANT_LIFETIME: SignedDuration = SignedDuration::from_mins(10);
/// Most denials (and, apart, grants) kept for one uid; the oldest is dropped beyond it.
pub const MAX_PER_UID: usize = 64;
/// Most denials (and, apart, grants) kept in all.
pub const MAX_TOTAL: usize = 4096;
/// Longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 1000;
/// How far back the clock may be set before entries are dropped rather than kept longer.
const CLOCK_SLACK: SignedDuration = SignedDuration::from_secs(60);

/// Why a justification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JustifyError {
    #[error("the reason is empty")]
    Empty,
    #[error("the reason is longer than {MAX_REASON_CHARS} characters")]
    TooLong,
    #[error("the reason contains control characters (write it on one line)")]
    ControlCharacters,
    /// The kernel did not say who is on the other end of the socket.
    #[error("the caller's credentials (SO_PEERCRED): {0}")]
    Credentials(nix::errno::Errno),
}

/// A copy that a `justify` rule stopped, waiting for its person's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The source file, as the request named it.
    pub source: String,
    /// The removable mount it was to go to.
    pub destination: String,
    /// The deciding rule's id.
    pub rule: Option<String>,
    /// The rule's message to the person.
    pub message: Option<Message>,
    /// When it was denied.
    pub time: Timestamp,
}

/// A copy a justification allows until `expires`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub source: String,
    pub destination: String,
    pub expires: Timestamp,
}

/// The agent's denials and grants, shared by the sensor and the justification socket (a
/// handle: clones share the same state).
#[derive(Debug, Clone, Default)]
pub struct Justifications(Arc<Mutex<State>>);

#[derive(Debug, Default)]
struct State {
    /// By uid, oldest first.
    denials: VecDeque<(u32, Denial)>,
    /// By uid, oldest first.
    grants: VecDeque<(u32, Granted)>,
}

#[derive(Debug)]
struct Granted {
    source: String,
    destination: String,
    reason: String,
    time: Timestamp,
}

impl Justifications {
    pub fn new() -> Justifications {
        Justifications::default()
    }

    /// `uid`'s denials still waiting for a reason, oldest first.
    pub fn pending(&self, uid: u32, now: Timestamp) -> Vec<Denial> {
        let mut state = self.lock();
        state.prune(now);
        state
            .denials
            .iter()
            .filter(|(u, _)| *u == uid)
            .map(|(_, d)| d.clone())
            .collect()
    }

    /// `uid` gives `reason`: each of its pending denials (only those whose source matches
    /// `filter`, when given: the same path, a file under that directory, or that file name)
    /// becomes a grant for [`GRANT_LIFETIME`]. Returns what was granted — nothing when
    /// nothing waited. The reason is checked with [`check_reason`] first.
    pub fn justify(
        &self,
        uid: u32,
        reason: &str,
        filter: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<Grant>, JustifyError> {
        let reason = check_reason(reason)?;
        let mut state = self.lock();
        state.prune(now);
        let (lifted, kept): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut state.denials)
            .into_iter()
            .partition(|(u, d)| *u == uid && filter.is_none_or(|f| matches(&d.source, f)));
        state.denials = kept;
        let expires = now.checked_add(GRANT_LIFETIME).unwrap_or(Timestamp::MAX);
        let mut grants = Vec::with_capacity(lifted.len());
        for (_, denial) in lifted {
            grants.push(Grant {
                source: denial.source.clone(),
                destination: denial.destination.clone(),
                expires,
            });
            let granted = Granted {
                source: denial.source,
                destination: denial.destination,
                reason: reason.clone(),
                time: now,
            };
            insert(&mut state.grants, uid, granted, |g, new| {
                g.source == new.source && g.destination == new.destination
            });
        }
        Ok(grants)
    }

    /// What the sensor asks when a decision on a copy to removable media does not permit
    /// it: for a `justify` decision, the reason of `uid`'s live grant for the request's
    /// source and destination (the caller then allows, recording it), or else `None` with
    /// the denial remembered. Any other action (`block`) is never remembered nor lifted.
    pub(crate) fn consult(
        &self,
        uid: u32,
        policy: &Policy,
        decision: &Decision,
        request: &Request,
        now: Timestamp,
    ) -> Option<String> {
        if decision.action != Action::Justify {
            return None;
        }
        let (Some(source), Some(destination)) = (
            request.object.path.as_deref(),
            request.destination.name.as_deref(),
        ) else {
            return None;
        };
        let mut state = self.lock();
        state.prune(now);
        if let Some((_, granted)) = state
            .grants
            .iter()
            .rev()
            .find(|(u, g)| *u == uid && g.source == source && g.destination == destination)
        {
            return Some(granted.reason.clone());
        }
        let denial = Denial {
            source: source.to_string(),
            destination: destination.to_string(),
            rule: decision
                .rule
                .and_then(|i| policy.rules().get(i))
                .map(|r| r.id.clone()),
            message: policy.message(decision).cloned(),
            time: now,
        };
        insert(&mut state.denials, uid, denial, |d, new| {
            d.source == new.source && d.destination == new.destination
        });
        None
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn prune(&mut self, now: Timestamp) {
        self.denials
            .retain(|(_, d)| live(d.time, now, DENIAL_LIFETIME));
        self.grants
            .retain(|(_, g)| live(g.time, now, GRANT_LIFETIME));
    }
}

/// Whether something made at `time` is still valid at `now`. An entry from the future (the
/// clock was set back) is dropped beyond a minute, so a clock change cannot stretch it.
fn live(time: Timestamp, now: Timestamp, lifetime: SignedDuration) -> bool {
    let age = now.duration_since(time);
    age >= -CLOCK_SLACK && age < lifetime
}

/// Adds `item` for `uid` in place of an equal one (`same`), within the bounds: the uid's
/// oldest goes beyond [`MAX_PER_UID`], the oldest of all beyond [`MAX_TOTAL`].
fn insert<T>(list: &mut VecDeque<(u32, T)>, uid: u32, item: T, same: impl Fn(&T, &T) -> bool) {
    list.retain(|(u, t)| !(*u == uid && same(t, &item)));
    if list.iter().filter(|(u, _)| *u == uid).count() >= MAX_PER_UID
        && let Some(oldest) = list.iter().position(|(u, _)| *u == uid)
    {
        list.remove(oldest);
    }
    while list.len() >= MAX_TOTAL {
        list.pop_front();
    }
    list.push_back((uid, item));
}

/// Whether a source path is what a person's filter names: the path itself, a file under
/// that directory, or a file of that name.
fn matches(source: &str, filter: &str) -> bool {
    let dir = filter.trim_end_matches('/');
    source == filter
        || source
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
        || Path::new(source)
            .file_name()
            .is_some_and(|name| name.to_str() == Some(filter))
}

/// A reason as it is recorded: trimmed, not empty, at most [`MAX_REASON_CHARS`] characters,
/// one line without control characters.
pub fn check_reason(reason: &str) -> Result<String, JustifyError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(JustifyError::Empty);
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(JustifyError::TooLong);
    }
    if reason.chars().any(char::is_control) {
        return Err(JustifyError::ControlCharacters);
    }
    Ok(reason.to_string())
}

/// The (effective) uid of the process on the other end of a unix socket, as the kernel
/// recorded it when the socket was connected: whatever the request claims, this is who asks.
pub fn peer_uid(stream: &UnixStream) -> Result<u32, JustifyError> {
    nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)
        .map(|credentials| credentials.uid())
        .map_err(JustifyError::Credentials)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_policy::{Channel, DestinationFacts, ObjectFacts};

    const POLICY: &str = r#"
format = 1
name = "p"
revision = 1
[[rules]]
id = "secret-block"
action = "block"
when.channels = ["removable_media"]
when.labels = ["極秘"]
[[rules]]
id = "usb-justify"
action = "justify"
message.en = "Give a reason."
message.ja = "理由を入力してください。"
when.channels = ["removable_media"]
when.classified = true
"#;

    fn policy() -> Policy {
        Policy::from_toml(POLICY).unwrap_or_else(|e| panic!("{e}"))
    }

    fn request(source: &str, label: &str, destination: &str) -> Request {
        Request {
            channel: Some(Channel::RemovableMedia),
            user: "alice".into(),
            object: ObjectFacts {
                path: Some(source.into()),
                labels: vec![label.into()],
                ..Default::default()
            },
            destination: DestinationFacts {
                name: Some(destination.into()),
                ..Default::default()
            },
            ..Request::default()
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The sensor's question for `request` by `uid` at `now`.
    fn consult(j: &Justifications, uid: u32, request: &Request, now: Timestamp) -> Option<String> {
        let policy = policy();
        let decision = policy.decide(request, now);
        j.consult(uid, &policy, &decision, request, now)
    }

    const A: &str = "/home/alice/設計書.txt";
    const USB: &str = "/media/usb0";

    #[test]
    fn only_justify_decisions_wait_for_a_reason() {
        let j = Justifications::new();
        let secret = request("/home/alice/極秘.txt", "極秘", USB);
        assert_eq!(consult(&j, 1000, &secret, at(0)), None);
        assert!(
            j.pending(1000, at(0)).is_empty(),
            "a block is never pending"
        );
        assert!(
            j.justify(1000, "reason", None, at(1))
                .unwrap_or_else(|e| panic!("{e}"))
                .is_empty()
        );
        assert_eq!(consult(&j, 1000, &secret, at(2)), None, "nor lifted");

        let classified = request(A, "社外秘", USB);
        assert_eq!(consult(&j, 1000, &classified, at(3)), None);
        let pending = j.pending(1000, at(4));
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].source, A);
        assert_eq!(pending[0].destination, USB);
        assert_eq!(pending[0].rule.as_deref(), Some("usb-justify"));
        assert_eq!(
            pending[0].message.as_ref().map(|m| m.ja.as_str()),
            Some("理由を入力してください。")
        );
        assert_eq!(pending[0].time, at(3));
        // The same copy tried again is one denial, not two.
        assert_eq!(consult(&j, 1000, &classified, at(5)), None);
        assert_eq!(j.pending(1000, at(5)).len(), 1);
        // An allowed copy (nothing classified) records nothing.
        let plain = Request {
            object: ObjectFacts {
                path: Some("/home/alice/memo.txt".into()),
                ..Default::default()
            },
            ..classified.clone()
        };
        assert_eq!(consult(&j, 1000, &plain, at(6)), None);
        assert_eq!(j.pending(1000, at(6)).len(), 1);
    }

    #[test]
    fn a_grant_lifts_only_the_same_uid_source_and_destination() {
        let j = Justifications::new();
        let copy = request(A, "社外秘", USB);
        assert_eq!(consult(&j, 1000, &copy, at(0)), None);
        let grants = j
            .justify(1000, "  引継ぎ資料を取引先へ渡すため ", None, at(10))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            grants,
            vec![Grant {
                source: A.into(),
                destination: USB.into(),
                expires: at(10 + 600),
            }]
        );
        assert!(
            j.pending(1000, at(11)).is_empty(),
            "the denial became a grant"
        );
        assert_eq!(
            consult(&j, 1000, &copy, at(20)).as_deref(),
            Some("引継ぎ資料を取引先へ渡すため"),
            "trimmed"
        );
        // Again within the lifetime: still granted (cp may open twice).
        assert!(consult(&j, 1000, &copy, at(30)).is_some());
        // Another person, another file, another stick: nothing.
        assert_eq!(consult(&j, 1001, &copy, at(31)), None);
        let other = request("/home/alice/other.txt", "社外秘", USB);
        assert_eq!(consult(&j, 1000, &other, at(32)), None);
        let stick = request(A, "社外秘", "/media/usb1");
        assert_eq!(consult(&j, 1000, &stick, at(33)), None);
        // Those three are now pending for their own uid.
        assert_eq!(j.pending(1001, at(34)).len(), 1);
        assert_eq!(j.pending(1000, at(34)).len(), 2);
    }

    #[test]
    fn another_uids_justification_grants_nothing() {
        let j = Justifications::new();
        assert_eq!(consult(&j, 1000, &request(A, "社外秘", USB), at(0)), None);
        let grants = j
            .justify(1001, "not mine", None, at(1))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(grants.is_empty());
        assert_eq!(
            j.pending(1000, at(2)).len(),
            1,
            "still waiting for its owner"
        );
        assert_eq!(consult(&j, 1000, &request(A, "社外秘", USB), at(3)), None);
        assert!(j.pending(1001, at(3)).is_empty());
    }

    #[test]
    fn denials_and_grants_expire() {
        let j = Justifications::new();
        let copy = request(A, "社外秘", USB);
        consult(&j, 1000, &copy, at(0));
        assert_eq!(j.pending(1000, at(899)).len(), 1);
        assert!(j.pending(1000, at(900)).is_empty(), "15 minutes");
        let none = j
            .justify(1000, "late", None, at(901))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(none.is_empty());

        consult(&j, 1000, &copy, at(1000));
        assert_eq!(
            j.justify(1000, "why", None, at(1000))
                .unwrap_or_else(|e| panic!("{e}"))
                .len(),
            1
        );
        assert!(consult(&j, 1000, &copy, at(1599)).is_some());
        assert_eq!(consult(&j, 1000, &copy, at(1600)), None, "10 minutes");
        // The clock set back an hour: nothing lives on for an extra hour.
        consult(&j, 1000, &copy, at(2000));
        j.justify(1000, "why", None, at(2000))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            consult(&j, 1000, &copy, at(2000 - 30)).is_some(),
            "a little"
        );
        assert_eq!(consult(&j, 1000, &copy, at(2000 - 3600)), None);
    }

    #[test]
    fn a_filter_picks_which_denials_are_justified() {
        let j = Justifications::new();
        let files = [
            "/home/alice/a/one.txt",
            "/home/alice/a/two.txt",
            "/home/alice/b/three.txt",
            "/home/alice/ab.txt",
        ];
        for file in files {
            consult(&j, 1000, &request(file, "社外秘", USB), at(0));
        }
        let sources =
            |grants: Vec<Grant>| -> Vec<String> { grants.into_iter().map(|g| g.source).collect() };
        let by_name = j
            .justify(1000, "r", Some("three.txt"), at(1))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sources(by_name), ["/home/alice/b/three.txt"]);
        let by_dir = j
            .justify(1000, "r", Some("/home/alice/a/"), at(2))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            sources(by_dir),
            ["/home/alice/a/one.txt", "/home/alice/a/two.txt"]
        );
        let nothing = j
            .justify(1000, "r", Some("/home/alice/a"), at(3))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(nothing.is_empty(), "/home/alice/ab.txt is not under a/");
        let exact = j
            .justify(1000, "r", Some("/home/alice/ab.txt"), at(4))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sources(exact), ["/home/alice/ab.txt"]);
    }

    #[test]
    fn denials_and_grants_are_bounded() {
        let j = Justifications::new();
        let file = |n: usize| format!("/home/u/{n}.txt");
        for n in 0..MAX_PER_UID + 10 {
            consult(&j, 1000, &request(&file(n), "社外秘", USB), at(0));
        }
        let pending = j.pending(1000, at(1));
        assert_eq!(pending.len(), MAX_PER_UID);
        assert_eq!(pending[0].source, file(10), "the oldest went first");
        let granted = j
            .justify(1000, "r", None, at(2))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(granted.len(), MAX_PER_UID);
        // Many uids: at most MAX_TOTAL in all, the oldest uid's dropped first.
        let uids = u32::try_from(MAX_TOTAL / 8 + 1).unwrap_or(u32::MAX);
        for uid in 0..uids {
            for n in 0..8 {
                consult(&j, 2000 + uid, &request(&file(n), "社外秘", USB), at(3));
            }
        }
        let total: usize = (0..uids).map(|u| j.pending(2000 + u, at(4)).len()).sum();
        assert_eq!(total, MAX_TOTAL);
        assert!(j.pending(2000, at(4)).is_empty());
        assert_eq!(j.pending(2000 + uids - 1, at(4)).len(), 8);
        // The grants are kept apart: still there.
        assert!(consult(&j, 1000, &request(&file(20), "社外秘", USB), at(5)).is_some());
    }

    #[test]
    fn reasons_are_checked() {
        assert_eq!(check_reason("  客先への納品 \n"), Ok("客先への納品".into()));
        assert_eq!(check_reason(" \t\n"), Err(JustifyError::Empty));
        assert_eq!(check_reason(""), Err(JustifyError::Empty));
        let long = "あ".repeat(MAX_REASON_CHARS);
        assert_eq!(check_reason(&long), Ok(long.clone()));
        assert_eq!(
            check_reason(&format!("{long}あ")),
            Err(JustifyError::TooLong)
        );
        assert_eq!(
            check_reason("one\ntwo"),
            Err(JustifyError::ControlCharacters)
        );
        assert_eq!(
            check_reason("bell\u{7}"),
            Err(JustifyError::ControlCharacters)
        );
        assert_eq!(
            check_reason("esc\u{1b}[31m"),
            Err(JustifyError::ControlCharacters)
        );
        // A refused reason grants nothing and keeps the denial.
        let j = Justifications::new();
        consult(&j, 1000, &request(A, "社外秘", USB), at(0));
        assert_eq!(j.justify(1000, "  ", None, at(1)), Err(JustifyError::Empty));
        assert_eq!(j.pending(1000, at(2)).len(), 1);
    }

    #[test]
    fn the_peer_uid_comes_from_the_kernel() {
        let (a, _b) = UnixStream::pair().unwrap_or_else(|e| panic!("{e}"));
        // The effective uid: the second of `Uid:` in /proc/self/status.
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let euid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|id| id.parse::<u32>().ok());
        assert_eq!(peer_uid(&a).ok(), euid);
    }
}
