//! SQLite's side of rows and parameters: [`Row`] reads a `SqliteRow` (and
//! [`DirectRow`] a row of the writer's own connection) as the plain values of
//! [`Columns`], [`bind`] binds a [`Param`]. Ids are 16-byte blobs (UUIDv7
//! bytes sort as the ids do), times integer microseconds, counters and priorities
//! `INTEGER`s, flags 0 or 1, payloads and specs JSON text.
//!
//! What a row means (a job, a schedule, a lease) is `leasehold_sql::row`'s.

use std::collections::HashMap;

use leasehold::{JobId, StoreError};
use leasehold_sql::Param;
use leasehold_sql::error::corrupt_row;
use leasehold_sql::row::Columns;
use sqlx::Sqlite;
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use uuid::Uuid;

use crate::error::store_error;

/// The blob a job id is stored as.
pub(crate) fn id_blob(id: JobId) -> Vec<u8> {
    id.as_uuid().as_bytes().to_vec()
}

/// A statement of `crate::sql` with (some of) its parameters bound.
pub(crate) type Statement<'q> = Query<'q, Sqlite, SqliteArguments>;

/// `query` with `params` bound in order.
pub(crate) fn bind<'q, 'p>(
    query: Statement<'q>,
    params: impl IntoIterator<Item = Param<'p>>,
) -> Statement<'q> {
    params.into_iter().fold(query, |query, param| match param {
        Param::Id(id) => query.bind(id.map(id_blob)),
        Param::SmallInteger(priority) => query.bind(i64::from(priority)),
        Param::Integer(value) => query.bind(value),
        Param::Text(text) => query.bind(text),
        Param::Flag(flag) => query.bind(flag),
    })
}

/// A SQLite row, read as [`Columns`].
#[derive(Clone, Copy)]
pub(crate) struct Row<'r>(pub(crate) &'r SqliteRow);

impl Row<'_> {
    fn get<'r, T>(&'r self, column: &str) -> Result<T, StoreError>
    where
        T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
    {
        sqlx::Row::try_get(self.0, column).map_err(store_error)
    }
}

/// The job id stored as `bytes`.
pub(crate) fn job_id(bytes: &[u8]) -> Result<JobId, StoreError> {
    let uuid = Uuid::from_slice(bytes).map_err(|_| {
        corrupt_row(format!(
            "job id blob of {} bytes is not a UUID",
            bytes.len()
        ))
    })?;
    Ok(JobId::from_uuid(uuid))
}

impl Columns for Row<'_> {
    fn job_id(&self) -> Result<JobId, StoreError> {
        job_id(&self.get::<Vec<u8>>("id")?)
    }

    fn integer(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.get(column)
    }

    fn text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.get(column)
    }
}

/// A row of the writer's own connection (`crate::direct`), read as [`Columns`] with
/// the same types as [`Row`], its columns found by name in its statement's
/// [`ColumnNames`].
pub(crate) struct DirectRow<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    columns: &'r ColumnNames,
}

/// Where each column of a statement of the writer's own connection is, by name:
/// rusqlite finds a column by name by comparing it with each column's name in turn,
/// which for the 26 columns of a claimed job's row cost more than SQLite's claim of
/// it. The writer finds them once, at its first claim.
pub(crate) struct ColumnNames(HashMap<String, usize>);

impl ColumnNames {
    /// The columns of `statement`.
    pub(crate) fn of(statement: &rusqlite::Statement<'_>) -> Self {
        Self(
            statement
                .column_names()
                .into_iter()
                .enumerate()
                .map(|(index, name)| (name.to_owned(), index))
                .collect(),
        )
    }

    /// `row`, of a statement with these columns, read as [`Columns`].
    pub(crate) fn row<'r, 's>(&'r self, row: &'r rusqlite::Row<'s>) -> DirectRow<'r, 's> {
        DirectRow { row, columns: self }
    }
}

impl DirectRow<'_, '_> {
    fn get<T: rusqlite::types::FromSql>(&self, column: &str) -> Result<T, StoreError> {
        let index = self
            .columns
            .0
            .get(column)
            .ok_or_else(|| corrupt_row(format!("no column {column}")))?;
        self.row
            .get(*index)
            .map_err(|error| corrupt_row(format!("column {column}: {error}")))
    }
}

impl Columns for DirectRow<'_, '_> {
    fn job_id(&self) -> Result<JobId, StoreError> {
        job_id(&self.get::<Vec<u8>>("id")?)
    }

    fn integer(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.get(column)
    }

    fn text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.get(column)
    }
}
