//! Reference URIs: split the way the W&B SDK splits them, and shown with their secrets hidden.
//!
//! The SDK takes URIs apart with Python's `urlsplit` and uses the pieces raw: an S3 key is the
//! path after the first `/`, *not* percent-decoded, and a GCS generation is the fragment. Parsing
//! into a WHATWG `Url` would re-encode spaces and other characters, changing keys and digests, so
//! [`ReferenceUri`] keeps the text exactly as given and only records where each piece starts.
//!
//! URIs may carry credentials: `user:password@host`, presigned S3 (`X-Amz-Signature`,
//! `X-Amz-Credential`), GCS (`X-Goog-Signature`) and Azure SAS (`sig`) query parameters.
//! [`Redacted`] is the only way a URI reaches `Display`, `Debug`, error messages and logs.

use std::fmt;

use crate::{Error, Result};

/// A reference URI, validated to have a scheme, split into the parts Python's `urlsplit` finds.
///
/// ```
/// use cairn_storage::ReferenceUri;
///
/// let uri = ReferenceUri::parse("s3://bucket/data/a b.csv?versionId=v1").unwrap();
/// assert_eq!(uri.scheme(), "s3");
/// assert_eq!(uri.authority(), "bucket");
/// assert_eq!(uri.path(), "/data/a b.csv");
/// assert_eq!(uri.query_param("versionId").as_deref(), Some("v1"));
/// assert_eq!(uri.without_query_and_fragment(), "s3://bucket/data/a b.csv");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ReferenceUri {
    raw: String,
    scheme: String,
    /// Byte range of the authority (`netloc`), empty when the URI has no `//`.
    authority: (usize, usize),
    /// Byte range of the path.
    path: (usize, usize),
    /// Byte range of the query, without its `?`.
    query: Option<(usize, usize)>,
    /// Byte range of the fragment, without its `#`.
    fragment: Option<(usize, usize)>,
}

impl ReferenceUri {
    /// Splits `uri`. It must start with a scheme (`letter *(letter / digit / "+" / "-" / ".")`
    /// followed by `:`), as the SDK requires of references; the scheme is lower-cased.
    pub fn parse(uri: &str) -> Result<Self> {
        let malformed = |reason: &'static str| Error::MalformedUri {
            uri: Redacted::new(uri).to_string(),
            reason,
        };
        let scheme = uri_scheme(uri).ok_or_else(|| {
            malformed("a reference must be a URI with a scheme, such as `s3://bucket/key`; to reference a local file, use `file://`")
        })?;
        if uri.chars().any(|char| char == '\0') {
            return Err(malformed("it contains a NUL character"));
        }
        let start = scheme.len() + 1;
        let (authority, rest_start) = match uri[start..].strip_prefix("//") {
            Some(after) => {
                let authority_start = start + 2;
                let end = after
                    .find(['/', '?', '#'])
                    .map_or(uri.len(), |offset| authority_start + offset);
                ((authority_start, end), end)
            }
            None => ((start, start), start),
        };
        let (before_fragment, fragment) = match uri[rest_start..].find('#') {
            Some(offset) => {
                let hash = rest_start + offset;
                (hash, Some((hash + 1, uri.len())))
            }
            None => (uri.len(), None),
        };
        let (path_end, query) = match uri[rest_start..before_fragment].find('?') {
            Some(offset) => {
                let mark = rest_start + offset;
                (mark, Some((mark + 1, before_fragment)))
            }
            None => (before_fragment, None),
        };
        Ok(Self {
            raw: uri.to_owned(),
            scheme: scheme.to_ascii_lowercase(),
            authority,
            path: (rest_start, path_end),
            query,
            fragment,
        })
    }

    /// The URI exactly as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The scheme, lower-cased (`s3`, `gs`, `https`, ...).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The authority (`netloc`): a bucket, a host and port, possibly with user info.
    pub fn authority(&self) -> &str {
        &self.raw[self.authority.0..self.authority.1]
    }

    /// The host part of the authority: without user info and port, lower-cased.
    pub fn host(&self) -> String {
        let authority = self.authority();
        let host_port = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let host = if host_port.starts_with('[') {
            host_port
                .find(']')
                .map_or(host_port, |end| &host_port[..=end])
        } else {
            host_port.split(':').next().unwrap_or(host_port)
        };
        host.to_ascii_lowercase()
    }

    /// The path, raw (not percent-decoded), starting with `/` unless empty.
    pub fn path(&self) -> &str {
        &self.raw[self.path.0..self.path.1]
    }

    /// The query, without its `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.map(|(start, end)| &self.raw[start..end])
    }

    /// The fragment, without its `#`.
    pub fn fragment(&self) -> Option<&str> {
        self.fragment.map(|(start, end)| &self.raw[start..end])
    }

    /// The first value of query parameter `key`, percent-decoded (`+` stays `+`, as S3 version
    /// ids may contain it).
    pub fn query_param(&self, key: &str) -> Option<String> {
        self.query()?.split('&').find_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (name == key).then(|| {
                percent_encoding::percent_decode_str(value)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    }

    /// `scheme://authority/path`: the URI without query and fragment, as the SDK records
    /// object-store references.
    pub fn without_query_and_fragment(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority(), self.path())
    }

    /// The URI with user info and signatures hidden, for messages and logs.
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted::new(&self.raw)
    }
}

