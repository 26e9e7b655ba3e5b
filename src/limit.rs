//! Flow control across processes: how many jobs of a key (or a queue) may run at
//! once, and how many may start per period, stored and enforced by the claim.
//!
//! A job carries a limit key ([`NewJob::limit_key`](crate::NewJob::limit_key), from
//! its type with [`Job::limit_key`](crate::Job::limit_key) or per enqueue with
//! [`EnqueueOptions::limit_key`](crate::EnqueueOptions::limit_key)); a [`Limit`] is
//! stored for a [`LimitScope`] with [`Queue::set_limit`](crate::Queue::set_limit).
//! A key with no stored limit limits nothing.

use std::fmt;
use std::time::Duration;

use crate::error::Error;

/// What a [`Limit`] applies to: the jobs carrying a limit key, or every job of a
/// queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LimitScope {
    /// The jobs whose [`JobRecord::limit_key`](crate::JobRecord::limit_key) is this.
    Key(String),
    /// Every job of this queue.
    Queue(String),
}

impl LimitScope {
    /// The key or queue name.
    pub fn name(&self) -> &str {
        match self {
            Self::Key(name) | Self::Queue(name) => name,
        }
    }

    /// `"key"` or `"queue"`: how SQL stores write the scope.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Key(_) => "key",
            Self::Queue(_) => "queue",
        }
    }

    /// Whether this scope governs a job of `queue` carrying `limit_key`.
    ///
    /// ```
    /// use leasehold::LimitScope;
    /// let partner = LimitScope::Key("partner:acme".into());
    /// assert!(partner.governs("default", Some("partner:acme")));
    /// assert!(!partner.governs("default", None));
    /// assert!(LimitScope::Queue("mail".into()).governs("mail", Some("partner:acme")));
    /// ```
    pub fn governs(&self, queue: &str, limit_key: Option<&str>) -> bool {
        match self {
            Self::Key(name) => limit_key == Some(name.as_str()),
            Self::Queue(name) => name == queue,
        }
    }

    /// The scope of `kind` (`"key"` or `"queue"`) named `name`; `None` for another kind.
    pub fn from_parts(kind: &str, name: impl Into<String>) -> Option<Self> {
        match kind {
            "key" => Some(Self::Key(name.into())),
            "queue" => Some(Self::Queue(name.into())),
            _ => None,
        }
    }
}

impl fmt::Display for LimitScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.kind(), self.name())
    }
}

/// At most `starts` claims in any window of length `per`: a sliding window, so no
/// instant sees more (a fixed window would let twice as many through across its
/// boundary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Rate {
    starts: u32,
    #[serde(rename = "per_seconds", serialize_with = "seconds")]
    per: Duration,
}

/// A period as fractional seconds, for JSON.
fn seconds<S: serde::Serializer>(per: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(per.as_secs_f64())
}

impl Rate {
    /// At most `starts` claims in any `per`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLimit`] when `starts` is 0 or `per` is under a microsecond
    /// (stores keep whole microseconds).
    pub fn new(starts: u32, per: Duration) -> Result<Self, Error> {
        if starts == 0 {
            return Err(Error::InvalidLimit(
                "a rate must allow at least 1 start per period (pause the queue to stop it)".into(),
            ));
        }
        if per < Duration::from_micros(1) {
            return Err(Error::InvalidLimit(format!(
                "a rate's period must be at least a microsecond, not {per:?}"
            )));
        }
        let per = Duration::from_micros(u64::try_from(per.as_micros()).unwrap_or(u64::MAX));
        Ok(Self { starts, per })
    }

    /// How many claims a window allows.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// The window's length (whole microseconds).
    pub fn per(&self) -> Duration {
        self.per
    }
}

/// A stored flow-control limit: at most `max_running` jobs of its scope hold a live
/// lease at once, and at most a [`Rate`] of them are claimed per period. Either or
/// both; a limit with neither cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Limit {
    max_running: Option<u32>,
    rate: Option<Rate>,
}

impl Limit {
    /// At most `max_running` jobs at once.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLimit`] when `max_running` is 0 (pause the queue instead).
    pub fn running(max_running: u32) -> Result<Self, Error> {
        Self::new(Some(max_running), None)
    }

    /// At most `starts` claims in any window of `per`.
    ///
    /// # Errors
    ///
    /// As [`Rate::new`].
    pub fn rate(starts: u32, per: Duration) -> Result<Self, Error> {
        Self::new(None, Some(Rate::new(starts, per)?))
    }

    /// This limit, also at most `starts` claims in any window of `per`.
    ///
    /// # Errors
    ///
    /// As [`Rate::new`].
    pub fn with_rate(self, starts: u32, per: Duration) -> Result<Self, Error> {
        Self::new(self.max_running, Some(Rate::new(starts, per)?))
    }

    /// This limit, also at most `max_running` jobs at once.
    ///
    /// # Errors
    ///
    /// As [`Limit::running`].
    pub fn with_running(self, max_running: u32) -> Result<Self, Error> {
        Self::new(Some(max_running), self.rate)
    }

    /// A limit from its parts, as a store reads them back.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLimit`] when `max_running` is 0 or both parts are `None`.
    pub fn new(max_running: Option<u32>, rate: Option<Rate>) -> Result<Self, Error> {
        if max_running == Some(0) {
            return Err(Error::InvalidLimit(
                "max_running must be at least 1 (pause the queue to run nothing)".into(),
            ));
        }
        if max_running.is_none() && rate.is_none() {
            return Err(Error::InvalidLimit(
                "a limit needs max_running, a rate, or both".into(),
            ));
        }
        Ok(Self { max_running, rate })
    }

    /// At most this many jobs hold a live lease at once.
    pub fn max_running(&self) -> Option<u32> {
        self.max_running
    }

    /// At most this many claims per period.
    pub fn rate_limit(&self) -> Option<Rate> {
        self.rate
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(max) = self.max_running {
            write!(f, "at most {max} running")?;
        }
        if let Some(rate) = self.rate {
            if self.max_running.is_some() {
                f.write_str(", ")?;
            }
            write!(f, "at most {} started per {:?}", rate.starts, rate.per)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_limits_are_refused_with_a_reason() {
        assert!(
            Limit::running(0)
                .unwrap_err()
                .to_string()
                .contains("at least 1")
        );
        assert!(Limit::rate(0, Duration::from_secs(1)).is_err());
        assert!(
            Limit::rate(5, Duration::ZERO)
                .unwrap_err()
                .to_string()
                .contains("period")
        );
        assert!(Limit::new(None, None).is_err());
        let limit = Limit::running(2)
            .unwrap()
            .with_rate(100, Duration::from_secs(1))
            .unwrap();
        assert_eq!(limit.max_running(), Some(2));
        assert_eq!(limit.rate_limit().unwrap().starts(), 100);
        assert_eq!(
            limit.to_string(),
            "at most 2 running, at most 100 started per 1s"
        );
    }

    #[test]
    fn a_rate_period_is_whole_microseconds() {
        let rate = Rate::new(1, Duration::from_nanos(1_500)).unwrap();
        assert_eq!(rate.per(), Duration::from_micros(1));
    }
}
