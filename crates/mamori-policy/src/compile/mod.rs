//! Compilers from a policy's device part to the native device controls of the platforms.
//!
//! The Mamori agent decides file by file (labels, findings, the person); the operating system's
//! own device control decides device by device, earlier and without the agent running. This
//! module turns the part of a policy the native controls can express — the allow-listed
//! devices (`[[devices]]`) and what happens to every other removable storage device
//! (`[device_control]`) — into their configuration:
//!
//! - [`usbguard()`]: a USBGuard `rules.conf` for Linux;
//! - [`windows_device_control()`]: Microsoft Defender for Endpoint Device Control (Removable
//!   Storage Access Control) `Groups.xml` and `PolicyRules.xml`, as deployed by Group Policy.
//!
//! Both are pure functions of the validated [`Policy`](crate::Policy) and deterministic (same
//! policy, same bytes), so their output can be kept under version control and diffed.
//! `docs/device-control.md` describes the mapping, its limits and the deployment.

pub mod defender;
pub mod usbguard;

pub use defender::{DeviceControlXml, windows_device_control};
pub use usbguard::usbguard;

/// A policy of `devices` (`[[devices]]` entries) and `control` (the `[device_control]` keys),
/// for the compilers' tests.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
fn test_policy(devices: &str, control: &str) -> crate::Policy {
    crate::Policy::from_toml(&format!(
        "format = 1\nname = \"p\"\nrevision = 3\n{devices}\n[device_control]\n{control}\n"
    ))
    .unwrap()
}
