//! The JSON `complete_bulk.sql` reads, written by hand.

use leasehold::testing::conformance::t;
use leasehold::{JobId, Lease};
use leasehold_sql::row::micros;

use super::completion_rows;

#[test]
fn completion_rows_are_the_json_complete_bulk_reads() {
    let ids = [JobId::new(t(0)), JobId::new(t(1))];
    let completions = [
        (
            Lease {
                job_id: ids[0],
                token: 1,
            },
            t(5),
        ),
        (
            Lease {
                job_id: ids[1],
                token: u32::MAX,
            },
            t(-5),
        ),
    ];

    let rows: serde_json::Value = serde_json::from_str(&completion_rows(&completions)).unwrap();

    assert_eq!(
        rows,
        serde_json::json!([
            [ids[0].as_uuid().simple().to_string(), 1, micros(t(5))],
            [
                ids[1].as_uuid().simple().to_string(),
                u32::MAX,
                micros(t(-5))
            ],
        ])
    );
    assert_eq!(completion_rows(&[]), "[]");
}
