//! Kernel uevents: the moment a USB device comes or goes, straight from the kernel.
//!
//! The kernel multicasts every device change (add, remove, bind, …) on a
//! `NETLINK_KOBJECT_UEVENT` socket, group 1, as one datagram: a header `ACTION@DEVPATH`, then
//! NUL-separated `KEY=VALUE` variables. This module owns reading that socket
//! ([`UeventMonitor`]) and parsing those datagrams ([`parse`]). It needs no udevd: group 1 is
//! the kernel's own, so it works on a minimal system and sees an event before udev's rules run.
//!
//! An event is a *hint*, not the truth: the agent rescans sysfs ([`crate::usb::Authoriser`])
//! when one arrives, and reads vendor, product and serial there (the kernel's `PRODUCT`
//! variable has no serial). So nothing is decided on a datagram's word, and a forged or lost
//! one costs at most a rescan or a delay until the next periodic one.
//!
//! Parsing is total: any bytes give an event or a [`UeventError`] naming the reason, never a
//! panic. Datagrams over [`MAX_DATAGRAM`] bytes or with more than [`MAX_VARIABLES`]
//! variables are refused. Invalid UTF-8 is replaced (U+FFFD) rather than refused: kernel
//! names are bytes, and an event that is only a hint to rescan should not be lost over one
//! odd byte in some driver's variable.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recvfrom, setsockopt,
    socket, sockopt,
};

use crate::AgentError;

/// The longest datagram accepted. The kernel's are at most its 2 KiB environment buffer plus
/// the header, so anything longer is not one of them.
pub const MAX_DATAGRAM: usize = 8192;

/// The most variables accepted: the kernel's own limit (`UEVENT_NUM_ENVP`).
pub const MAX_VARIABLES: usize = 64;

/// The kernel's multicast group (udevd re-broadcasts its processed events on group 2).
const KERNEL_GROUP: u32 = 1;

/// Datagrams read by one [`UeventMonitor::drain`] at most: a storm of events (a hub of
/// devices, a `udevadm trigger`) is read over several ticks instead of stalling the caller.
const MAX_PER_DRAIN: usize = 1024;

/// Reasons kept per drain: enough to log what is wrong, bounded however much is.
const MAX_REASONS: usize = 8;

/// Receive buffer asked for. The kernel's default (about 200 KiB) holds a few hundred events;
/// plugging in a hub or `udevadm trigger` sends more at once. A lost event only costs a
/// rescan, so this is modest rather than udevd's 128 MiB.
const RECEIVE_BUFFER: usize = 1 << 20;

/// What happened to the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Add,
    Remove,
    Change,
    Bind,
    Unbind,
    Move,
    Online,
    Offline,
    /// An action this module does not know (a newer kernel's).
    Other(String),
}

impl Action {
    fn from_name(name: String) -> Action {
        match name.as_str() {
            "add" => Action::Add,
            "remove" => Action::Remove,
            "change" => Action::Change,
            "bind" => Action::Bind,
            "unbind" => Action::Unbind,
            "move" => Action::Move,
            "online" => Action::Online,
            "offline" => Action::Offline,
            _ => Action::Other(name),
        }
    }

    /// The kernel's name for it (`add`, `remove`, …).
    pub fn as_str(&self) -> &str {
        match self {
            Action::Add => "add",
            Action::Remove => "remove",
            Action::Change => "change",
            Action::Bind => "bind",
            Action::Unbind => "unbind",
            Action::Move => "move",
            Action::Online => "online",
            Action::Offline => "offline",
            Action::Other(name) => name,
        }
    }
}

/// One kernel uevent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uevent {
    pub action: Action,
    /// The device's path under `/sys`, e.g. `/devices/pci0000:00/0000:00:14.0/usb1/1-1`.
    pub devpath: String,
    /// `SUBSYSTEM`, e.g. `usb`, `block`, `net`.
    pub subsystem: String,
    /// `DEVTYPE`, e.g. `usb_device` or `usb_interface`.
    pub devtype: Option<String>,
    /// `SEQNUM`: the kernel's event counter.
    pub seqnum: Option<u64>,
    /// Every other variable (`PRODUCT`, `BUSNUM`, `DEVNUM`, `DRIVER`, …). `ACTION`,
    /// `DEVPATH`, `SUBSYSTEM`, `DEVTYPE` and `SEQNUM` are in the fields above, not here.
    pub vars: BTreeMap<String, String>,
}

