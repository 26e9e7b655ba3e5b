//! The writer's own connection (`crate::direct`): which groups it commits, what
//! happens when it cannot, and that it never holds the runtime's thread while SQLite
//! waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use leasehold::StoreError;
use leasehold::testing::conformance::t;
use sqlx::Connection;

use super::tests::{Answer, claim, enqueue, file_pool, job, request, runtime, stored_jobs};
use super::*;
use crate::transition::claim::Claimed;
use crate::transition::enqueue::Enqueue;
use crate::transition::lease_writes::{Complete, Heartbeat};

/// A writer that keeps its connection, with its own connection to the same migrated
/// file; its pool of one connection; the directory.
async fn direct_writer() -> (tempfile::TempDir, SqlitePool, Writer) {
    let (dir, pool, writer, ()) = direct_writer_with(|_| ()).await;
    (dir, pool, writer)
}

/// [`direct_writer`], with what `prepare` made of the writer's own connection before
/// the writer took it.
async fn direct_writer_with<T>(
    prepare: impl FnOnce(&Direct) -> T,
) -> (tempfile::TempDir, SqlitePool, Writer, T) {
    let dir = tempfile::tempdir().unwrap();
    let pool = file_pool(&dir).await;
    let direct = Direct::open(&dir.path().join("writer.db")).expect("a writable file");
    let prepared = prepare(&direct);
    let writer = Writer::spawn(pool.clone(), false, true, 16, Some(direct));
    (dir, pool, writer, prepared)
}

/// Completes the job under `lease` through `writer` at `t(1)`.
async fn completed_through(writer: &Writer, lease: leasehold::Lease) {
    writer
        .call(Complete { lease, now: t(1) })
        .await
        .expect("a completion");
}

/// The jobs a claim of up to `limit` through `writer` leased.
async fn claimed_through(writer: &Writer, limit: usize) -> Vec<leasehold::JobRecord> {
    writer
        .call(claim(limit))
        .await
        .and_then(Claimed::into_jobs)
        .expect("a simple claim")
}

#[test]
fn plain_enqueues_and_lease_writes_commit_on_the_writers_own_connection() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir).await;
        // The pool's one connection, which the writer takes, can write nothing.
        only_the_writers_own_connection_writes(&pool).await;
        let direct = Direct::open(&dir.path().join("writer.db"));
        let writer = Writer::spawn(pool.clone(), false, true, 16, direct);

        let one = writer.call(enqueue(1)).await;
        // More jobs than one insert statement holds.
        let many = writer.call(enqueue(600)).await;
        let claimed = claimed_through(&writer, 2).await;
        let completed = writer
            .call(Complete {
                lease: claimed[0].lease(),
                now: t(1),
            })
            .await;
        let heartbeat = writer
            .call(Heartbeat {
                leases: vec![claimed[1].lease()],
                lease_until: t(100),
            })
            .await;

        assert!(one.is_ok() && many.is_ok(), "{one:?} {many:?}");
        assert_eq!(claimed.len(), 2);
        assert!(completed.is_ok(), "{completed:?}");
        assert!(
            heartbeat.is_err(),
            "a heartbeat goes through the pool's connection"
        );
        pool.close().await;
        let reopened = file_pool(&dir).await;
        assert_eq!(stored_jobs(&reopened).await, 601);
        let states: Vec<String> =
            sqlx::query_scalar("SELECT state FROM jobs WHERE state <> 'available' ORDER BY state")
                .fetch_all(&reopened)
                .await
                .unwrap();
        assert_eq!(states, ["completed", "running"]);
    });
}

#[test]
fn a_group_its_own_connection_cannot_commit_runs_again_through_sqlx() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir).await;
        let mut direct = Direct::open(&dir.path().join("writer.db"));
        let target = Target {
            pool: pool.clone(),
            in_memory: false,
            hold: false,
        };
        let stored = job();
        let (first, answer) = request(Enqueue {
            jobs: vec![stored.clone()],
            now: t(0),
        });
        commit_group(&target, &mut None, &mut direct, None, vec![first]).await;
        answer.await.unwrap().unwrap();

        // The same id again, in one group with a new job: the insert fails there.
        let (again, again_answer) = request(Enqueue {
            jobs: vec![stored],
            now: t(0),
        });
        let (fresh, fresh_answer) = request(enqueue(1));
        commit_group(&target, &mut None, &mut direct, None, vec![again, fresh]).await;

        assert!(
            matches!(again_answer.await.unwrap(), Err(StoreError::Conflict(_))),
            "the id already stored is refused, as the ordinary way says"
        );
        assert!(
            fresh_answer.await.unwrap().is_ok(),
            "the other job is stored"
        );
        assert_eq!(stored_jobs(&pool).await, 2);
    });
}

