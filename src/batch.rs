//! Batches: a set of jobs with one callback job that runs once every member has
//! finished, built on dependencies and tags, so every store that keeps dependencies
//! keeps batches with no verb of its own.
//!
//! A batch's id is its callback's id, chosen when the batch opens. Each member is
//! stored at once, tagged with the batch ([`Batch::tag`]), so an open batch is durable:
//! another process (or this one after a restart) reopens it by id
//! ([`Queue::open_batch`]) and adds to it or seals it. [`Batch::seal`] stores the
//! callback depending on every member, whatever becomes of them
//! ([`DependencyFailure::Ignore`]); the store releases it in the transaction that ends
//! the last member, so two members ending at once in two processes release it once,
//! and a crash in between loses nothing. The callback's handler reads the counts of
//! completed, failed and cancelled members with [`Batch::progress`].

use crate::DependencyFailure;
use crate::error::{Error, StoreError};
use crate::job::{Job, JobId, JobRecord, JobState};
use crate::queue::{EnqueueOptions, Queue};
use crate::store::{Enqueued, JobFilter};

/// The prefix of the tag a batch puts on its members: the batch's id follows.
pub const BATCH_TAG_PREFIX: &str = "leasehold:batch:";

/// How many member ids [`Batch::seal`] reads per page.
const PAGE: usize = 1_000;

/// A batch of jobs with one callback: see [`Queue::batch`] and the README's
/// "Workflows".
///
/// ```
/// # use std::sync::Arc;
/// # use leasehold::{EnqueueOptions, Job, Queue};
/// # #[derive(serde::Serialize, serde::Deserialize)]
/// # struct CheckPage { url: String }
/// # impl Job for CheckPage { const KIND: &'static str = "check_page"; }
/// # #[derive(serde::Serialize, serde::Deserialize)]
/// # struct SendDigest;
/// # impl Job for SendDigest { const KIND: &'static str = "send_digest"; }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), leasehold::Error> {
/// # let queue = Queue::new(Arc::new(leasehold_memory::MemoryStore::new()));
/// let batch = queue.batch();
/// for url in ["https://a.example", "https://b.example"] {
///     batch.add(&CheckPage { url: url.into() }, EnqueueOptions::new()).await?;
/// }
/// // Runs once both checks have ended, completed or not.
/// let callback = batch.seal(&SendDigest, EnqueueOptions::new()).await?;
/// assert_eq!(callback.job.id, batch.id());
/// assert_eq!(batch.progress().await?.members, 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Batch {
    queue: Queue,
    id: JobId,
}

/// How far a batch has come: its members by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchProgress {
    /// Every member stored.
    pub members: u64,
    /// Members that completed.
    pub completed: u64,
    /// Members that failed for good.
    pub failed: u64,
    /// Members that were cancelled.
    pub cancelled: u64,
    /// Whether the batch is sealed (its callback is stored).
    pub sealed: bool,
}

impl BatchProgress {
    /// Members that have ended (completed, failed or cancelled).
    pub fn finished(&self) -> u64 {
        self.completed + self.failed + self.cancelled
    }

    /// Members still to end (waiting, pending or running).
    pub fn remaining(&self) -> u64 {
        self.members.saturating_sub(self.finished())
    }
}

impl Queue {
    /// Opens a new batch. Nothing is stored until a member is added.
    pub fn batch(&self) -> Batch {
        self.open_batch(JobId::new(self.clock().now()))
    }

    /// The progress of the batch whose callback `job` is (its id is the batch's), or
    /// `None` when it is no batch's callback: only a job with dependencies can be one,
    /// so for any other job this reads nothing.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn callback_progress(&self, job: &JobRecord) -> Result<Option<BatchProgress>, Error> {
        if job.depends_on.is_empty() {
            return Ok(None);
        }
        let progress = self.open_batch(job.id).progress().await?;
        Ok((progress.members > 0).then_some(progress))
    }

    /// The batch `id` (its callback's id), to add to or seal it from another process
    /// or after a restart; a callback's handler reads its batch's counts with
    /// `queue.open_batch(ctx.id()).progress()`.
    pub fn open_batch(&self, id: JobId) -> Batch {
        Batch {
            queue: self.clone(),
            id,
        }
    }
}