impl fmt::Display for ReferenceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.redacted().fmt(f)
    }
}

impl fmt::Debug for ReferenceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReferenceUri")
            .field(&self.redacted().to_string())
            .finish()
    }
}

/// The scheme of `uri` if it has one, as Python's `urlsplit` finds it (not lower-cased):
/// a letter, then letters, digits, `+`, `-` or `.`, then `:`.
///
/// ```
/// assert_eq!(cairn_storage::uri_scheme("S3://bucket/key"), Some("S3"));
/// assert_eq!(cairn_storage::uri_scheme("relative/path"), None);
/// ```
pub fn uri_scheme(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let starts_with_letter = chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic());
    let valid = starts_with_letter
        && chars.all(|char| char.is_ascii_alphanumeric() || "+-.".contains(char));
    valid.then_some(scheme)
}

/// Query parameters whose values are secrets: presigned-URL signatures and credentials of S3 and
/// GCS, Azure SAS signatures, and common token names. Compared case-insensitively.
const SECRET_PARAMETERS: &[&str] = &[
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-signature",
    "x-goog-credential",
    "sig",
    "signature",
    "access_token",
    "token",
    "api_key",
    "apikey",
    "password",
    "secret",
];

/// A URI for display: user info becomes `***@` and secret query values become `***`.
///
/// ```
/// use cairn_storage::Redacted;
///
/// let shown = Redacted::new("https://u:pw@acct.blob.core.windows.net/c/b?sv=1&sig=abc").to_string();
/// assert_eq!(shown, "https://***@acct.blob.core.windows.net/c/b?sv=1&sig=***");
/// ```
#[derive(Clone, Copy)]
pub struct Redacted<'a>(&'a str);

