//! Any bytes as a datagram from the kernel's uevent socket: the parser never panics, and what
//! it accepts keeps its limits and the kernel's shape.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_agent::uevent::{MAX_DATAGRAM, MAX_VARIABLES, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(event) = parse(data) else {
        return;
    };
    assert!(data.len() <= MAX_DATAGRAM);
    assert!(event.devpath.starts_with('/'), "{event:?}");
    assert!(!event.action.as_str().is_empty());
    assert!(event.vars.len() <= MAX_VARIABLES);
    assert!(event.vars.keys().all(|k| !k.is_empty() && !k.contains('=')));
    if let Some((vendor, product)) = event.usb_ids() {
        assert!(vendor.len() == 4 && product.len() == 4, "{event:?}");
    }
});
