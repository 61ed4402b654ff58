//! Any bytes as a utmp file: the agent's session parser never panics, and every session it
//! returns has a user and a line without control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for session in mamori_agent::sessions::parse_utmp(data) {
        assert!(!session.user.is_empty() && !session.line.is_empty(), "{session:?}");
        assert!(!session.user.chars().any(char::is_control), "{session:?}");
    }
});
