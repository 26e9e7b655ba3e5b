//! Model-based property testing of a store: random operation sequences applied to a
//! naive reference model and to the store under test, compared after every step.
//!
//! - [`Op`]: one operation (enqueue, claim, heartbeat, complete, retry, fail, release,
//!   cancel, prune, clock advance, stale-lease writes included).
//! - [`operations`]: the proptest strategy for sequences of them.
//! - [`check`]: runs one sequence against a fresh store and the model.
//!
//! ```text
//! proptest::proptest! {
//!     #[test]
//!     fn store_matches_the_model(ops in leasehold::testing::model::operations(40)) {
//!         leasehold::testing::model::check(&my_factory, &ops)?;
//!     }
//! }
//! ```
//!
//! The model is deliberately simple (a `Vec` scanned on every call) so that it is
//! obviously right; the stores under test are indexed and transactional.

use std::fmt;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use time::{Duration, OffsetDateTime};

use crate::schedule::ScheduleRecord;
use crate::testing::conformance::{StoreFactory, t};
use crate::{ClaimRequest, Firing, Limit, LimitScope};
use crate::{HeartbeatStatus, JobFilter, JobId, JobRecord, JobState, JobStore, Lease, NewJob};

mod by_hand;
mod dependencies;
mod ops;
mod outcome;
mod reference;

pub use self::ops::{Dependency, JobSpec, Op, operations};
use self::ops::{QUEUES, limit_scope, schedule_def, schedule_name};

use self::outcome::{Outcome, answer};
use self::reference::Model;

const WORKER: &str = "model-worker";

