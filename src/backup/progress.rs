//! The progress bar of long operations: drawn on stderr when it is a terminal, hidden
//! otherwise (logs and pipes get the final `info!` line instead).

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte-counting bar whose length is an estimate (relation sizes on disk).
pub fn bar(estimated_bytes: i64, label: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(
        Some(u64::try_from(estimated_bytes).unwrap_or(0)),
        ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/~{total_bytes} ({bytes_per_sec})",
    ) {
        bar.set_style(style);
    }
    bar.set_prefix(label.to_owned());
    bar
}