impl Uevent {
    /// Vendor and product id of a USB device (not of one of its interfaces), as 4 lowercase
    /// hex digits — the form sysfs `idVendor`/`idProduct` and the policy use — from
    /// `PRODUCT=vid/pid/bcd` (the kernel writes it without leading zeros: `781/5581/100`).
    pub fn usb_ids(&self) -> Option<(String, String)> {
        if self.subsystem != "usb" || self.devtype.as_deref() != Some("usb_device") {
            return None;
        }
        let mut fields = self.vars.get("PRODUCT")?.split('/');
        let vendor = hex16(fields.next()?)?;
        let product = hex16(fields.next()?)?;
        Some((format!("{vendor:04x}"), format!("{product:04x}")))
    }
}

/// 1 to 4 hex digits, nothing else (`from_str_radix` alone would take a sign).
fn hex16(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(text, 16).ok()
}

/// Why a datagram is not a kernel uevent. Texts quoted from the datagram are cut short and
/// escaped, so they are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UeventError {
    #[error("empty datagram")]
    Empty,
    #[error("datagram longer than {MAX_DATAGRAM} bytes")]
    TooLarge,
    #[error("a udevd (libudev) message, not the kernel's")]
    Udevd,
    #[error("header {0} is not ACTION@/DEVPATH")]
    BadHeader(String),
    #[error("variable {0} is not KEY=VALUE")]
    NotKeyValue(String),
    #[error("more than {MAX_VARIABLES} variables")]
    TooManyVariables,
    #[error("variable {0} appears twice")]
    Duplicate(String),
    #[error("{key} = {value} disagrees with the header")]
    Mismatch { key: &'static str, value: String },
    #[error("no SUBSYSTEM variable")]
    NoSubsystem,
    #[error("SEQNUM {0} is not a number")]
    BadSeqnum(String),
    /// Only the kernel (port 0) sends uevents; anything else on the group is refused.
    #[error("sent by {0}, not the kernel")]
    NotFromKernel(String),
    /// Reading the socket failed (other than "nothing queued" or "queue overflowed").
    #[error("reading the uevent socket: {0}")]
    Receive(Errno),
}

