//! Any UTF-8 text as a prevention policy: `Policy::from_toml` never panics, an error names
//! what is wrong, and a policy it accepts decides an empty request of every channel, a device
//! and compiles to USBGuard and Windows Device Control without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_policy::{Channel, Policy, Request, UsbDevice, compile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_toml(text) {
        Ok(policy) => {
            let now = jiff::Timestamp::UNIX_EPOCH;
            for channel in Channel::ALL {
                let request = Request {
                    channel: Some(channel),
                    user: "u".into(),
                    ..Request::default()
                };
                let _ = policy.decide(&request, now);
            }
            let _ = policy.decide_device(&UsbDevice::default());
            let _ = compile::usbguard(&policy);
            let _ = compile::windows_device_control(&policy);
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
});