#[test]
fn a_write_lock_held_by_another_connection_never_stalls_the_runtime() {
    runtime().block_on(async {
        let (dir, _pool, writer) = direct_writer().await;
        let url = format!("sqlite://{}", dir.path().join("writer.db").display());
        let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .unwrap();
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = tokio::spawn({
            let ticks = Arc::clone(&ticks);
            async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
            }
        });

        let enqueued = tokio::spawn({
            let writer = writer.clone();
            async move { writer.call(enqueue(1)).await }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let waiting = !enqueued.is_finished();
        let ticked = ticks.load(Ordering::Relaxed);
        sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
        let answer = enqueued.await.unwrap();
        ticker.abort();

        // This runtime has one thread: had the writer waited for the lock on it, the
        // ticker could not have run meanwhile.
        assert!(waiting, "the enqueue waits for the lock");
        assert!(ticked >= 20, "the runtime ran on meanwhile: {ticked} ticks");
        assert!(answer.is_ok(), "the enqueue commits once the lock is free");
    });
}

#[test]
fn the_writer_checkpoints_what_its_own_connection_wrote() {
    runtime().block_on(async {
        let (dir, _pool, writer) = direct_writer().await;

        for _ in 0..200 {
            writer.call(enqueue(256)).await.unwrap();
        }
        let log = std::fs::metadata(dir.path().join("writer.db-wal"))
            .unwrap()
            .len();

        // Unchecked, these 51,200 jobs fill a log of about 18 MB. Checkpointed, it
        // holds about WAIT_EVERY x CHECKPOINT_AFTER_PAGES pages of 4 KB at most (8 MB).
        use crate::checkpoint::{CHECKPOINT_AFTER_PAGES, WAIT_EVERY};
        let most = WAIT_EVERY * CHECKPOINT_AFTER_PAGES * 4200;
        assert!(log < most as u64, "the log stays small: {log} bytes");
    });
}

#[test]
fn closing_the_pool_waits_for_a_checkpoint_beside_the_writer_and_removes_the_log() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let pool = file_pool(&dir).await;
        let direct = Direct::open(&dir.path().join("writer.db")).expect("a writable file");
        // The checkpoint's connection busy for a while: a checkpoint started beside the
        // writer is still running when the pool closes.
        let checkpointer = direct.checkpoint_connection();
        // Open to the log as after a first checkpoint: the file's last connection to
        // close removes the log, and one that never read it does not count.
        checkpointer
            .lock()
            .unwrap()
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .unwrap();
        let (locked, is_locked) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let _busy = checkpointer.lock().unwrap();
            locked.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
        });
        is_locked.recv().unwrap();
        let writer = Writer::spawn(pool.clone(), false, true, 16, Some(direct));
        // Pages enough for a checkpoint.
        for _ in 0..20 {
            writer.call(enqueue(256)).await.unwrap();
        }

        pool.close().await;

        let log = dir.path().join("writer.db-wal");
        assert!(
            !log.exists(),
            "the pool's last connection to close removed the log"
        );
        holder.join().unwrap();
        drop(writer);
    });
}

/// Runs `batch` as one group on `target`, with its own connection `direct`.
async fn group(target: &Target, direct: &mut Option<Direct>, batch: Vec<Request>) {
    commit_group(target, &mut None, direct, None, batch).await;
}

/// Runs `transition` as a group of its own on `target`, with its own connection
/// `direct`: its answer.
async fn alone<T: crate::transition::Transition>(
    target: &Target,
    direct: &mut Option<Direct>,
    transition: T,
) -> Result<T::Answer, StoreError> {
    let (call, answer) = request(transition);
    group(target, direct, vec![call]).await;
    answer.await.expect("the group answers its call")
}

/// `count` jobs enqueued on `target`, then claimed, each as a group of its own.
async fn claimed(
    target: &Target,
    direct: &mut Option<Direct>,
    count: usize,
) -> Vec<leasehold::JobRecord> {
    alone(target, direct, enqueue(count)).await.unwrap();
    alone(target, direct, claim(count))
        .await
        .and_then(Claimed::into_jobs)
        .unwrap()
}