/// A short, escaped excerpt of outside text for an error message.
fn excerpt(text: &str) -> String {
    let cut: String = text.chars().take(64).collect();
    if cut.len() < text.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses one datagram from the kernel's uevent group (see the module's notes on limits and
/// UTF-8). The header's action and devpath are the event's; `ACTION` and `DEVPATH`
/// variables, which the kernel repeats, must agree with them. `SUBSYSTEM` is required (the
/// kernel always sends it; without it the event cannot be told apart).
pub fn parse(datagram: &[u8]) -> Result<Uevent, UeventError> {
    if datagram.is_empty() {
        return Err(UeventError::Empty);
    }
    if datagram.len() > MAX_DATAGRAM {
        return Err(UeventError::TooLarge);
    }
    // udevd's messages (group 2) start with this magic and a binary header.
    if datagram.starts_with(b"libudev\0") {
        return Err(UeventError::Udevd);
    }
    let mut parts = datagram.split(|&b| b == 0);
    let header = parts.next().unwrap_or_default();
    // The first '@': actions have none, but device-tree names do (`/devices/platform/soc@0`).
    let bad_header = || UeventError::BadHeader(excerpt(&text(header)));
    let at = header
        .iter()
        .position(|&b| b == b'@')
        .ok_or_else(bad_header)?;
    let (action, devpath) = (text(&header[..at]), text(&header[at + 1..]));
    if action.is_empty() || !devpath.starts_with('/') {
        return Err(bad_header());
    }

    let mut vars = BTreeMap::new();
    // Empty pieces are the NUL ending the last variable (or doubled NULs): nothing to read.
    for (n, part) in parts.filter(|p| !p.is_empty()).enumerate() {
        if n >= MAX_VARIABLES {
            return Err(UeventError::TooManyVariables);
        }
        let part = text(part);
        let Some((key, value)) = part.split_once('=').filter(|(key, _)| !key.is_empty()) else {
            return Err(UeventError::NotKeyValue(excerpt(&part)));
        };
        // Two different SUBSYSTEMs (say) would make the event mean two things: refuse it.
        if vars.insert(key.to_string(), value.to_string()).is_some() {
            return Err(UeventError::Duplicate(excerpt(key)));
        }
    }

    for (key, expected) in [("ACTION", &action), ("DEVPATH", &devpath)] {
        if let Some(value) = vars.remove(key)
            && &value != expected
        {
            return Err(UeventError::Mismatch {
                key,
                value: excerpt(&value),
            });
        }
    }
    let subsystem = vars.remove("SUBSYSTEM").ok_or(UeventError::NoSubsystem)?;
    let devtype = vars.remove("DEVTYPE");
    let seqnum = match vars.remove("SEQNUM") {
        Some(value) => Some(
            value
                .parse::<u64>()
                .map_err(|_| UeventError::BadSeqnum(excerpt(&value)))?,
        ),
        None => None,
    };
    Ok(Uevent {
        action: Action::from_name(action),
        devpath,
        subsystem,
        devtype,
        seqnum,
        vars,
    })
}

/// What one drain of the socket found.
#[derive(Debug, Default)]
pub struct Drained {
    /// The events kept, in the order the kernel sent them.
    pub events: Vec<Uevent>,
    /// Datagrams refused (malformed, or not from the kernel).
    pub malformed: usize,
    /// Why, for the first few of them.
    pub reasons: Vec<UeventError>,
    /// Events were lost (the receive queue overflowed, or reading failed): what changed is
    /// unknown, so the caller should rescan sysfs.
    pub lost: bool,
}

impl Drained {
    fn refuse(&mut self, reason: UeventError) {
        self.malformed += 1;
        if self.reasons.len() < MAX_REASONS {
            self.reasons.push(reason);
        }
    }
}

/// A non-blocking listener on the kernel's uevent group.
pub struct UeventMonitor {
    socket: OwnedFd,
    /// One byte over the limit, so that an over-long datagram shows as one.
    buffer: Vec<u8>,
}

impl UeventMonitor {
    /// Opens and binds the socket (close-on-exec, non-blocking). Fails, with a reason a person
    /// can act on, where uevents cannot be had: netlink forbidden (a container, a seccomp
    /// filter) or a user namespace other than the host's (a rootless container), where the
    /// kernel sends none — a socket that opened there would just stay silent.
    pub fn open() -> Result<UeventMonitor, AgentError> {
        if let Some(reason) = foreign_user_namespace() {
            return Err(AgentError::io(
                "kernel uevents",
                std::io::Error::new(std::io::ErrorKind::Unsupported, reason),
            ));
        }
        let why = |doing: &str, errno: Errno| {
            let hint = match errno {
                Errno::EPERM | Errno::EACCES => {
                    " (not permitted here: a container or a seccomp filter?)"
                }
                Errno::EAFNOSUPPORT | Errno::EPROTONOSUPPORT => {
                    " (no netlink uevents here: a container or a kernel without them?)"
                }
                _ => "",
            };
            AgentError::io(&format!("{doing}{hint}"), errno)
        };
        let socket = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            SockProtocol::NetlinkKObjectUEvent,
        )
        .map_err(|e| why("opening a NETLINK_KOBJECT_UEVENT socket", e))?;
        // Port 0: the kernel picks a free port id (udev's use of the pid can collide).
        bind(socket.as_raw_fd(), &NetlinkAddr::new(0, KERNEL_GROUP))
            .map_err(|e| why("joining the kernel's uevent group", e))?;
        // Optional: the forced size needs CAP_NET_ADMIN, the plain one is capped by
        // net.core.rmem_max; either way a smaller buffer only means more rescans.
        if setsockopt(&socket, sockopt::RcvBufForce, &RECEIVE_BUFFER).is_err() {
            let _ = setsockopt(&socket, sockopt::RcvBuf, &RECEIVE_BUFFER);
        }
        Ok(UeventMonitor {
            socket,
            buffer: vec![0; MAX_DATAGRAM + 1],
        })
    }

    /// Reads what is queued, without blocking, and keeps the events of subsystem `usb`
    /// (devices and their interfaces).
    pub fn drain(&mut self) -> Drained {
        self.drain_where(|event| event.subsystem == "usb")
    }

    /// Reads what is queued, without blocking, and keeps every event.
    pub fn drain_all(&mut self) -> Drained {
        self.drain_where(|_| true)
    }

    fn drain_where(&mut self, keep: impl Fn(&Uevent) -> bool) -> Drained {
        let mut drained = Drained::default();
        for _ in 0..MAX_PER_DRAIN {
            match recvfrom::<NetlinkAddr>(self.socket.as_raw_fd(), &mut self.buffer) {
                Ok((len, sender)) => {
                    // A privileged process may send on the group too; the kernel is port 0.
                    let result = match sender.map(|s| s.pid()) {
                        Some(0) => parse(self.buffer.get(..len).unwrap_or(&self.buffer)),
                        Some(port) => Err(UeventError::NotFromKernel(format!("port {port}"))),
                        None => Err(UeventError::NotFromKernel("an unknown sender".into())),
                    };
                    match result {
                        Ok(event) if keep(&event) => drained.events.push(event),
                        Ok(_) => {}
                        Err(reason) => drained.refuse(reason),
                    }
                }
                Err(Errno::EINTR) => {}
                // EWOULDBLOCK is the same number on Linux.
                Err(Errno::EAGAIN) => break,
                // The queue overflowed and the kernel dropped events; the socket stays usable
                // and what is still queued is read on.
                Err(Errno::ENOBUFS) => drained.lost = true,
                Err(errno) => {
                    drained.lost = true;
                    drained.refuse(UeventError::Receive(errno));
                    break;
                }
            }
        }
        drained
    }
}

