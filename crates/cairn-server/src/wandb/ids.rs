//! W&B's global ids: standard base64 of `<Type>:<key>` (`QXJ0aWZhY3Q6MTAx` is `Artifact:101`).
//! Cairn's keys are its own (a version's opaque id, a project's number); the SDK treats ids as
//! opaque strings, but converts them from base64 where it puts them in URLs, so they must be
//! valid base64 of that form.

use base64::Engine as _;

/// `base64("<kind>:<key>")`.
pub(crate) fn encode(kind: &str, key: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{kind}:{key}"))
}

/// The key of a global id of `kind`. Anything else is taken as a key itself: manifests written
/// by the native client carry Cairn's raw version ids as `birthArtifactID`.
pub(crate) fn decode(kind: &str, id: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .decode(id)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            text.strip_prefix(kind)
                .and_then(|rest| rest.strip_prefix(':'))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| id.to_owned())
}

/// An artifact version's global id.
pub(crate) fn artifact(version_id: &str) -> String {
    encode("Artifact", version_id)
}

/// The version id of an artifact's global id (or of a raw version id).
pub(crate) fn version_of(id: &str) -> String {
    decode("Artifact", id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_raw_ids_pass_through() {
        assert_eq!(encode("Artifact", "101"), "QXJ0aWZhY3Q6MTAx");
        assert_eq!(version_of(&artifact("0123abcd")), "0123abcd");
        assert_eq!(
            version_of("0123456789abcdef01234567"),
            "0123456789abcdef01234567"
        );
        // Another kind's id is not an artifact's key.
        assert_eq!(version_of(&encode("Run", "x")), encode("Run", "x"));
    }
}
