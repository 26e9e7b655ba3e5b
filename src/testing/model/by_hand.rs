//! The operator's verbs, applied to the model and the store: output, jobs by hand one
//! at a time and by filter, locks.

use serde_json::json;
use time::Duration;

use super::outcome::{Outcome, answer};
use super::reference::{Model, is_pending};
use super::{Op, QUEUES, Run};
use crate::{JobFilter, JobState, JobUpdate};

impl Run {
    /// Applies one of the operator's ops; returns (model's answer, store's answer).
    pub(super) async fn apply_by_hand(&mut self, op: &Op) -> (Outcome, Outcome) {
        let now = self.now;
        let job = |i: &usize| (!self.ids.is_empty()).then(|| self.ids[i % self.ids.len()]);
        match op {
            Op::CompleteWithOutput { lease } => {
                let Some(lease) = self.lease(*lease) else {
                    return (Outcome::Ok, Outcome::Ok);
                };
                let output = json!({ "token": lease.token });
                let want = match self.model.leased(lease) {
                    Ok(job) => {
                        job.output = Some(output.clone());
                        Model::finish(job, JobState::Completed, now);
                        Outcome::Ok
                    }
                    Err(e) => e,
                };
                let got = self.store.complete_with_output(lease, &output, now).await;
                (want, answer(got, |()| Outcome::Ok))
            }
            Op::RetryJob { job: i } | Op::DeleteJob { job: i } => {
                let Some(id) = job(i) else {
                    return (Outcome::Ok, Outcome::Ok);
                };
                if matches!(op, Op::RetryJob { .. }) {
                    let want = self.model.retry_job(id, now);
                    let got = self.store.retry_job(id, now).await;
                    (want, answer(got, |j| Outcome::State(j.state)))
                } else {
                    let want = self.model.delete_job(id, now);
                    let got = self.store.delete_job(id, now).await;
                    (want, answer(got, |j| Outcome::State(j.state)))
                }
            }
            Op::UpdateJob {
                job: i,
                delay_secs,
                priority,
                queue,
            } => {
                let Some(id) = job(i) else {
                    return (Outcome::Ok, Outcome::Ok);
                };
                let mut update = JobUpdate::new().run_at(now + Duration::seconds(*delay_secs));
                if let Some(priority) = priority {
                    update = update.priority(*priority);
                }
                if let Some(queue) = queue {
                    update = update.queue(QUEUES[*queue]).expect("a valid queue");
                }
                let want = self.model.update_job(id, &update, now);
                let got = self.store.update_job(id, &update, now).await;
                (want, answer(got, |j| Outcome::State(j.state)))
            }
            Op::Bulk {
                verb,
                queue,
                state,
                tag,
                limit,
            } => {
                let mut filter = JobFilter::all();
                if let Some(queue) = queue {
                    filter = filter.queue(QUEUES[*queue]);
                }
                if let Some(state) = state {
                    filter = filter.state(JobState::ALL[*state]);
                }
                if let Some(tag) = tag {
                    filter = filter.tag(format!("t{tag}"));
                }
                if let Some(limit) = limit {
                    filter = filter.limit(*limit);
                }
                let (want, got) = match verb {
                    0 => {
                        let model = &self.model;
                        let retried = |j: &crate::JobRecord| {
                            !matches!(j.state, JobState::Running | JobState::Waiting)
                                && !model.waited_on(j.id)
                        };
                        let ids = model.chosen(&filter, now, retried);
                        let want = self.model.retry_jobs(&ids, now);
                        (want, self.store.retry_jobs(&filter, now).await)
                    }
                    3 => {
                        let ids = self.model.chosen(&filter, now, |j| is_pending(j.state));
                        let update = JobUpdate::new()
                            .priority(1)
                            .run_at(now + Duration::seconds(5));
                        for id in &ids {
                            self.model.update_job(*id, &update, now);
                        }
                        let want = Outcome::Count(ids.len() as u64);
                        (want, self.store.update_jobs(&filter, &update, now).await)
                    }
                    1 => {
                        let ids = self.model.chosen(&filter, now, |j| !j.state.is_terminal());
                        for id in &ids {
                            let job = self.model.find(*id).expect("chosen");
                            Model::finish(job, JobState::Cancelled, now);
                        }
                        let want = Outcome::Count(ids.len() as u64);
                        (want, self.store.cancel_jobs(&filter, now).await)
                    }
                    _ => {
                        let model = &self.model;
                        let deleted = |j: &crate::JobRecord| {
                            j.state != JobState::Running && !model.waited_on(j.id)
                        };
                        let ids = model.chosen(&filter, now, deleted);
                        self.model.jobs.retain(|j| !ids.contains(&j.id));
                        let want = Outcome::Count(ids.len() as u64);
                        (want, self.store.delete_jobs(&filter, now).await)
                    }
                };
                (want, answer(got, Outcome::Count))
            }
            Op::TakeLock { holder, secs } => {
                let holder = ["holder-a", "holder-b"][*holder % 2];
                let until = now + Duration::seconds(*secs);
                let want = Outcome::Removed(self.model.take_lock(holder, until, now));
                let got = self.store.take_lock("lock", holder, until, now).await;
                (want, answer(got, Outcome::Removed))
            }
            Op::ListPage {
                queue,
                after,
                newest_first,
                limit,
            } => {
                let mut filter = JobFilter::all().limit(*limit);
                if let Some(queue) = queue {
                    filter = filter.queue(QUEUES[*queue]);
                }
                if let Some(id) = after.as_ref().and_then(job) {
                    filter = filter.after(id);
                }
                if *newest_first {
                    filter = filter.newest_first();
                }
                let want = Outcome::Ids(self.model.page(&filter, now));
                let got = self.store.list(&filter, now).await;
                (
                    want,
                    answer(got, |jobs| {
                        Outcome::Ids(jobs.iter().map(|j| j.id).collect())
                    }),
                )
            }
            Op::Dependents { job: i } => {
                let Some(id) = job(i) else {
                    return (Outcome::Ok, Outcome::Ok);
                };
                let want = Outcome::Ids(self.model.dependents(id));
                let got = self.store.dependents(id).await;
                (want, answer(got, Outcome::Ids))
            }
            _ => unreachable!("not an operator's op: {op:?}"),
        }
    }
}
