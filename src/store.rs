//! The storage seam: [`JobStore`], the contract every backend implements.
//!
//! - [`JobStore`]: one atomic lifecycle transition per method.
//! - [`JobFilter`]: what `list` and `count` select.
//! - [`HeartbeatStatus`]: the answer for each lease a heartbeat extends.
//! - [`ClaimRequest`] and [`Firing`]: what `claim` and `fire_schedule` are asked.
//!
//! The contract is written below as sentences. Each sentence names, in brackets, the
//! case of the conformance suite (`leasehold::testing::conformance`, feature `testing`)
//! that checks it; every store runs the whole suite.

use async_trait::async_trait;
use time::OffsetDateTime;

use std::sync::Arc;

use crate::clock::Clock;
use crate::error::StoreError;
use crate::job::{JobId, JobRecord, JobState, Lease, NewJob};
use crate::limit::{Limit, LimitScope};
use crate::schedule::{NewSchedule, ScheduleRecord};

/// The default body of a verb: forward to [`JobStore::delegate`], or answer
/// [`StoreError::Unsupported`] naming the verb.
macro_rules! delegate {
    ($self:ident, $verb:ident($($arg:expr),*)) => {
        match $self.delegate() {
            Some(inner) => inner.$verb($($arg),*).await,
            None => Err(StoreError::Unsupported(stringify!($verb))),
        }
    };
}

mod request;

pub use request::{
    ClaimRequest, Enqueued, Firing, HeartbeatStatus, JobFilter, JobUpdate, QueueStats,
};