impl Batch {
    /// The batch's id: its callback's id.
    pub fn id(&self) -> JobId {
        self.id
    }

    /// The tag on every member: [`BATCH_TAG_PREFIX`] and the batch's id. List them with
    /// `JobFilter::all().tag(batch.tag())`.
    pub fn tag(&self) -> String {
        format!("{BATCH_TAG_PREFIX}{}", self.id)
    }

    /// Stores `job` as a member, tagged with the batch (besides `options`' tags).
    ///
    /// # Errors
    ///
    /// [`Error::BatchSealed`] once the batch is sealed, storing nothing; otherwise as
    /// [`Queue::enqueue_with`].
    pub async fn add<J: Job>(&self, job: &J, options: EnqueueOptions) -> Result<Enqueued, Error> {
        let mut added = self.add_many([job], options).await?;
        added.pop().ok_or_else(|| {
            Error::Store(StoreError::backend(format!(
                "adding a member to batch {} answered nothing",
                self.id
            )))
        })
    }

    /// Stores every job of `jobs` as a member, all or none, each with `options` and
    /// the batch's tag.
    ///
    /// # Errors
    ///
    /// As [`Batch::add`]; nothing is stored then.
    pub async fn add_many<'j, J: Job + 'j>(
        &self,
        jobs: impl IntoIterator<Item = &'j J>,
        options: EnqueueOptions,
    ) -> Result<Vec<Enqueued>, Error> {
        if self.queue.get(self.id).await?.is_some() {
            return Err(Error::BatchSealed(self.id));
        }
        let options = options.tags([self.tag()]);
        let jobs = jobs
            .into_iter()
            .map(|job| self.queue.new_job(job, options.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        self.queue.enqueue_many_new(jobs).await
    }

    /// The ids of the batch's members, oldest first.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn members(&self) -> Result<Vec<JobId>, Error> {
        let mut ids = Vec::new();
        let mut filter = JobFilter::all().tag(self.tag()).limit(PAGE);
        loop {
            let page = self.queue.list(&filter).await?;
            ids.extend(page.iter().map(|job| job.id));
            match page.last() {
                Some(last) if page.len() == PAGE => filter = filter.after(last.id),
                _ => return Ok(ids),
            }
        }
    }

    /// Seals the batch: stores `callback` (with the batch's id, and `options`)
    /// depending on every member stored so far, so it becomes due once each has
    /// completed, failed or been cancelled (a sealed batch of members that all ended
    /// already runs it at once, and so does one with no member). Members added by
    /// another task while this one seals may land either side of the seal: add, then
    /// seal.
    ///
    /// # Errors
    ///
    /// [`Error::BatchSealed`] when the batch was sealed before (by this process or
    /// another); [`Error::UnhandledKind`] when workers built from this queue handle
    /// kinds and `J`'s is not one of them (a callback no worker would run; declare a
    /// kind a worker elsewhere handles with [`Queue::register_kinds`]); as
    /// [`Queue::enqueue_with`] otherwise. Nothing is stored then.
    pub async fn seal<J: Job>(
        &self,
        callback: &J,
        options: EnqueueOptions,
    ) -> Result<Enqueued, Error> {
        self.queue.check_handled(J::KIND)?;
        let members = self.members().await?;
        let options = options
            .depends_on(members)
            .on_dependency_failure(DependencyFailure::Ignore);
        let mut job = self.queue.new_job(callback, options)?;
        job.id = self.id;
        match self.queue.enqueue_new(job).await {
            Err(Error::Store(StoreError::Conflict(_))) => Err(Error::BatchSealed(self.id)),
            other => other,
        }
    }

    /// The batch's members by how they ended, and whether it is sealed.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn progress(&self) -> Result<BatchProgress, Error> {
        let members = JobFilter::all().tag(self.tag());
        let mut ended = [0; 3];
        for (count, state) in
            ended
                .iter_mut()
                .zip([JobState::Completed, JobState::Failed, JobState::Cancelled])
        {
            *count = self.queue.count(&members.clone().state(state)).await?;
        }
        let [completed, failed, cancelled] = ended;
        Ok(BatchProgress {
            members: self.queue.count(&members).await?,
            completed,
            failed,
            cancelled,
            sealed: self.queue.get(self.id).await?.is_some(),
        })
    }
}
