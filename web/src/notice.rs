//! [`Notice`]: what the last action did, carried in the query string of the page an
//! action redirects to (post/redirect/get), so a reload repeats nothing.
//!
//! A notice is typed: its sentence is fixed here and only the ids, counts and names
//! come from the query (escaped like everything else), so a crafted link cannot make
//! the dashboard say something of its choosing.

use leasehold::JobId;
use maud::{Markup, html};
use serde::Deserialize;

use crate::actions::JobVerb;
use crate::view::Mount;

/// What an action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// One job was retried, cancelled or deleted.
    Job { verb: JobVerb, id: JobId },
    /// The jobs a filter selected were.
    Jobs { verb: JobVerb, count: u64 },
    /// A queue was paused or resumed.
    Queue { paused: bool, queue: String },
    /// A schedule was paused or resumed.
    Schedule { paused: bool, name: String },
    /// A schedule's job was enqueued now.
    Triggered { name: String, job: JobId },
}

/// A notice as the query string carries it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NoticeQuery {
    done: Option<String>,
    job: Option<String>,
    n: Option<String>,
    queue: Option<String>,
    schedule: Option<String>,
}

impl Notice {
    /// The notice in `query`; `None` when there is none or it does not parse (a
    /// notice is a courtesy, never worth an error page).
    pub(crate) fn from_query(query: NoticeQuery) -> Option<Self> {
        let done = query.done?;
        let job = query.job.and_then(|id| id.parse::<JobId>().ok());
        match done.as_str() {
            "paused" | "resumed" => {
                let paused = done == "paused";
                match (query.queue, query.schedule) {
                    (Some(queue), None) => Some(Notice::Queue { paused, queue }),
                    (None, Some(name)) => Some(Notice::Schedule { paused, name }),
                    _ => None,
                }
            }
            "triggered" => Some(Notice::Triggered {
                name: query.schedule?,
                job: job?,
            }),
            verb => {
                let verb = JobVerb::from_past(verb)?;
                match (job, query.n.and_then(|n| n.parse().ok())) {
                    (Some(id), None) => Some(Notice::Job { verb, id }),
                    (None, Some(count)) => Some(Notice::Jobs { verb, count }),
                    _ => None,
                }
            }
        }
    }

    /// The query-string pairs that carry the notice.
    pub(crate) fn to_query(&self) -> Vec<(&'static str, String)> {
        let paused = |paused: bool| if paused { "paused" } else { "resumed" };
        match self {
            Notice::Job { verb, id } => vec![("done", verb.past().into()), ("job", id.to_string())],
            Notice::Jobs { verb, count } => {
                vec![("done", verb.past().into()), ("n", count.to_string())]
            }
            Notice::Queue { paused: p, queue } => {
                vec![("done", paused(*p).into()), ("queue", queue.clone())]
            }
            Notice::Schedule { paused: p, name } => {
                vec![("done", paused(*p).into()), ("schedule", name.clone())]
            }
            Notice::Triggered { name, job } => vec![
                ("done", "triggered".into()),
                ("schedule", name.clone()),
                ("job", job.to_string()),
            ],
        }
    }

    /// The sentence, with links to what it names.
    pub(crate) fn render(&self, mount: &Mount) -> Markup {
        let job_link = |id: &JobId| html! { a href=(mount.href(&format!("/jobs/{id}"))) { (id) } };
        let state = |paused: bool| if paused { "Paused" } else { "Resumed" };
        match self {
            Notice::Job {
                verb: JobVerb::Delete,
                id,
            } => html! { "Deleted job " code { (id) } },
            Notice::Job { verb, id } => html! { (verb.past_title()) " job " (job_link(id)) },
            Notice::Jobs { verb, count } => {
                let noun = if *count == 1 { "job" } else { "jobs" };
                html! { (verb.past_title()) " " (count) " " (noun) }
            }
            Notice::Queue { paused, queue } => {
                html! { (state(*paused)) " queue " strong { (queue) } }
            }
            Notice::Schedule { paused, name } => {
                html! { (state(*paused)) " schedule " strong { (name) } }
            }
            Notice::Triggered { name, job } => {
                html! { "Triggered schedule " strong { (name) } ": enqueued job " (job_link(job)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(notice: &Notice) -> Option<Notice> {
        let query = serde_urlencoded::to_string(notice.to_query()).unwrap();
        Notice::from_query(serde_urlencoded::from_str(&query).unwrap())
    }

    #[test]
    fn every_notice_survives_its_query_string() {
        let id = JobId::MAX;
        let notices = [
            Notice::Job {
                verb: JobVerb::Retry,
                id,
            },
            Notice::Job {
                verb: JobVerb::Delete,
                id,
            },
            Notice::Jobs {
                verb: JobVerb::Cancel,
                count: 12,
            },
            Notice::Queue {
                paused: true,
                queue: "mail & more".into(),
            },
            Notice::Schedule {
                paused: false,
                name: "nightly".into(),
            },
            Notice::Triggered {
                name: "nightly".into(),
                job: id,
            },
        ];

        for notice in notices {
            assert_eq!(round_trip(&notice), Some(notice));
        }
    }

    #[test]
    fn a_notice_that_does_not_parse_is_no_notice() {
        let query = serde_urlencoded::from_str("done=exploded&n=3").unwrap();

        assert_eq!(Notice::from_query(query), None);
    }
}
