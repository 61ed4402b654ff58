//! Any text as `/proc/self/mountinfo`: the agent's parser never panics, and every mount it
//! returns has an absolute mount point.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for mount in mamori_agent::mounts::parse_mountinfo(&text) {
        assert!(mount.mount_point.is_absolute(), "{mount:?}");
    }
});
