//! The one place that decides which handler serves a URI.
//!
//! Handlers are asked in order; the first whose [`StorageHandler::handles`] says yes serves the
//! URI. Handlers registered later are asked first, so a test or a deployment can put a handler
//! configured for its own endpoint in front of the defaults. A URI nobody claims goes to the
//! [`TrackingHandler`] (recorded by URI alone, as the SDK does), except for schemes Cairn knows
//! but whose backend this build left out: those fail with [`Error::BackendNotBuilt`] rather
//! than being silently tracked without a checksum.

use std::sync::Arc;

use cairn_manifest::Entry;
use futures_util::TryStreamExt as _;

use crate::{
    ByteStream, Error, FileHandler, ReferenceUri, ResolveOptions, ResolveStream, ResolvedObject,
    Result, StorageHandler, StorageHandlerExt as _, TrackingHandler, entry_uri,
};

/// An ordered set of reference handlers: the scheme-dispatch point.
///
/// ```
/// use std::sync::Arc;
/// use cairn_storage::{Handlers, ReferenceUri, TrackingHandler};
///
/// let mut handlers = Handlers::new();
/// // A contributor's handler goes in front of the built-in ones.
/// handlers.register(Arc::new(TrackingHandler));
/// let uri = ReferenceUri::parse("file:///tmp/x").unwrap();
/// assert_eq!(handlers.handler_for(&uri).unwrap().to_string(), "tracking");
/// ```
#[derive(Debug, Clone)]
pub struct Handlers {
    /// Asked from the back: the last registered is asked first.
    handlers: Vec<Arc<dyn StorageHandler>>,
}

impl Default for Handlers {
    fn default() -> Self {
        Self::new()
    }
}

impl Handlers {
    /// Only the `file://` handler (and the tracking fallback).
    pub fn new() -> Self {
        Self {
            handlers: vec![Arc::new(FileHandler::new())],
        }
    }

    /// Every backend this build has, configured from the environment (each cloud's standard
    /// variables and config files; see `docs/storage.md`). Configuration is read now, but no
    /// credentials are fetched until a handler is used.
    pub fn from_env() -> Self {
        // Each `with` puts a handler in front of the earlier ones, so the last is asked first.
        // The SDK asks s3, gs, Azure, http(s) and file in that order; their URIs do not overlap
        // except Azure blob URLs, which are `https` and must reach the Azure handler.
        let handlers = Self::new();
        #[cfg(feature = "http")]
        let handlers = handlers.with(Arc::new(crate::HttpHandler::new(
            crate::HttpConfig::from_env(),
        )));
        #[cfg(feature = "azure")]
        let handlers = handlers.with(Arc::new(crate::CloudHandler::azure(
            crate::AzureConfig::from_env(),
        )));
        #[cfg(feature = "gs")]
        let handlers = handlers.with(Arc::new(crate::CloudHandler::gcs(
            crate::GcsConfig::from_env(),
        )));
        #[cfg(feature = "s3")]
        let handlers = handlers.with(Arc::new(crate::CloudHandler::s3(
            crate::S3Config::from_env(),
        )));
        handlers
    }

    /// Puts `handler` in front of every handler registered before it.
    pub fn register(&mut self, handler: Arc<dyn StorageHandler>) -> &mut Self {
        self.handlers.push(handler);
        self
    }

    /// [`register`](Self::register), by value.
    #[must_use]
    pub fn with(mut self, handler: Arc<dyn StorageHandler>) -> Self {
        self.register(handler);
        self
    }

    /// The handler that serves `uri`.
    pub fn handler_for(&self, uri: &ReferenceUri) -> Result<Arc<dyn StorageHandler>> {
        if let Some(handler) = self.handlers.iter().rev().find(|h| h.handles(uri)) {
            return Ok(Arc::clone(handler));
        }
        match missing_backend(uri) {
            Some(feature) => Err(Error::BackendNotBuilt {
                scheme: uri.scheme().to_owned(),
                feature,
            }),
            None => Ok(Arc::new(TrackingHandler)),
        }
    }

    /// Parses `uri` and resolves it with its handler.
    pub async fn resolve(&self, uri: &str, options: &ResolveOptions) -> Result<ResolveStream> {
        let uri = ReferenceUri::parse(uri)?;
        let handler = self.handler_for(&uri)?;
        // `ReferenceUri`'s Display is redacted, so logs never carry signatures or passwords.
        tracing::debug!(%uri, %handler, checksum = options.checksum(), "resolving reference");
        handler.resolve(&uri, options).await
    }

    /// [`resolve`](Self::resolve), collected; the first error wins.
    pub async fn resolve_all(
        &self,
        uri: &str,
        options: &ResolveOptions,
    ) -> Result<Vec<ResolvedObject>> {
        self.resolve(uri, options).await?.try_collect().await
    }

    /// Streams a recorded reference entry's bytes with the handler of its `ref`.
    pub async fn fetch(&self, entry: &Entry) -> Result<ByteStream> {
        let uri = entry_uri(entry)?;
        let handler = self.handler_for(&uri)?;
        tracing::debug!(%uri, %handler, "fetching reference");
        handler.fetch(entry).await
    }

    /// [`fetch`](Self::fetch), collected into memory (small objects and tests only).
    pub async fn fetch_bytes(&self, entry: &Entry) -> Result<Vec<u8>> {
        let uri = entry_uri(entry)?;
        self.handler_for(&uri)?.fetch_bytes(entry).await
    }
}

/// Whether `host` is an Azure Blob Storage account host, which the SDK sends to its Azure
/// handler rather than to plain HTTP.
pub(crate) fn is_azure_blob_host(host: &str) -> bool {
    host.ends_with(".blob.core.windows.net")
}

/// The cargo feature that would handle `uri`, if Cairn knows its scheme.
fn missing_backend(uri: &ReferenceUri) -> Option<&'static str> {
    match uri.scheme() {
        "s3" => Some("s3"),
        "gs" => Some("gs"),
        "http" | "https" if is_azure_blob_host(&uri.host()) => Some("azure"),
        "http" | "https" => Some("http"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatches_by_scheme() {
        let handlers = Handlers::new();
        let name = |uri: &str| {
            let uri = ReferenceUri::parse(uri).unwrap();
            handlers.handler_for(&uri).map(|h| h.to_string())
        };
        assert_eq!(name("file:///x").unwrap(), "file");
        assert_eq!(name("FILE:///x").unwrap(), "file");
        assert_eq!(name("custom-scheme://h/p").unwrap(), "tracking");
        let error = name("https://acct.blob.core.windows.net/c/b").unwrap_err();
        assert!(
            matches!(
                error,
                Error::BackendNotBuilt {
                    feature: "azure",
                    ..
                }
            ),
            "{error}"
        );
    }
}