/// Why the kernel would send this process no uevents: it sends them only into network
/// namespaces owned by the host's user namespace, and a process in another user namespace
/// (a rootless container) is almost always in a network namespace of its own. Judged from
/// `/proc/self/uid_map`, which maps every uid to itself only in the host's; when it cannot
/// be read, the socket is tried anyway.
fn foreign_user_namespace() -> Option<String> {
    let map = std::fs::read_to_string("/proc/self/uid_map").ok()?;
    let fields: Vec<&str> = map.split_whitespace().collect();
    (fields != ["0", "0", "4294967295"]).then(|| {
        "this process is in a user namespace other than the host's (a container?), where \
         the kernel sends no uevents"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    /// Header and variables as the kernel lays them out: each string NUL-terminated.
    fn datagram(header: &str, vars: &[&str]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for piece in std::iter::once(header).chain(vars.iter().copied()) {
            bytes.extend_from_slice(piece.as_bytes());
            bytes.push(0);
        }
        bytes
    }

    const STICK: &str = "/devices/pci0000:00/0000:00:14.0/usb2/2-1";

    /// A SanDisk Ultra plugged in, as `udevadm monitor --kernel --property` shows it.
    fn stick_add() -> Vec<u8> {
        datagram(
            &format!("add@{STICK}"),
            &[
                "ACTION=add",
                &format!("DEVPATH={STICK}"),
                "SUBSYSTEM=usb",
                "MAJOR=189",
                "MINOR=129",
                "DEVNAME=bus/usb/002/002",
                "DEVTYPE=usb_device",
                "PRODUCT=781/5581/100",
                "TYPE=0/0/0",
                "BUSNUM=002",
                "DEVNUM=002",
                "SEQNUM=4711",
            ],
        )
    }

    #[test]
    fn a_usb_device_add() {
        let event = parse(&stick_add()).unwrap();
        assert_eq!(event.action, Action::Add);
        assert_eq!(event.devpath, STICK);
        assert_eq!(event.subsystem, "usb");
        assert_eq!(event.devtype.as_deref(), Some("usb_device"));
        assert_eq!(event.seqnum, Some(4711));
        assert_eq!(event.vars["BUSNUM"], "002");
        assert_eq!(event.vars["DEVNAME"], "bus/usb/002/002");
        assert!(!event.vars.contains_key("ACTION") && !event.vars.contains_key("SUBSYSTEM"));
        assert_eq!(event.usb_ids(), Some(("0781".into(), "5581".into())));
    }

    #[test]
    fn a_usb_device_remove() {
        let bytes = datagram(
            &format!("remove@{STICK}"),
            &[
                "ACTION=remove",
                &format!("DEVPATH={STICK}"),
                "SUBSYSTEM=usb",
                "DEVNAME=bus/usb/002/002",
                "DEVTYPE=usb_device",
                "PRODUCT=781/5581/100",
                "TYPE=0/0/0",
                "BUSNUM=002",
                "DEVNUM=002",
                "SEQNUM=4730",
            ],
        );
        let event = parse(&bytes).unwrap();
        assert_eq!(event.usb_ids(), Some(("0781".into(), "5581".into())));
        assert_eq!((event.action, event.seqnum), (Action::Remove, Some(4730)));
    }

    #[test]
    fn a_usb_interface_bind_has_no_device_ids() {
        let path = format!("{STICK}/2-1:1.0");
        let bytes = datagram(
            &format!("bind@{path}"),
            &[
                "ACTION=bind",
                &format!("DEVPATH={path}"),
                "SUBSYSTEM=usb",
                "DEVTYPE=usb_interface",
                "DRIVER=usb-storage",
                "PRODUCT=781/5581/100",
                "TYPE=0/0/0",
                "INTERFACE=8/6/80",
                "MODALIAS=usb:v0781p5581d0100dc00dsc00dp00ic08isc06ip50in00",
                "SEQNUM=4712",
            ],
        );
        let event = parse(&bytes).unwrap();
        assert_eq!(event.action, Action::Bind);
        assert_eq!(event.vars["DRIVER"], "usb-storage");
        assert_eq!(event.usb_ids(), None, "an interface, not the device");
    }

    #[test]
    fn device_tree_names_and_unknown_actions() {
        let bytes = datagram(
            "frobnicate@/devices/platform/soc@0/38200000.usb",
            &["SUBSYSTEM=platform"],
        );
        let event = parse(&bytes).unwrap();
        assert_eq!(event.action, Action::Other("frobnicate".into()));
        assert_eq!(event.action.as_str(), "frobnicate");
        assert_eq!(event.devpath, "/devices/platform/soc@0/38200000.usb");
        assert_eq!((event.devtype, event.seqnum), (None, None));
    }

    #[test]
    fn udevd_messages_are_refused() {
        // "libudev", the 0xfeedcafe magic and a binary header, then udevd's properties.
        let mut bytes = b"libudev\0".to_vec();
        bytes.extend([
            0xfe, 0xed, 0xca, 0xfe, 40, 0, 0, 0, 40, 0, 0, 0, 0x55, 0, 0, 0,
        ]);
        bytes.extend(datagram("ACTION=add", &["SUBSYSTEM=usb", "ID_SERIAL=x"]));
        assert_eq!(parse(&bytes), Err(UeventError::Udevd));
    }

    #[test]
    fn malformed_datagrams_say_why() {
        assert_eq!(parse(b""), Err(UeventError::Empty));
        assert_eq!(
            parse(&vec![b'a'; MAX_DATAGRAM + 1]),
            Err(UeventError::TooLarge)
        );
        assert!(matches!(parse(b"\0\0\0"), Err(UeventError::BadHeader(_))));
        assert!(matches!(
            parse(b"add/devices/x\0SUBSYSTEM=usb\0"),
            Err(UeventError::BadHeader(_))
        ));
        assert!(matches!(
            parse(b"add@devices/x\0SUBSYSTEM=usb\0"),
            Err(UeventError::BadHeader(_))
        ));
        assert!(matches!(
            parse(b"@/devices/x\0SUBSYSTEM=usb\0"),
            Err(UeventError::BadHeader(_))
        ));
        // Truncated in the middle of a variable, and at a variable boundary before SUBSYSTEM.
        let whole = stick_add();
        let cut = whole.iter().position(|&b| b == b'=').unwrap() - 2;
        assert!(matches!(
            parse(&whole[..cut]),
            Err(UeventError::NotKeyValue(_))
        ));
        assert_eq!(
            parse(&datagram(&format!("add@{STICK}"), &["ACTION=add"])),
            Err(UeventError::NoSubsystem)
        );
        assert!(matches!(
            parse(&datagram("add@/d", &["=x", "SUBSYSTEM=usb"])),
            Err(UeventError::NotKeyValue(_))
        ));
        assert_eq!(
            parse(&datagram("add@/d", &["SUBSYSTEM=usb", "SUBSYSTEM=block"])),
            Err(UeventError::Duplicate("\"SUBSYSTEM\"".into()))
        );
        assert!(matches!(
            parse(&datagram("add@/d", &["ACTION=remove", "SUBSYSTEM=usb"])),
            Err(UeventError::Mismatch { key: "ACTION", .. })
        ));
        assert!(matches!(
            parse(&datagram("add@/d", &["DEVPATH=/e", "SUBSYSTEM=usb"])),
            Err(UeventError::Mismatch { key: "DEVPATH", .. })
        ));
        assert!(matches!(
            parse(&datagram("add@/d", &["SUBSYSTEM=usb", "SEQNUM=-1"])),
            Err(UeventError::BadSeqnum(_))
        ));
        let many: Vec<String> = (0..=MAX_VARIABLES).map(|n| format!("K{n}=v")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            parse(&datagram("add@/d", &many)),
            Err(UeventError::TooManyVariables)
        );
        // Errors quote outside text escaped and cut short: safe to log.
        let long = format!("add@/d\0{}\n\0", "x".repeat(500));
        let message = parse(long.as_bytes()).unwrap_err().to_string();
        assert!(message.len() < 120 && !message.contains('\n'), "{message}");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        let event = parse(b"add@/devices/\xff\0SUBSYSTEM=usb\0NAME=a\xfeb\0").unwrap();
        assert_eq!(event.devpath, "/devices/\u{fffd}");
        assert_eq!(event.vars["NAME"], "a\u{fffd}b");
    }

    #[test]
    fn usb_ids_need_well_formed_hex() {
        let with = |product: &str| {
            parse(&datagram(
                "add@/d",
                &[
                    "SUBSYSTEM=usb",
                    "DEVTYPE=usb_device",
                    &format!("PRODUCT={product}"),
                ],
            ))
            .unwrap()
            .usb_ids()
        };
        assert_eq!(with("1d6b/2/612"), Some(("1d6b".into(), "0002".into())));
        assert_eq!(with("ABCD/EF01/0"), Some(("abcd".into(), "ef01".into())));
        for bad in [
            "",
            "781",
            "781/",
            "+781/5581/1",
            "12345/1/1",
            "xyz/1/1",
            "1/-1/1",
        ] {
            assert_eq!(with(bad), None, "{bad:?}");
        }
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            Just(Action::Add),
            Just(Action::Remove),
            Just(Action::Change),
            Just(Action::Bind),
            Just(Action::Unbind),
            Just(Action::Move),
            Just(Action::Online),
            Just(Action::Offline),
            "[a-z_]{1,12}".prop_map(Action::from_name),
        ]
    }

    fn reserved(key: &str) -> bool {
        ["ACTION", "DEVPATH", "SUBSYSTEM", "DEVTYPE", "SEQNUM"].contains(&key)
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panicking(
            bytes in proptest::collection::vec(any::<u8>(), 0..MAX_DATAGRAM + 100),
        ) {
            let _ = parse(&bytes);
        }

        #[test]
        fn near_misses_parse_without_panicking(
            pieces in proptest::collection::vec("[A-Z@=/a-z0-9\u{e9}]{0,12}", 0..80),
        ) {
            let bytes = pieces.join("\0");
            let _ = parse(bytes.as_bytes());
        }

        #[test]
        fn generated_messages_round_trip(
            action in action(),
            devpath in "(/[a-z0-9:.@_-]{1,16}){1,8}",
            subsystem in "[a-z_]{1,12}",
            devtype in proptest::option::of("[a-z_]{1,12}"),
            seqnum in proptest::option::of(any::<u64>()),
            vars in proptest::collection::btree_map(
                "[A-Z_][A-Z0-9_]{0,15}",
                "[^\u{0}]{0,40}",
                0..(MAX_VARIABLES - 5),
            ),
        ) {
            let vars: BTreeMap<String, String> =
                vars.into_iter().filter(|(k, _)| !reserved(k)).collect();
            let mut pieces = vec![
                format!("ACTION={}", action.as_str()),
                format!("DEVPATH={devpath}"),
                format!("SUBSYSTEM={subsystem}"),
            ];
            pieces.extend(devtype.iter().map(|d| format!("DEVTYPE={d}")));
            pieces.extend(seqnum.iter().map(|s| format!("SEQNUM={s}")));
            pieces.extend(vars.iter().map(|(k, v)| format!("{k}={v}")));
            let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
            let bytes = datagram(&format!("{}@{devpath}", action.as_str()), &pieces);
            prop_assume!(bytes.len() <= MAX_DATAGRAM);
            let expected = Uevent { action, devpath, subsystem, devtype, seqnum, vars };
            prop_assert_eq!(parse(&bytes), Ok(expected));
        }
    }
}
