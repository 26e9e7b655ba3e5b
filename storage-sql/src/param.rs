//! [`Param`]: a value bound to a statement parameter, as plain data.
//!
//! The statements of both SQL stores take their parameters in one order (`?1` to `?9`
//! of SQLite's `enqueue.sql` are `$1` to `$9` of PostgreSQL's), so each list is built
//! once, here, and a store binds its items in its dialect: a job id as a 16-byte blob or
//! a `uuid`, a priority as an `INTEGER` or a `SMALLINT`. The lists:
//! [`enqueue::params`](crate::enqueue::params),
//! [`filter::count_params`](crate::filter::count_params) and
//! [`filter::list_params`](crate::filter::list_params),
//! [`schedule::upsert_params`](crate::schedule::upsert_params) and
//! [`schedule::advance_params`](crate::schedule::advance_params).

use std::borrow::Cow;

use leasehold::JobId;

/// One value bound to a statement parameter; `None` binds NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum Param<'a> {
    /// A job id, or NULL.
    Id(Option<JobId>),
    /// A priority: an `INTEGER` column in SQLite, a `SMALLINT` in PostgreSQL.
    SmallInteger(i16),
    /// An integer: a time as microseconds, a counter, a limit.
    Integer(Option<i64>),
    /// Text: a name, or JSON written as text.
    Text(Option<Cow<'a, str>>),
    /// A truth value.
    Flag(Option<bool>),
}

impl<'a> Param<'a> {
    /// An integer that is never NULL.
    pub fn integer(value: i64) -> Self {
        Param::Integer(Some(value))
    }

    /// Text borrowed from the caller, never NULL.
    pub fn text(text: &'a str) -> Self {
        Param::Text(Some(Cow::Borrowed(text)))
    }

    /// Text borrowed from the caller, or NULL.
    pub fn optional_text(text: Option<&'a str>) -> Self {
        Param::Text(text.map(Cow::Borrowed))
    }

    /// Text made for the statement (JSON, say).
    pub fn owned_text(text: String) -> Self {
        Param::Text(Some(Cow::Owned(text)))
    }
}
