//! [`ServerClock`]: a [`Clock`] that follows the PostgreSQL server's clock.
//!
//! - It samples the server's time (one statement, `src/sql/server_time.sql`, the only
//!   one that reads the server's clock) when the store connects and every 30 s after
//!   (see `crate::sampler`). Each sample is the best of a few probes: the one with the
//!   shortest round trip, whose server time is taken to be the time at the round trip's
//!   midpoint on this host's monotonic clock, so its error is at most half that round
//!   trip.
//! - Between samples it runs on the monotonic clock ([`Instant`]): `now()` is the
//!   server's time at the last sample plus the monotonic time elapsed since. It never
//!   waits for the network.
//! - It never goes backwards: a sample that puts the server behind what `now()` already
//!   answered moves the clock forward no further until the server's time catches up.
//!
//! Time stays an input: the store's statements still read only the times they are
//! given, and this clock is what a queue gives them.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use leasehold::Clock;
use leasehold::time::{self, OffsetDateTime};
use leasehold::time::{from_unix_micros, to_unix_micros};
use tokio::task::AbortHandle;

use crate::options::ClockSettings;

/// A probe whose round trip took longer than this is not used once the clock has a
/// sample: its server time could be off by half of it.
pub(crate) const MAX_ROUND_TRIP: Duration = Duration::from_secs(1);

