//! Any bytes given to the event parser either parse into an event whose canonical JSON parses back
//! to the same event, or are rejected with an error — never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_event::Event;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = Event::from_json(data) {
        let canonical = event.canonical_json();
        let again = Event::from_json(&canonical).expect("canonical JSON must parse");
        assert_eq!(again.canonical_json(), canonical);
    }
});
