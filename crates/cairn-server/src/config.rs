//! How the server is configured: the data directory, the listen address, where blobs go, the
//! bootstrap admin key, and the connection limits (timeouts and a cap on open connections).
//! `cairn server` builds a [`ServerConfig`] from its flags and the `CAIRN_*` environment
//! variables ([`ServerConfig::from_env`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use cairn_service::BlobStoreConfig;

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
/// Environment variable holding [`ServerConfig::header_read_timeout`] in whole seconds.
pub const ENV_HEADER_TIMEOUT: &str = "CAIRN_HEADER_TIMEOUT";
/// Environment variable holding [`ServerConfig::body_timeout`] in whole seconds.
pub const ENV_BODY_TIMEOUT: &str = "CAIRN_BODY_TIMEOUT";
/// Environment variable holding [`ServerConfig::max_connections`].
pub const ENV_MAX_CONNECTIONS: &str = "CAIRN_MAX_CONNECTIONS";
/// Environment variable holding [`ServerConfig::gc_interval`] in whole seconds.
pub const ENV_GC_INTERVAL: &str = "CAIRN_GC_INTERVAL";
/// Environment variable holding [`ServerConfig::gc_grace`] in whole seconds.
pub const ENV_GC_GRACE: &str = "CAIRN_GC_GRACE";

/// How long a connection may take to send a request's headers when none is given.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a body may move no bytes when none is given.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// The connection cap when none is given, before the open-file limit lowers it.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// How long a blob stays after its last reference went when no grace period is given.
pub const DEFAULT_GC_GRACE: Duration = cairn_service::gc::DEFAULT_GRACE;

/// Everything the server needs to start.
#[derive(Clone)]
pub struct ServerConfig {
    /// Where the databases, local blobs and temporary uploads live.
    pub data_dir: PathBuf,
    /// The address [`crate::serve`]'s caller binds (the server itself is handed a listener).
    pub listen: SocketAddr,
    /// Where blobs larger than [`cairn_service::PACK_MAX_SIZE`] bytes are stored.
    pub blob_store: BlobStoreConfig,
    /// On the first start, the `admin` user's key (instead of a minted one); on later starts,
    /// added as another key of `admin` if the server does not know it yet.
    pub admin_api_key: Option<String>,
    /// How long a connection may take to deliver a request's headers, counted from when it
    /// opened or its previous response went out; a connection that does not is closed. This
    /// bounds fresh idle connections, idle keep-alive connections and half-sent headers alike.
    /// [`DEFAULT_HEADER_READ_TIMEOUT`] unless set.
    pub header_read_timeout: Duration,
    /// How long a request body may deliver no bytes, or a response go unread, before the
    /// exchange fails. A slow body that keeps moving is never cut off; an upload cut off this
    /// way stores nothing. [`DEFAULT_BODY_TIMEOUT`] unless set.
    pub body_timeout: Duration,
    /// The most connections served at once; `None` takes [`DEFAULT_MAX_CONNECTIONS`]. Either
    /// way the cap stays 64 below the process's open-file limit (`ulimit -n`), which SQLite
    /// and blob files need. At the cap, a new connection closes the one idle the longest.
    pub max_connections: Option<usize>,
    /// Lets the server admin move the clock forward (`POST /api/v1/server/clock`), so tests
    /// can make TTLs and keys expire without waiting. Never for production.
    pub test_clock: bool,
    /// How often expired versions are soft-deleted while serving ([`DEFAULT_SWEEP_INTERVAL`]
    /// unless set; `cairn server sweep` sweeps at once).
    pub sweep_interval: Duration,
    /// How often the server collects garbage (blobs no live version references); `None`, the
    /// default, never on its own (`POST /api/v1/server/gc` still does, on demand).
    pub gc_interval: Option<Duration>,
    /// How long a blob must have been unreferenced before a collection removes it.
    /// [`DEFAULT_GC_GRACE`] unless set.
    pub gc_grace: Duration,
}

/// How often a server sweeps expired versions unless told otherwise: 10 minutes.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(600);