impl<'a> Redacted<'a> {
    /// Wraps `uri` for display.
    pub fn new(uri: &'a str) -> Self {
        Self(uri)
    }
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = self.0;
        let (before_fragment, fragment) = match uri.find('#') {
            Some(hash) => (&uri[..hash], Some(&uri[hash..])),
            None => (uri, None),
        };
        let (base, query) = match before_fragment.find('?') {
            Some(mark) => (&before_fragment[..mark], Some(&before_fragment[mark + 1..])),
            None => (before_fragment, None),
        };
        match base.find("://") {
            Some(separator) => {
                let authority_start = separator + 3;
                let authority_end = base[authority_start..]
                    .find('/')
                    .map_or(base.len(), |offset| authority_start + offset);
                let authority = &base[authority_start..authority_end];
                match authority.rfind('@') {
                    Some(at) => write!(
                        f,
                        "{}***{}{}",
                        &base[..authority_start],
                        &authority[at..],
                        &base[authority_end..]
                    )?,
                    None => f.write_str(base)?,
                }
            }
            None => f.write_str(base)?,
        }
        if let Some(query) = query {
            f.write_str("?")?;
            for (index, pair) in query.split('&').enumerate() {
                if index > 0 {
                    f.write_str("&")?;
                }
                match pair.split_once('=') {
                    Some((name, _)) if is_secret(name) => write!(f, "{name}=***")?,
                    _ => f.write_str(pair)?,
                }
            }
        }
        if let Some(fragment) = fragment {
            f.write_str(fragment)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

fn is_secret(name: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
    SECRET_PARAMETERS
        .iter()
        .any(|secret| decoded.eq_ignore_ascii_case(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_split(uri: &str, expect: [&str; 5]) {
        let parsed = ReferenceUri::parse(uri).unwrap();
        let got = [
            parsed.scheme(),
            parsed.authority(),
            parsed.path(),
            parsed.query().unwrap_or("<none>"),
            parsed.fragment().unwrap_or("<none>"),
        ];
        assert_eq!(got, expect, "{uri}");
    }

    #[test]
    fn splits_like_urlsplit() {
        check_split(
            "s3://b/k/x?versionId=1",
            ["s3", "b", "/k/x", "versionId=1", "<none>"],
        );
        check_split(
            "s3://other-bucket",
            ["s3", "other-bucket", "", "<none>", "<none>"],
        );
        check_split(
            "gs://b/models/model.pt#1700",
            ["gs", "b", "/models/model.pt", "<none>", "1700"],
        );
        check_split(
            "HTTP://h:80/a%20b?q=1#f?g",
            ["http", "h:80", "/a%20b", "q=1", "f?g"],
        );
        check_split(
            "custom:opaque",
            ["custom", "", "opaque", "<none>", "<none>"],
        );
        check_split("s3://b?x", ["s3", "b", "", "x", "<none>"]);
    }

    #[test]
    fn rejects_what_is_not_a_uri() {
        for bad in ["", "no-scheme", "/abs/path", "1http://x", "c:\0"] {
            let error = ReferenceUri::parse(bad).unwrap_err();
            assert!(
                matches!(error, Error::MalformedUri { .. }),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn schemes() {
        let check = |uri: &str, expect: Option<&str>| {
            assert_eq!(
                uri_scheme(uri).map(str::to_ascii_lowercase).as_deref(),
                expect,
                "{uri:?}"
            )
        };
        check("file:///x", Some("file"));
        check("S3://bucket/key", Some("s3"));
        check("custom-scheme://host/path", Some("custom-scheme"));
        check("/abs/path/without/scheme", None);
        check("relative/path", None);
        check("1abc://x", None);
        check(":x", None);
    }

    #[test]
    fn hosts() {
        let host = |uri: &str| ReferenceUri::parse(uri).unwrap().host();
        assert_eq!(
            host("https://u:p@Acct.Blob.Core.Windows.Net:443/c"),
            "acct.blob.core.windows.net"
        );
        assert_eq!(host("http://[::1]:8080/x"), "[::1]");
        assert_eq!(host("s3://bucket/k"), "bucket");
    }

    #[test]
    fn redacts_secrets_only() {
        let shown = |uri: &str| Redacted::new(uri).to_string();
        assert_eq!(
            shown("https://b.s3.amazonaws.com/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=f00&x=1"),
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***&x=1"
        );
        assert_eq!(shown("http://user:pw@h/p#frag"), "http://***@h/p#frag");
        assert_eq!(
            shown("s3://bucket/key?versionId=v"),
            "s3://bucket/key?versionId=v"
        );
        assert_eq!(shown("weird"), "weird");
        let uri = ReferenceUri::parse("https://h/x?SIG=s3cr3t").unwrap();
        assert!(!format!("{uri} {uri:?}").contains("s3cr3t"));
    }
}
