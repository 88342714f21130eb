//! References with schemes nobody handles: tracked by URI alone, as the SDK does.
//!
//! The entry's digest is the URI itself (not a hash), it has no size, and an entry name is
//! required because nothing in an opaque URI says what to call it. Such entries cannot be
//! fetched: Cairn does not know how to read them.

use std::fmt;

use async_trait::async_trait;
use cairn_manifest::{Entry, LogicalPath};
use futures_util::stream::{self, StreamExt as _};

use crate::{
    ByteStream, Error, ReferenceUri, ResolveOptions, ResolveStream, ResolvedObject, Result,
    StorageHandler,
};

/// The fallback handler: records any URI by name, fetches nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackingHandler;

impl fmt::Display for TrackingHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tracking")
    }
}

#[async_trait]
impl StorageHandler for TrackingHandler {
    fn handles(&self, _: &ReferenceUri) -> bool {
        true
    }

    async fn resolve(&self, uri: &ReferenceUri, options: &ResolveOptions) -> Result<ResolveStream> {
        let name = options.name().ok_or_else(|| Error::NameRequired {
            uri: uri.redacted().to_string(),
        })?;
        let object = ResolvedObject {
            path: LogicalPath::new(name)?,
            entry: Entry::reference(uri.as_str(), uri.as_str(), None),
        };
        Ok(stream::iter([Ok(object)]).boxed())
    }

    async fn fetch(&self, _: &Entry) -> Result<ByteStream> {
        Err(Error::NotSupported {
            backend: "tracking",
            operation: "downloading references with an unknown scheme (they are recorded by URI only)",
        })
    }
}