/// Environment variable for [`ServerConfig::sweep_interval`], in seconds.
pub const ENV_SWEEP_INTERVAL: &str = "CAIRN_SWEEP_INTERVAL";

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
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("max_connections", &self.max_connections)
            .field("test_clock", &self.test_clock)
            .field("sweep_interval", &self.sweep_interval)
            .field("gc_interval", &self.gc_interval)
            .field("gc_grace", &self.gc_grace)
            .finish()
    }
}

impl ServerConfig {
    /// A server on `data_dir`, listening on `127.0.0.1:8080`, with blobs on local disk and the
    /// default connection limits.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            blob_store: BlobStoreConfig::Local,
            admin_api_key: None,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: None,
            test_clock: false,
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
            gc_interval: None,
            gc_grace: DEFAULT_GC_GRACE,
        }
    }

    /// The defaults overridden by `CAIRN_DATA_DIR`, `CAIRN_LISTEN`, `CAIRN_BLOB_STORE`,
    /// `CAIRN_ADMIN_API_KEY`, `CAIRN_HEADER_TIMEOUT`, `CAIRN_BODY_TIMEOUT` and
    /// `CAIRN_MAX_CONNECTIONS`, `CAIRN_GC_INTERVAL` and `CAIRN_GC_GRACE` where they are set (and
    /// not empty).
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
        if let Some(seconds) = env(ENV_HEADER_TIMEOUT) {
            config = config
                .with_header_read_timeout(parse_seconds(&seconds, "header timeout (seconds)")?);
        }
        if let Some(seconds) = env(ENV_BODY_TIMEOUT) {
            config = config.with_body_timeout(parse_seconds(&seconds, "body timeout (seconds)")?);
        }
        if let Some(count) = env(ENV_MAX_CONNECTIONS) {
            config = config.with_max_connections(parse_count(&count, "connection cap")?);
        }
        if let Some(seconds) = env(ENV_GC_INTERVAL) {
            config = config.with_gc_interval(parse_seconds(
                &seconds,
                "garbage collection interval (seconds)",
            )?);
        }
        if let Some(seconds) = env(ENV_GC_GRACE) {
            config = config.with_gc_grace(parse_grace(&seconds)?);
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

    /// Closes connections that take longer than `timeout` to send a request's headers (see
    /// [`ServerConfig::header_read_timeout`]). [`crate::AppState::open`] refuses zero.
    #[must_use]
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Fails requests whose body moves no bytes for `timeout` (see
    /// [`ServerConfig::body_timeout`]). [`crate::AppState::open`] refuses zero.
    #[must_use]
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Serves at most `max` connections at once (see [`ServerConfig::max_connections`]).
    /// [`crate::AppState::open`] refuses zero.
    #[must_use]
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// Sweeps expired versions every `interval` (see [`ServerConfig::sweep_interval`]);
    /// [`crate::AppState::open`] refuses zero.
    #[must_use]
    pub fn with_sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// Collects garbage every `interval` (see [`ServerConfig::gc_interval`]).
    /// [`crate::AppState::open`] refuses zero.
    #[must_use]
    pub fn with_gc_interval(mut self, interval: Duration) -> Self {
        self.gc_interval = Some(interval);
        self
    }

    /// Keeps unreferenced blobs for `grace` (see [`ServerConfig::gc_grace`]); zero collects them
    /// at the next collection.
    #[must_use]
    pub fn with_gc_grace(mut self, grace: Duration) -> Self {
        self.gc_grace = grace;
        self
    }

    /// Lets the admin move the clock forward (see [`ServerConfig::test_clock`]).
    #[must_use]
    pub fn with_test_clock(mut self) -> Self {
        self.test_clock = true;
        self
    }

    /// The service's part of the configuration.
    pub(crate) fn service(&self) -> cairn_service::Config {
        cairn_service::Config {
            data_dir: self.data_dir.clone(),
            blob_store: self.blob_store.clone(),
            admin_api_key: self.admin_api_key.clone(),
            test_clock: self.test_clock,
            gc_grace: self.gc_grace,
        }
    }

    /// The connection limits, checked: no timeout and no cap may be zero.
    pub(crate) fn connection_limits(&self) -> Result<ConnectionLimits> {
        let zero = |what: &'static str| Error::Config {
            what,
            value: "0".to_owned(),
            reason: "it must be at least 1".to_owned(),
        };
        if self.header_read_timeout.is_zero() {
            return Err(zero("header timeout"));
        }
        if self.body_timeout.is_zero() {
            return Err(zero("body timeout"));
        }
        if self.max_connections == Some(0) {
            return Err(zero("connection cap"));
        }
        if self.sweep_interval.is_zero() {
            return Err(zero("sweep interval"));
        }
        if self.gc_interval.is_some_and(|interval| interval.is_zero()) {
            return Err(zero("garbage collection interval"));
        }
        Ok(ConnectionLimits {
            header_read_timeout: self.header_read_timeout,
            body_timeout: self.body_timeout,
            max_connections: self.max_connections,
        })
    }
}

