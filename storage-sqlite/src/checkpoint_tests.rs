//! Checkpoints beside the writer, and the ones it waits for.

use std::time::Duration;

use super::*;

/// A file database in WAL mode whose log holds about `rows` rows of 1 KB, none of
/// them copied into the file yet; its directory and path.
fn logged_database(rows: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.db");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    conn.execute_batch("CREATE TABLE t (v BLOB NOT NULL)")
        .unwrap();
    for _ in 0..rows {
        conn.execute("INSERT INTO t (v) VALUES (zeroblob(1000))", [])
            .unwrap();
    }
    // Left open: its close would checkpoint the log.
    std::mem::forget(conn);
    (dir, path)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Waits until the checkpoint run beside the writer has finished.
async fn beside_finished(checkpoints: &Checkpoints) {
    while checkpoints
        .beside
        .as_ref()
        .is_some_and(|beside| !beside.is_finished())
    {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[test]
fn the_writer_waits_for_one_checkpoint_in_wait_every() {
    runtime().block_on(async {
        let (_dir, path) = logged_database(10);
        let mut checkpoints = Checkpoints::open(&path).unwrap();

        let mut waited = Vec::new();
        for _ in 0..3 * WAIT_EVERY {
            checkpoints.wrote(CHECKPOINT_AFTER_PAGES);
            let checkpoint = checkpoints.start();
            waited.push(checkpoint.is_some());
            if let Some(checkpoint) = checkpoint {
                checkpoint.await.unwrap();
            }
            beside_finished(&checkpoints).await;
        }

        let every = |at: usize| (at + 1).is_multiple_of(WAIT_EVERY);
        let expected: Vec<bool> = (0..3 * WAIT_EVERY).map(every).collect();
        assert_eq!(waited, expected);
    });
}

#[test]
fn no_checkpoint_starts_before_enough_pages_nor_while_one_runs() {
    runtime().block_on(async {
        let (_dir, path) = logged_database(10);
        let mut checkpoints = Checkpoints::open(&path).unwrap();

        checkpoints.wrote(CHECKPOINT_AFTER_PAGES - 1);
        assert!(checkpoints.start().is_none());
        assert_eq!(checkpoints.started, 0, "too few pages");

        checkpoints.wrote(1);
        // The connection busy: the checkpoint started beside the writer waits for it.
        let busy = Arc::clone(&checkpoints.conn);
        let held = busy.lock().unwrap();
        assert!(checkpoints.start().is_none());
        assert_eq!(checkpoints.started, 1);
        checkpoints.wrote(WAIT_EVERY * CHECKPOINT_AFTER_PAGES);
        for _ in 0..WAIT_EVERY {
            assert!(checkpoints.start().is_none());
        }
        assert_eq!(checkpoints.started, 1, "none while one runs");

        drop(held);
        beside_finished(&checkpoints).await;
        assert!(checkpoints.start().is_none());
        assert_eq!(
            checkpoints.started, 2,
            "the pages counted meanwhile start one"
        );
    });
}

#[test]
fn a_checkpoint_copies_the_log_into_the_database_file() {
    runtime().block_on(async {
        let (_dir, path) = logged_database(2_000);
        let file_size = || std::fs::metadata(&path).unwrap().len();
        let before = file_size();
        let mut checkpoints = Checkpoints::open(&path).unwrap();

        checkpoints.wrote(CHECKPOINT_AFTER_PAGES);
        assert!(checkpoints.start().is_none(), "beside the writer");
        beside_finished(&checkpoints).await;

        assert!(
            file_size() > before + 1_000 * 2_000,
            "the rows are in the file: {before} -> {} bytes",
            file_size()
        );
    });
}
