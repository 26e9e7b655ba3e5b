//! How long a failed job waits before its next attempt.
//!
//! - [`Backoff`]: the raw delay as a pure function of the attempt: constant, linear or
//!   exponential.
//! - [`RetryPolicy`]: a [`Backoff`] with a cap and optional jitter drawn from an
//!   injected [`RandomSource`]; the default is exponential (1 s, doubling) capped at one
//!   hour with 25 % jitter.
//!
//! Delays are whole microseconds (what a store keeps), so `now + delay` round-trips
//! exactly through every store.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use leasehold::retry::RetryPolicy;
//!
//! let policy = RetryPolicy::exponential(Duration::from_secs(2))
//!     .max_delay(Duration::from_secs(60))
//!     .jitter(0.5)
//!     .random_source(Arc::new(|| 0.5));
//! // attempt 3: 2 s * 2^2 = 8 s, minus 0.5 * 0.5 of it = 6 s.
//! assert_eq!(policy.delay(3), Duration::from_secs(6));
//! // attempt 30 would be 2 s * 2^29: capped at 60 s, then jittered to 45 s.
//! assert_eq!(policy.delay(30), Duration::from_secs(45));
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

/// A source of uniform random numbers in `[0, 1)`; values outside are clamped.
pub type RandomSource = Arc<dyn Fn() -> f64 + Send + Sync>;

/// The raw delay before attempt `n + 1`, after attempt `n` (counted from 1) failed.
///
/// Every variant is a pure function of the attempt that saturates instead of
/// overflowing; attempt 0 is treated as 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backoff {
    /// `delay(n) = delay`.
    Constant(Duration),
    /// `delay(n) = initial + step * (n - 1)`.
    Linear {
        /// The delay after the first attempt.
        initial: Duration,
        /// Added for each further attempt.
        step: Duration,
    },
    /// `delay(n) = initial * factor^(n - 1)`.
    Exponential {
        /// The delay after the first attempt.
        initial: Duration,
        /// The growth per attempt (2 doubles).
        factor: u32,
    },
}

impl Backoff {
    /// The raw delay after failed attempt `attempt` (saturating at `Duration::MAX`).
    pub fn delay(&self, attempt: u32) -> Duration {
        let n = attempt.max(1) - 1;
        match *self {
            Backoff::Constant(delay) => delay,
            Backoff::Linear { initial, step } => step
                .checked_mul(n)
                .and_then(|grown| initial.checked_add(grown))
                .unwrap_or(Duration::MAX),
            Backoff::Exponential { initial, factor } => factor
                .checked_pow(n)
                .and_then(|scale| initial.checked_mul(scale))
                .unwrap_or(Duration::MAX),
        }
    }
}

/// A [`Backoff`] with a cap and jitter: the delay a worker gives a job that failed.
///
/// For failed attempt `n` and a random `r` in `[0, 1)`:
///
/// ```text
/// capped(n)  = min(backoff.delay(n), max_delay)
/// delay(n)   = capped(n) * (1 - jitter * r)        (truncated to whole microseconds)
/// ```
///
/// so with jitter `j` the delay lies in `(capped * (1 - j), capped]`, never above the
/// cap; `jitter = 1.0` is "full jitter". [`RetryPolicy::delay_with`] is the pure form
/// with `r` given; [`RetryPolicy::delay`] draws `r` from the policy's [`RandomSource`]
/// (by default `fastrand::f64`).
#[derive(Clone)]
pub struct RetryPolicy {
    backoff: Backoff,
    max_delay: Duration,
    jitter: f64,
    random: RandomSource,
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("backoff", &self.backoff)
            .field("max_delay", &self.max_delay)
            .field("jitter", &self.jitter)
            .finish_non_exhaustive()
    }
}

impl Default for RetryPolicy {
    /// Exponential from 1 s, doubling, capped at one hour, with 25 % jitter.
    fn default() -> Self {
        Self::exponential(Duration::from_secs(1)).jitter(0.25)
    }
}

impl RetryPolicy {
    /// The cap when none is given: one hour.
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(3600);

    /// A policy over `backoff`, capped at one hour, without jitter.
    pub fn new(backoff: Backoff) -> Self {
        Self {
            backoff,
            max_delay: Self::DEFAULT_MAX_DELAY,
            jitter: 0.0,
            random: Arc::new(fastrand::f64),
        }
    }

