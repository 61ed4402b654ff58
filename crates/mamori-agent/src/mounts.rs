//! Mount discovery: which file systems are mounted where, and which of them are removable.
//!
//! This module owns the parser of `/proc/self/mountinfo` (proc(5)) and the sysfs checks that
//! tell a USB stick or SD card from a fixed disk. It reads only `/proc` and sysfs — never a
//! file on a mount, which could wait on the sensor's own permission events.
//!
//! A mount is removable when its block device (found by `major:minor` under
//! `<sysfs>/dev/block`) has `removable` set to 1 (for a partition: its disk's), when the
//! device sits on a USB bus (its sysfs path has a `usb…` component), or when the caller
//! declared the mount point removable (loop devices in tests, odd card readers).

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use mamori_policy::UsbDevice;

/// One line of `mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub id: u64,
    pub parent: u64,
    pub major: u32,
    pub minor: u32,
    /// The root of the mount within its file system.
    pub root: PathBuf,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    pub fs_type: String,
    /// The device or other source (`/dev/sdb1`, `tmpfs`).
    pub source: String,
    /// Per-mount options (`rw,nosuid,…`).
    pub options: String,
}

impl Mount {
    /// Whether the mount is read-only (nothing can be written to it).
    pub fn read_only(&self) -> bool {
        self.options.split(',').any(|o| o == "ro")
    }
}

/// Parses the text of `/proc/<pid>/mountinfo`; malformed lines are skipped (never a panic).
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let mut fields = line.split(' ');
    let id = fields.next()?.parse().ok()?;
    let parent = fields.next()?.parse().ok()?;
    let (major, minor) = fields.next()?.split_once(':')?;
    let (major, minor) = (major.parse().ok()?, minor.parse().ok()?);
    let root = PathBuf::from(unescape(fields.next()?));
    let mount_point = PathBuf::from(unescape(fields.next()?));
    let options = fields.next()?.to_string();
    // Optional fields (`shared:1 master:2`) up to the separator.
    for field in fields.by_ref() {
        if field == "-" {
            break;
        }
    }
    let fs_type = unescape(fields.next()?);
    let source = unescape(fields.next()?);
    if !mount_point.is_absolute() {
        return None;
    }
    Some(Mount {
        id,
        parent,
        major,
        minor,
        root,
        mount_point,
        fs_type,
        source,
        options,
    })
}

