//! [`FilterForm`]: the jobs filter as a form and a query string carry it.

use leasehold::{JobFilter, JobState};
use serde::Deserialize;

use crate::error::PageError;
use crate::view::Mount;

/// The jobs filter's fields; an empty field selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct FilterForm {
    #[serde(default)]
    pub(crate) queue: Option<String>,
    #[serde(default)]
    pub(crate) state: Option<String>,
    #[serde(default)]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) tag: Option<String>,
}

impl FilterForm {
    /// The form's fields by name, the empty ones left out.
    pub(crate) fn fields(&self) -> Vec<(&'static str, &str)> {
        [
            ("queue", &self.queue),
            ("state", &self.state),
            ("kind", &self.kind),
            ("tag", &self.tag),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, given(value)?)))
        .collect()
    }

    /// The state asked for.
    ///
    /// # Errors
    ///
    /// [`PageError::BadRequest`] for a name that is not a state.
    pub(crate) fn job_state(&self) -> Result<Option<JobState>, PageError> {
        given(&self.state)
            .map(|name| {
                name.parse::<JobState>()
                    .map_err(|e| PageError::BadRequest(e.to_string()))
            })
            .transpose()
    }

    /// The store filter (no limit, no cursor).
    ///
    /// # Errors
    ///
    /// As [`FilterForm::job_state`].
    pub(crate) fn to_filter(&self) -> Result<JobFilter, PageError> {
        let mut filter = JobFilter::all();
        if let Some(queue) = given(&self.queue) {
            filter = filter.queue(queue);
        }
        if let Some(state) = self.job_state()? {
            filter = filter.state(state);
        }
        if let Some(kind) = given(&self.kind) {
            filter = filter.kind(kind);
        }
        if let Some(tag) = given(&self.tag) {
            filter = filter.tag(tag);
        }
        Ok(filter)
    }

    /// The link to `path` with this filter and `extra` pairs in its query string.
    pub(crate) fn href(&self, mount: &Mount, path: &str, extra: &[(&str, &str)]) -> String {
        let mut pairs = self.fields();
        pairs.extend_from_slice(extra);
        with_query(mount.href(path), &pairs)
    }
}

/// `url` with `pairs` as its query string (none when empty).
pub(crate) fn with_query<K: AsRef<str>, V: AsRef<str>>(url: String, pairs: &[(K, V)]) -> String {
    if pairs.is_empty() {
        return url;
    }
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    // Encoding string pairs cannot fail.
    match serde_urlencoded::to_string(pairs) {
        Ok(query) => format!("{url}?{query}"),
        Err(_) => url,
    }
}

/// A field's value, unless it was left empty.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(query: &str) -> FilterForm {
        serde_urlencoded::from_str(query).unwrap()
    }

    #[test]
    fn empty_fields_select_everything() {
        let form = form("queue=&state=&kind=&tag=");

        assert_eq!(form.to_filter().unwrap(), JobFilter::all());
        assert!(form.fields().is_empty());
    }

    #[test]
    fn the_fields_become_the_store_filter() {
        let form = form("queue=mail&state=failed&kind=send&tag=vip");

        let expected = JobFilter::all()
            .queue("mail")
            .state(JobState::Failed)
            .kind("send")
            .tag("vip");
        assert_eq!(form.to_filter().unwrap(), expected);
    }

    #[test]
    fn an_unknown_state_is_a_bad_request() {
        assert!(matches!(
            form("state=sleeping").to_filter(),
            Err(PageError::BadRequest(_))
        ));
    }

    #[test]
    fn links_carry_the_filter_encoded() {
        let mount = Mount::of(&"/a/jobs".parse().unwrap(), &"/jobs".parse().unwrap());

        let href = form("queue=a b&tag=x&y").href(&mount, "/jobs", &[("after", "1")]);

        assert_eq!(href, "/a/jobs?queue=a+b&tag=x&after=1");
    }
}
