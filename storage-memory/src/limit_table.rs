//! The stored limits, looked up by a borrowed name: a claim asks for every candidate
//! whether its key and its queue are limited, and that must cost neither an
//! allocation nor a scan.

use std::collections::{BTreeMap, VecDeque};

use leasehold::{Limit, LimitScope};

use crate::index::Micros;

/// A scope by borrowed name: what a claim looks limits up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ScopeRef<'a> {
    /// The jobs carrying this limit key.
    Key(&'a str),
    /// Every job of this queue.
    Queue(&'a str),
}

impl<'a> ScopeRef<'a> {
    /// `scope` by reference.
    pub(crate) fn of(scope: &'a LimitScope) -> Self {
        match scope {
            LimitScope::Key(name) => Self::Key(name),
            LimitScope::Queue(name) => Self::Queue(name),
        }
    }

    /// Whether a job of `queue` carrying `key` belongs to this scope.
    pub(crate) fn holds(self, queue: &str, key: Option<&str>) -> bool {
        match self {
            Self::Queue(name) => name == queue,
            Self::Key(name) => key == Some(name),
        }
    }
}

/// One stored limit and the claims its rate counted.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) limit: Limit,
    /// The latest claims counted by the rate, in time order: at most the rate's
    /// `starts` of them are needed to know what any window allows.
    starts: VecDeque<Micros>,
}

impl Slot {
    /// How many claims the rate counted after `since`.
    pub(crate) fn starts_after(&self, since: Micros) -> usize {
        self.starts.len() - self.starts.partition_point(|&at| at <= since)
    }

    /// The `n`-th latest counted claim (1 is the latest), if that many are kept.
    pub(crate) fn nth_latest(&self, n: usize) -> Option<Micros> {
        let len = self.starts.len();
        (n >= 1 && n <= len).then(|| self.starts[len - n])
    }

    /// Counts `claims` claims at `now` when the limit has a rate, keeping the latest
    /// `starts` (a window holding more allows nothing either way). Clocks of several
    /// processes may disagree, so `now` goes where its time puts it, not always last.
    pub(crate) fn count(&mut self, now: Micros, claims: usize) {
        let Some(rate) = self.limit.rate_limit() else {
            return;
        };
        let at = self.starts.partition_point(|&t| t <= now);
        if at == self.starts.len() {
            self.starts.extend(std::iter::repeat_n(now, claims));
        } else {
            for _ in 0..claims {
                self.starts.insert(at, now);
            }
        }
        let keep = rate.starts() as usize;
        if self.starts.len() > keep {
            self.starts.drain(..self.starts.len() - keep);
        }
    }
}

/// Every stored limit: keys and queues apart, each by name.
#[derive(Debug, Default)]
pub(crate) struct LimitTable {
    keys: BTreeMap<String, Slot>,
    queues: BTreeMap<String, Slot>,
}

impl LimitTable {
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.queues.is_empty()
    }

    /// The limit stored for `scope`.
    pub(crate) fn get(&self, scope: ScopeRef<'_>) -> Option<&Slot> {
        match scope {
            ScopeRef::Key(name) => self.keys.get(name),
            ScopeRef::Queue(name) => self.queues.get(name),
        }
    }

    pub(crate) fn get_mut(&mut self, scope: ScopeRef<'_>) -> Option<&mut Slot> {
        match scope {
            ScopeRef::Key(name) => self.keys.get_mut(name),
            ScopeRef::Queue(name) => self.queues.get_mut(name),
        }
    }

    /// The scope of `key` with its stored name (borrowed from the table), when limited.
    pub(crate) fn key(&self, key: Option<&str>) -> Option<ScopeRef<'_>> {
        let (name, _) = self.keys.get_key_value(key?)?;
        Some(ScopeRef::Key(name))
    }

    /// The scope of `queue` with its stored name, when limited.
    pub(crate) fn queue(&self, queue: &str) -> Option<ScopeRef<'_>> {
        let (name, _) = self.queues.get_key_value(queue)?;
        Some(ScopeRef::Queue(name))
    }

    /// Stores `limit` for `scope`, keeping the claims a rate counted before.
    pub(crate) fn set(&mut self, scope: &LimitScope, limit: Limit) {
        let side = match scope {
            LimitScope::Key(_) => &mut self.keys,
            LimitScope::Queue(_) => &mut self.queues,
        };
        side.entry(scope.name().to_owned())
            .and_modify(|slot| slot.limit = limit)
            .or_insert_with(|| Slot {
                limit,
                starts: VecDeque::new(),
            });
    }

    /// Removes `scope`'s limit and its counted claims; whether one was stored.
    pub(crate) fn remove(&mut self, scope: &LimitScope) -> bool {
        let side = match scope {
            LimitScope::Key(_) => &mut self.keys,
            LimitScope::Queue(_) => &mut self.queues,
        };
        side.remove(scope.name()).is_some()
    }

    /// Every stored limit, keys then queues, each by name (the order of `LimitScope`).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (LimitScope, Limit)> + '_ {
        let keys = self
            .keys
            .iter()
            .map(|(name, slot)| (LimitScope::Key(name.clone()), slot.limit));
        let queues = self
            .queues
            .iter()
            .map(|(name, slot)| (LimitScope::Queue(name.clone()), slot.limit));
        keys.chain(queues)
    }

    /// Each queue's limit, by name.
    pub(crate) fn queue_limits(&self) -> impl Iterator<Item = (&str, Limit)> + '_ {
        self.queues
            .iter()
            .map(|(name, slot)| (name.as_str(), slot.limit))
    }
}
