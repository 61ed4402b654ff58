//! Shared by the mamori-content fuzz targets.

/// Makes a panic raised in mamori-content's own source abort the process (the extractor
/// would otherwise turn it into a `Malformed` problem and the fuzzer would never see it).
/// Panics inside other crates' parsers stay caught: that is the extractor's documented
/// behaviour.
pub fn abort_on_own_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.location().is_some_and(|l| {
                l.file().contains("mamori-content") || l.file().contains("fuzz_targets")
            }) {
                default(info);
                std::process::abort();
            }
        }));
    });
}
