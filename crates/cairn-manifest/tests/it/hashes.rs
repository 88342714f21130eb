//! `hashes.strings`, `hashes.b64_to_hex` and `manifest_digests` of `expected.json`.

use cairn_manifest::{
    DigestAlgorithm, Entry, LogicalPath, Manifest, artifact_digest_of, digest_preimage_of,
};

use crate::vectors::{array, expected, field, id, string};

/// Entry digests of strings, under both algorithms, in base64 and hex.
#[test]
fn string_digests() {
    let vectors = expected();
    let strings = array(field(field(&vectors, "hashes"), "strings"));
    assert!(!strings.is_empty());
    for record in strings {
        let input = string(record, "input").as_bytes();
        assert_eq!(
            DigestAlgorithm::Md5.content_digest(input),
            string(record, "md5_b64"),
            "{record}"
        );
        assert_eq!(
            DigestAlgorithm::Xxh128.content_digest(input),
            string(record, "xxh128_b64"),
            "{record}"
        );
        assert_eq!(
            DigestAlgorithm::Md5.hex_digest(input),
            string(record, "md5_hex"),
            "{record}"
        );
    }
}

/// Base64 to hex and back, the conversion used for cache paths and artifact ids.
#[test]
fn base64_hex_conversions() {
    let vectors = expected();
    let conversions = array(field(field(&vectors, "hashes"), "b64_to_hex"));
    assert!(!conversions.is_empty());
    for record in conversions {
        // The SDK's conversions in the vectors are all digest-sized: cairn-hash's strict
        // parsers and encoders must reproduce them exactly.
        let digest = cairn_hash::Md5Digest::from_base64(string(record, "b64"))
            .unwrap_or_else(|error| panic!("{record}: {error}"));
        assert_eq!(digest.to_hex(), string(record, "hex"), "{record}");
        let back = cairn_hash::Md5Digest::from_hex(string(record, "hex"))
            .unwrap_or_else(|error| panic!("{record}: {error}"));
        assert_eq!(
            back.to_base64(),
            string(record, "roundtrip_b64"),
            "{record}"
        );
    }
}

/// Artifact digests of explicit `(path, digest)` lists under both algorithms. Paths here are
/// not validated (the vectors use `x:y`, which `LogicalPath` rejects), so the free functions are
/// the subject; when every path is a valid `LogicalPath`, `Manifest::digest` must agree.
#[test]
fn manifest_digests() {
    let vectors = expected();
    let records = array(field(&vectors, "manifest_digests"));
    assert!(!records.is_empty());
    for record in records {
        let entries: Vec<(&str, &str)> = array(field(record, "entries"))
            .iter()
            .map(|pair| {
                let pair = array(pair);
                (pair[0].as_str().unwrap(), pair[1].as_str().unwrap())
            })
            .collect();
        let manifest = manifest_of(&entries);
        for algorithm in [DigestAlgorithm::Md5, DigestAlgorithm::Xxh128] {
            let expect = string(record, &format!("digest_{}", algorithm.as_wandb_str()));
            assert_eq!(
                artifact_digest_of(entries.iter().copied(), algorithm),
                expect,
                "{} {algorithm}",
                id(record)
            );
            assert_eq!(
                algorithm.hex_digest(digest_preimage_of(entries.iter().copied()).as_bytes()),
                expect
            );
            if let Some(manifest) = &manifest {
                assert_eq!(
                    manifest.digest(algorithm),
                    expect,
                    "{} via Manifest",
                    id(record)
                );
            }
        }
    }
}

/// A manifest of the entries, if every path is acceptable to `LogicalPath::new` unchanged.
fn manifest_of(entries: &[(&str, &str)]) -> Option<Manifest> {
    let mut manifest = Manifest::new();
    for (path, digest) in entries {
        let logical = LogicalPath::new(path)
            .ok()
            .filter(|logical| logical.as_str() == *path)?;
        manifest.add(logical, Entry::file(*digest, 0), true).ok()?;
    }
    Some(manifest)
}
