//! Where blobs larger than [`crate::blobs::PACK_MAX_SIZE`] live: the setting
//! ([`BlobStoreConfig`]), its URL form, and opening the [`BlobStore`] it names.

use std::path::{Path, PathBuf};

use cairn_storage::{BlobStore, BlobStoreUrl};

use crate::error::OpenError;

/// Where the server keeps blobs larger than [`crate::blobs::PACK_MAX_SIZE`] bytes (smaller ones are
/// always packed into `data_dir/packed.sqlite`).
#[derive(Debug, Clone)]
pub enum BlobStoreConfig {
    /// Files under `data_dir/blobs`.
    Local,
    /// An object store: `s3://bucket[/prefix]`, `gs://bucket[/prefix]` or
    /// `az://container[/prefix]`. Credentials and endpoints come from each cloud's usual
    /// environment variables (`cairn_storage::S3Config::from_env` and its siblings); the
    /// Azure account from `AZURE_STORAGE_ACCOUNT_NAME`.
    Url(String),
    /// A blob store built by the caller (an emulator with explicit credentials, a test).
    Store(BlobStore),
}

impl BlobStoreConfig {
    /// `local` (or the empty string) is [`BlobStoreConfig::Local`]; anything else a URL.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("local") {
            Self::Local
        } else {
            Self::Url(text.to_owned())
        }
    }
}

pub(crate) type OpenedStore = (BlobStore, Option<PathBuf>, Option<String>, &'static str);

pub(crate) fn open_store(
    data_dir: &Path,
    blob_store: &BlobStoreConfig,
) -> Result<OpenedStore, OpenError> {
    match blob_store {
        BlobStoreConfig::Local => {
            let root = data_dir.join("blobs");
            Ok((BlobStore::local(&root)?, Some(root), None, "local"))
        }
        BlobStoreConfig::Store(store) => Ok((store.clone(), None, None, kind(store))),
        BlobStoreConfig::Url(url) => {
            let fail = |error: cairn_storage::Error| OpenError::BlobStore {
                url: url.clone(),
                reason: match &error {
                    cairn_storage::Error::BackendNotBuilt { feature, .. } => format!(
                        "this build has no `{feature}` support; rebuild cairn with `--features {feature}`"
                    ),
                    other => crate::error::error_chain(other),
                },
            };
            let parsed = BlobStoreUrl::parse(url).map_err(fail)?;
            let store = parsed.open().map_err(fail)?;
            let kind = kind(&store);
            Ok((store, None, parsed.prefix, kind))
        }
    }
}

/// `local`, `s3`, `gs` or `azure`, as the server describes its blob store.
fn kind(store: &BlobStore) -> &'static str {
    match store.backend() {
        "file" => "local",
        other => other,
    }
}
