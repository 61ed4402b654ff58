//! USB device authorisation through sysfs, as USBGuard does it: new devices start
//! unauthorised (`authorized_default = 0` on every root hub), the agent reads each one's
//! descriptors — readable before authorisation — and authorises it unless it is removable
//! storage (an interface of class 08 mass storage or 06 still image/MTP) that the policy's
//! device control blocks. Devices already present are judged the same way at start.
//!
//! Where sysfs cannot be written (a container, a read-only /sys, no root), the agent says so
//! once and only observes: the device and what the policy would have done are still recorded.
//! The sysfs root is a parameter, so tests run on a directory tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mamori_policy::{Action, Policy, UsbDevice};

/// USB interface classes that carry files off the machine.
const STORAGE_CLASSES: [u8; 2] = [0x08, 0x06];

/// One device as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The sysfs name, e.g. `1-1.2`.
    pub name: String,
    pub usb: UsbDevice,
    pub product: Option<String>,
    pub manufacturer: Option<String>,
    /// Device class and every interface class from the descriptors.
    pub classes: Vec<u8>,
    pub authorized: bool,
}

impl Device {
    pub fn is_storage(&self) -> bool {
        self.classes.iter().any(|c| STORAGE_CLASSES.contains(c))
    }
}

/// What the agent did with a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    pub device: Device,
    /// What the policy decided (`Allow` for devices that are not storage).
    pub action: Action,
    /// Whether the device ends up usable.
    pub authorized: bool,
    /// `None` when carried out; the reason when sysfs could not be written (observe only).
    pub not_enforced: Option<String>,
}

/// The device classes in raw USB descriptors (the sysfs `descriptors` file): the device
/// descriptor's class and every interface descriptor's class. Malformed input ends the walk;
/// it never panics.
pub fn descriptor_classes(bytes: &[u8]) -> Vec<u8> {
    let mut classes = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 2 {
        let length = usize::from(rest[0]);
        if length < 2 || length > rest.len() {
            break;
        }
        let descriptor = &rest[..length];
        match descriptor[1] {
            // Device: bDeviceClass at 4 (0 = "per interface").
            0x01 if length >= 5 && descriptor[4] != 0 => classes.push(descriptor[4]),
            // Interface: bInterfaceClass at 5.
            0x04 if length >= 6 => classes.push(descriptor[5]),
            _ => {}
        }
        rest = &rest[length..];
    }
    classes.sort_unstable();
    classes.dedup();
    classes
}

/// USB authorisation over a sysfs tree.
pub struct Authoriser {
    devices_dir: PathBuf,
    /// Root hubs' `authorized_default` as found, restored at [`Authoriser::release`].
    defaults: BTreeMap<PathBuf, String>,
    /// Where the originals are kept while they are taken over.
    saved: PathBuf,
    /// Why sysfs cannot be written, once found out.
    pub not_permitted: Option<String>,
    seen: BTreeMap<String, bool>,
}

