//! [`Payload`]: a claimed job's input, as the JSON text its store holds.

use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A job's input as a [`JobRecord`](super::JobRecord) carries it: the JSON text the
/// store holds, always valid JSON.
///
/// A handler's typed job is read straight from the text
/// ([`Payload::deserialize`]), with no `serde_json::Value` built on the way, and a
/// clone shares the text: a store that keeps payloads in memory hands a claimed job
/// its payload without copying it. Read it as a `Value` with [`Payload::to_value`]
/// or as text with [`Payload::as_str`] (or `Display`).
///
/// Two payloads are equal when their JSON values are: text given to
/// [`Payload::from_json`] may space or order a value differently from serde_json, so
/// equality parses when the texts differ. A payload also equals the `Value` it was
/// made from.
///
/// ```
/// use leasehold::Payload;
/// use serde_json::json;
///
/// let payload = Payload::from(json!({ "user": 7 }));
/// assert_eq!(payload.as_str(), r#"{"user":7}"#);
/// assert_eq!(payload, json!({ "user": 7 }));
/// assert_eq!(payload, Payload::from_json(r#"{ "user": 7 }"#).unwrap());
///
/// #[derive(serde::Deserialize)]
/// struct Welcome {
///     user: u32,
/// }
/// assert_eq!(payload.deserialize::<Welcome>().unwrap().user, 7);
/// assert!(Payload::from_json("{ not json").is_err());
/// ```
#[derive(Clone)]
pub struct Payload(Arc<str>);

impl Payload {
    /// The payload whose JSON text is `text`, or serde_json's error when `text` is not
    /// JSON (or nests deeper than serde_json reads). The text is kept as given.
    ///
    /// # Errors
    ///
    /// serde_json's, for text that is not one JSON value.
    pub fn from_json(text: impl Into<Arc<str>>) -> Result<Self, serde_json::Error> {
        let text = text.into();
        serde_json::from_str::<IgnoredAny>(&text)?;
        Ok(Self(text))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The payload read as `T`, as a handler of job type `T` gets it.
    ///
    /// # Errors
    ///
    /// serde_json's, when the JSON does not deserialize as `T`.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.0)
    }

    /// The payload as a `serde_json::Value`.
    ///
    /// # Errors
    ///
    /// serde_json's, only for a payload made from a `Value` nested deeper than
    /// serde_json reads back (128 levels).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        self.deserialize()
    }
}

impl From<&Value> for Payload {
    fn from(value: &Value) -> Self {
        // `to_string`, not `Display`, which writes each token through a formatter.
        let text = serde_json::to_string(value).expect("a JSON value serializes");
        Self(text.into())
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Self::from(&value)
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({})", self.0)
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
            || matches!(
                (self.to_value(), other.to_value()),
                (Ok(this), Ok(that)) if this == that
            )
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        self.to_value().is_ok_and(|value| value == *other)
    }
}

impl PartialEq<Payload> for Value {
    fn eq(&self, other: &Payload) -> bool {
        other == self
    }
}

/// Serialized as the JSON value it holds (not as a string of JSON).
impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value()
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_payload_keeps_the_text_it_was_given_and_equals_its_value_however_spaced() {
        let spaced = Payload::from_json(r#"{"b": [1, 2], "a": null}"#).unwrap();
        assert_eq!(spaced.as_str(), r#"{"b": [1, 2], "a": null}"#);
        assert_eq!(spaced, json!({ "a": null, "b": [1, 2] }));
        assert_eq!(json!({ "a": null, "b": [1, 2] }), spaced);
        assert_eq!(spaced, Payload::from(json!({ "a": null, "b": [1, 2] })));
        assert_ne!(spaced, json!({ "a": null, "b": [2, 1] }));
        assert_ne!(spaced, Payload::from(json!({ "a": 0, "b": [1, 2] })));
    }

    #[test]
    fn text_that_is_not_one_json_value_is_refused() {
        for bad in ["", "{", "not json", "{} {}", "[1,]"] {
            assert!(Payload::from_json(bad).is_err(), "{bad:?} was taken");
        }
    }

    #[test]
    fn a_payload_serializes_as_its_value_and_back() {
        let payload = Payload::from(json!({ "to": "ada@example.com", "n": 3 }));
        let text = serde_json::to_string(&json!({ "payload": payload })).unwrap();
        assert_eq!(text, r#"{"payload":{"n":3,"to":"ada@example.com"}}"#);
        let back: Payload =
            serde_json::from_value(json!({ "n": 3, "to": "ada@example.com" })).unwrap();
        assert_eq!(back, payload);
        assert_eq!(back.as_str(), payload.as_str());
    }

    #[test]
    fn a_payload_too_deep_to_read_back_says_so_instead_of_panicking() {
        let mut deep = json!(1);
        for _ in 0..200 {
            deep = json!([deep]);
        }
        let payload = Payload::from(&deep);
        assert!(payload.to_value().is_err());
        assert_ne!(payload, deep);
        assert!(serde_json::to_string(&payload).is_err());
    }
}
