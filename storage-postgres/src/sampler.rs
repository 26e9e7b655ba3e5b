//! Sampling the server's clock for a [`ServerClock`]: once when the store connects
//! ([`sample`]), then from a task of its own ([`spawn`]) every sample interval.
//!
//! A sample is the best of [`PROBES`] probes on one connection (the shortest round
//! trip; the first probe on a new connection also prepares the statement). The task
//! holds the clock weakly and stops when the store is dropped (the store aborts it),
//! when its pool is closed, or when no clone of the clock is left. A failed sample
//! keeps the clock's last one; the task tries again after 1 s, then 2 s, 4 s, ... up to
//! the sample interval.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use leasehold::{Clock, StoreError};

use crate::call::Calls;
use crate::clock::{Sample, ServerClock, State};
use crate::error::store_error;
use crate::sql::query_scalar;

/// Probes per sample.
const PROBES: usize = 3;
/// The longest a sample may take, probes and acquiring a connection aside: a sample
/// that slow is useless (its error would be half of it) and likely a dead connection.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(5);
/// The first pause after a failed sample; doubles up to the sample interval.
const FIRST_RETRY_DELAY: Duration = Duration::from_secs(1);

/// Probes the server's clock through `calls`'s pool, reading this host's clock from
/// `host` for the skew; answers the best probe.
///
/// # Errors
///
/// As [`Calls::run`]: the sample failed or took longer than 5 s.
pub(crate) async fn sample(
    calls: &Calls,
    statement: &Arc<str>,
    host: &dyn Clock,
) -> Result<Sample, StoreError> {
    let calls = calls.with_timeout(SAMPLE_TIMEOUT);
    calls
        .run("the server clock's sample", async |conn| {
            let mut probes = Vec::with_capacity(PROBES);
            for _ in 0..PROBES {
                let host_at_sent = host.now();
                let sent = Instant::now();
                let server_micros: i64 = query_scalar(statement)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(store_error)?;
                probes.push(Sample {
                    sent,
                    received: Instant::now(),
                    server_micros,
                    host_at_sent,
                });
            }
            Ok(Sample::best(probes).expect("at least one probe"))
        })
        .await
}

/// Starts sampling for `clock` every sample interval on `runtime`, until the clock's
/// sampling is stopped, `calls`'s pool is closed, or the clock is gone.
pub(crate) fn spawn(
    runtime: &tokio::runtime::Handle,
    clock: &ServerClock,
    calls: Calls,
    statement: Arc<str>,
) {
    let task = runtime.spawn(run(Arc::downgrade(clock.state()), calls, statement));
    clock.state().set_sampler(task.abort_handle());
}

async fn run(state: Weak<State>, calls: Calls, statement: Arc<str>) {
    let closed = calls.pool().close_event();
    tokio::pin!(closed);
    let Some(every) = state.upgrade().map(|s| s.settings().sample_interval) else {
        return;
    };
    let mut delay = every;
    let mut failures: u32 = 0;
    loop {
        tokio::select! {
            () = &mut closed => return,
            () = tokio::time::sleep(delay) => {}
        }
        let Some(state) = state.upgrade() else {
            return;
        };
        let host = Arc::clone(&state.settings().host);
        let taken = match sample(&calls, &statement, &*host).await {
            Ok(sample) => state.offer(&sample),
            Err(error) => {
                tracing::warn!(
                    %error,
                    "leasehold-postgres: cannot sample the server's clock; the ServerClock \
                     runs on from its last sample and tries again"
                );
                false
            }
        };
        failures = if taken { 0 } else { failures.saturating_add(1) };
        delay = retry_delay(failures, every);
    }
}

/// The pause before the next sample after `failures` failed ones in a row.
fn retry_delay(failures: u32, every: Duration) -> Duration {
    match failures {
        0 => every,
        n => FIRST_RETRY_DELAY
            .saturating_mul(1 << (n - 1).min(16))
            .min(every),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_samples_are_tried_again_sooner_then_less_and_less_often() {
        let every = Duration::from_secs(30);

        let seconds: Vec<u64> = (0..8)
            .map(|failures| retry_delay(failures, every).as_secs())
            .collect();

        assert_eq!(seconds, [30, 1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(retry_delay(u32::MAX, every), every);
    }
}