    /// The same delay after every attempt.
    pub fn constant(delay: Duration) -> Self {
        Self::new(Backoff::Constant(delay))
    }

    /// `initial`, then one `step` more after each further attempt.
    pub fn linear(initial: Duration, step: Duration) -> Self {
        Self::new(Backoff::Linear { initial, step })
    }

    /// `initial`, doubling after each further attempt.
    pub fn exponential(initial: Duration) -> Self {
        Self::new(Backoff::Exponential { initial, factor: 2 })
    }

    /// Never waits longer than `max_delay` (before jitter).
    pub fn max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// Takes up to `ratio` (0.0 to 1.0) of the capped delay off at random.
    pub fn jitter(mut self, ratio: f64) -> Self {
        self.jitter = ratio;
        self
    }

    /// Draws jitter from `random` instead of `fastrand::f64` (tests pin it).
    pub fn random_source(mut self, random: RandomSource) -> Self {
        self.random = random;
        self
    }

    /// The backoff underneath.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the jitter ratio is not within 0.0 to 1.0.
    pub fn validate(&self) -> Result<(), Error> {
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(Error::Config(format!(
                "retry jitter must be between 0.0 and 1.0, got {}",
                self.jitter
            )));
        }
        Ok(())
    }

    /// The delay after failed attempt `attempt`, with jitter from the random source.
    pub fn delay(&self, attempt: u32) -> Duration {
        let r = if self.jitter > 0.0 {
            (self.random)()
        } else {
            0.0
        };
        self.delay_with(attempt, r)
    }

    /// The delay after failed attempt `attempt` for the random value `r` (clamped to
    /// `[0, 1]`): a pure function, see the formula on [`RetryPolicy`].
    pub fn delay_with(&self, attempt: u32, r: f64) -> Duration {
        let capped = self.backoff.delay(attempt).min(self.max_delay);
        let r = if r.is_nan() { 0.0 } else { r.clamp(0.0, 1.0) };
        let keep = 1.0 - self.jitter.clamp(0.0, 1.0) * r;
        let jittered = if keep >= 1.0 {
            capped
        } else {
            Duration::try_from_secs_f64(capped.as_secs_f64() * keep)
                .map_or(capped, |d| d.min(capped))
        };
        truncate_to_micros(jittered)
    }
}