struct Run {
    model: Model,
    store: std::sync::Arc<dyn JobStore>,
    now: OffsetDateTime,
    ids: Vec<JobId>,
    leases: Vec<Lease>,
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("now", &self.now)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl Run {
    fn lease(&self, i: usize) -> Option<Lease> {
        (!self.leases.is_empty()).then(|| self.leases[i % self.leases.len()])
    }

    /// `enqueue_with_dependencies` of `jobs` on both; a `single` call answers as
    /// `enqueue` does.
    async fn enqueue_with_dependencies(
        &mut self,
        jobs: Vec<NewJob>,
        single: bool,
    ) -> (Outcome, Outcome) {
        let now = self.now;
        let answers = |answers: Vec<(JobId, bool)>| match answers.as_slice() {
            [(id, true)] if single => Outcome::Duplicate(*id),
            _ => Outcome::Ids(answers.iter().map(|(id, _)| *id).collect()),
        };
        let want = self
            .model
            .enqueue_with_dependencies(jobs.clone(), now)
            .map_or_else(|refused| refused, answers);
        let got = answer(
            self.store.enqueue_with_dependencies(jobs, now).await,
            |es| answers(es.into_iter().map(|e| (e.job.id, e.duplicate)).collect()),
        );
        (want, got)
    }

    /// Applies `op` to both; returns (model's answer, store's answer).
    async fn apply(&mut self, op: &Op) -> (Outcome, Outcome) {
        let now = self.now;
        match op {
            Op::Enqueue(spec) => {
                let job = spec.new_job(self.now);
                let job = spec.with_dependencies(job.clone(), &self.ids, &[job.id]);
                self.ids.push(job.id);
                if !job.depends_on.is_empty() {
                    return self.enqueue_with_dependencies(vec![job], true).await;
                }
                let (id, dup) = self.model.enqueue(job.clone(), now);
                let want = if dup {
                    Outcome::Duplicate(id)
                } else {
                    Outcome::Ids(vec![id])
                };
                let got = answer(self.store.enqueue(job, now).await, |e| {
                    if e.duplicate {
                        Outcome::Duplicate(e.job.id)
                    } else {
                        Outcome::Ids(vec![e.job.id])
                    }
                });
                (want, got)
            }
            Op::EnqueueMany(specs) => {
                let jobs: Vec<NewJob> = specs.iter().map(|s| s.new_job(self.now)).collect();
                let call: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
                let jobs: Vec<NewJob> = specs
                    .iter()
                    .zip(jobs)
                    .map(|(spec, job)| spec.with_dependencies(job, &self.ids, &call))
                    .collect();
                self.ids.extend(jobs.iter().map(|j| j.id));
                if dependencies::with_dependencies(&jobs) {
                    return self.enqueue_with_dependencies(jobs, false).await;
                }
                let want = Outcome::Ids(
                    jobs.iter()
                        .map(|j| self.model.enqueue(j.clone(), now).0)
                        .collect(),
                );
                let got = answer(self.store.enqueue_many(jobs, now).await, |es| {
                    Outcome::Ids(es.into_iter().map(|e| e.job.id).collect())
                });
                (want, got)
            }
            Op::Claim {
                queues,
                limit,
                lease_secs,
                limited,
            } => {
                let names: Vec<String> = QUEUES
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| queues & (1 << i) != 0)
                    .map(|(_, q)| (*q).to_owned())
                    .collect();
                let until = now + Duration::seconds(*lease_secs);
                let limited = limited.unwrap_or(*limit);
                let want = Outcome::Ids(self.model.claim(&names, (*limit, limited), now, until));
                let request = ClaimRequest::new(WORKER, &names, *limit, until).limited(limited);
                let got = self.store.claim(request, now).await;
                if let Ok(claimed) = &got {
                    self.leases.extend(claimed.iter().map(JobRecord::lease));
                }
                (
                    want,
                    answer(got, |c| Outcome::Ids(c.iter().map(|j| j.id).collect())),
                )
            }
            Op::Heartbeat {
                leases,
                extend_secs,
            } => {
                let leases: Vec<Lease> = leases.iter().filter_map(|i| self.lease(*i)).collect();
                let until = now + Duration::seconds(*extend_secs);
                let want = leases
                    .iter()
                    .map(|lease| match self.model.find(lease.job_id) {
                        Some(job)
                            if job.lease_token == lease.token && job.state == JobState::Running =>
                        {
                            job.lease_until = job.lease_until.max(Some(until));
                            HeartbeatStatus::Extended
                        }
                        Some(job)
                            if job.lease_token == lease.token
                                && job.state == JobState::Cancelled =>
                        {
                            HeartbeatStatus::Cancelled
                        }
                        _ => HeartbeatStatus::Lost,
                    })
                    .collect();
                let got = answer(self.store.heartbeat(&leases, until).await, Outcome::Beats);
                (Outcome::Beats(want), got)
            }
            Op::Complete { lease } | Op::Fail { lease } => {
                let Some(lease) = self.lease(*lease) else {
                    return (Outcome::Ok, Outcome::Ok);
                };
                let complete = matches!(op, Op::Complete { .. });
                let want = match self.model.leased(lease) {
                    Ok(job) => {
                        if !complete {
                            job.record_error("failed", now);
                        }
                        Model::finish(
                            job,
                            if complete {
                                JobState::Completed
                            } else {
                                JobState::Failed
                            },
                            now,
                        );
                        Outcome::Ok
                    }
                    Err(e) => e,
                };
                let got = if complete {
                    self.store.complete(lease, now).await
                } else {
                    self.store.fail(lease, "failed", now).await
                };
                (want, answer(got, |()| Outcome::Ok))
            }
            Op::Retry { lease, delay_secs } | Op::Release { lease, delay_secs } => {
                let Some(lease) = self.lease(*lease) else {
                    return (Outcome::Ok, Outcome::Ok);
                };
                let run_at = now + Duration::seconds(*delay_secs);
                let retry = matches!(op, Op::Retry { .. });
                let want = match self.model.leased(lease) {
                    Ok(job) if retry => {
                        job.record_error("retry", now);
                        if job.attempt >= job.max_attempts {
                            Model::finish(job, JobState::Failed, now);
                            Outcome::State(JobState::Failed)
                        } else {
                            Model::pend(job, run_at);
                            Outcome::State(if run_at > now {
                                JobState::Scheduled
                            } else {
                                JobState::Available
                            })
                        }
                    }
                    Ok(job) => {
                        job.attempt -= 1;
                        Model::pend(job, run_at);
                        Outcome::Ok
                    }
                    Err(e) => e,
                };
                let got = if retry {
                    let state = self.store.retry(lease, run_at, "retry", now).await;
                    answer(state, Outcome::State)
                } else {
                    answer(self.store.release(lease, run_at, now).await, |()| {
                        Outcome::Ok
                    })
                };
                (want, got)
            }
            Op::Cancel { job } => {
                if self.ids.is_empty() {
                    return (Outcome::Ok, Outcome::Ok);
                }
                let id = self.ids[job % self.ids.len()];
                let want = match self.model.find(id) {
                    None => Outcome::NotFound,
                    Some(job) => {
                        if !job.state.is_terminal() {
                            Model::finish(job, JobState::Cancelled, now);
                        }
                        Outcome::State(job.state)
                    }
                };
                (
                    want,
                    answer(self.store.cancel(id, now).await, |j| {
                        Outcome::State(j.state)
                    }),
                )
            }
            Op::Prune { age_secs, limit } => {
                let before = now - Duration::seconds(*age_secs);
                let mut doomed: Vec<(OffsetDateTime, JobId)> = self
                    .model
                    .jobs
                    .iter()
                    .filter(|j| j.state.is_terminal() && j.finished_at.is_some_and(|f| f < before))
                    .filter(|j| !self.model.waited_on(j.id))
                    .map(|j| (j.finished_at.expect("terminal"), j.id))
                    .collect();
                doomed.sort();
                doomed.truncate(*limit);
                self.model
                    .jobs
                    .retain(|j| !doomed.iter().any(|(_, id)| *id == j.id));
                let want = Outcome::Count(u64::try_from(doomed.len()).expect("small"));
                (
                    want,
                    answer(self.store.prune(before, *limit).await, Outcome::Count),
                )
            }
            Op::UpsertSchedule {
                name,
                spec,
                next_secs,
            } => {
                let schedule = schedule_def(*name, *spec);
                let next = Some(now + Duration::seconds(*next_secs));
                let record = match self.model.schedules.remove(&schedule.name) {
                    Some(old) => ScheduleRecord {
                        next_fire_at: if old.schedule.spec == schedule.spec {
                            old.next_fire_at
                        } else {
                            next
                        },
                        schedule: schedule.clone(),
                        updated_at: now,
                        ..old
                    },
                    None => ScheduleRecord {
                        schedule: schedule.clone(),
                        enabled: true,
                        next_fire_at: next,
                        last_fired_at: None,
                        created_at: now,
                        updated_at: now,
                    },
                };
                self.model
                    .schedules
                    .insert(schedule.name.clone(), record.clone());
                let got = answer(self.store.upsert_schedule(schedule, next, now).await, |r| {
                    Outcome::Schedule(Box::new(r))
                });
                (Outcome::Schedule(Box::new(record)), got)
            }
            Op::FireSchedule {
                name,
                current,
                jobs,
                next_secs,
            } => {
                let name = schedule_name(*name);
                let stored = self.model.schedules.get(&name).cloned();
                let slot = match (&stored, current) {
                    (
                        Some(ScheduleRecord {
                            next_fire_at: Some(at),
                            ..
                        }),
                        true,
                    ) => *at,
                    _ => now - Duration::seconds(5),
                };
                let next = Some(now + Duration::seconds(*next_secs));
                let template = stored.clone().unwrap_or_else(|| ScheduleRecord {
                    schedule: schedule_def(0, 0),
                    enabled: true,
                    next_fire_at: None,
                    last_fired_at: None,
                    created_at: now,
                    updated_at: now,
                });
                let new_jobs: Vec<NewJob> = (0..*jobs)
                    .map(|k| {
                        let at = slot + Duration::seconds(i64::try_from(k).expect("small") * 10);
                        let mut job = template.job_for_slot(at, now).expect("a valid job");
                        job.queue = QUEUES[0].to_owned();
                        job
                    })
                    .collect();
                self.ids.extend(new_jobs.iter().map(|j| j.id));
                let want = match self.model.schedules.get_mut(&name) {
                    None => Outcome::ScheduleNotFound,
                    Some(s) if !s.enabled || s.next_fire_at != Some(slot) => Outcome::Conflict,
                    Some(s) => {
                        s.next_fire_at = next;
                        s.last_fired_at = Some(now);
                        s.updated_at = now;
                        Outcome::Ids(
                            new_jobs
                                .iter()
                                .map(|j| self.model.enqueue(j.clone(), now).0)
                                .collect(),
                        )
                    }
                };
                let got = answer(
                    self.store
                        .fire_schedule(Firing::new(&name, slot, next, new_jobs), now)
                        .await,
                    |es| Outcome::Ids(es.into_iter().map(|e| e.job.id).collect()),
                );
                (want, got)
            }
            Op::PauseSchedule { name } => {
                let name = schedule_name(*name);
                let want = match self.model.schedules.get_mut(&name) {
                    None => Outcome::ScheduleNotFound,
                    Some(s) => {
                        if s.enabled {
                            s.enabled = false;
                            s.updated_at = now;
                        }
                        Outcome::Schedule(Box::new(s.clone()))
                    }
                };
                (
                    want,
                    answer(self.store.pause_schedule(&name, now).await, |r| {
                        Outcome::Schedule(Box::new(r))
                    }),
                )
            }
            Op::ResumeSchedule { name, next_secs } => {
                let name = schedule_name(*name);
                let next = Some(now + Duration::seconds(*next_secs));
                let want = match self.model.schedules.get_mut(&name) {
                    None => Outcome::ScheduleNotFound,
                    Some(s) => {
                        if !s.enabled {
                            s.enabled = true;
                            s.next_fire_at = next;
                            s.updated_at = now;
                        }
                        Outcome::Schedule(Box::new(s.clone()))
                    }
                };
                (
                    want,
                    answer(self.store.resume_schedule(&name, next, now).await, |r| {
                        Outcome::Schedule(Box::new(r))
                    }),
                )
            }
            Op::RemoveSchedule { name } => {
                let name = schedule_name(*name);
                let want = Outcome::Removed(self.model.schedules.remove(&name).is_some());
                (
                    want,
                    answer(self.store.remove_schedule(&name).await, Outcome::Removed),
                )
            }
            Op::PauseQueue { queue, pause } => {
                // A third name no job uses: unknown unless paused before.
                let queue = QUEUES.get(*queue).copied().unwrap_or("c");
                let known = self.model.paused.contains_key(queue)
                    || self.model.jobs.iter().any(|j| j.queue == queue);
                let want = if known {
                    self.model.paused.insert(queue.to_owned(), *pause);
                    Outcome::Ok
                } else {
                    Outcome::QueueNotFound
                };
                let got = if *pause {
                    self.store.pause_queue(queue, now).await
                } else {
                    self.store.resume_queue(queue, now).await
                };
                (want, answer(got, |()| Outcome::Ok))
            }
            Op::SetLimit {
                scope,
                max_running,
                rate,
            } => {
                let rate = rate.map(|(starts, secs)| {
                    crate::Rate::new(starts, std::time::Duration::from_secs(secs))
                        .expect("a valid rate")
                });
                let Ok(limit) = Limit::new(*max_running, rate) else {
                    return (Outcome::Ok, Outcome::Ok);
                };
                let scope = limit_scope(*scope);
                let want = self.model.set_limit(&scope, limit);
                let got = self.store.set_limit(&scope, limit, now).await;
                (want, answer(got, |()| Outcome::Ok))
            }
            Op::RemoveLimit { scope } => {
                let scope = limit_scope(*scope);
                let want = self.model.remove_limit(&scope);
                let got = self.store.remove_limit(&scope, now).await;
                (want, answer(got, |()| Outcome::Ok))
            }
            Op::CompleteWithOutput { .. }
            | Op::RetryJob { .. }
            | Op::DeleteJob { .. }
            | Op::UpdateJob { .. }
            | Op::Bulk { .. }
            | Op::TakeLock { .. }
            | Op::ListPage { .. }
            | Op::Dependents { .. } => self.apply_by_hand(op).await,
            Op::Advance { secs } => {
                self.now += Duration::seconds(*secs);
                (Outcome::Ok, Outcome::Ok)
            }
        }
    }
}

