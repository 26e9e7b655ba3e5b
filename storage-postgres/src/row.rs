//! PostgreSQL's side of rows and parameters: [`Row`] reads a `PgRow` as the plain
//! values of [`Columns`], [`bind`] binds a [`Param`]. Ids are `uuid`s, times and
//! counters `bigint` microseconds and counts, priorities `smallint`, flags `boolean`,
//! payloads `json` read back as text (`payload::text`). The other JSON columns of
//! `jobs` are read back as text too, cast in every statement's column list
//! (`errors::text`, `output::text`, `tags::text`, `metadata::text`): the `jsonb` ones
//! (`errors`, `tags`) come back normalised, which reads back as the same JSON values.
//!
//! What a row means (a job, a schedule, a lease) is `leasehold_sql::row`'s.

use leasehold::{JobId, StoreError};
use leasehold_sql::Param;
use leasehold_sql::row::Columns;
use sqlx::Postgres;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use uuid::Uuid;

use crate::error::store_error;

/// A statement of `crate::sql` with (some of) its parameters bound.
pub(crate) type Statement<'q> = Query<'q, Postgres, PgArguments>;

/// `query` with `params` bound in order.
pub(crate) fn bind<'q, 'p>(
    query: Statement<'q>,
    params: impl IntoIterator<Item = Param<'p>>,
) -> Statement<'q> {
    params.into_iter().fold(query, |query, param| match param {
        Param::Id(id) => query.bind(id.map(|id| *id.as_uuid())),
        Param::SmallInteger(priority) => query.bind(priority),
        Param::Integer(value) => query.bind(value),
        Param::Text(text) => query.bind(text),
        Param::Flag(flag) => query.bind(flag),
    })
}

/// A PostgreSQL row, read as [`Columns`].
#[derive(Clone, Copy)]
pub(crate) struct Row<'r>(pub(crate) &'r PgRow);

impl Row<'_> {
    fn get<'r, T>(&'r self, column: &str) -> Result<T, StoreError>
    where
        T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        sqlx::Row::try_get(self.0, column).map_err(store_error)
    }
}

impl Columns for Row<'_> {
    fn job_id(&self) -> Result<JobId, StoreError> {
        Ok(JobId::from_uuid(self.get::<Uuid>("id")?))
    }

    fn integer(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.get(column)
    }

    fn text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.get(column)
    }

    fn small_integer(&self, column: &str) -> Result<i16, StoreError> {
        self.get(column)
    }

    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        self.get(column)
    }
}
