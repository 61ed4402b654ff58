//! Any UTF-8 text as a mail guard policy: `Policy::from_toml` never panics, an error names
//! what is wrong, and a policy it accepts passes `validate` and indexes its protected domains
//! (or names the one it cannot use) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_mailguard::lookalike::Protected;
use mamori_mailguard::policy::Policy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_toml(text) {
        Ok(policy) => {
            assert!(policy.validate().is_ok());
            let _ = Protected::new(policy.protected_domains());
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
});