/// The part of [`ServerConfig`] that [`crate::serve`] needs, kept by [`crate::AppState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnectionLimits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) max_connections: Option<usize>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: None,
        }
    }
}

/// Parses a whole, positive number of seconds.
fn parse_seconds(text: &str, what: &'static str) -> Result<Duration> {
    parse_positive(text, what).map(Duration::from_secs)
}

/// Parses a grace period: a whole number of seconds, zero included.
fn parse_grace(text: &str) -> Result<Duration> {
    text.trim()
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| Error::Config {
            what: "garbage collection grace period (seconds)",
            value: text.to_owned(),
            reason: "write a whole number of seconds".to_owned(),
        })
}

/// Parses a whole, positive count.
fn parse_count(text: &str, what: &'static str) -> Result<usize> {
    parse_positive(text, what)
}

/// Parses a whole number other than zero (the type's default).
fn parse_positive<T: std::str::FromStr + Default + PartialEq>(
    text: &str,
    what: &'static str,
) -> Result<T> {
    match text.trim().parse::<T>() {
        Ok(number) if number != T::default() => Ok(number),
        _ => Err(Error::Config {
            what,
            value: text.to_owned(),
            reason: "write a whole number of at least 1".to_owned(),
        }),
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn connection_limits() {
        let config = ServerConfig::new("/tmp/x");
        assert_eq!(
            config.connection_limits().ok(),
            Some(ConnectionLimits::default())
        );
        let config = config
            .with_header_read_timeout(Duration::from_secs(5))
            .with_body_timeout(Duration::from_secs(7))
            .with_max_connections(9);
        assert_eq!(
            config.connection_limits().ok(),
            Some(ConnectionLimits {
                header_read_timeout: Duration::from_secs(5),
                body_timeout: Duration::from_secs(7),
                max_connections: Some(9),
            })
        );
        for bad in [
            ServerConfig::new("/tmp/x").with_header_read_timeout(Duration::ZERO),
            ServerConfig::new("/tmp/x").with_body_timeout(Duration::ZERO),
            ServerConfig::new("/tmp/x").with_max_connections(0),
        ] {
            assert!(bad.connection_limits().is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_seconds(" 12 ", "t").ok(),
            Some(Duration::from_secs(12))
        );
        for bad in ["0", "-1", "1.5", "x", ""] {
            assert!(parse_count(bad, "n").is_err(), "{bad}");
        }
        assert_eq!(parse_grace(" 0 ").ok(), Some(Duration::ZERO));
        assert!(parse_grace("-1").is_err());
        assert!(
            ServerConfig::new("/tmp/x")
                .with_gc_interval(Duration::ZERO)
                .connection_limits()
                .is_err()
        );
    }

    #[test]
    fn debug_hides_the_key() {
        let config = ServerConfig::new("/tmp/x").with_admin_api_key("secret-key");
        assert!(!format!("{config:?}").contains("secret-key"));
    }
}