/// Applies `ops` to a fresh store from `factory` and to the model, failing at the
/// first step where an answer or any job's observable fields differ.
///
/// # Errors
///
/// A [`TestCaseError`] naming the step, the operation and the difference.
pub fn check(factory: &dyn StoreFactory, ops: &[Op]) -> Result<(), TestCaseError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a test runtime can be built")
        .block_on(async {
            let mut run = Run {
                model: Model::default(),
                store: factory.open().await,
                now: t(0),
                ids: Vec::new(),
                leases: Vec::new(),
            };
            for (step, op) in ops.iter().enumerate() {
                let (want, got) = run.apply(op).await;
                run.model.settle(run.now);
                prop_assert_eq!(&got, &want, "answer at step {} ({:?})", step, op);
                let jobs = run
                    .store
                    .list(&JobFilter::all(), run.now)
                    .await
                    .map_err(|e| TestCaseError::fail(format!("list at step {step}: {e}")))?;
                let model = run.model.at(run.now);
                prop_assert_eq!(
                    jobs.len(),
                    model.len(),
                    "job count after step {} ({:?})",
                    step,
                    op
                );
                for (got, want) in jobs.iter().zip(&model) {
                    prop_assert_eq!(got, want, "job after step {} ({:?})", step, op);
                }
                let schedules = run.store.list_schedules().await.map_err(|e| {
                    TestCaseError::fail(format!("list_schedules at step {step}: {e}"))
                })?;
                let model_schedules: Vec<&ScheduleRecord> = run.model.schedules.values().collect();
                prop_assert_eq!(
                    schedules.iter().collect::<Vec<_>>(),
                    model_schedules,
                    "schedules after step {} ({:?})",
                    step,
                    op
                );
                let due: Vec<String> = run
                    .store
                    .due_schedules(run.now, 10)
                    .await
                    .map_err(|e| TestCaseError::fail(format!("due_schedules at step {step}: {e}")))?
                    .into_iter()
                    .map(|s| s.schedule.name)
                    .collect();
                let mut model_due: Vec<&ScheduleRecord> = run
                    .model
                    .schedules
                    .values()
                    .filter(|s| s.enabled && s.next_fire_at.is_some_and(|at| at <= run.now))
                    .collect();
                model_due.sort_by_key(|s| (s.next_fire_at, s.schedule.name.clone()));
                let model_due: Vec<String> = model_due
                    .into_iter()
                    .map(|s| s.schedule.name.clone())
                    .collect();
                prop_assert_eq!(
                    due,
                    model_due,
                    "due schedules after step {} ({:?})",
                    step,
                    op
                );
                let stats =
                    run.store.queue_stats(run.now).await.map_err(|e| {
                        TestCaseError::fail(format!("queue_stats at step {step}: {e}"))
                    })?;
                prop_assert_eq!(
                    stats,
                    run.model.queue_stats(run.now),
                    "queue stats after step {} ({:?})",
                    step,
                    op
                );
                let limits = run
                    .store
                    .limits()
                    .await
                    .map_err(|e| TestCaseError::fail(format!("limits at step {step}: {e}")))?;
                let model_limits: Vec<(LimitScope, Limit)> = run
                    .model
                    .limits
                    .iter()
                    .map(|(s, l)| (s.clone(), *l))
                    .collect();
                prop_assert_eq!(
                    limits,
                    model_limits,
                    "limits after step {} ({:?})",
                    step,
                    op
                );
                let both: Vec<String> = QUEUES.iter().map(|q| (*q).to_owned()).collect();
                let due =
                    run.store.next_due(&both).await.map_err(|e| {
                        TestCaseError::fail(format!("next_due at step {step}: {e}"))
                    })?;
                prop_assert_eq!(
                    due,
                    run.model.next_due(&both),
                    "next_due after step {} ({:?})",
                    step,
                    op
                );
                for state in JobState::ALL {
                    let counted = run
                        .store
                        .count(&JobFilter::all().state(state), run.now)
                        .await
                        .map_err(|e| TestCaseError::fail(format!("count at step {step}: {e}")))?;
                    let expected = model.iter().filter(|j| j.state == state).count();
                    prop_assert_eq!(
                        counted,
                        u64::try_from(expected).expect("small"),
                        "count of {} after step {}",
                        state,
                        step
                    );
                }
            }
            Ok(())
        })
}
