//! Typed data model of the PVE API endpoints the exporter reads, and their decoders.
//!
//! Each endpoint has a `parse_<endpoint>(&[u8])` function that takes the whole response body (the
//! `{"data": …}` envelope) and returns the typed data. Decoding is lenient about values and strict
//! only about structure (the private `lenient` module holds the field decoders):
//!
//! - invalid UTF-8 is replaced with U+FFFD before decoding, so one bad byte in a guest name does
//!   not lose the whole body;
//! - `"data": null` is an empty list or an empty object;
//! - list elements that are not objects are skipped;
//! - a field of the wrong JSON type is absent; numbers may be strings; unknown keys are ignored;
//! - a body that is not JSON, or whose `data` has the wrong shape, is a [`ModelError`].
//!
//! [`cluster`] holds the cluster-wide endpoints, [`node`] the ones under `/nodes/<node>`.

pub mod cluster;
pub(crate) mod lenient;
pub mod node;

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

pub use cluster::{
    ClusterStatus, NotBackedUpGuest, QDevice, Resource, ResourceType, StatusEntry, Version,
};
pub use lenient::number_from_text;
pub use node::{GuestConfig, GuestListEntry, GuestRef, GuestType, ReplicationJob, Subscription};

use lenient::{ObjectList, ObjectOrNull};

/// How much of a rejected body an error quotes.
const EXCERPT_BYTES: usize = 200;

/// A response body that is not the JSON the endpoint returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON: {message}; body starts with {excerpt:?}")]
pub struct ModelError {
    /// What the decoder found wrong, with line and column.
    pub message: String,
    /// The first 200 bytes of the body (invalid UTF-8 replaced), for the log.
    pub excerpt: String,
}

/// `GET /cluster/status`.
pub fn parse_cluster_status(body: &[u8]) -> Result<ClusterStatus, ModelError> {
    parse_list(body).map(|entries| ClusterStatus { entries })
}

/// `GET /cluster/resources` (unfiltered).
pub fn parse_cluster_resources(body: &[u8]) -> Result<Vec<Resource>, ModelError> {
    parse_list(body)
}

/// `GET /version`.
pub fn parse_version(body: &[u8]) -> Result<Version, ModelError> {
    parse_object(body)
}

/// `GET /cluster/backup-info/not-backed-up`.
pub fn parse_not_backed_up(body: &[u8]) -> Result<Vec<NotBackedUpGuest>, ModelError> {
    parse_list(body)
}

/// `GET /cluster/config/qdevice`.
pub fn parse_qdevice(body: &[u8]) -> Result<QDevice, ModelError> {
    parse_object(body)
}

/// `GET /nodes/<node>/subscription`.
pub fn parse_subscription(body: &[u8]) -> Result<Subscription, ModelError> {
    parse_object(body)
}

/// `GET /nodes/<node>/qemu`.
pub fn parse_qemu_list(body: &[u8]) -> Result<Vec<GuestListEntry>, ModelError> {
    parse_list(body)
}

/// `GET /nodes/<node>/lxc`.
pub fn parse_lxc_list(body: &[u8]) -> Result<Vec<GuestListEntry>, ModelError> {
    parse_list(body)
}

/// `GET /nodes/<node>/{qemu,lxc}/<vmid>/config`.
pub fn parse_guest_config(body: &[u8]) -> Result<GuestConfig, ModelError> {
    parse_object(body)
}

/// `GET /nodes/<node>/replication`.
pub fn parse_replication(body: &[u8]) -> Result<Vec<ReplicationJob>, ModelError> {
    parse_list(body)
}

fn parse_list<T: for<'de> de::Deserialize<'de>>(body: &[u8]) -> Result<Vec<T>, ModelError> {
    parse_envelope::<ObjectList<T>>(body).map(|list| list.0)
}

fn parse_object<T: for<'de> de::Deserialize<'de> + Default>(body: &[u8]) -> Result<T, ModelError> {
    parse_envelope::<ObjectOrNull<T>>(body).map(|object| object.0)
}

fn parse_envelope<D: for<'de> de::Deserialize<'de>>(body: &[u8]) -> Result<D, ModelError> {
    // Borrowed (no copy) when the body is valid UTF-8, which it nearly always is.
    let text: Cow<'_, str> = String::from_utf8_lossy(body);
    serde_json::from_str::<Envelope<D>>(&text)
        .map(|envelope| envelope.0)
        .map_err(|error| ModelError {
            message: error.to_string(),
            excerpt: excerpt(&text),
        })
}

fn excerpt(text: &str) -> String {
    let mut end = text.len().min(EXCERPT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// `{"data": D, …}`; other keys (`message`, `errors`, `success`) are ignored.
struct Envelope<D>(D);

impl<'de, D: de::Deserialize<'de>> de::Deserialize<'de> for Envelope<D> {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        struct EnvelopeVisitor<D>(PhantomData<D>);

        impl<'de, D: de::Deserialize<'de>> Visitor<'de> for EnvelopeVisitor<D> {
            type Value = Envelope<D>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a PVE API response object with a \"data\" key")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut data = None;
                while let Some(key) = map.next_key::<lenient::Key<'de>>()? {
                    if key.as_str() == "data" {
                        data = Some(map.next_value::<D>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                data.map(Envelope)
                    .ok_or_else(|| de::Error::missing_field("data"))
            }
        }

        deserializer.deserialize_map(EnvelopeVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests;
