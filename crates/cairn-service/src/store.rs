//! Where blobs larger than [`crate::blobs::PACK_MAX_SIZE`] live: the setting
//! ([`BlobStoreConfig`]), its URL form, and opening the [`BlobStore`] it names.

use std::path::{Path, PathBuf};

use cairn_storage::BlobStore;

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

/// A blob store URL split into scheme, bucket and key prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreUrl {
    pub(crate) scheme: String,
    pub(crate) bucket: String,
    pub(crate) prefix: Option<String>,
}

impl StoreUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, OpenError> {
        let fail = |reason: &str| OpenError::BlobStore {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| fail("write `local`, `s3://bucket[/prefix]`, `gs://bucket[/prefix]` or `az://container[/prefix]`"))?;
        if !matches!(scheme, "s3" | "gs" | "az") {
            return Err(fail("the scheme must be `s3`, `gs` or `az`"));
        }
        let rest = rest.trim_end_matches('/');
        let (bucket, prefix) = match rest.split_once('/') {
            Some((bucket, prefix)) => (bucket, Some(prefix.to_owned())),
            None => (rest, None),
        };
        if bucket.is_empty() {
            return Err(fail("the bucket (or container) name is missing"));
        }
        if let Some(prefix) = &prefix
            && cairn_storage::BlobKey::new(prefix.clone()).is_err()
        {
            return Err(fail(
                "the prefix may only hold `/`-separated segments of ASCII letters, digits, `.`, `_` and `-`",
            ));
        }
        Ok(Self {
            scheme: scheme.to_owned(),
            bucket: bucket.to_owned(),
            prefix,
        })
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
        BlobStoreConfig::Store(store) => {
            // `Display` starts with the backend's name: `s3 blob store at s3://bucket`.
            let kind = match store.to_string().split_whitespace().next() {
                Some("s3") => "s3",
                Some("gs") => "gs",
                Some("azure") => "azure",
                _ => "local",
            };
            Ok((store.clone(), None, None, kind))
        }
        BlobStoreConfig::Url(url) => {
            let parsed = StoreUrl::parse(url)?;
            let (store, kind) = cloud_store(url, &parsed)?;
            Ok((store, None, parsed.prefix, kind))
        }
    }
}

fn cloud_store(url: &str, parsed: &StoreUrl) -> Result<(BlobStore, &'static str), OpenError> {
    match parsed.scheme.as_str() {
        #[cfg(feature = "s3")]
        "s3" => Ok((
            cairn_storage::CloudHandler::s3(cairn_storage::S3Config::from_env())
                .blob_store(&parsed.bucket)?,
            "s3",
        )),
        #[cfg(feature = "gs")]
        "gs" => Ok((
            cairn_storage::CloudHandler::gcs(cairn_storage::GcsConfig::from_env())
                .blob_store(&parsed.bucket)?,
            "gs",
        )),
        #[cfg(feature = "azure")]
        "az" => Ok((
            cairn_storage::CloudHandler::azure(cairn_storage::AzureConfig::from_env())
                .blob_store(&parsed.bucket)?,
            "azure",
        )),
        #[cfg(not(feature = "s3"))]
        "s3" => Err(not_built(url, "s3")),
        #[cfg(not(feature = "gs"))]
        "gs" => Err(not_built(url, "gs")),
        #[cfg(not(feature = "azure"))]
        "az" => Err(not_built(url, "azure")),
        other => Err(OpenError::BlobStore {
            url: url.to_owned(),
            reason: format!("`{other}://` is not a blob store scheme; use `s3`, `gs` or `az`"),
        }),
    }
}

#[cfg_attr(
    all(feature = "s3", feature = "gs", feature = "azure"),
    expect(dead_code, reason = "every backend is built")
)]
fn not_built(url: &str, feature: &str) -> OpenError {
    OpenError::BlobStore {
        url: url.to_owned(),
        reason: format!(
            "this build has no `{feature}` support; rebuild cairn-server with `--features {feature}`"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls() {
        let parsed = StoreUrl::parse("s3://bucket/some/prefix/").ok();
        assert_eq!(
            parsed,
            Some(StoreUrl {
                scheme: "s3".to_owned(),
                bucket: "bucket".to_owned(),
                prefix: Some("some/prefix".to_owned()),
            })
        );
        assert!(StoreUrl::parse("gs://b").is_ok_and(|url| url.prefix.is_none()));
        for bad in ["bucket", "ftp://b", "s3://", "s3://b/../x", "s3://b/a b"] {
            assert!(StoreUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
