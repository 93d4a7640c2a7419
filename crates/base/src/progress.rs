//! Progress reporting. Library stages never print: they tell a [`Reporter`] what they are doing,
//! and the CLI decides how to show it (indicatif bars on a terminal, nothing otherwise). Tests and
//! servers pass [`Silent`].

/// What a long stage tells its caller while it runs. Implementations must be cheap and
/// thread-safe: generators call `advance` from worker loops.
pub trait Reporter: Send + Sync {
    /// A new phase of `total` units starts (`total` 0: unknown length).
    fn start(&self, phase: &str, total: u64);
    /// `units` more of the current phase are done.
    fn advance(&self, units: u64);
    /// A short status message within the current phase.
    fn message(&self, text: &str);
    /// A line worth keeping (a warning, a summary); the CLI prints it above any bar.
    fn note(&self, line: &str);
    /// The current phase is over.
    fn finish(&self);
}

/// A reporter that shows nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn start(&self, _phase: &str, _total: u64) {}
    fn advance(&self, _units: u64) {}
    fn message(&self, _text: &str) {}
    fn note(&self, _line: &str) {}
    fn finish(&self) {}
}