/// A clock that follows the PostgreSQL server's; clones share one clock.
///
/// [`PostgresStore`](crate::PostgresStore) offers one through `JobStore::clock`
/// (unless [`PostgresStoreOptions::server_clock`](crate::PostgresStoreOptions::server_clock)
/// is `false`), so `Queue::new(store)`, and every worker and scheduler built from that
/// queue, reads the server's time: workers on hosts whose clocks disagree still compare
/// every lease on one clock.
///
/// `now()` is the server's time at the last sample plus the time this host's monotonic
/// clock says has elapsed since, in whole microseconds; it never blocks and never reads
/// this host's wall clock. Samples come every 30 s
/// ([`PostgresStoreOptions::clock_sample_interval`](crate::PostgresStoreOptions::clock_sample_interval)).
/// A failed sample keeps the last one and is tried again sooner; a sample whose round
/// trip took longer than 1 s is set aside, as its error (half the round trip) would be
/// too. Sampling stops when the store is dropped or closed; the clock then runs on
/// from its last sample.
///
/// It never goes backwards. A sample that puts the server's time ahead of the clock
/// steps it forward at once; one that puts it behind what `now()` already answered
/// holds the clock still (every `now()` answers the last time answered) until the
/// server's time catches up, then follows the new sample. Holding is the quickest
/// correction that never steps back: the clock is ahead of the server by less and less
/// for exactly the size of the correction, where slewing would leave it ahead for
/// longer. Corrections are tiny in practice (the monotonic clock drifts by
/// milliseconds between samples); one larger than the skew warning is logged.
///
/// The skew, the server's time minus this host's wall clock, is measured at every
/// sample ([`ServerClock::skew`]) and logged as a warning when it exceeds
/// [`PostgresStoreOptions::clock_skew_warning`](crate::PostgresStoreOptions::clock_skew_warning).
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), leasehold::StoreError> {
/// use std::sync::Arc;
/// use leasehold::{Clock, JobStore, Queue};
/// use leasehold_postgres::PostgresStore;
///
/// let store = PostgresStore::connect("postgres://app@db.internal/app").await?;
/// let clock = store.server_clock().expect("on by default");
/// println!(
///     "the server's clock is {} ms ahead of this host's",
///     clock.skew().whole_milliseconds()
/// );
/// let queue = Queue::new(Arc::new(store.clone()) as Arc<dyn JobStore>);
/// let _now = queue.clock().now(); // the server's time, give or take half a round trip
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ServerClock {
    state: Arc<State>,
}

/// What clones of one clock share.
pub(crate) struct State {
    settings: ClockSettings,
    reading: Mutex<Reading>,
    sampler: Mutex<Option<AbortHandle>>,
}

impl Drop for State {
    fn drop(&mut self) {
        self.stop_sampling();
    }
}

impl State {
    pub(crate) fn settings(&self) -> &ClockSettings {
        &self.settings
    }

    /// Takes `sample` if it is good enough: when it has no sample yet, or the probe's
    /// round trip was short enough. Logs the skew when it is large, and a backward
    /// correction larger than the skew warning. Returns whether it took the sample.
    pub(crate) fn offer(&self, sample: &Sample) -> bool {
        let mut reading = self.lock();
        if sample.round_trip() > MAX_ROUND_TRIP {
            tracing::debug!(
                round_trip_ms = sample.round_trip().as_millis(),
                "leasehold-postgres: a server clock sample took too long; keeping the last one"
            );
            return false;
        }
        let held = reading.take(sample);
        drop(reading);
        self.log(sample, held);
        true
    }

    fn log(&self, sample: &Sample, held: Duration) {
        let warning = self.settings.skew_warning;
        let skew = sample.skew();
        if skew.unsigned_abs() > warning {
            let direction = if skew.is_negative() {
                "ahead of"
            } else {
                "behind"
            };
            tracing::warn!(
                skew_ms = skew.whole_milliseconds(),
                threshold_ms = warning.as_millis(),
                "leasehold-postgres: this host's clock is {} ms {direction} the PostgreSQL \
                 server's; the store's ServerClock follows the server, but anything that \
                 reads this host's clock for leases (a Queue::with_clock(.., SystemClock), \
                 a store with server_clock(false), another program) disagrees with the \
                 other workers: fix the host's time synchronization (NTP)",
                skew.whole_milliseconds().unsigned_abs()
            );
        }
        if held > warning {
            tracing::warn!(
                held_ms = held.as_millis(),
                "leasehold-postgres: the server's clock is behind what the ServerClock already \
                 answered; the clock holds still until the server catches up"
            );
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Reading> {
        // A panic while holding the lock cannot leave the reading half-written: every
        // update is a few plain assignments.
        self.reading.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers the task that samples for this clock, to stop it with the store.
    pub(crate) fn set_sampler(&self, task: AbortHandle) {
        *self.sampler.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
    }

    /// Stops sampling; the clock runs on from its last sample.
    pub(crate) fn stop_sampling(&self) {
        let task = self
            .sampler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.abort();
        }
    }
}

impl ServerClock {
    /// A clock on its first sample (taken whatever its round trip, as nothing better is
    /// known yet; the next samples replace it).
    pub(crate) fn new(settings: ClockSettings, first: &Sample) -> Self {
        let clock = Self {
            state: Arc::new(State {
                settings,
                reading: Mutex::new(Reading::new(first)),
                sampler: Mutex::new(None),
            }),
        };
        if first.round_trip() > MAX_ROUND_TRIP {
            tracing::warn!(
                round_trip_ms = first.round_trip().as_millis(),
                "leasehold-postgres: the first sample of the server's clock took long; its \
                 error may be up to half that until a quicker sample replaces it"
            );
        }
        clock.state.log(first, Duration::ZERO);
        clock
    }

    pub(crate) fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// The skew at the last sample: the server's time minus this host's wall clock
    /// ([`PostgresStoreOptions::host_clock`](crate::PostgresStoreOptions::host_clock)).
    /// Negative when this host's clock is ahead of the server's. Signed, hence a
    /// `time::Duration`.
    pub fn skew(&self) -> time::Duration {
        self.state.lock().skew
    }

    /// The round trip of the probe the last sample came from: the clock's offset from
    /// the server's is known to within half of it (plus the monotonic clock's drift
    /// since).
    pub fn round_trip(&self) -> Duration {
        self.state.lock().round_trip
    }

    /// The time at `at` on the monotonic clock, never before a time already answered.
    pub(crate) fn now_at(&self, at: Instant) -> OffsetDateTime {
        let micros = self.state.lock().now_at(at);
        from_unix_micros(micros).expect("the server's time plus elapsed time stays in range")
    }
}

impl Clock for ServerClock {
    fn now(&self) -> OffsetDateTime {
        self.now_at(Instant::now())
    }
}

impl fmt::Debug for ServerClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reading = self.state.lock();
        f.debug_struct("ServerClock")
            .field("skew", &reading.skew)
            .field("round_trip", &reading.round_trip)
            .finish_non_exhaustive()
    }
}

/// One probe of the server's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    /// When the probe was sent, on this host's monotonic clock.
    pub(crate) sent: Instant,
    /// When its answer arrived.
    pub(crate) received: Instant,
    /// The server's time while it answered, in microseconds since the Unix epoch.
    pub(crate) server_micros: i64,
    /// This host's wall clock when the probe was sent.
    pub(crate) host_at_sent: OffsetDateTime,
}

