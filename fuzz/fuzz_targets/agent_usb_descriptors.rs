//! Any bytes as a USB device's sysfs `descriptors`: the walk never panics and reports each
//! class once, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let classes = mamori_agent::usb::descriptor_classes(data);
    assert!(classes.windows(2).all(|w| w[0] < w[1]), "{classes:?}");
});
