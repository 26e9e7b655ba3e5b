//! The server clock's arithmetic, without a server: the offset from a sample, whole
//! microseconds, never going backwards across samples.

use ::time::macros::datetime;
use leasehold::{ManualClock, SystemClock};

use super::*;

/// 2000-01-01 00:00 UTC in microseconds since the Unix epoch.
const SERVER_T0: i64 = 946_684_800_000_000;

/// 2000-01-01 00:00 UTC on this host's wall clock.
const HOST_T0: OffsetDateTime = datetime!(2000-01-01 0:00 UTC);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn settings() -> ClockSettings {
    ClockSettings {
        sample_interval: Duration::from_secs(30),
        skew_warning: Duration::from_secs(1),
        host: Arc::new(SystemClock),
    }
}

/// A probe sent at `base + sent`, answered after `round_trip`, while the server read
/// `server_micros`; this host's wall clock read `host` when it was sent.
fn sample(
    base: Instant,
    sent: Duration,
    round_trip: Duration,
    server_micros: i64,
    host: OffsetDateTime,
) -> Sample {
    Sample {
        sent: base + sent,
        received: base + sent + round_trip,
        server_micros,
        host_at_sent: host,
    }
}

/// A clock whose first probe, sent at `base` and answered after `round_trip`, found
/// both the server and this host at 2000-01-01 00:00.
fn clock_at_t0(base: Instant, round_trip: Duration) -> ServerClock {
    ServerClock::new(
        settings(),
        &sample(base, ms(0), round_trip, SERVER_T0, HOST_T0),
    )
}

#[test]
fn the_servers_time_belongs_to_the_midpoint_of_the_round_trip() {
    let base = Instant::now();
    let first = sample(base, ms(0), ms(10), SERVER_T0, HOST_T0);

    let clock = ServerClock::new(settings(), &first);

    assert_eq!(clock.now_at(base + ms(5)), datetime!(2000-01-01 0:00 UTC));
    assert_eq!(
        clock.now_at(base + ms(1_005)),
        datetime!(2000-01-01 0:00:01 UTC)
    );
    assert_eq!(clock.round_trip(), ms(10));
}

#[test]
fn the_skew_is_the_servers_time_minus_the_hosts_at_the_midpoint() {
    let base = Instant::now();
    // The host's clock read 00:00:10 as the probe left; the server read 00:00:00.005
    // half-way through the 10 ms round trip: the host is 10 s ahead.
    let ahead = sample(
        base,
        ms(0),
        ms(10),
        SERVER_T0 + 5_000,
        datetime!(2000-01-01 0:00:10 UTC),
    );
    let behind = sample(base, ms(0), ms(2), SERVER_T0 + 2_500_000, HOST_T0);

    assert_eq!(ahead.skew(), time::Duration::seconds(-10));
    assert_eq!(
        behind.skew(),
        time::Duration::microseconds(2_500_000 - 1_000)
    );
    assert_eq!(
        ServerClock::new(settings(), &ahead).skew(),
        time::Duration::seconds(-10)
    );
}

#[test]
fn time_is_whole_microseconds_rounded_down() {
    let base = Instant::now();
    let clock = clock_at_t0(base, Duration::ZERO);

    let at_1_999 = clock.now_at(base + Duration::from_nanos(1_999));
    let at_2_000 = clock.now_at(base + Duration::from_nanos(2_000));

    assert_eq!(at_1_999, datetime!(2000-01-01 0:00:00.000_001 UTC));
    assert_eq!(at_2_000, datetime!(2000-01-01 0:00:00.000_002 UTC));
    assert_eq!(at_1_999.nanosecond() % 1_000, 0);
    assert_eq!(at_1_999.offset(), time::UtcOffset::UTC);
}

