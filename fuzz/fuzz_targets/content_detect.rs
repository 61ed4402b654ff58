//! The detectors on arbitrary text (the bytes read as UTF-8, invalid sequences replaced):
//! normalisation, the literal pass, numbers with their context (tables, headers, quoted
//! cells), e-mail addresses, labels, secrets. Never panics; findings come in order of start,
//! inside the text, with a confidence between 0 and 1; collecting them and streaming them
//! give the same list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mamori_content::detect::{Detector, DetectorConfig};

fuzz_target!(|data: &[u8]| {
    static DETECTOR: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
    let detector = DETECTOR.get_or_init(|| {
        Detector::new(&DetectorConfig {
            min_confidence: 0.0,
            ..DetectorConfig::default()
        })
    });
    let text = String::from_utf8_lossy(data);
    let chars = text.chars().count();
    let findings = detector.scan(&text);
    let mut streamed = Vec::new();
    detector.scan_each(&text, |f| streamed.push(f));
    assert_eq!(findings, streamed);
    for pair in findings.windows(2) {
        assert!(pair[0].start <= pair[1].start, "out of order: {pair:?}");
    }
    for f in &findings {
        assert!(f.start <= f.end && f.end <= chars, "{f:?} outside {chars} characters");
        assert!((0.0..=1.0).contains(&f.confidence), "{f:?}");
    }
    let _ = detector.source_code(Some("x.txt"), &text);
});