/// A completion call of each of `jobs` at `t(now)`, and their answers, in order.
fn completions(
    jobs: impl IntoIterator<Item = leasehold::JobRecord>,
    now: i64,
) -> (Vec<Request>, Vec<Answer<Complete>>) {
    jobs.into_iter()
        .map(|job| {
            request(Complete {
                lease: job.lease(),
                now: t(now),
            })
        })
        .unzip()
}

/// Makes `pool`'s one connection read-only: from then on, only what the writer's own
/// connection commits can succeed.
async fn only_the_writers_own_connection_writes(pool: &SqlitePool) {
    sqlx::query("PRAGMA query_only = 1")
        .execute(pool)
        .await
        .unwrap();
}

/// A file target whose pool hands its connection back after each group, and the
/// writer's own connection to the same file.
async fn file_target(dir: &tempfile::TempDir) -> (SqlitePool, Target, Option<Direct>) {
    let pool = file_pool(dir).await;
    let direct = Direct::open(&dir.path().join("writer.db"));
    assert!(direct.is_some(), "a writable file");
    let target = Target {
        pool: pool.clone(),
        in_memory: false,
        hold: false,
    };
    (pool, target, direct)
}

#[test]
fn a_completion_of_a_lease_that_is_not_live_runs_again_through_sqlx_and_says_why() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (_pool, target, mut direct) = file_target(&dir).await;
        let jobs = claimed(&target, &mut direct, 2).await;

        let (live, live_answer) = request(Complete {
            lease: jobs[0].lease(),
            now: t(1),
        });
        let mut stale_lease = jobs[1].lease();
        stale_lease.token += 1;
        let (stale, stale_answer) = request(Complete {
            lease: stale_lease,
            now: t(1),
        });
        group(&target, &mut direct, vec![live, stale]).await;

        assert!(live_answer.await.unwrap().is_ok());
        assert!(
            matches!(stale_answer.await.unwrap(), Err(StoreError::LeaseLost(_))),
            "the ordinary way answers the stale lease"
        );
        assert!(direct.is_some(), "the writer keeps its own connection");
    });
}

#[test]
fn completions_of_any_count_commit_on_the_writers_own_connection() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (pool, target, mut direct) = file_target(&dir).await;
        let mut jobs = claimed(&target, &mut direct, 348).await.into_iter();
        only_the_writers_own_connection_writes(&pool).await;

        // Groups padded to a power of two, and one of more rows than a statement holds.
        for (count, now) in [(1, 1), (3, 2), (44, 3), (300, 4)] {
            let (calls, answers) = completions(jobs.by_ref().take(count), now);
            group(&target, &mut direct, calls).await;
            for answer in answers {
                assert!(answer.await.unwrap().is_ok(), "a group of {count}");
            }
        }

        let finished: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT finished_at, count(*) FROM jobs WHERE state = 'completed' \
             AND lease_until IS NULL GROUP BY finished_at ORDER BY finished_at",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let at = |now| leasehold_sql::row::micros(t(now));
        assert_eq!(
            finished,
            [(at(1), 1), (at(2), 3), (at(3), 44), (at(4), 300)],
            "each job completed once, at its own call's time"
        );
    });
}

#[test]
fn completions_find_the_jobs_leased_here_by_rowid_and_the_others_by_id() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (pool, target, mut direct) = file_target(&dir).await;
        let here = claimed(&target, &mut direct, 4).await;
        // Claimed through sqlx: no rowid known.
        let elsewhere = claimed(&target, &mut None, 2).await;
        let own = direct.as_mut().expect("its own connection");
        assert_eq!(own.leased_rowids().len(), 4, "the jobs leased here");
        // The first job's rowid spoiled: it names the second job, which stays out of
        // the group and must stay running.
        let (first, second) = (here[0].id, here[1].id);
        let rowids = own.leased_rowids();
        let second_rowid = rowids[&second];
        rowids.insert(first, second_rowid);
        only_the_writers_own_connection_writes(&pool).await;

        let (calls, answers) = completions(
            here.iter()
                .filter(|job| job.id != second)
                .cloned()
                .chain(elsewhere),
            1,
        );
        group(&target, &mut direct, calls).await;

        for answer in answers {
            assert!(answer.await.unwrap().is_ok());
        }
        let running: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT id FROM jobs WHERE state <> 'completed'")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(
            running,
            [second.as_uuid().as_bytes().to_vec()],
            "the job of the spoiled rowid is left as it was"
        );
        let own = direct.as_mut().expect("its own connection");
        assert_eq!(
            own.leased_rowids().keys().collect::<Vec<_>>(),
            [&second],
            "forgotten once completed"
        );
    });
}

