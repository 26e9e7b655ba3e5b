//! [`CopiedRows`] reads what it copied as rusqlite reads it in place.

use std::sync::Arc;

use leasehold::StoreError;
use leasehold_sql::row::Columns;
use rusqlite::types::ValueRef;

use super::{ColumnNames, CopiedRows};

const SELECT: &str = "SELECT x'0190f0e0a0b0c0d0e0f0a0b0c0d0e0f0' AS id, 7 AS n, 'héllo' AS t, \
                      NULL AS missing, 1.5 AS r, x'ff' AS b, CAST(x'ff' AS TEXT) AS bad, ?1 AS i";

/// The rows `sql` (of one parameter) answers for each of `params`, copied, with the
/// `known` columns set to `values`.
fn copy(sql: &str, params: &[i64], known: &[&str], values: &[ValueRef<'_>]) -> CopiedRows {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let mut statement = conn.prepare(sql).unwrap();
    let columns = Arc::new(ColumnNames::of(&statement).and_known(known));
    let mut rows = CopiedRows::new(columns, params.len());
    rows.know(values);
    for value in params {
        let mut found = statement.query([value]).unwrap();
        while let Some(row) = found.next().unwrap() {
            rows.push(row).unwrap();
        }
    }
    rows
}

/// The rows of [`SELECT`] for each `i`, copied.
fn copied(values: &[i64]) -> CopiedRows {
    copy(SELECT, values, &[], &[])
}

fn message(error: StoreError) -> String {
    error.to_string()
}

#[test]
fn copied_rows_read_back_each_value_in_its_row() {
    let rows = copied(&[10, 20, 30]);
    assert_eq!(rows.len(), 3);
    for (index, value) in [10, 20, 30].into_iter().enumerate() {
        let row = rows.row(index);
        assert_eq!(
            row.job_id().unwrap().as_uuid().simple().to_string(),
            "0190f0e0a0b0c0d0e0f0a0b0c0d0e0f0"
        );
        assert_eq!(row.integer("n").unwrap(), Some(7));
        assert_eq!(row.integer("i").unwrap(), Some(value));
        assert_eq!(row.text("t").unwrap().as_deref(), Some("héllo"));
        assert_eq!(row.text("missing").unwrap(), None);
        assert_eq!(row.integer("missing").unwrap(), None);
    }
}

#[test]
fn a_copied_value_of_another_type_or_column_is_an_error_that_names_it() {
    let rows = copied(&[1]);
    let row = rows.row(0);
    let errors = [
        message(row.integer("t").unwrap_err()),
        message(row.text("n").unwrap_err()),
        message(row.integer("r").unwrap_err()),
        message(row.text("b").unwrap_err()),
        message(row.text("nowhere").unwrap_err()),
        message(row.text("bad").unwrap_err()),
    ];
    let expected = [
        "column t: a text where an integer",
        "column n: an integer where a text",
        "column r: a real where an integer",
        "column b: a blob where a text",
        "no column nowhere",
        "column bad: invalid utf-8",
    ];
    for (error, expected) in errors.iter().zip(expected) {
        assert!(error.contains(expected), "{errors:?}");
    }
}

#[test]
fn no_rows_copied_reads_as_none() {
    assert_eq!(copied(&[]).len(), 0);
}

#[test]
fn known_columns_read_the_same_in_every_row_and_never_hide_the_statements() {
    let rows = copy(
        "SELECT ?1 AS n, 'answered' AS t",
        &[1, 2],
        &["t", "k", "j"],
        &[
            ValueRef::Text(b"known"),
            ValueRef::Text(b"kept"),
            ValueRef::Integer(9),
        ],
    );

    for (index, value) in [1, 2].into_iter().enumerate() {
        let row = rows.row(index);
        assert_eq!(row.integer("n").unwrap(), Some(value));
        assert_eq!(row.text("t").unwrap().as_deref(), Some("answered"));
        assert_eq!(row.text("k").unwrap().as_deref(), Some("kept"));
        assert_eq!(row.integer("j").unwrap(), Some(9));
    }
}

#[test]
fn a_known_column_without_a_value_is_an_error_that_names_it() {
    let rows = copy("SELECT ?1 AS n", &[1], &["k"], &[]);

    let error = rows.row(0).text("k").unwrap_err().to_string();

    assert!(error.contains("no value known for column k"), "{error}");
}
