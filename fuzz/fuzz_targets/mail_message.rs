//! Any bytes as an outbound message: `message::read` never panics and says why whatever it
//! could not read is unreadable; `message::move_to_bcc` never panics, is idempotent, and
//! reading what it wrote again never panics and finds no To or Cc recipient left.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_mailguard::message::{move_to_bcc, read};

fuzz_target!(|data: &[u8]| {
    let message = read(data);
    if let Some(why) = &message.unreadable {
        assert!(!why.is_empty());
    }
    for attachment in &message.attachments {
        assert_eq!(attachment.size, attachment.bytes.len());
    }
    let rewritten = move_to_bcc(data);
    assert_eq!(move_to_bcc(&rewritten), rewritten, "not idempotent");
    let again = read(&rewritten);
    assert!(
        again.visible_recipients().next().is_none(),
        "recipients left after move_to_bcc: {:?}",
        again.visible_recipients().collect::<Vec<_>>()
    );
});
