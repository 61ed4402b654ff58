//! Progress for long work: a bar on a terminal, a plain line every few seconds otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

/// Reports progress in units of work (bytes or items) to stderr.
pub struct Reporter {
    bar: Option<ProgressBar>,
    label: &'static str,
    total: Option<u64>,
    started: Instant,
    last_plain: Instant,
}

impl Reporter {
    /// `unit` is "bytes" (shown as sizes) or anything else (shown as counts).
    pub fn new(label: &'static str, total: Option<u64>, unit: &str) -> Reporter {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = total.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
            let template = match (total.is_some(), unit == "bytes") {
                (true, true) => {
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}"
                }
                (true, false) => "{msg} [{bar:30}] {human_pos}/{human_len} {per_sec} ETA {eta}",
                (false, true) => "{msg} {spinner} {bytes} {binary_bytes_per_sec}",
                (false, false) => "{msg} {spinner} {human_pos} {per_sec}",
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label);
            bar
        });
        let now = Instant::now();
        Reporter {
            bar,
            label,
            total,
            started: now,
            last_plain: now,
        }
    }

    /// Work done so far; `items` is an extra count with its rate (e.g. records).
    pub fn update(&mut self, position: u64, items: u64) {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = items as f64 / seconds;
        if let Some(bar) = &self.bar {
            bar.set_position(position);
            bar.set_message(format!("{} {items} records {rate:.0}/s", self.label));
            return;
        }
        if self.last_plain.elapsed() >= PLAIN_INTERVAL {
            self.last_plain = Instant::now();
            let eta = self
                .total
                .filter(|&total| position > 0 && total > position)
                .map(|total| {
                    let left = (total - position) as f64 * seconds / position as f64;
                    format!(", ETA {left:.0} s")
                })
                .unwrap_or_default();
            eprintln!("{}: {items} records, {rate:.0}/s{eta}", self.label);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
