//! Blob stores named by URL (`s3://bucket[/prefix]`, `gs://bucket[/prefix]`,
//! `az://container[/prefix]`): the one place that maps a blob-store URL's scheme to a backend,
//! next to the backends themselves, so a new backend is added here and nowhere else.

use crate::blob::{BlobKey, BlobStore};
use crate::error::{Error, Result};

/// A blob-store URL split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobStoreUrl {
    /// `s3`, `gs` or `az`.
    pub scheme: String,
    /// The bucket (or Azure container).
    pub bucket: String,
    /// A key prefix under which the blobs go, if any.
    pub prefix: Option<String>,
}

impl BlobStoreUrl {
    /// Parses `scheme://bucket[/prefix]`; the prefix must be a valid [`BlobKey`].
    ///
    /// ```
    /// let url = cairn_storage::BlobStoreUrl::parse("s3://bucket/some/prefix/")?;
    /// assert_eq!((url.bucket.as_str(), url.prefix.as_deref()), ("bucket", Some("some/prefix")));
    /// assert!(cairn_storage::BlobStoreUrl::parse("ftp://b").is_err());
    /// # Ok::<(), cairn_storage::Error>(())
    /// ```
    pub fn parse(url: &str) -> Result<Self> {
        let fail = |reason: &'static str| Error::MalformedUri {
            uri: url.to_owned(),
            reason,
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            fail(
                "write `s3://bucket[/prefix]`, `gs://bucket[/prefix]` or `az://container[/prefix]`",
            )
        })?;
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
            && BlobKey::new(prefix.clone()).is_err()
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

    /// Opens the blob store, with credentials and endpoints from each cloud's usual environment
    /// variables (`S3Config::from_env` and its siblings). A backend this build lacks fails
    /// with [`Error::BackendNotBuilt`], naming the cargo feature.
    pub fn open(&self) -> Result<BlobStore> {
        match self.scheme.as_str() {
            #[cfg(feature = "s3")]
            "s3" => crate::CloudHandler::s3(crate::S3Config::from_env()).blob_store(&self.bucket),
            #[cfg(feature = "gs")]
            "gs" => crate::CloudHandler::gcs(crate::GcsConfig::from_env()).blob_store(&self.bucket),
            #[cfg(feature = "azure")]
            "az" => {
                crate::CloudHandler::azure(crate::AzureConfig::from_env()).blob_store(&self.bucket)
            }
            other => Err(Error::BackendNotBuilt {
                scheme: other.to_owned(),
                feature: match other {
                    "s3" => "s3",
                    "gs" => "gs",
                    _ => "azure",
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_store_urls() {
        assert_eq!(
            BlobStoreUrl::parse("s3://bucket/some/prefix/").ok(),
            Some(BlobStoreUrl {
                scheme: "s3".to_owned(),
                bucket: "bucket".to_owned(),
                prefix: Some("some/prefix".to_owned()),
            })
        );
        assert!(BlobStoreUrl::parse("gs://b").is_ok_and(|url| url.prefix.is_none()));
        for bad in ["bucket", "ftp://b", "s3://", "s3://b/../x", "s3://b/a b"] {
            assert!(BlobStoreUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
