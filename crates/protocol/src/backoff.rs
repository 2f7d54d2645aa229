//! Capped exponential backoff with full jitter: the one retry schedule of every process (the
//! client's reconnects, the worker's job retries, its Redis claim loop, the pub/sub feed, the
//! socket's log reads).
//!
//! The n-th delay (counting from 0) is drawn uniformly from `[0, min(cap, base * 2^n)]`
//! ("full jitter"), so clients that lost the same server at the same moment spread their
//! reconnects over the whole window instead of arriving together.

use std::time::Duration;

use rand::RngExt;

/// Backoff state: how many delays have been drawn since the last [`Backoff::reset`].
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// Socket reconnects: 0.5 s growing to 20 s.
    pub const SOCKET: Self = Self::new(Duration::from_millis(500), Duration::from_secs(20));

    /// A backoff whose ceiling starts at `base` and doubles up to `cap`.
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap, attempt: 0 }
    }

    /// The ceiling of the next delay: `min(cap, base * 2^attempt)`.
    pub fn ceiling(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The same schedule, `attempts` delays in (a job's n-th attempt backs off from its own
    /// place in the schedule, though each attempt is a new process' first delay).
    pub const fn after(mut self, attempts: u32) -> Self {
        self.attempt = attempts;
        self
    }

    /// Delays drawn since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Draws the next delay with the thread's random generator.
    pub fn next_delay(&mut self) -> Duration {
        self.next_delay_with(&mut rand::rng())
    }

    /// Draws the next delay, uniformly in `[0, ceiling]`, with the given generator.
    pub fn next_delay_with<R: RngExt + ?Sized>(&mut self, rng: &mut R) -> Duration {
        let ceiling = self.ceiling().as_secs_f64();
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_secs_f64(rng.random_range(0.0..=ceiling))
    }

    /// Starts over from `base`, after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::SOCKET
    }
}