#[test]
fn a_sample_behind_the_clock_holds_it_still_until_the_server_catches_up() {
    let base = Instant::now();
    let clock = clock_at_t0(base, Duration::ZERO);
    let before = clock.now_at(base + ms(1_000));

    // The monotonic clock ran 3 ms fast: at base + 1 s the server read 0.997 s.
    let taken = clock.state().offer(&sample(
        base,
        ms(1_000),
        Duration::ZERO,
        SERVER_T0 + 997_000,
        datetime!(2000-01-01 0:00:01 UTC),
    ));
    let during: Vec<OffsetDateTime> = [1_000, 1_001, 1_002, 1_003]
        .into_iter()
        .map(|t| clock.now_at(base + ms(t)))
        .collect();
    let after = clock.now_at(base + ms(1_004));

    assert!(taken);
    assert_eq!(before, datetime!(2000-01-01 0:00:01 UTC));
    assert_eq!(
        during,
        vec![datetime!(2000-01-01 0:00:01 UTC); 4],
        "the clock holds still: it never answers an earlier time"
    );
    assert_eq!(
        after,
        datetime!(2000-01-01 0:00:01.001 UTC),
        "then it follows the new sample"
    );
}

#[test]
fn a_sample_ahead_of_the_clock_steps_it_forward_at_once() {
    let base = Instant::now();
    let clock = clock_at_t0(base, Duration::ZERO);

    clock.state().offer(&sample(
        base,
        ms(1_000),
        Duration::ZERO,
        SERVER_T0 + 1_250_000,
        datetime!(2000-01-01 0:00:01 UTC),
    ));

    assert_eq!(
        clock.now_at(base + ms(1_000)),
        datetime!(2000-01-01 0:00:01.25 UTC)
    );
}

#[test]
fn answers_never_decrease_whatever_the_samples_and_instants() {
    let base = Instant::now();
    let clock = clock_at_t0(base, ms(4));
    let mut rng = fastrand::Rng::with_seed(7);
    let mut last = clock.now_at(base);

    for step in 0..2_000_u64 {
        if step % 50 == 0 {
            // A sample off by up to +-20 ms from the monotonic clock's estimate.
            let off = rng.i64(-20_000..=20_000);
            let estimate = SERVER_T0 + i64::try_from(step * 1_000).unwrap();
            clock.state().offer(&sample(
                base,
                ms(step),
                ms(rng.u64(0..4)),
                estimate + off,
                HOST_T0,
            ));
        }
        // Instants out of order too: a caller may read Instant::now() before another.
        let at = base + ms(step) - ms(rng.u64(0..3).min(step));
        let now = clock.now_at(at);

        assert!(now >= last, "step {step}: {now} after {last}");
        last = now;
    }
}

#[test]
fn a_slow_probe_is_set_aside_once_the_clock_has_a_sample() {
    let base = Instant::now();
    let clock = clock_at_t0(base, ms(2));

    let taken = clock.state().offer(&sample(
        base,
        ms(1_000),
        MAX_ROUND_TRIP + ms(1),
        SERVER_T0 + 60_000_000,
        HOST_T0,
    ));

    assert!(!taken);
    assert_eq!(
        clock.now_at(base + ms(1_001)),
        datetime!(2000-01-01 0:00:01 UTC),
        "the last sample still rules"
    );
    assert_eq!(clock.round_trip(), ms(2));
}

#[test]
fn the_best_of_several_probes_is_the_quickest() {
    let base = Instant::now();
    let probes = [
        sample(base, ms(0), ms(9), SERVER_T0, HOST_T0),
        sample(base, ms(10), ms(1), SERVER_T0 + 1, HOST_T0),
        sample(base, ms(20), ms(3), SERVER_T0 + 2, HOST_T0),
    ];

    let best = Sample::best(probes).unwrap();

    assert_eq!(best.server_micros, SERVER_T0 + 1);
    assert_eq!(Sample::best([]), None);
}

#[test]
fn the_clock_never_reads_the_hosts_wall_clock() {
    let base = Instant::now();
    let host = ManualClock::new(datetime!(2100-01-01 0:00 UTC));
    let clock = ServerClock::new(
        ClockSettings {
            host: Arc::new(host.clone()),
            ..settings()
        },
        &sample(
            base,
            ms(0),
            Duration::ZERO,
            SERVER_T0,
            datetime!(2100-01-01 0:00 UTC),
        ),
    );

    host.advance(Duration::from_secs(24 * 60 * 60));

    assert_eq!(
        clock.now_at(base + ms(1)),
        datetime!(2000-01-01 0:00:00.001 UTC)
    );
}
