//! Kernel uevents from the real kernel: a synthetic `change` written to a device's `uevent`
//! file must reach the monitor, and the USB-only drain must not pass it on.
//!
//! Needs a NETLINK_KOBJECT_UEVENT socket (not in every container) and root to write the
//! `uevent` file. Where the machine does not allow it the test prints "skipped: <reason>"
//! and passes — unless `MAMORI_REQUIRE_FANOTIFY` is set (the kernel tests' switch), when it
//! fails. Other devices may send events meanwhile: ours is the one carrying our SYNTH_UUID.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mamori_agent::uevent::{Action, Uevent, UeventMonitor};
use support::skip;

/// `/dev/null`'s device: present everywhere, and a `change` on it changes nothing.
const DEVICE: &str = "/sys/class/mem/null";

#[test]
fn a_synthetic_change_arrives() {
    let mut all = match UeventMonitor::open() {
        Ok(monitor) => monitor,
        Err(error) => return skip(&format!("no uevent socket: {error}")),
    };
    let mut usb_only = UeventMonitor::open().unwrap();
    let Ok(device) = std::fs::canonicalize(DEVICE) else {
        return skip(&format!("{DEVICE} does not exist"));
    };
    let devpath = Path::new("/")
        .join(device.strip_prefix("/sys").unwrap())
        .to_string_lossy()
        .into_owned();

    // The kernel (4.13+) copies a UUID given after the action into SYNTH_UUID.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let uuid = format!(
        "{:08x}-{:04x}-4000-8000-{:012x}",
        std::process::id(),
        (nanos >> 48) as u16,
        nanos as u64 & 0xffff_ffff_ffff
    );
    if let Err(error) = std::fs::write(device.join("uevent"), format!("change {uuid}")) {
        return skip(&format!("writing {}/uevent: {error}", device.display()));
    }

    let ours = |e: &Uevent| e.devpath == devpath && e.vars.get("SYNTH_UUID") == Some(&uuid);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    let found = loop {
        let drained = all.drain_all();
        assert!(drained.reasons.is_empty(), "{:?}", drained.reasons);
        seen.extend(drained.events);
        if let Some(event) = seen.iter().find(|e| ours(e)) {
            break Some(event.clone());
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let Some(event) = found else {
        panic!("no change event for {devpath} in 5 s; saw {seen:#?}");
    };
    assert_eq!(event.action, Action::Change);
    assert_eq!(event.subsystem, "mem");
    assert!(event.seqnum.is_some(), "{event:?}");
    assert_eq!(event.vars.get("SYNTH_UUID"), Some(&uuid));

    // The same datagram is already queued on the second socket (multicast delivers to every
    // listener at once): the USB drain reads it and keeps nothing but USB.
    let drained = usb_only.drain();
    assert!(drained.reasons.is_empty(), "{:?}", drained.reasons);
    assert!(
        drained.events.iter().all(|e| e.subsystem == "usb"),
        "{:?}",
        drained.events
    );
}