#[test]
fn the_rowids_remembered_are_bounded() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (_pool, _target, direct) = file_target(&dir).await;
        let mut direct = direct.expect("its own connection");
        let remembered = i64::try_from(crate::direct::REMEMBERED_ROWIDS).unwrap();
        let ids: Vec<(leasehold::JobId, i64)> = (0..=remembered)
            .map(|rowid| {
                let id = uuid::Uuid::from_u128(rowid.unsigned_abs().into());
                (leasehold::JobId::from_uuid(id), rowid)
            })
            .collect();
        let (most, last) = ids.split_at(crate::direct::REMEMBERED_ROWIDS);

        direct.remember(most);
        assert_eq!(direct.leased_rowids().len(), most.len());
        direct.remember(last);

        assert_eq!(direct.leased_rowids().len(), 1, "emptied, then the last");
    });
}

#[test]
fn a_statement_failing_halfway_leaves_nothing_of_its_group() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (pool, target, mut direct) = file_target(&dir).await;
        let jobs = claimed(&target, &mut direct, 3).await;
        // The last job's completion fails, after the others' rows were written by the
        // same statement (complete_row.sql, OR FAIL: it undoes nothing itself).
        sqlx::query(
            "CREATE TRIGGER fails_last BEFORE UPDATE OF state ON jobs \
             WHEN OLD.rowid = (SELECT max(rowid) FROM jobs) AND NEW.state = 'completed' \
             BEGIN SELECT RAISE(FAIL, 'the last job cannot complete'); END",
        )
        .execute(&pool)
        .await
        .unwrap();

        let (calls, answers) = completions(jobs, 1);
        group(&target, &mut direct, calls).await;
        let mut answered = Vec::new();
        for answer in answers {
            answered.push(answer.await.unwrap().is_ok());
        }

        // Run again call by call the ordinary way: the first two complete, once.
        assert_eq!(answered, [true, true, false]);
        let states: Vec<String> = sqlx::query_scalar("SELECT state FROM jobs ORDER BY rowid")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(states, ["completed", "completed", "running"]);
        assert!(direct.is_some(), "the writer keeps its own connection");
    });
}

#[test]
fn a_claim_its_guard_refuses_runs_the_full_way_through_sqlx() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (pool, target, mut direct) = file_target(&dir).await;
        alone(&target, &mut direct, enqueue(5)).await.unwrap();
        // A limit the simple claim knows nothing of: only the full claim keeps it.
        sqlx::query(
            "INSERT INTO limits (scope, name, max_running, updated_at) \
             VALUES ('queue', 'default', 3, 0)",
        )
        .execute(&pool)
        .await
        .unwrap();

        let claimed = claim(5);
        let seen = claimed.limits_seen.clone();
        let claimed = alone(&target, &mut direct, claimed)
            .await
            .and_then(Claimed::into_jobs)
            .unwrap();

        assert_eq!(claimed.len(), 3, "within the limit");
        assert!(seen.limited(), "the next claims go the full way");
        assert!(direct.is_some(), "the writer keeps its own connection");
    });
}

#[test]
fn a_long_group_of_its_own_connection_runs_on_either_runtime() {
    // More rows than run inline: through block_in_place on a multi-thread runtime,
    // inline on a current-thread one, where block_in_place would panic.
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for runtime in [runtime(), multi] {
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let (pool, target, mut direct) = file_target(&dir).await;
            alone(&target, &mut direct, enqueue(300)).await.unwrap();
            let jobs = alone(&target, &mut direct, claim(200))
                .await
                .and_then(Claimed::into_jobs)
                .unwrap();
            let (completions, answers): (Vec<_>, Vec<_>) = jobs
                .iter()
                .map(|job| {
                    request(Complete {
                        lease: job.lease(),
                        now: t(1),
                    })
                })
                .unzip();
            group(&target, &mut direct, completions).await;
            for answer in answers {
                answer.await.unwrap().unwrap();
            }
            let completed: i64 =
                sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'completed'")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            assert_eq!((jobs.len(), completed), (200, 200));
        });
    }
}

/// The thread each commit on `direct` runs on, by name, as they happen.
fn commit_threads(direct: &Direct) -> Arc<std::sync::Mutex<Vec<Option<String>>>> {
    let threads = Arc::new(std::sync::Mutex::new(Vec::new()));
    direct.on_commit({
        let threads = Arc::clone(&threads);
        move || {
            let name = std::thread::current().name().map(str::to_owned);
            threads.lock().unwrap().push(name);
            false
        }
    });
    threads
}