/// Undoes the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134`
/// backslash); anything else is kept as it is.
pub fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(digits) = bytes.get(i + 1..i + 4)
            && digits.iter().all(|d| (b'0'..=b'7').contains(d))
        {
            let value = digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
            if let Ok(byte) = u8::try_from(value) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads and parses `/proc/self/mountinfo`.
pub fn read_mounts() -> std::io::Result<Vec<Mount>> {
    Ok(parse_mountinfo(&std::fs::read_to_string(
        "/proc/self/mountinfo",
    )?))
}

/// Decides which mounts are removable, from a sysfs tree and a declared list.
#[derive(Debug, Clone)]
pub struct RemovableRules {
    /// The sysfs root (`/sys`; a directory tree in tests).
    pub sysfs: PathBuf,
    /// Mount points the caller declares removable whatever sysfs says.
    pub declared: HashSet<PathBuf>,
}

impl Default for RemovableRules {
    fn default() -> Self {
        RemovableRules {
            sysfs: PathBuf::from("/sys"),
            declared: HashSet::new(),
        }
    }
}

impl RemovableRules {
    /// Whether `mount` is on removable media.
    pub fn is_removable(&self, mount: &Mount) -> bool {
        if self.declared.contains(&mount.mount_point) {
            return true;
        }
        // Only block devices have sysfs entries; major 0 is anonymous (tmpfs, proc, overlay).
        if mount.major == 0 {
            return false;
        }
        let Some(dir) = self.block_dir(mount) else {
            return false;
        };
        let flag = |dir: &Path| {
            std::fs::read_to_string(dir.join("removable")).is_ok_and(|s| s.trim() == "1")
        };
        if flag(&dir) {
            return true;
        }
        // A partition has no `removable` of its own: its disk (the parent directory) has.
        if dir.join("partition").exists()
            && let Some(disk) = dir.parent()
            && flag(disk)
        {
            return true;
        }
        on_usb(&dir) || std::fs::canonicalize(dir.join("device")).is_ok_and(|d| on_usb(&d))
    }

    /// The canonical sysfs directory of the mount's block device, if any.
    fn block_dir(&self, mount: &Mount) -> Option<PathBuf> {
        let link = self
            .sysfs
            .join("dev/block")
            .join(format!("{}:{}", mount.major, mount.minor));
        std::fs::canonicalize(link).ok()
    }

    /// The USB device the mount's block device hangs off: the nearest ancestor directory in
    /// sysfs with `idVendor` and `idProduct` (and `serial` when the device has one).
    pub fn usb_device(&self, mount: &Mount) -> Option<UsbDevice> {
        let mut dir = self.block_dir(mount)?;
        loop {
            let read = |name: &str| {
                std::fs::read_to_string(dir.join(name))
                    .ok()
                    .map(|s| s.trim().to_string())
            };
            if let (Some(vendor), Some(product)) = (read("idVendor"), read("idProduct")) {
                return Some(UsbDevice {
                    vendor,
                    product,
                    serial: read("serial").filter(|s| !s.is_empty()),
                });
            }
            if !dir.pop() {
                return None;
            }
        }
    }
}

/// Whether a sysfs path runs through a USB bus (`…/usb2/2-1/…`).
fn on_usb(path: &Path) -> bool {
    path.components().any(|c| match c {
        Component::Normal(name) => name.to_str().is_some_and(|n| n.starts_with("usb")),
        _ => false,
    })
}

/// The mount that holds `path`: the longest mount point it is under.
pub fn mount_of<'a>(mounts: &'a [Mount], path: &Path) -> Option<&'a Mount> {
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.mount_point))
        .max_by_key(|m| (m.mount_point.components().count(), m.id))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