impl Sample {
    pub(crate) fn round_trip(&self) -> Duration {
        self.received.saturating_duration_since(self.sent)
    }

    /// The moment the server's time is taken to belong to: the round trip's midpoint.
    fn midpoint(&self) -> Instant {
        self.sent + self.round_trip() / 2
    }

    /// The server's time minus this host's wall clock, both at the midpoint.
    pub(crate) fn skew(&self) -> time::Duration {
        let host = self.host_at_sent + self.round_trip() / 2;
        time::Duration::microseconds(self.server_micros - to_unix_micros(host))
    }

    /// The best of `samples`: the one with the shortest round trip.
    pub(crate) fn best(samples: impl IntoIterator<Item = Sample>) -> Option<Sample> {
        samples.into_iter().min_by_key(Sample::round_trip)
    }
}

/// The clock's state: an anchor (the server's time at one monotonic instant) and the
/// latest time answered.
#[derive(Debug, Clone, Copy)]
struct Reading {
    /// The server's time at `anchor`, in microseconds.
    anchor_micros: i64,
    anchor: Instant,
    /// The latest time answered, in microseconds: no later answer is earlier.
    answered: i64,
    skew: time::Duration,
    round_trip: Duration,
}

impl Reading {
    fn new(sample: &Sample) -> Self {
        Self {
            anchor_micros: sample.server_micros,
            anchor: sample.midpoint(),
            answered: i64::MIN,
            skew: sample.skew(),
            round_trip: sample.round_trip(),
        }
    }

    /// The anchor's estimate of the server's time at `at`, in whole microseconds
    /// (truncated, so the answers of one anchor never decrease as `at` grows).
    fn estimate(&self, at: Instant) -> i64 {
        match at.checked_duration_since(self.anchor) {
            Some(elapsed) => self.anchor_micros.saturating_add(whole_micros(elapsed)),
            // An instant read just before the anchor was moved past it.
            None => self
                .anchor_micros
                .saturating_sub(whole_micros_up(self.anchor - at)),
        }
    }

    fn now_at(&mut self, at: Instant) -> i64 {
        self.answered = self.answered.max(self.estimate(at));
        self.answered
    }

    /// Anchors on `sample`; returns how long the clock will hold still (how far the new
    /// estimate is behind the time already answered).
    fn take(&mut self, sample: &Sample) -> Duration {
        let answered = self.answered;
        *self = Self {
            answered,
            ..Self::new(sample)
        };
        let behind = answered.saturating_sub(self.estimate(sample.received));
        Duration::from_micros(u64::try_from(behind).unwrap_or(0))
    }
}

/// `d` in whole microseconds, rounded down.
fn whole_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// `d` in whole microseconds, rounded up.
fn whole_micros_up(d: Duration) -> i64 {
    let micros = whole_micros(d);
    if d.subsec_nanos().is_multiple_of(1_000) {
        micros
    } else {
        micros.saturating_add(1)
    }
}

#[cfg(test)]
#[path = "clock_tests.rs"]
mod tests;