#[test]
fn the_writer_moves_to_a_thread_of_its_own_after_its_first_claim_on_its_own_connection() {
    runtime().block_on(async {
        let (_dir, pool, writer, threads) = direct_writer_with(commit_threads).await;

        writer.call(enqueue(3)).await.expect("an enqueue");
        let claimed = claimed_through(&writer, 2).await;
        completed_through(&writer, claimed[0].lease()).await;
        writer.call(enqueue(1)).await.expect("an enqueue");

        let caller = std::thread::current().name().map(str::to_owned);
        let own = Some("leasehold-sqlite-writer".to_owned());
        assert_eq!(
            *threads.lock().unwrap(),
            [caller.clone(), caller, own.clone(), own],
            "the enqueue and the claim commit on the caller's thread (the writer is \
             its task), what follows on the writer's own"
        );
        // The writer, on its thread, hands its connection back once its handles are gone.
        drop(writer);
        assert_eq!(stored_jobs(&pool).await, 4);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_its_own_thread_the_writer_runs_groups_through_sqlx_on_the_runtime() {
    let (_dir, pool, writer) = direct_writer().await;
    writer.call(enqueue(2)).await.expect("an enqueue");
    let claimed = claimed_through(&writer, 2).await;
    // A retry is not a write of the writer's own connection: it goes through sqlx,
    // which the writer, now on its own thread, runs on this runtime.
    let state = writer
        .call(crate::transition::lease_writes::Retry {
            lease: claimed[0].lease(),
            run_at: t(30),
            error: "boom".to_owned(),
            now: t(1),
        })
        .await
        .expect("a retry through sqlx");
    assert_eq!(state, leasehold::JobState::Scheduled);
    // A completion, on the writer's own connection.
    completed_through(&writer, claimed[1].lease()).await;
    drop(writer);
    let states: Vec<String> = sqlx::query_scalar("SELECT state FROM jobs ORDER BY state")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(states, ["completed", "scheduled"]);
}

#[test]
fn a_group_mixing_lease_writes_and_enqueues_with_other_calls_commits_them_on_its_own_connection() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (pool, target, mut direct) = file_target(&dir).await;
        let jobs = claimed(&target, &mut direct, 3).await;
        alone(&target, &mut direct, enqueue(4)).await.unwrap();
        only_the_writers_own_connection_writes(&pool).await;

        let (heartbeat, heartbeat_answer) = request(Heartbeat {
            leases: vec![jobs[2].lease()],
            lease_until: t(100),
        });
        let (completions, completed) = completions(jobs[..2].iter().cloned(), 1);
        let (claim_call, claim_answer) = request(claim(2));
        let (enqueue_call, enqueue_answer) = request(enqueue(1));
        let mut batch = vec![heartbeat];
        batch.extend(completions);
        batch.push(claim_call);
        batch.push(enqueue_call);
        group(&target, &mut direct, batch).await;

        assert!(
            heartbeat_answer.await.unwrap().is_err(),
            "the heartbeat went through the pool's connection"
        );
        for answer in completed {
            assert!(answer.await.unwrap().is_ok(), "a completion committed");
        }
        let claimed = claim_answer.await.unwrap().and_then(Claimed::into_jobs);
        assert_eq!(claimed.map(|jobs| jobs.len()).ok(), Some(2));
        assert!(enqueue_answer.await.unwrap().is_ok());
        assert!(direct.is_some(), "the writer keeps its own connection");
    });
}

#[test]
fn in_a_mixed_group_heartbeats_are_answered_before_the_completions_beside_them() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (_pool, target, mut direct) = file_target(&dir).await;
        let jobs = claimed(&target, &mut direct, 1).await;

        let (heartbeat, heartbeat_answer) = request(Heartbeat {
            leases: vec![jobs[0].lease()],
            lease_until: t(100),
        });
        let (completions, completed) = completions(jobs, 1);
        let mut batch = vec![heartbeat];
        batch.extend(completions);
        group(&target, &mut direct, batch).await;

        assert_eq!(
            heartbeat_answer.await.unwrap().unwrap(),
            [leasehold::HeartbeatStatus::Extended],
            "the job was still running when its heartbeat ran"
        );
        for answer in completed {
            assert!(answer.await.unwrap().is_ok());
        }
    });
}