/// `d` without its sub-microsecond part.
fn truncate_to_micros(d: Duration) -> Duration {
    Duration::new(d.as_secs(), d.subsec_micros() * 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn constant_is_the_same_for_every_attempt() {
        let backoff = Backoff::Constant(SEC * 5);

        assert_eq!(backoff.delay(0), SEC * 5);
        assert_eq!(backoff.delay(1), SEC * 5);
        assert_eq!(backoff.delay(u32::MAX), SEC * 5);
    }

    #[test]
    fn linear_adds_one_step_per_attempt() {
        let backoff = Backoff::Linear {
            initial: SEC,
            step: SEC * 3,
        };

        assert_eq!(backoff.delay(1), SEC);
        assert_eq!(backoff.delay(2), SEC * 4);
        assert_eq!(backoff.delay(5), SEC * 13);
    }

    #[test]
    fn exponential_multiplies_by_the_factor_per_attempt() {
        let backoff = Backoff::Exponential {
            initial: Duration::from_millis(100),
            factor: 3,
        };

        assert_eq!(backoff.delay(1), Duration::from_millis(100));
        assert_eq!(backoff.delay(2), Duration::from_millis(300));
        assert_eq!(backoff.delay(4), Duration::from_millis(2700));
    }

    #[test]
    fn huge_attempts_saturate_instead_of_overflowing() {
        let exponential = RetryPolicy::exponential(SEC).max_delay(SEC * 60);
        let linear = RetryPolicy::linear(SEC, Duration::MAX / 2).max_delay(SEC * 60);

        assert_eq!(exponential.delay(u32::MAX), SEC * 60);
        assert_eq!(exponential.delay(64), SEC * 60);
        assert_eq!(linear.delay(u32::MAX), SEC * 60);
        assert_eq!(
            Backoff::Exponential {
                initial: SEC,
                factor: u32::MAX
            }
            .delay(u32::MAX),
            Duration::MAX
        );
    }

    #[test]
    fn the_cap_bounds_the_delay() {
        let policy = RetryPolicy::exponential(SEC).max_delay(SEC * 10);

        let delays: Vec<Duration> = (1..=6).map(|n| policy.delay(n)).collect();

        assert_eq!(delays, [SEC, SEC * 2, SEC * 4, SEC * 8, SEC * 10, SEC * 10]);
    }

    #[test]
    fn jitter_takes_off_at_most_its_ratio_and_never_exceeds_the_cap() {
        let policy = RetryPolicy::constant(SEC * 10)
            .max_delay(SEC * 8)
            .jitter(0.5);

        assert_eq!(policy.delay_with(1, 0.0), SEC * 8);
        assert_eq!(policy.delay_with(1, 0.5), SEC * 6);
        assert_eq!(policy.delay_with(1, 1.0), SEC * 4);
        assert_eq!(policy.delay_with(1, f64::NAN), SEC * 8);
        assert_eq!(policy.delay_with(1, 7.0), SEC * 4);
    }

    #[test]
    fn jitter_is_drawn_from_the_injected_source() {
        let policy = RetryPolicy::exponential(SEC)
            .jitter(1.0)
            .random_source(Arc::new(|| 0.25));

        assert_eq!(policy.delay(3), SEC * 3);
    }

    #[test]
    fn delays_are_whole_microseconds() {
        let policy = RetryPolicy::constant(Duration::from_nanos(1_234_567)).jitter(0.3);

        for r in [0.0, 0.1, 0.33, 0.999] {
            assert_eq!(policy.delay_with(1, r).subsec_nanos() % 1_000, 0);
        }
    }

    fn any_backoff() -> impl proptest::strategy::Strategy<Value = Backoff> {
        use proptest::prelude::*;
        let micros = || (0u64..=10_000_000_000).prop_map(Duration::from_micros);
        prop_oneof![
            micros().prop_map(Backoff::Constant),
            (micros(), micros()).prop_map(|(initial, step)| Backoff::Linear { initial, step }),
            (micros(), 1u32..=10)
                .prop_map(|(initial, factor)| Backoff::Exponential { initial, factor }),
        ]
    }

    proptest::proptest! {
        #[test]
        fn a_delay_stays_within_the_jitter_band_below_the_cap(
            backoff in any_backoff(),
            cap_micros in 0u64..=100_000_000_000,
            jitter in 0.0f64..=1.0,
            attempt in proptest::prelude::any::<u32>(),
            r in 0.0f64..1.0,
        ) {
            let cap = Duration::from_micros(cap_micros);
            let policy = RetryPolicy::new(backoff).max_delay(cap).jitter(jitter);
            let capped = backoff.delay(attempt).min(cap);

            let delay = policy.delay_with(attempt, r);

            proptest::prop_assert!(delay <= capped);
            let floor = capped.as_secs_f64() * (1.0 - jitter) - 2e-6;
            proptest::prop_assert!(delay.as_secs_f64() >= floor, "{delay:?} < {floor}");
            proptest::prop_assert_eq!(delay.subsec_nanos() % 1_000, 0);
        }

        #[test]
        fn without_jitter_a_later_attempt_never_waits_less(
            backoff in any_backoff(),
            attempt in 0u32..u32::MAX,
        ) {
            let policy = RetryPolicy::new(backoff);

            proptest::prop_assert!(policy.delay(attempt + 1) >= policy.delay(attempt));
        }

        #[test]
        fn a_constant_backoff_waits_the_same_after_every_attempt(
            micros in 0u64..=100_000_000_000,
            a in proptest::prelude::any::<u32>(),
            b in proptest::prelude::any::<u32>(),
        ) {
            let delay = Duration::from_micros(micros);
            let policy = RetryPolicy::constant(delay).max_delay(Duration::MAX);

            proptest::prop_assert_eq!(policy.delay(a), policy.delay(b));
            proptest::prop_assert_eq!(policy.delay(a), delay);
        }
    }

    #[test]
    fn the_default_is_exponential_with_jitter() {
        let policy = RetryPolicy::default();

        assert!(matches!(
            policy.backoff(),
            Backoff::Exponential { factor: 2, .. }
        ));
        assert_eq!(policy.delay_with(2, 0.0), SEC * 2);
        assert!(policy.delay_with(2, 0.99) < SEC * 2);
        assert!(policy.validate().is_ok());
        assert!(RetryPolicy::default().jitter(1.5).validate().is_err());
    }
}
