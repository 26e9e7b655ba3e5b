//! SQLite's side of rows and parameters: [`Row`] reads a `SqliteRow` (and
//! [`CopiedRow`] a row the writer's own connection copied) as the plain values of
//! [`Columns`], [`bind`] binds a [`Param`]. Ids are 16-byte blobs (UUIDv7
//! bytes sort as the ids do), times integer microseconds, counters and priorities
//! `INTEGER`s, flags 0 or 1, payloads and specs JSON text.
//!
//! What a row means (a job, a schedule, a lease) is `leasehold_sql::row`'s.

use std::collections::HashMap;
use std::sync::Arc;

use leasehold::{JobId, StoreError};
use leasehold_sql::Param;
use leasehold_sql::error::corrupt_row;
use leasehold_sql::row::Columns;
use rusqlite::types::ValueRef;
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

/// Where each column of a statement of the writer's own connection is, by name:
/// rusqlite finds a column by name by comparing it with each column's name in turn,
/// which for the 26 columns of a claimed job's row cost more than SQLite's claim of
/// it. The writer finds them once, at its first claim. Hashed with foldhash: with
/// the standard library's SipHash, finding a claimed job's 26 columns took about
/// 5k instructions, a twentieth of the writer's whole work on a job.
pub(crate) struct ColumnNames {
    /// Each name's place: a column of the statement below `width`, a known column
    /// ([`ColumnNames::and_known`]) from `width` on.
    places: HashMap<String, usize, foldhash::fast::RandomState>,
    /// How many columns the statement answers.
    width: usize,
}

impl ColumnNames {
    /// The columns of `statement`.
    pub(crate) fn of(statement: &rusqlite::Statement<'_>) -> Self {
        Self {
            places: statement
                .column_names()
                .into_iter()
                .enumerate()
                .map(|(index, name)| (name.to_owned(), index))
                .collect(),
            width: statement.column_count(),
        }
    }

    /// These columns, then the `known` ones, whose values a [`CopiedRows`] holds once
    /// for all its rows ([`CopiedRows::know`]); a name the statement answers stays the
    /// statement's.
    pub(crate) fn and_known(mut self, known: &[&str]) -> Self {
        for (index, name) in known.iter().enumerate() {
            self.places
                .entry((*name).to_owned())
                .or_insert(self.width + index);
        }
        self
    }
}

/// The rows of a claim on the writer's own connection, copied out of SQLite as they
/// are: numbers in place, the bytes of texts and blobs side by side in one buffer.
/// The claim's caller reads them into jobs ([`CopiedRow`] as [`Columns`]) on its own
/// task, so that the writer, which every write of the store waits for, only copies
/// them: reading a claimed row into a job (its texts into strings, its payload, errors,
/// tags and metadata parsed as JSON) took about 13k instructions, a sixth of the
/// writer's whole work on a job.
pub(crate) struct CopiedRows {
    columns: Arc<ColumnNames>,
    /// Row after row, as many cells each as the statement has columns.
    cells: Vec<Cell>,
    /// The values of the known columns ([`ColumnNames::and_known`]), the same in
    /// every row.
    known: Vec<Cell>,
    bytes: Vec<u8>,
}

/// At most how many rows [`CopiedRows::new`] makes room for: a claim of a full buffer
/// (256 jobs) grows its vectors twice more, and a claim that takes nothing allocates
/// no more than about 40 KiB.
const ROWS_RESERVED: usize = 64;

/// About how many bytes of texts and blobs a claimed job's row holds (its id, kind,
/// queue, payload, state, worker and JSON columns), for [`CopiedRows::new`].
const BYTES_PER_ROW: usize = 128;

/// One value of a [`CopiedRows`]; a text or blob is its range in the byte buffer.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Null,
    Integer(i64),
    Real,
    Text(usize, usize),
    Blob(usize, usize),
}

impl Cell {
    /// What the cell holds, for an error that says why it is not what was asked.
    fn kind(self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Integer(_) => "an integer",
            Self::Real => "a real",
            Self::Text(..) => "a text",
            Self::Blob(..) => "a blob",
        }
    }
}