/// A durable home for jobs: a passive state machine, told the time by its caller.
///
/// # The contract
///
/// Every method is one atomic transition. A store never reads a clock: every time it
/// needs is an argument, and it reports `Scheduled` or `Available` by comparing
/// `run_at` with the `now` it is given [`the_store_uses_only_the_time_it_is_given`].
/// Times are UTC and whole microseconds; a store returns exactly what it was given
/// [`timestamps_round_trip_exactly`]. Nothing here assumes one process or one writer:
/// any number of handles, in any number of processes, may call any method at once.
///
/// **Enqueue.**
/// - `enqueue` stores the job as given, with `attempt` 0, `created_at` = `now`
///   [`enqueue_stores_the_job_as_given`].
/// - A job whose `run_at` is after `now` is `Scheduled`, and `Available` once `now`
///   reaches it [`enqueue_of_a_future_job_is_scheduled_until_due`].
/// - A unique key dedupes among non-terminal jobs: enqueueing a key that a pending or
///   running job holds stores nothing and returns that job with `duplicate` set
///   [`enqueue_with_an_active_unique_key_returns_the_existing_job`]; a key held only by
///   terminal jobs does not block a new job
///   [`enqueue_with_a_finished_unique_key_inserts_a_new_job`]; racing enqueues of one
///   key insert exactly one job and all return it
///   [`concurrent_enqueues_of_one_unique_key_insert_once`].
/// - Enqueueing an id that exists is [`StoreError::Conflict`]
///   [`enqueue_of_an_existing_id_is_a_conflict`].
/// - `enqueue_many` is all or none: when it fails, none of its jobs is stored
///   [`enqueue_many_is_atomic`]; within one batch, a repeated unique key returns the
///   batch's first job [`enqueue_many_dedupes_unique_keys_within_the_batch`].
///
/// **Claim.**
/// - `claim` returns jobs of the given queues only [`claim_only_takes_the_given_queues`],
///   at most `limit` of them [`claim_returns_at_most_limit_jobs`], ordered by priority
///   (lower first), then `run_at`, then id
///   [`claim_orders_by_priority_then_run_at_then_id`].
/// - It never returns a job before its `run_at`
///   [`claim_never_returns_a_job_before_its_run_at`] and never returns a job whose lease
///   is live [`claim_never_returns_a_leased_job`].
/// - A claimed job is `Running`, its `attempt` and `lease_token` one higher, its
///   `lease_until` and `worker` those given [`claim_marks_jobs_running_under_a_lease`].
/// - A `Running` job whose lease expired (`lease_until <= now`) is claimable again,
///   with the next attempt [`claim_takes_an_expired_lease_with_the_next_attempt`];
///   if it has no attempts left it ends `Failed` with the error "lease expired"
///   instead [`claim_fails_an_expired_lease_on_the_last_attempt`].
/// - Concurrent claims, through one handle or several, never return the same job
///   while its lease is live [`concurrent_claims_partition_the_jobs`].
///
/// **Writes under a lease.** `heartbeat`, `complete`, `retry`, `fail` and `release`
/// act only for the lease whose token is the job's current `lease_token` while the job
/// is `Running`; for any other lease they change nothing and return
/// [`StoreError::LeaseLost`] (or [`HeartbeatStatus::Lost`])
/// [`heartbeat_reports_a_stale_lease_as_lost`], [`complete_rejects_a_stale_lease`],
/// [`retry_rejects_a_stale_lease`], [`fail_rejects_a_stale_lease`],
/// [`release_rejects_a_stale_lease`]. Tokens only grow, so a lease given back by
/// `release` never becomes valid again [`a_released_lease_is_never_valid_again`].
/// A lease on an unknown job is [`StoreError::NotFound`] for complete, retry, fail and
/// release [`writes_to_an_unknown_job_are_not_found`], and [`HeartbeatStatus::Lost`]
/// for a heartbeat (a batch answers every lease, so one gone job fails no call).
/// - `heartbeat` sets `lease_until` for each live lease and answers each lease in order
///   [`heartbeat_extends_a_live_lease`]; a lease whose token is the job's and whose job
///   was cancelled answers [`HeartbeatStatus::Cancelled`] (also after a release: either
///   way its holder must stop, and nothing it writes is accepted).
/// - `complete` ends the job `Completed` at `now` [`complete_ends_the_job_completed`].
/// - `retry` records the error and makes the job pending at `run_at`, claimable then and
///   not before [`retry_makes_the_job_claimable_at_the_given_time_not_before`]; on the
///   last attempt it ends the job `Failed` with the error kept
///   [`retry_on_the_last_attempt_ends_the_job_failed`].
/// - `fail` ends the job `Failed` with the error, whatever attempts remain
///   [`fail_ends_the_job_failed_with_the_error`].
/// - `release` makes the job pending at `run_at` and gives its attempt back
///   [`release_gives_the_attempt_back`].
///
/// **What a lease promises, and how long its holder may believe it.** A lease is a
/// promise that no claim returns the job before `lease_until`, compared with the `now`
/// of the claiming caller. So the holder may run the job only while it knows the lease
/// holds: it counts from a `lease_until` the store confirmed (a claim, or a heartbeat
/// answered [`HeartbeatStatus::Extended`]), which was computed before the call was
/// sent, and stops at that `lease_until` minus a margin, whether or not its
/// heartbeat call has answered. A holder cut off from the store (a partition, a
/// failing or locked store) therefore stops at most the margin before anyone else may
/// claim the job, never after. The margin covers how late the holder's stop can be
/// and how far its clock may lag the clock of the next claimer; the worker's is
/// `WorkerBuilder::lease_margin`. Clocks that disagree by more than the margin break
/// the promise, which is why a store may offer a shared clock ([`JobStore::clock`]).
///
/// **Cancel.** A pending (or waiting) job ends `Cancelled` at once
/// [`cancel_of_a_pending_job_ends_it_cancelled`]; a running job ends `Cancelled`, its
/// worker's next heartbeat answers [`HeartbeatStatus::Cancelled`] and its later writes
/// are `LeaseLost` [`cancel_of_a_running_job_is_seen_by_its_heartbeat`]; a terminal
/// job is left as it is [`cancel_of_a_finished_job_changes_nothing`].
///
/// **Inspection and upkeep.** `get` of an unknown id is `None`; `list` (ordered by id)
/// and `count` select by queue, state and kind and agree with each other and with what
/// happened [`list_and_count_agree_with_what_happened`]. `list` pages by id: with
/// `after`, it starts past that id in its order, lowest first or, with `newest_first`,
/// highest first, and `count` ignores the cursor
/// [`list_pages_by_id_after_a_cursor_in_either_order`]. `next_due` is the earliest time
/// at which a claim of the queues could return something
/// [`next_due_is_the_earliest_run_at_or_lease_expiry`]. `prune` deletes up to `limit`
/// terminal jobs finished before a time, oldest first, and nothing else
/// [`prune_removes_only_terminal_jobs_finished_before_the_time`].
///
/// **Queues.** `pause_queue` stops claims of a queue: while it is paused, `claim`
/// returns none of its jobs (not even expired leases) and `next_due` leaves it out; its
/// running jobs keep their leases and their writes; `resume_queue` makes its jobs
/// claimable again [`a_paused_queue_is_not_claimed_until_resumed`]. Both verbs answer
/// [`StoreError::QueueNotFound`] for a queue with no stored job that was never paused,
/// and store nothing [`pausing_an_unknown_queue_is_not_found`].
///
/// `queue_stats` counts each queue's jobs by state as of `now`, with its oldest
/// pending `run_at` and its pause, for every queue with a stored job or a pause record
/// [`queue_stats_counts_every_queue_by_state`].
///
/// **Limits.** A [`Limit`] is stored per [`LimitScope`]: a limit key, which jobs carry
/// in `limit_key`, or a queue.
/// - `set_limit` stores or replaces one, `limits` lists them by scope (keys first)
///   and name, `remove_limit` deletes one; removing a scope without a limit is
///   [`StoreError::LimitNotFound`] and a limit for a queue with no stored job that was
///   never paused is [`StoreError::QueueNotFound`], both storing nothing; a queue's
///   limit shows in its `queue_stats` [`limits_are_stored_replaced_and_removed`].
/// - A scope *allows* as many more claims as the least of: its `max_running` minus its
///   jobs holding a live lease (`lease_until > now`), and its rate's `starts` minus the
///   claims of its jobs counted in `(now - per, now]`. Every claim of a job whose key
///   or queue has a rate counts one start for that scope at `now`.
/// - A claim takes, of the claimable jobs in claim order: for each limited key, its
///   first jobs up to what the key allows; of those, for each limited queue, its first
///   up to what the queue allows; of those, jobs that a limit governs (a limited key or
///   queue) up to the request's `limited`; of those the first `limit`. So a full key
///   holds back only its own jobs [`a_claim_runs_at_most_max_running_jobs_of_a_key`],
///   an expired lease frees its slot, no window of `per` sees more than `starts`
///   claims of a scope [`a_rate_allows_at_most_its_starts_in_any_window`], and a
///   queue's limit counts all its jobs [`a_queue_limit_bounds_every_job_of_the_queue`].
/// - `next_due` counts a job that a full limit holds back as due no earlier than the
///   limit opens: for a rate, when the oldest start that fills its window leaves it
///   (the `starts`-th latest start plus `per`); for `max_running`, the earliest lease
///   expiry among the scope's running jobs [`next_due_waits_for_a_limit_to_open`].
///
/// **Jobs by hand.**
/// - `retry_job` makes a finished job `Available` at `now`, with one more attempt when
///   it had spent them all and its error history kept
///   [`retry_job_makes_a_finished_job_available_now_with_another_attempt`]; a pending
///   job is made due at `now` [`retry_job_of_a_pending_job_runs_it_now`].
/// - `delete_job` removes a pending or finished job and returns it
///   [`delete_job_removes_a_pending_or_finished_job`].
/// - `update_job` changes the run time, priority and queue of a pending job
///   [`update_job_changes_a_pending_job`].
/// - `retry_job` and `delete_job` of a running job, and `update_job` of a job that is
///   not pending, answer [`StoreError::WrongState`] and change nothing
///   [`verbs_by_hand_refuse_a_job_in_the_wrong_state`]; for an unknown id they answer
///   [`StoreError::NotFound`] [`verbs_by_hand_on_an_unknown_job_are_not_found`].
/// - `retry_jobs`, `cancel_jobs` and `delete_jobs` act as their single forms on the
///   jobs a filter selects, at most its limit, lowest ids first (with
///   `finished_before`, those that finished first first, then by id), passing over the jobs
///   the single form would refuse, and answer how many they changed
///   [`bulk_verbs_act_on_up_to_limit_selected_jobs`]; so does `update_jobs`, on pending
///   jobs only [`update_jobs_changes_the_pending_jobs_a_filter_selects`]; a filter's `finished_before`
///   selects only jobs finished before it, which is how retention deletes
///   [`delete_jobs_finished_before_a_time_keeps_the_rest`].
/// - A retry that would give a unique key to a second live job (the job's key is held
///   by a pending or running job, or a bulk retry selects two jobs of one key) is
///   [`StoreError::Conflict`] and changes nothing
///   [`a_retry_that_would_share_a_live_unique_key_is_a_conflict`].
///
/// **Dependencies.** A job's `depends_on` names stored jobs or jobs of the same call;
/// the core enqueues such jobs through `enqueue_with_dependencies`, which a store
/// written before dependencies refuses ([`StoreError::Unsupported`]).
/// - A job whose dependencies have not all completed is `Waiting`: no claim returns
///   it, `next_due` and the pending counts leave it out. When its last dependency
///   completes it is pending, in that same transition, due at the later of its
///   `run_at` and that time [`a_job_waits_until_its_dependencies_complete`].
/// - When a dependency ends `Failed` or `Cancelled`, a waiting dependent whose policy
///   is `Cancel` or `Fail` ends `Cancelled` or `Failed` then, with
///   [`DEPENDENCY_FAILED`](crate::DEPENDENCY_FAILED), and so on down its own
///   dependents; under `Ignore` the dependency counts as ended
///   [`a_failed_dependency_ends_its_dependents_by_their_policy`].
/// - A dependency that completed already is satisfied at enqueue; one that failed or
///   was cancelled applies the policy at enqueue; a dependency on a job of the call
///   whose unique key was held is on the job that holds it
///   [`dependencies_that_ended_already_count_at_enqueue`].
/// - A dependency on an unknown id, on the job itself, or a cycle among the call's
///   jobs is [`StoreError::InvalidDependency`] and stores nothing
///   [`a_bad_dependency_is_refused_and_stores_nothing`].
/// - `cancel`, `cancel_jobs`, `delete_job` and `delete_jobs` act on a waiting job;
///   `retry_job` and `update_job` refuse it (`WrongState`) and their bulk forms pass
///   over it. A job a waiting job depends on is never deleted, nor run again (a
///   waiting job counts its end): `delete_job` and `retry_job` answer
///   [`StoreError::Conflict`], `delete_jobs`, `retry_jobs` and `prune` pass over it
///   [`a_job_something_waits_on_is_never_deleted`]. So is a job that a released
///   dependent (pending or running) ran after, until that dependent ends: a step of a
///   chain may read its output [`a_job_an_unfinished_dependent_ran_after_is_kept`].
/// - A dependent enqueued while its dependency ends, through another handle, is
///   never left waiting [`concurrent_ends_and_dependent_enqueues_never_strand_a_job`].
///
/// **What a job carries.**
/// - Tags and metadata are stored as given and a filter's tag selects the jobs
///   carrying it [`tags_and_metadata_are_stored_and_a_tag_selects`].
/// - `complete_with_output` ends the job `Completed` with its output kept, under the
///   same fencing as `complete` [`complete_with_output_keeps_the_output`].
/// - Every failed attempt recorded by `retry`, `fail` or a claim failing an expired
///   last lease is kept as (attempt, time, error) in `errors`, the latest
///   [`ERROR_HISTORY_LIMIT`](crate::ERROR_HISTORY_LIMIT) of them
///   [`the_error_history_keeps_the_latest_failed_attempts`].
/// - A claim sets `attempted_at` to its `now`, and `first_attempted_at` on the first
///   claim only [`claims_record_when_attempts_started`].
/// - A unique key with a period also blocks while a job holding it ended in one of the
///   unique states less than the period before `now`
///   [`a_unique_period_blocks_the_key_after_the_holder_finished`]; a finished holder in
///   another state does not block [`unique_states_choose_which_finished_jobs_block`];
///   racing enqueues of such a key insert once
///   [`concurrent_enqueues_of_a_period_key_insert_once`].
///
/// **Locks.** `take_lock` gives a named lock to one holder at a time until the time it
/// names; its holder renews it, and anyone takes it once it has expired
/// [`take_lock_gives_a_lock_to_one_holder_until_it_expires`]; racing takers of a free
/// lock leave exactly one holding it [`concurrent_takers_of_a_free_lock_one_wins`].
///
/// **Schedules.** A schedule is stored by its unique name.
/// - `upsert_schedule` inserts a new name enabled, with the `next_fire_at` given; for an
///   existing name it replaces the definition, keeps `created_at`, and takes the given
///   `next_fire_at` only if the spec changed, so re-registering a schedule at every
///   start never skips or repeats a slot; it never resumes a paused schedule
///   [`upsert_schedule_inserts_then_updates_by_name`],
///   [`upsert_schedule_keeps_the_slot_and_the_pause_when_the_spec_is_unchanged`].
/// - `due_schedules` returns the enabled schedules whose `next_fire_at <= now`, earliest
///   first [`due_schedules_returns_enabled_schedules_due_at_now`].
/// - `fire_schedule` is a compare-and-set: only while the schedule's `next_fire_at` is
///   the slot the caller planned from does it insert the jobs (unique keys deduping
///   as in `enqueue_many`) and set the next slot and `last_fired_at` (the time
///   given), in one transaction; otherwise it
///   inserts nothing and returns [`StoreError::Conflict`]
///   [`fire_schedule_inserts_the_jobs_and_advances_the_slot`],
///   [`fire_schedule_from_a_stale_slot_is_a_conflict_and_inserts_nothing`]; so racing
///   schedulers fire each slot once [`concurrent_fires_of_one_slot_insert_once`].
/// - `pause_schedule` and `resume_schedule` set `enabled` (resume also sets the next
///   slot; both leave a schedule already in that state as it is), `remove_schedule`
///   deletes the schedule but not its jobs, and the name-taking verbs answer
///   [`StoreError::ScheduleNotFound`] for an unknown name
///   [`pause_resume_and_remove_a_schedule`].
///
/// [`a_job_waits_until_its_dependencies_complete`]: crate::testing::conformance::a_job_waits_until_its_dependencies_complete
/// [`a_failed_dependency_ends_its_dependents_by_their_policy`]: crate::testing::conformance::a_failed_dependency_ends_its_dependents_by_their_policy
/// [`dependencies_that_ended_already_count_at_enqueue`]: crate::testing::conformance::dependencies_that_ended_already_count_at_enqueue
/// [`a_bad_dependency_is_refused_and_stores_nothing`]: crate::testing::conformance::a_bad_dependency_is_refused_and_stores_nothing
/// [`a_job_something_waits_on_is_never_deleted`]: crate::testing::conformance::a_job_something_waits_on_is_never_deleted
/// [`a_job_an_unfinished_dependent_ran_after_is_kept`]: crate::testing::conformance::a_job_an_unfinished_dependent_ran_after_is_kept
/// [`concurrent_ends_and_dependent_enqueues_never_strand_a_job`]: crate::testing::conformance::concurrent_ends_and_dependent_enqueues_never_strand_a_job
/// [`limits_are_stored_replaced_and_removed`]: crate::testing::conformance::limits_are_stored_replaced_and_removed
/// [`a_claim_runs_at_most_max_running_jobs_of_a_key`]: crate::testing::conformance::a_claim_runs_at_most_max_running_jobs_of_a_key
/// [`a_rate_allows_at_most_its_starts_in_any_window`]: crate::testing::conformance::a_rate_allows_at_most_its_starts_in_any_window
/// [`a_queue_limit_bounds_every_job_of_the_queue`]: crate::testing::conformance::a_queue_limit_bounds_every_job_of_the_queue
/// [`next_due_waits_for_a_limit_to_open`]: crate::testing::conformance::next_due_waits_for_a_limit_to_open
/// [`a_paused_queue_is_not_claimed_until_resumed`]: crate::testing::conformance::a_paused_queue_is_not_claimed_until_resumed
/// [`queue_stats_counts_every_queue_by_state`]: crate::testing::conformance::queue_stats_counts_every_queue_by_state
/// [`retry_job_makes_a_finished_job_available_now_with_another_attempt`]: crate::testing::conformance::retry_job_makes_a_finished_job_available_now_with_another_attempt
/// [`retry_job_of_a_pending_job_runs_it_now`]: crate::testing::conformance::retry_job_of_a_pending_job_runs_it_now
/// [`delete_job_removes_a_pending_or_finished_job`]: crate::testing::conformance::delete_job_removes_a_pending_or_finished_job
/// [`update_job_changes_a_pending_job`]: crate::testing::conformance::update_job_changes_a_pending_job
/// [`verbs_by_hand_refuse_a_job_in_the_wrong_state`]: crate::testing::conformance::verbs_by_hand_refuse_a_job_in_the_wrong_state
/// [`verbs_by_hand_on_an_unknown_job_are_not_found`]: crate::testing::conformance::verbs_by_hand_on_an_unknown_job_are_not_found
/// [`bulk_verbs_act_on_up_to_limit_selected_jobs`]: crate::testing::conformance::bulk_verbs_act_on_up_to_limit_selected_jobs
/// [`delete_jobs_finished_before_a_time_keeps_the_rest`]: crate::testing::conformance::delete_jobs_finished_before_a_time_keeps_the_rest
/// [`tags_and_metadata_are_stored_and_a_tag_selects`]: crate::testing::conformance::tags_and_metadata_are_stored_and_a_tag_selects
/// [`complete_with_output_keeps_the_output`]: crate::testing::conformance::complete_with_output_keeps_the_output
/// [`the_error_history_keeps_the_latest_failed_attempts`]: crate::testing::conformance::the_error_history_keeps_the_latest_failed_attempts
/// [`claims_record_when_attempts_started`]: crate::testing::conformance::claims_record_when_attempts_started
/// [`a_unique_period_blocks_the_key_after_the_holder_finished`]: crate::testing::conformance::a_unique_period_blocks_the_key_after_the_holder_finished
/// [`unique_states_choose_which_finished_jobs_block`]: crate::testing::conformance::unique_states_choose_which_finished_jobs_block
/// [`take_lock_gives_a_lock_to_one_holder_until_it_expires`]: crate::testing::conformance::take_lock_gives_a_lock_to_one_holder_until_it_expires
/// [`update_jobs_changes_the_pending_jobs_a_filter_selects`]: crate::testing::conformance::update_jobs_changes_the_pending_jobs_a_filter_selects
/// [`concurrent_enqueues_of_a_period_key_insert_once`]: crate::testing::conformance::concurrent_enqueues_of_a_period_key_insert_once
/// [`a_retry_that_would_share_a_live_unique_key_is_a_conflict`]: crate::testing::conformance::a_retry_that_would_share_a_live_unique_key_is_a_conflict
/// [`concurrent_takers_of_a_free_lock_one_wins`]: crate::testing::conformance::concurrent_takers_of_a_free_lock_one_wins
/// [`pausing_an_unknown_queue_is_not_found`]: crate::testing::conformance::pausing_an_unknown_queue_is_not_found
/// [`upsert_schedule_inserts_then_updates_by_name`]: crate::testing::conformance::upsert_schedule_inserts_then_updates_by_name
/// [`upsert_schedule_keeps_the_slot_and_the_pause_when_the_spec_is_unchanged`]: crate::testing::conformance::upsert_schedule_keeps_the_slot_and_the_pause_when_the_spec_is_unchanged
/// [`due_schedules_returns_enabled_schedules_due_at_now`]: crate::testing::conformance::due_schedules_returns_enabled_schedules_due_at_now
/// [`fire_schedule_inserts_the_jobs_and_advances_the_slot`]: crate::testing::conformance::fire_schedule_inserts_the_jobs_and_advances_the_slot
/// [`fire_schedule_from_a_stale_slot_is_a_conflict_and_inserts_nothing`]: crate::testing::conformance::fire_schedule_from_a_stale_slot_is_a_conflict_and_inserts_nothing
/// [`concurrent_fires_of_one_slot_insert_once`]: crate::testing::conformance::concurrent_fires_of_one_slot_insert_once
/// [`pause_resume_and_remove_a_schedule`]: crate::testing::conformance::pause_resume_and_remove_a_schedule
/// [`the_store_uses_only_the_time_it_is_given`]: crate::testing::conformance::the_store_uses_only_the_time_it_is_given
/// [`timestamps_round_trip_exactly`]: crate::testing::conformance::timestamps_round_trip_exactly
/// [`enqueue_stores_the_job_as_given`]: crate::testing::conformance::enqueue_stores_the_job_as_given
/// [`enqueue_of_a_future_job_is_scheduled_until_due`]: crate::testing::conformance::enqueue_of_a_future_job_is_scheduled_until_due
/// [`enqueue_with_an_active_unique_key_returns_the_existing_job`]: crate::testing::conformance::enqueue_with_an_active_unique_key_returns_the_existing_job
/// [`enqueue_with_a_finished_unique_key_inserts_a_new_job`]: crate::testing::conformance::enqueue_with_a_finished_unique_key_inserts_a_new_job
/// [`concurrent_enqueues_of_one_unique_key_insert_once`]: crate::testing::conformance::concurrent_enqueues_of_one_unique_key_insert_once
/// [`enqueue_of_an_existing_id_is_a_conflict`]: crate::testing::conformance::enqueue_of_an_existing_id_is_a_conflict
/// [`enqueue_many_is_atomic`]: crate::testing::conformance::enqueue_many_is_atomic
/// [`enqueue_many_dedupes_unique_keys_within_the_batch`]: crate::testing::conformance::enqueue_many_dedupes_unique_keys_within_the_batch
/// [`claim_only_takes_the_given_queues`]: crate::testing::conformance::claim_only_takes_the_given_queues
/// [`claim_returns_at_most_limit_jobs`]: crate::testing::conformance::claim_returns_at_most_limit_jobs
/// [`claim_orders_by_priority_then_run_at_then_id`]: crate::testing::conformance::claim_orders_by_priority_then_run_at_then_id
/// [`claim_never_returns_a_job_before_its_run_at`]: crate::testing::conformance::claim_never_returns_a_job_before_its_run_at
/// [`claim_never_returns_a_leased_job`]: crate::testing::conformance::claim_never_returns_a_leased_job
/// [`claim_marks_jobs_running_under_a_lease`]: crate::testing::conformance::claim_marks_jobs_running_under_a_lease
/// [`claim_takes_an_expired_lease_with_the_next_attempt`]: crate::testing::conformance::claim_takes_an_expired_lease_with_the_next_attempt
/// [`claim_fails_an_expired_lease_on_the_last_attempt`]: crate::testing::conformance::claim_fails_an_expired_lease_on_the_last_attempt
/// [`concurrent_claims_partition_the_jobs`]: crate::testing::conformance::concurrent_claims_partition_the_jobs
/// [`heartbeat_reports_a_stale_lease_as_lost`]: crate::testing::conformance::heartbeat_reports_a_stale_lease_as_lost
/// [`complete_rejects_a_stale_lease`]: crate::testing::conformance::complete_rejects_a_stale_lease
/// [`retry_rejects_a_stale_lease`]: crate::testing::conformance::retry_rejects_a_stale_lease
/// [`fail_rejects_a_stale_lease`]: crate::testing::conformance::fail_rejects_a_stale_lease
/// [`release_rejects_a_stale_lease`]: crate::testing::conformance::release_rejects_a_stale_lease
/// [`a_released_lease_is_never_valid_again`]: crate::testing::conformance::a_released_lease_is_never_valid_again
/// [`writes_to_an_unknown_job_are_not_found`]: crate::testing::conformance::writes_to_an_unknown_job_are_not_found
/// [`heartbeat_extends_a_live_lease`]: crate::testing::conformance::heartbeat_extends_a_live_lease
/// [`complete_ends_the_job_completed`]: crate::testing::conformance::complete_ends_the_job_completed
/// [`retry_makes_the_job_claimable_at_the_given_time_not_before`]: crate::testing::conformance::retry_makes_the_job_claimable_at_the_given_time_not_before
/// [`retry_on_the_last_attempt_ends_the_job_failed`]: crate::testing::conformance::retry_on_the_last_attempt_ends_the_job_failed
/// [`fail_ends_the_job_failed_with_the_error`]: crate::testing::conformance::fail_ends_the_job_failed_with_the_error
/// [`release_gives_the_attempt_back`]: crate::testing::conformance::release_gives_the_attempt_back
/// [`cancel_of_a_pending_job_ends_it_cancelled`]: crate::testing::conformance::cancel_of_a_pending_job_ends_it_cancelled
/// [`cancel_of_a_running_job_is_seen_by_its_heartbeat`]: crate::testing::conformance::cancel_of_a_running_job_is_seen_by_its_heartbeat
/// [`cancel_of_a_finished_job_changes_nothing`]: crate::testing::conformance::cancel_of_a_finished_job_changes_nothing
/// [`list_and_count_agree_with_what_happened`]: crate::testing::conformance::list_and_count_agree_with_what_happened
/// [`list_pages_by_id_after_a_cursor_in_either_order`]: crate::testing::conformance::list_pages_by_id_after_a_cursor_in_either_order
/// [`next_due_is_the_earliest_run_at_or_lease_expiry`]: crate::testing::conformance::next_due_is_the_earliest_run_at_or_lease_expiry
/// [`prune_removes_only_terminal_jobs_finished_before_the_time`]: crate::testing::conformance::prune_removes_only_terminal_jobs_finished_before_the_time
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// The clock its callers should read `now` from, when the store has a better one
    /// than the host's: leases are compared with the callers' `now`, so processes on
    /// several machines must agree on the time (PostgreSQL offers a clock that follows
    /// its server's). [`Queue::new`](crate::Queue::new) uses it; `None` (the default)
    /// means the host's [`SystemClock`](crate::SystemClock).
    fn clock(&self) -> Option<Arc<dyn Clock>> {
        self.delegate().and_then(JobStore::clock)
    }

    /// The store a wrapper forwards to: every verb it does not implement itself is
    /// passed on to it. `None` (the default) for a store of its own, whose verbs that
    /// it does not implement answer [`StoreError::Unsupported`].
    ///
    /// A test double or an instrumenting layer returns `Some(&self.inner)` and
    /// implements only the verbs it changes; a verb added to the trait later passes
    /// through it unchanged.
    fn delegate(&self) -> Option<&dyn JobStore> {
        None
    }

    /// Stores `job`, or returns the non-terminal job that holds its unique key.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when a job with this id exists.
    async fn enqueue(&self, job: NewJob, now: OffsetDateTime) -> Result<Enqueued, StoreError> {
        delegate!(self, enqueue(job, now))
    }

    /// Stores every job of `jobs` in one transaction, answering each in order.
    ///
    /// # Errors
    ///
    /// As [`JobStore::enqueue`]; on any error nothing is stored.
    async fn enqueue_many(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        delegate!(self, enqueue_many(jobs, now))
    }

    /// Stores every job of `jobs` in one transaction, as [`JobStore::enqueue_many`]
    /// does, where jobs may depend on others ([`NewJob::depends_on`]): stored jobs or
    /// jobs of the call. A job with a dependency that has not completed is stored
    /// `Waiting`. The core sends every job with dependencies here, so a store written
    /// before dependencies refuses them ([`StoreError::Unsupported`], the default)
    /// rather than run them early.
    ///
    /// # Errors
    ///
    /// As [`JobStore::enqueue_many`]; [`StoreError::InvalidDependency`] for a
    /// dependency on an unknown id, on the job itself or in a cycle among the jobs.
    /// Nothing is stored then.
    async fn enqueue_with_dependencies(
        &self,
        jobs: Vec<NewJob>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        delegate!(self, enqueue_with_dependencies(jobs, now))
    }

    /// Leases up to `request.limit` due jobs of `request.queues` to `request.worker`
    /// until `request.lease_until`.
    ///
    /// Also ends `Failed` every expired lease in those queues that has no attempts left.
    async fn claim(
        &self,
        request: ClaimRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        delegate!(self, claim(request, now))
    }

    /// Extends each live lease of `leases` to `lease_until`, answering each in order.
    async fn heartbeat(
        &self,
        leases: &[Lease],
        lease_until: OffsetDateTime,
    ) -> Result<Vec<HeartbeatStatus>, StoreError> {
        delegate!(self, heartbeat(leases, lease_until))
    }

    /// Ends the leased job `Completed` at `now`.
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`] for a stale lease, [`StoreError::NotFound`] for an
    /// unknown job.
    async fn complete(&self, lease: Lease, now: OffsetDateTime) -> Result<(), StoreError> {
        delegate!(self, complete(lease, now))
    }

    /// Records `error` and makes the leased job pending at `run_at`; on its last
    /// attempt, ends it `Failed` instead. Returns the job's new state.
    ///
    /// # Errors
    ///
    /// As [`JobStore::complete`].
    async fn retry(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<JobState, StoreError> {
        delegate!(self, retry(lease, run_at, error, now))
    }

    /// Ends the leased job `Failed` with `error`, whatever attempts remain.
    ///
    /// # Errors
    ///
    /// As [`JobStore::complete`].
    async fn fail(&self, lease: Lease, error: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        delegate!(self, fail(lease, error, now))
    }

    /// Gives the leased job back, pending at `run_at`, without spending its attempt
    /// (shutdown, snooze).
    ///
    /// # Errors
    ///
    /// As [`JobStore::complete`].
    async fn release(
        &self,
        lease: Lease,
        run_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, release(lease, run_at, now))
    }

    /// Cancels the job: a pending or running one ends `Cancelled`, a terminal one is
    /// left as it is. Returns the job as it is after the call.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown job.
    async fn cancel(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        delegate!(self, cancel(id, now))
    }

    /// The job with this id, with its state as of `now`.
    async fn get(&self, id: JobId, now: OffsetDateTime) -> Result<Option<JobRecord>, StoreError> {
        delegate!(self, get(id, now))
    }

    /// The jobs `filter` selects, ordered by id, with states as of `now`.
    async fn list(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<JobRecord>, StoreError> {
        delegate!(self, list(filter, now))
    }

    /// How many jobs `filter` selects (ignoring its limit), with states as of `now`.
    async fn count(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        delegate!(self, count(filter, now))
    }

    /// The earliest time at which a claim of `queues` could return a job: the
    /// earliest pending `run_at` or running `lease_until` (possibly before `now`), or
    /// `None` when the queues hold neither.
    async fn next_due(&self, queues: &[String]) -> Result<Option<OffsetDateTime>, StoreError> {
        delegate!(self, next_due(queues))
    }

    /// Deletes up to `limit` terminal jobs whose `finished_at` is before `before`,
    /// oldest first (by `finished_at`, then id); returns how many it deleted.
    async fn prune(&self, before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        delegate!(self, prune(before, limit))
    }

    /// Inserts or replaces the schedule named `schedule.name`; returns it as stored.
    ///
    /// `next_fire_at` is the first slot after `now` of `schedule.spec`; it is stored for
    /// a new schedule or a changed spec and ignored otherwise.
    async fn upsert_schedule(
        &self,
        schedule: NewSchedule,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        delegate!(self, upsert_schedule(schedule, next_fire_at, now))
    }

    /// The schedule named `name`.
    async fn get_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>, StoreError> {
        delegate!(self, get_schedule(name))
    }

    /// Every schedule, ordered by name.
    async fn list_schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        delegate!(self, list_schedules())
    }

    /// Up to `limit` enabled schedules with `next_fire_at <= now`, earliest first.
    async fn due_schedules(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<ScheduleRecord>, StoreError> {
        delegate!(self, due_schedules(now, limit))
    }

    /// If the schedule's `next_fire_at` is `firing.slot`: inserts `firing.jobs`
    /// (deduped by unique key), sets `next_fire_at` to `firing.next` and
    /// `last_fired_at` to `now`, atomically; answers each job in order.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when the slot moved (another scheduler fired it, or
    /// the schedule changed) or the schedule is paused;
    /// [`StoreError::ScheduleNotFound`] for an unknown name. Nothing is stored then.
    async fn fire_schedule(
        &self,
        firing: Firing<'_>,
        now: OffsetDateTime,
    ) -> Result<Vec<Enqueued>, StoreError> {
        delegate!(self, fire_schedule(firing, now))
    }

    /// Stops the schedule firing; returns it as stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::ScheduleNotFound`] for an unknown name.
    async fn pause_schedule(
        &self,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        delegate!(self, pause_schedule(name, now))
    }

    /// Lets a paused schedule fire again from `next_fire_at` (slots during the pause
    /// are not fired); returns it as stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::ScheduleNotFound`] for an unknown name.
    async fn resume_schedule(
        &self,
        name: &str,
        next_fire_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<ScheduleRecord, StoreError> {
        delegate!(self, resume_schedule(name, next_fire_at, now))
    }

    /// Deletes the schedule (its jobs stay); `false` when no schedule had the name.
    async fn remove_schedule(&self, name: &str) -> Result<bool, StoreError> {
        delegate!(self, remove_schedule(name))
    }

    /// Stops every claim from `queue` until [`JobStore::resume_queue`]: its pending
    /// jobs stay pending, its running jobs run on. Pausing a paused queue changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`StoreError::QueueNotFound`] when no job of `queue` is stored and it was never
    /// paused (a typo, most likely); nothing is stored then.
    async fn pause_queue(&self, queue: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        delegate!(self, pause_queue(queue, now))
    }

    /// Lets claims take `queue`'s jobs again. Resuming a queue that is not paused
    /// changes nothing.
    ///
    /// # Errors
    ///
    /// As [`JobStore::pause_queue`].
    async fn resume_queue(&self, queue: &str, now: OffsetDateTime) -> Result<(), StoreError> {
        delegate!(self, resume_queue(queue, now))
    }

    /// Stores `limit` for `scope`, replacing the one it had (the starts it counted
    /// are kept).
    ///
    /// # Errors
    ///
    /// [`StoreError::QueueNotFound`] for a queue scope when no job of the queue is
    /// stored and it was never paused; nothing is stored then.
    async fn set_limit(
        &self,
        scope: &LimitScope,
        limit: Limit,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, set_limit(scope, limit, now))
    }

    /// Removes the limit of `scope` and the starts it counted.
    ///
    /// # Errors
    ///
    /// [`StoreError::LimitNotFound`] when `scope` has no limit; nothing changes then.
    async fn remove_limit(
        &self,
        scope: &LimitScope,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, remove_limit(scope, now))
    }

    /// Every stored limit, ordered by scope (keys before queues) then name.
    async fn limits(&self) -> Result<Vec<(LimitScope, Limit)>, StoreError> {
        delegate!(self, limits())
    }

    /// How many jobs each queue holds in each state as of `now`, its oldest pending
    /// `run_at`, whether it is paused and its limit: every queue with a stored job, a
    /// pause record or a limit, ordered by name.
    async fn queue_stats(&self, now: OffsetDateTime) -> Result<Vec<QueueStats>, StoreError> {
        delegate!(self, queue_stats(now))
    }

    /// Ends the leased job `Completed` at `now`, keeping `output` with it.
    ///
    /// # Errors
    ///
    /// As [`JobStore::complete`].
    async fn complete_with_output(
        &self,
        lease: Lease,
        output: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, complete_with_output(lease, output, now))
    }

    /// Runs the job again now: a pending or finished job becomes `Available` with
    /// `run_at` = `now`, no lease and no `finished_at`; a job that spent all its
    /// attempts gets one more (`max_attempts` = `attempt` + 1). Its error history
    /// stays. Returns the job as it is after the call.
    ///
    /// # Errors
    ///
    /// [`StoreError::WrongState`] for a running job (cancel it first),
    /// [`StoreError::NotFound`] for an unknown one, [`StoreError::Conflict`] when a
    /// pending or running job holds its unique key; nothing changes then.
    async fn retry_job(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        delegate!(self, retry_job(id, now))
    }

    /// Deletes a pending or finished job; returns it as it was.
    ///
    /// # Errors
    ///
    /// [`StoreError::WrongState`] for a running job (cancel it first),
    /// [`StoreError::NotFound`] for an unknown one; nothing changes then.
    async fn delete_job(&self, id: JobId, now: OffsetDateTime) -> Result<JobRecord, StoreError> {
        delegate!(self, delete_job(id, now))
    }

    /// Changes the run time, priority or queue of a pending job; returns it as it is
    /// after the call.
    ///
    /// # Errors
    ///
    /// [`StoreError::WrongState`] for a job that is not pending,
    /// [`StoreError::NotFound`] for an unknown one; nothing changes then.
    async fn update_job(
        &self,
        id: JobId,
        update: &JobUpdate,
        now: OffsetDateTime,
    ) -> Result<JobRecord, StoreError> {
        delegate!(self, update_job(id, update, now))
    }

    /// [`JobStore::retry_job`] for the jobs `filter` selects that are not running (at
    /// most its limit, lowest ids first, or by finish time with `finished_before`); returns how many it retried.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] when it would give a unique key to two pending or
    /// running jobs; nothing changes then.
    async fn retry_jobs(&self, filter: &JobFilter, now: OffsetDateTime) -> Result<u64, StoreError> {
        delegate!(self, retry_jobs(filter, now))
    }

    /// [`JobStore::update_job`] for the pending jobs `filter` selects (at most its
    /// limit, lowest ids first); returns how many it changed.
    async fn update_jobs(
        &self,
        filter: &JobFilter,
        update: &JobUpdate,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        delegate!(self, update_jobs(filter, update, now))
    }

    /// [`JobStore::cancel`] for the pending and running jobs `filter` selects (at most
    /// its limit, lowest ids first); returns how many it cancelled.
    async fn cancel_jobs(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        delegate!(self, cancel_jobs(filter, now))
    }

    /// [`JobStore::delete_job`] for the jobs `filter` selects that are not running (at
    /// most its limit, lowest ids first, or by finish time with `finished_before`); returns how many it deleted.
    async fn delete_jobs(
        &self,
        filter: &JobFilter,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        delegate!(self, delete_jobs(filter, now))
    }

    /// Takes the lock `name` for `holder` until `until`, if it is free (never taken, or
    /// held until `now` or earlier) or `holder` holds it already (a renewal); answers
    /// whether `holder` holds it now. Maintenance that one process should run at a
    /// time (retention) runs under such a lock.
    async fn take_lock(
        &self,
        name: &str,
        holder: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        delegate!(self, take_lock(name, holder, until, now))
    }
}

#[cfg(test)]
mod tests;
