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
        let hex = base64_to_hex(string(record, "b64"));
        assert_eq!(hex, string(record, "hex"), "{record}");
        assert_eq!(
            hex_to_base64(&hex),
            string(record, "roundtrip_b64"),
            "{record}"
        );
        // Digest-sized values must also go through cairn-hash's strict parsers.
        if let Ok(digest) = cairn_hash::Md5Digest::from_base64(string(record, "b64")) {
            assert_eq!(digest.to_hex(), string(record, "hex"));
        }
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

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Decodes padded standard base64 of any length (the SDK's helper is not limited to digests).
fn base64_to_hex(text: &str) -> String {
    let mut bits = 0u32;
    let mut count = 0;
    let mut hex = String::new();
    for byte in text.bytes().filter(|byte| *byte != b'=') {
        let value = ALPHABET
            .iter()
            .position(|candidate| *candidate == byte)
            .unwrap_or_else(|| panic!("bad base64 {text}"));
        bits = (bits << 6) | u32::try_from(value).unwrap_or_else(|error| panic!("{error}"));
        count += 6;
        if count >= 8 {
            count -= 8;
            hex.push_str(&format!("{:02x}", (bits >> count) & 0xff));
        }
    }
    hex
}

/// Encodes hex as padded standard base64.
fn hex_to_base64(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|index| {
            u8::from_str_radix(&hex[index..index + 2], 16)
                .unwrap_or_else(|error| panic!("bad hex {hex}: {error}"))
        })
        .collect();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut buffer = [0u8; 3];
        buffer[..chunk.len()].copy_from_slice(chunk);
        let group =
            (u32::from(buffer[0]) << 16) | (u32::from(buffer[1]) << 8) | u32::from(buffer[2]);
        for index in 0..4 {
            if index <= chunk.len() {
                out.push(char::from(
                    ALPHABET[((group >> (18 - 6 * index)) & 0x3f) as usize],
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}