impl CopiedRows {
    /// No rows yet, of a statement with `columns`, with room for `rows` rows (up to
    /// [`ROWS_RESERVED`]) without growing.
    pub(crate) fn new(columns: Arc<ColumnNames>, rows: usize) -> Self {
        let rows = rows.min(ROWS_RESERVED);
        Self {
            cells: Vec::with_capacity(rows * columns.width),
            columns,
            known: Vec::new(),
            bytes: Vec::with_capacity(rows * BYTES_PER_ROW),
        }
    }

    /// Sets the values of the known columns, in the order [`ColumnNames::and_known`]
    /// was given their names.
    pub(crate) fn know(&mut self, values: &[ValueRef<'_>]) {
        self.known = values.iter().map(|value| self.cell(*value)).collect();
    }

    /// `value` as a cell, its bytes (if any) copied.
    fn cell(&mut self, value: ValueRef<'_>) -> Cell {
        let mut copy = |bytes: &[u8]| {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(bytes);
            (start, self.bytes.len())
        };
        match value {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(value) => Cell::Integer(value),
            ValueRef::Real(_) => Cell::Real,
            ValueRef::Text(text) => {
                let (start, end) = copy(text);
                Cell::Text(start, end)
            }
            ValueRef::Blob(blob) => {
                let (start, end) = copy(blob);
                Cell::Blob(start, end)
            }
        }
    }

    /// Copies `row`, of the statement these rows are of.
    ///
    /// # Errors
    ///
    /// rusqlite's, when a column cannot be read.
    pub(crate) fn push(&mut self, row: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
        for index in 0..self.columns.width {
            let cell = self.cell(row.get_ref(index)?);
            self.cells.push(cell);
        }
        Ok(())
    }

    /// How many rows there are.
    pub(crate) fn len(&self) -> usize {
        self.cells
            .len()
            .checked_div(self.columns.width)
            .unwrap_or(0)
    }

    /// Row `index` (less than [`CopiedRows::len`]), read as [`Columns`].
    pub(crate) fn row(&self, index: usize) -> CopiedRow<'_> {
        CopiedRow { rows: self, index }
    }
}

impl std::fmt::Debug for CopiedRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopiedRows")
            .field("rows", &self.len())
            .field("bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// A row of [`CopiedRows`], read as [`Columns`] with the types rusqlite reads: an
/// integer or text only from an integer or text (or NULL), the id only from a blob.
pub(crate) struct CopiedRow<'r> {
    rows: &'r CopiedRows,
    index: usize,
}

impl CopiedRow<'_> {
    fn cell(&self, column: &str) -> Result<Cell, StoreError> {
        let rows = self.rows;
        let width = rows.columns.width;
        let at = *rows
            .columns
            .places
            .get(column)
            .ok_or_else(|| corrupt_row(format!("no column {column}")))?;
        if at < width {
            Ok(rows.cells[self.index * width + at])
        } else {
            rows.known
                .get(at - width)
                .copied()
                .ok_or_else(|| corrupt_row(format!("no value known for column {column}")))
        }
    }

    fn bytes(&self, start: usize, end: usize) -> &[u8] {
        &self.rows.bytes[start..end]
    }
}

/// The error of `column`, which holds `cell` where `wanted` was expected.
fn not_a(column: &str, wanted: &str, cell: Cell) -> StoreError {
    corrupt_row(format!(
        "column {column}: {} where {wanted} was expected",
        cell.kind()
    ))
}

impl Columns for CopiedRow<'_> {
    fn job_id(&self) -> Result<JobId, StoreError> {
        match self.cell("id")? {
            Cell::Blob(start, end) => job_id(self.bytes(start, end)),
            other => Err(not_a("id", "a blob", other)),
        }
    }

    fn integer(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.cell(column)? {
            Cell::Null => Ok(None),
            Cell::Integer(value) => Ok(Some(value)),
            other => Err(not_a(column, "an integer", other)),
        }
    }

    fn text(&self, column: &str) -> Result<Option<String>, StoreError> {
        match self.cell(column)? {
            Cell::Null => Ok(None),
            Cell::Text(start, end) => String::from_utf8(self.bytes(start, end).to_vec())
                .map(Some)
                .map_err(|error| corrupt_row(format!("column {column}: {error}"))),
            other => Err(not_a(column, "a text", other)),
        }
    }
}

#[cfg(test)]
#[path = "row_tests.rs"]
mod tests;
