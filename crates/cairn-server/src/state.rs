//! The server's shared state: the domain [`Service`] and the connection limits
//! [`crate::serve`] applies.

use std::sync::Arc;

use cairn_service::{Bootstrap, Service};

use crate::config::{ConnectionLimits, ServerConfig};
use crate::error::Result;

/// Everything a request handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    service: Service,
    limits: ConnectionLimits,
    sweep_interval: std::time::Duration,
    gc_interval: Option<std::time::Duration>,
}

impl AppState {
    /// Opens the service on `config`'s data directory (see [`Service::open`]: databases,
    /// migrations, blob store, the first start's admin) and keeps `config`'s connection limits
    /// for [`crate::serve`]; a zero timeout or cap is refused here.
    pub async fn open(config: &ServerConfig) -> Result<(Self, Bootstrap)> {
        let limits = config.connection_limits()?;
        let (service, bootstrap) = Service::open(&config.service()).await?;
        Ok((
            Self {
                inner: Arc::new(Inner {
                    service,
                    limits,
                    sweep_interval: config.sweep_interval,
                    gc_interval: config.gc_interval,
                }),
            },
            bootstrap,
        ))
    }

    /// The domain.
    pub fn service(&self) -> &Service {
        &self.inner.service
    }

    /// How often [`crate::serve`] collects garbage, if at all.
    pub(crate) fn gc_interval(&self) -> Option<std::time::Duration> {
        self.inner.gc_interval
    }

    pub(crate) fn connection_limits(&self) -> ConnectionLimits {
        self.inner.limits
    }

    /// How often [`crate::serve`] sweeps expired versions.
    pub(crate) fn sweep_interval(&self) -> std::time::Duration {
        self.inner.sweep_interval
    }

    /// The counters since the process started.
    pub fn stats(&self) -> cairn_api::ServerStats {
        crate::wire::stats(self.inner.service.stats())
    }
}