impl Authoriser {
    /// Takes over authorisation under `sysfs` (normally `/sys`) when `enforce`: new devices
    /// start unauthorised. Never fails: what cannot be done is in `not_permitted`.
    ///
    /// The root hubs' values as found are kept in `saved` (one `hub value` per line) until
    /// [`Authoriser::release`]: an agent killed before it could give authorisation back finds
    /// the true originals there at its next start, not the `0` it left behind.
    pub fn new(sysfs: &Path, enforce: bool, saved: &Path) -> Authoriser {
        let devices_dir = sysfs.join("bus/usb/devices");
        let mut authoriser = Authoriser {
            devices_dir,
            defaults: BTreeMap::new(),
            saved: saved.to_path_buf(),
            not_permitted: (!enforce)
                .then(|| "device control is not enforced by this policy".into()),
            seen: BTreeMap::new(),
        };
        if !authoriser.devices_dir.is_dir() {
            authoriser.not_permitted = Some(format!(
                "{} does not exist (no USB, or sysfs not mounted)",
                authoriser.devices_dir.display()
            ));
            return authoriser;
        }
        let earlier: BTreeMap<String, String> = std::fs::read_to_string(saved)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(hub, value)| (hub.to_string(), value.to_string()))
            .collect();
        if !enforce {
            // A policy without device control: give back what an earlier run took.
            for (hub, value) in &earlier {
                let file = authoriser.devices_dir.join(hub).join("authorized_default");
                authoriser.defaults.insert(file, value.clone());
            }
            authoriser.release();
            return authoriser;
        }
        let mut found = Vec::new();
        for hub in authoriser
            .names()
            .into_iter()
            .filter(|n| n.starts_with("usb"))
        {
            let file = authoriser.devices_dir.join(&hub).join("authorized_default");
            let Ok(now) = std::fs::read_to_string(&file) else {
                continue;
            };
            let original = earlier
                .get(&hub)
                .cloned()
                .unwrap_or_else(|| now.trim().to_string());
            found.push((hub, file, original));
        }
        let record: String = found
            .iter()
            .map(|(hub, _, value)| format!("{hub} {value}\n"))
            .collect();
        if let Err(error) = std::fs::write(saved, record) {
            authoriser.not_permitted = Some(format!("{}: {error}", saved.display()));
            return authoriser;
        }
        for (_, file, original) in found {
            match std::fs::write(&file, "0") {
                Ok(()) => {
                    authoriser.defaults.insert(file, original);
                }
                Err(error) => {
                    authoriser.not_permitted = Some(format!("{}: {error}", file.display()));
                    break;
                }
            }
        }
        authoriser
    }

    fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.devices_dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            // Interfaces are `1-1:1.0`; root hubs `usb1`; devices `1-1`, `1-1.2`.
            .filter(|n| !n.contains(':'))
            .collect();
        names.sort();
        names
    }

    fn read(&self, name: &str) -> Option<Device> {
        let dir = self.devices_dir.join(name);
        let text = |file: &str| {
            std::fs::read_to_string(dir.join(file))
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let vendor = text("idVendor")?;
        let product = text("idProduct")?;
        let descriptors = std::fs::read(dir.join("descriptors")).unwrap_or_default();
        Some(Device {
            name: name.to_string(),
            usb: UsbDevice {
                vendor: vendor.to_ascii_lowercase(),
                product: product.to_ascii_lowercase(),
                serial: text("serial"),
            },
            product: text("product"),
            manufacturer: text("manufacturer"),
            classes: descriptor_classes(&descriptors),
            authorized: text("authorized").as_deref() != Some("0"),
        })
    }

    /// Judges every device not judged before (all of them on the first call): returns what
    /// was done. Root hubs are never touched.
    pub fn poll(&mut self, policy: &Policy) -> Vec<Judged> {
        let names = self.names();
        self.seen.retain(|name, _| names.contains(name));
        let mut judged = Vec::new();
        for name in names {
            if name.starts_with("usb") || self.seen.contains_key(&name) {
                continue;
            }
            let Some(device) = self.read(&name) else {
                continue;
            };
            let action = if device.is_storage() {
                policy.decide_device(&device.usb).action
            } else {
                Action::Allow
            };
            let want = action != Action::Block;
            let mut not_enforced = self.not_permitted.clone();
            if not_enforced.is_none() && want != device.authorized {
                let file = self.devices_dir.join(&name).join("authorized");
                if let Err(error) = std::fs::write(&file, if want { "1" } else { "0" }) {
                    let reason = format!("{}: {error}", file.display());
                    tracing::warn!(%reason, "USB authorisation not permitted; observing only");
                    self.not_permitted = Some(reason.clone());
                    not_enforced = Some(reason);
                }
            }
            let authorized = if not_enforced.is_some() {
                device.authorized
            } else {
                want
            };
            self.seen.insert(name, authorized);
            judged.push(Judged {
                device,
                action,
                authorized,
                not_enforced,
            });
        }
        judged
    }

    /// Gives authorisation of new devices back to the kernel (the values found at start).
    pub fn release(&mut self) {
        let defaults = std::mem::take(&mut self.defaults);
        let mut restored = true;
        for (file, old) in &defaults {
            if let Err(error) = std::fs::write(file, old) {
                restored = false;
                tracing::warn!(file = %file.display(), %error, "restoring authorized_default");
            }
        }
        if restored && !defaults.is_empty() {
            let _ = std::fs::remove_file(&self.saved);
        }
    }
}

impl Drop for Authoriser {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    /// Device descriptor (class 0), configuration, one interface of `class`.
    fn descriptors(class: u8) -> Vec<u8> {
        let mut bytes = vec![
            18, 1, 0, 2, 0, 0, 0, 64, 0x51, 0x09, 0x66, 0x16, 0, 1, 1, 2, 3, 1,
        ];
        bytes.extend([9, 2, 32, 0, 1, 1, 0, 0x80, 50]);
        bytes.extend([9, 4, 0, 0, 2, class, 6, 80, 0]);
        bytes.extend([7, 5, 0x81, 2, 0, 2, 0]);
        bytes
    }

