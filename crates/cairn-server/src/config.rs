//! How the server is configured: the data directory, the listen address, where blobs go and
//! the bootstrap admin key. `cairn server` builds a [`ServerConfig`] from its flags and the
//! `CAIRN_*` environment variables ([`ServerConfig::from_env`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use cairn_storage::BlobStore;

use crate::error::{Error, Result};

/// The data directory when none is given.
pub const DEFAULT_DATA_DIR: &str = "./cairn-data";

/// The listen address when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Environment variable naming the data directory.
pub const ENV_DATA_DIR: &str = "CAIRN_DATA_DIR";
/// Environment variable naming the listen address.
pub const ENV_LISTEN: &str = "CAIRN_LISTEN";
/// Environment variable naming the blob store (`local`, `s3://..`, `gs://..`, `az://..`).
pub const ENV_BLOB_STORE: &str = "CAIRN_BLOB_STORE";
/// Environment variable holding an admin API key to accept (see [`ServerConfig::admin_api_key`]).
pub const ENV_ADMIN_API_KEY: &str = "CAIRN_ADMIN_API_KEY";

/// Everything the server needs to start.
#[derive(Clone)]
pub struct ServerConfig {
    /// Where the databases, local blobs and temporary uploads live.
    pub data_dir: PathBuf,
    /// The address [`crate::serve`]'s caller binds (the server itself is handed a listener).
    pub listen: SocketAddr,
    /// Where blobs larger than [`cairn_api::SMALL_BLOB_MAX_SIZE`] are stored.
    pub blob_store: BlobStoreConfig,
    /// On the first start, the `admin` user's key (instead of a minted one); on later starts,
    /// added as another key of `admin` if the server does not know it yet.
    pub admin_api_key: Option<String>,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("blob_store", &self.blob_store)
            .field(
                "admin_api_key",
                &self.admin_api_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl ServerConfig {
    /// A server on `data_dir`, listening on `127.0.0.1:8080`, with blobs on local disk.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            blob_store: BlobStoreConfig::Local,
            admin_api_key: None,
        }
    }

    /// The defaults overridden by `CAIRN_DATA_DIR`, `CAIRN_LISTEN`, `CAIRN_BLOB_STORE` and
    /// `CAIRN_ADMIN_API_KEY` where they are set (and not empty).
    pub fn from_env() -> Result<Self> {
        let env = |key: &str| {
            std::env::var(key)
                .ok()
                .filter(|value| !value.trim().is_empty())
        };
        let mut config =
            Self::new(env(ENV_DATA_DIR).unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned()));
        if let Some(listen) = env(ENV_LISTEN) {
            config = config.with_listen(parse_listen(&listen)?);
        }
        if let Some(store) = env(ENV_BLOB_STORE) {
            config = config.with_blob_store(BlobStoreConfig::parse(&store));
        }
        if let Some(key) = env(ENV_ADMIN_API_KEY) {
            config = config.with_admin_api_key(key);
        }
        Ok(config)
    }

    /// Listens on `listen`.
    #[must_use]
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// Stores blobs in `blob_store`.
    #[must_use]
    pub fn with_blob_store(mut self, blob_store: BlobStoreConfig) -> Self {
        self.blob_store = blob_store;
        self
    }

    /// Accepts `key` as an admin key (see [`ServerConfig::admin_api_key`]).
    #[must_use]
    pub fn with_admin_api_key(mut self, key: impl Into<String>) -> Self {
        self.admin_api_key = Some(key.into());
        self
    }
}

/// Parses a listen address such as `127.0.0.1:8080` or `[::]:80`.
pub fn parse_listen(text: &str) -> Result<SocketAddr> {
    text.trim()
        .parse()
        .map_err(|error: std::net::AddrParseError| Error::Config {
            what: "listen address",
            value: text.to_owned(),
            reason: format!("{error}; write it as `host:port`, e.g. `{DEFAULT_LISTEN}`"),
        })
}

/// Where the server keeps blobs larger than [`cairn_api::SMALL_BLOB_MAX_SIZE`] (smaller ones are
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
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let fail = |reason: &str| Error::BlobStore {
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

    #[test]
    fn parse_store_and_listen() {
        assert!(matches!(
            BlobStoreConfig::parse(" local "),
            BlobStoreConfig::Local
        ));
        assert!(matches!(
            BlobStoreConfig::parse("s3://b"),
            BlobStoreConfig::Url(_)
        ));
        assert!(parse_listen("127.0.0.1:9").is_ok());
        assert!(parse_listen("localhost").is_err());
    }

    #[test]
    fn debug_hides_the_key() {
        let config = ServerConfig::new("/tmp/x").with_admin_api_key("secret-key");
        assert!(!format!("{config:?}").contains("secret-key"));
    }
}
