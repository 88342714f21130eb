//! Turning `object_store` errors into this crate's actionable ones, in one place.

use crate::Error;

/// What a mapped error is about: the redacted URI or key shown to the user, and (for
/// authentication failures) which credentials were tried.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub(crate) backend: &'static str,
    pub(crate) shown: &'a str,
    pub(crate) version: Option<&'a str>,
    pub(crate) credentials_hint: &'a str,
}

impl Subject<'_> {
    /// Maps `error` from an operation on this subject.
    pub(crate) fn map(&self, error: object_store::Error) -> Error {
        let shown = self.shown.to_owned();
        match error {
            object_store::Error::NotFound { .. } => Error::NotFound {
                uri: shown,
                version: self.version.map(str::to_owned),
            },
            object_store::Error::AlreadyExists { .. } => Error::AlreadyExists { key: shown },
            object_store::Error::Precondition { source, .. }
            | object_store::Error::NotModified { source, .. } => Error::Precondition {
                key: shown,
                detail: source.to_string(),
            },
            object_store::Error::PermissionDenied { source, .. } => Error::PermissionDenied {
                uri: shown,
                hint: self.credentials_hint.to_owned(),
                source: Some(source),
            },
            object_store::Error::Unauthenticated { source, .. } => Error::Unauthenticated {
                uri: shown,
                hint: self.credentials_hint.to_owned(),
                source: Some(source),
            },
            object_store::Error::NotSupported { .. }
            | object_store::Error::NotImplemented { .. } => Error::NotSupported {
                backend: self.backend,
                operation: "this operation",
            },
            other if mentions_timeout(&other) => Error::Timeout {
                uri: shown,
                seconds: crate::REQUEST_TIMEOUT.as_secs(),
            },
            other if mentions_credentials(&other) => Error::Unauthenticated {
                uri: shown,
                hint: self.credentials_hint.to_owned(),
                source: Some(Box::new(other)),
            },
            other => Error::Backend {
                backend: self.backend,
                uri: shown,
                source: Box::new(other),
            },
        }
    }
}

/// Whether any error in the chain reports a timeout. object_store wraps reqwest's timeout kinds
/// in its retry error without a dedicated variant, so the chain's text is what is left to test.
fn mentions_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    chain_mentions(error, &["timed out", "timeout"])
}

/// Whether the chain says a credential provider failed (for example no instance metadata
/// service outside a cloud VM).
fn mentions_credentials(error: &(dyn std::error::Error + 'static)) -> bool {
    chain_mentions(error, &["credential"])
}

fn chain_mentions(error: &(dyn std::error::Error + 'static), needles: &[&str]) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string().to_ascii_lowercase();
        if needles.iter().any(|needle| text.contains(needle)) {
            return true;
        }
        current = error.source();
    }
    false
}