    fn device(root: &Path, name: &str, vendor: &str, product: &str, serial: &str, class: u8) {
        let dir = root.join("bus/usb/devices").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("idVendor"), format!("{vendor}\n")).unwrap();
        std::fs::write(dir.join("idProduct"), format!("{product}\n")).unwrap();
        std::fs::write(dir.join("serial"), format!("{serial}\n")).unwrap();
        std::fs::write(dir.join("authorized"), "1\n").unwrap();
        std::fs::write(dir.join("descriptors"), descriptors(class)).unwrap();
    }

    fn policy() -> Policy {
        Policy::from_toml(
            r#"format = 1
            name = "t"
            revision = 1
            [[devices]]
            name = "corp"
            vendor = "0951"
            product = "1666"
            serial = "OK1"
            [device_control]
            removable_storage = "block""#,
        )
        .unwrap()
    }

    #[test]
    fn classes_come_from_device_and_interface_descriptors() {
        assert_eq!(descriptor_classes(&descriptors(8)), vec![8]);
        let mut hub = descriptors(3);
        hub[4] = 9;
        assert_eq!(descriptor_classes(&hub), vec![3, 9]);
        assert_eq!(descriptor_classes(&[0, 1, 2]), Vec::<u8>::new());
        assert_eq!(descriptor_classes(&[9, 4, 0]), Vec::<u8>::new());
    }

    proptest! {
        #[test]
        fn descriptor_walk_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = descriptor_classes(&bytes);
        }
    }

    #[test]
    fn storage_not_on_the_allow_list_is_deauthorised_others_are_authorised() {
        let root = tempfile::tempdir().unwrap();
        let hub = root.path().join("bus/usb/devices/usb1");
        std::fs::create_dir_all(&hub).unwrap();
        std::fs::write(hub.join("authorized_default"), "1\n").unwrap();
        device(root.path(), "1-1", "0951", "1666", "OK1", 8);
        device(root.path(), "1-2", "abcd", "1234", "X", 8);
        device(root.path(), "1-3", "046d", "c52b", "K", 3);
        let saved = root.path().join("usb-defaults");
        let mut authoriser = Authoriser::new(root.path(), true, &saved);
        assert_eq!(authoriser.not_permitted, None);
        assert_eq!(
            std::fs::read_to_string(hub.join("authorized_default")).unwrap(),
            "0"
        );
        let judged = authoriser.poll(&policy());
        let summary: Vec<(&str, Action, bool)> = judged
            .iter()
            .map(|j| (j.device.name.as_str(), j.action, j.authorized))
            .collect();
        assert_eq!(
            summary,
            [
                ("1-1", Action::Allow, true),
                ("1-2", Action::Block, false),
                ("1-3", Action::Allow, true)
            ]
        );
        let authorized = |name: &str| {
            std::fs::read_to_string(
                root.path()
                    .join("bus/usb/devices")
                    .join(name)
                    .join("authorized"),
            )
            .unwrap()
        };
        assert_eq!(authorized("1-2"), "0");
        assert_eq!(authorized("1-1"), "1\n");
        // Judged once; a new device is judged on the next poll.
        assert!(authoriser.poll(&policy()).is_empty());
        device(root.path(), "1-4", "abcd", "1234", "Y", 6);
        let judged = authoriser.poll(&policy());
        assert_eq!((judged.len(), judged[0].authorized), (1, false));
        drop(authoriser);
        let default = || std::fs::read_to_string(hub.join("authorized_default")).unwrap();
        assert_eq!(default(), "1");
        assert!(!saved.exists());

        // Killed while in charge (no release): the next start still knows the original.
        std::mem::forget(Authoriser::new(root.path(), true, &saved));
        assert_eq!(default(), "0");
        let mut next = Authoriser::new(root.path(), true, &saved);
        next.release();
        assert_eq!(default(), "1");
    }

    #[test]
    fn without_write_access_it_observes_and_says_why() {
        let root = tempfile::tempdir().unwrap();
        device(root.path(), "1-2", "abcd", "1234", "X", 8);
        // A directory where the file should be: writing it fails, as on a read-only sysfs.
        let authorized = root.path().join("bus/usb/devices/1-2/authorized");
        std::fs::remove_file(&authorized).unwrap();
        std::fs::create_dir(&authorized).unwrap();
        let mut authoriser = Authoriser::new(root.path(), true, &root.path().join("saved"));
        let judged = authoriser.poll(&policy());
        assert_eq!(judged[0].action, Action::Block);
        assert!(judged[0].authorized, "not carried out");
        assert!(
            judged[0]
                .not_enforced
                .as_deref()
                .unwrap()
                .contains("authorized")
        );
    }
}