40 22 8:17 / /media/alice/USB\\040STICK rw,nosuid,nodev shared:30 master:2 - vfat /dev/sdb1 rw,uid=1000
41 22 7:3 / /mnt/a\\134b ro,relatime - ext4 /dev/loop3 rw
bad line
42 22 x:y / /z rw - ext4 /dev/x rw
";

    #[test]
    fn parses_mountinfo() {
        let mounts = parse_mountinfo(SAMPLE);
        assert_eq!(mounts.len(), 4);
        assert_eq!(mounts[0].mount_point, Path::new("/"));
        assert_eq!(mounts[0].fs_type, "ext4");
        assert_eq!(mounts[0].source, "/dev/sda1");
        assert_eq!((mounts[2].major, mounts[2].minor), (8, 17));
        assert_eq!(mounts[2].mount_point, Path::new("/media/alice/USB STICK"));
        assert_eq!(mounts[2].fs_type, "vfat");
        assert_eq!(mounts[3].mount_point, Path::new("/mnt/a\\b"));
        assert!(mounts[3].read_only());
        assert!(!mounts[0].read_only());
        let usb = mount_of(&mounts, Path::new("/media/alice/USB STICK/x/y.txt")).unwrap();
        assert_eq!(usb.id, 40);
        assert_eq!(mount_of(&mounts, Path::new("/home/x")).unwrap().id, 22);
    }

    #[test]
    fn unescapes_only_octal() {
        assert_eq!(unescape(r"a\040b\011c\012d\134e"), "a b\tc\nd\\e");
        assert_eq!(unescape(r"tail\04"), r"tail\04");
        assert_eq!(unescape(r"\999"), r"\999");
        assert_eq!(unescape(r"\777"), r"\777");
        assert_eq!(unescape("日本語\\040x"), "日本語 x");
    }

    fn mount(major: u32, minor: u32, at: &str) -> Mount {
        Mount {
            id: 1,
            parent: 0,
            major,
            minor,
            root: "/".into(),
            mount_point: at.into(),
            fs_type: "ext4".into(),
            source: "/dev/x".into(),
            options: "rw".into(),
        }
    }

    #[test]
    fn removable_on_fake_sysfs() {
        let sys = tempfile::tempdir().unwrap();
        let root = sys.path();
        let mkdir = |p: &str| std::fs::create_dir_all(root.join(p)).unwrap();
        let write = |p: &str, s: &str| std::fs::write(root.join(p), s).unwrap();
        let link = |target: &str, at: &str| {
            std::os::unix::fs::symlink(root.join(target), root.join(at)).unwrap();
        };
        mkdir("dev/block");
        // A fixed SATA disk with a partition.
        mkdir("devices/pci0000:00/ata1/block/sda/sda1");
        write("devices/pci0000:00/ata1/block/sda/removable", "0\n");
        write("devices/pci0000:00/ata1/block/sda/sda1/partition", "1\n");
        link("devices/pci0000:00/ata1/block/sda/sda1", "dev/block/8:1");
        // A USB stick whose removable flag is 0 (many are), partition sdb1.
        let usb = "devices/pci0000:00/0000:00:14.0/usb2/2-1";
        mkdir(&format!("{usb}/2-1:1.0/host6/block/sdb/sdb1"));
        write(&format!("{usb}/idVendor"), "0781\n");
        write(&format!("{usb}/idProduct"), "5581\n");
        write(&format!("{usb}/serial"), "4C530001\n");
        write(&format!("{usb}/2-1:1.0/host6/block/sdb/removable"), "0\n");
        write(
            &format!("{usb}/2-1:1.0/host6/block/sdb/sdb1/partition"),
            "1\n",
        );
        link(
            &format!("{usb}/2-1:1.0/host6/block/sdb/sdb1"),
            "dev/block/8:17",
        );
        // An SD card reader on MMC, removable flag 1, whole disk.
        mkdir("devices/platform/mmc0/block/mmcblk0");
        write("devices/platform/mmc0/block/mmcblk0/removable", "1\n");
        link("devices/platform/mmc0/block/mmcblk0", "dev/block/179:0");

        let mut rules = RemovableRules {
            sysfs: root.to_path_buf(),
            declared: HashSet::new(),
        };
        assert!(!rules.is_removable(&mount(8, 1, "/")));
        assert!(rules.is_removable(&mount(8, 17, "/media/usb")));
        assert!(rules.is_removable(&mount(179, 0, "/media/sd")));
        assert!(!rules.is_removable(&mount(0, 21, "/tmp")));
        assert!(!rules.is_removable(&mount(7, 0, "/mnt/loop")));
        rules.declared.insert("/mnt/loop".into());
        assert!(rules.is_removable(&mount(7, 0, "/mnt/loop")));

        let device = rules.usb_device(&mount(8, 17, "/media/usb")).unwrap();
        assert_eq!(device.vendor, "0781");
        assert_eq!(device.product, "5581");
        assert_eq!(device.serial.as_deref(), Some("4C530001"));
        assert_eq!(rules.usb_device(&mount(8, 1, "/")), None);
        assert_eq!(rules.usb_device(&mount(179, 0, "/media/sd")), None);
    }

    #[test]
    fn reads_this_machine() {
        let mounts = read_mounts().unwrap();
        assert!(mounts.iter().any(|m| m.mount_point == Path::new("/")));
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(text in "\\PC*") {
            let _ = parse_mountinfo(&text);
        }

        #[test]
        fn parser_never_panics_on_near_lines(
            fields in proptest::collection::vec("[0-9a-z:/\\\\ -]{0,12}", 0..14)
        ) {
            let _ = parse_mountinfo(&fields.join(" "));
        }

        #[test]
        fn escaped_points_round_trip(name in "[ -~\t]{1,20}") {
            let escaped: String = name.chars().map(|c| match c {
                ' ' => "\\040".to_string(),
                '\t' => "\\011".to_string(),
                '\\' => "\\134".to_string(),
                c => c.to_string(),
            }).collect();
            let line = format!("1 0 8:1 / /m/{escaped} rw - ext4 /dev/x rw");
            let mounts = parse_mountinfo(&line);
            proptest::prop_assert_eq!(mounts.len(), 1);
            proptest::prop_assert_eq!(mounts[0].mount_point.clone(), PathBuf::from(format!("/m/{name}")));
        }
    }
}
