//! Who is calling: the `Authorization` header turned into a [`Caller`] of the domain.
//!
//! A request authenticates with `Authorization: Bearer <key>` or the W&B form
//! `Basic base64("api:<key>")`. Keys are stored as their SHA-256, never as given. A request
//! without the header is anonymous; a header with an unknown or malformed key is refused with
//! `unauthenticated` even where anonymous access would be allowed, so a typo is never silently
//! downgraded. So is a request with two `Authorization` headers: which one counts would be a
//! guess.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use cairn_service::Caller;

use crate::error::ApiError;
use crate::state::AppState;

/// The caller of a request: `None` when anonymous. The access rules themselves are the
/// domain's (`cairn_service::access`).
#[derive(Debug, Clone)]
pub(crate) struct Auth(pub(crate) Option<Caller>);

impl Auth {
    /// The caller, if signed in.
    pub(crate) fn caller(&self) -> Option<&Caller> {
        self.0.as_ref()
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let mut headers = parts.headers.get_all(AUTHORIZATION).iter();
        let Some(header) = headers.next() else {
            return Ok(Self(None));
        };
        if headers.next().is_some() {
            // Proxies and servers disagree on which of two credentials wins; guessing could
            // act as the wrong user, so neither is used.
            return Err(ApiError::unauthenticated(
                "the request has more than one `Authorization` header; send exactly one",
            ));
        }
        let key = parse_authorization(header.as_bytes()).ok_or_else(|| {
            ApiError::unauthenticated(
                "the `Authorization` header is malformed: send `Bearer <key>` or `Basic base64(api:<key>)`",
            )
        })?;
        Ok(Self(Some(state.service().authenticate(&key).await?)))
    }
}

/// The key in an `Authorization` header value.
fn parse_authorization(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    let rest = rest.trim();
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_user, key) = decoded.split_once(':')?;
        key.to_owned()
    } else {
        return None;
    };
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: &str, expect: Option<&str>) {
        assert_eq!(
            parse_authorization(header.as_bytes()).as_deref(),
            expect,
            "{header}"
        );
    }

    #[test]
    fn authorization_headers() {
        check("Bearer cairn-abc", Some("cairn-abc"));
        check("bearer   cairn-abc ", Some("cairn-abc"));
        // base64("api:cairn-abc")
        check("Basic YXBpOmNhaXJuLWFiYw==", Some("cairn-abc"));
        check("Basic !!!", None);
        check("Bearer", None);
        check("Token x", None);
        check("Basic YXBp", None);
    }
}
