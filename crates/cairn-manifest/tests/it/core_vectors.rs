//! `expected_core.json`: the exact `wandb_manifest.json` bytes `wandb-core` uploaded, and the
//! SDK-side manifests of the same scenarios.

use serde_json::Value;

use cairn_manifest::{DigestAlgorithm, Manifest};

use crate::vectors::{algorithm, array, expected_core, field, id, ordered, string};

/// Parsing an uploaded manifest and writing it again gives the same bytes, whose MD5 is the
/// manifest digest the core sent to the server.
#[test]
fn uploaded_manifests_round_trip_byte_for_byte() {
    let vectors = expected_core();
    let mut checked = 0;
    for scenario in array(field(&vectors, "scenarios")) {
        for event in array(field(scenario, "backend_events")) {
            let Some(bytes) = event.get("manifest_utf8").and_then(Value::as_str) else {
                continue;
            };
            let manifest = Manifest::from_json(bytes)
                .unwrap_or_else(|error| panic!("{}: {error}", id(scenario)));
            let written = manifest.to_core_json();
            assert_eq!(written, bytes, "{}", id(scenario));
            // Scenarios with random staging file names carry a placeholder instead of the size
            // and digest of the original bytes; only real values are compared.
            if let Ok(md5) = cairn_hash::Md5Digest::from_base64(string(event, "md5_b64")) {
                assert_eq!(cairn_hash::md5(written.as_bytes()), md5, "{}", id(scenario));
            }
            if let Some(size) = event.get("size").and_then(Value::as_u64) {
                assert_eq!(written.len() as u64, size, "{}", id(scenario));
            }
            // Parsing the core format and writing the Python one must not lose anything the
            // Python format holds.
            let reparsed = Manifest::from_json(&manifest.to_python_json()).unwrap();
            assert_eq!(
                reparsed.to_python_value(),
                manifest.to_python_value(),
                "{}",
                id(scenario)
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// The SDK-side manifest of each scenario round-trips through the Python format and has the
/// digest the SDK computed, under the artifact's digest algorithm.
#[test]
fn python_side_manifests() {
    let vectors = expected_core();
    let mut checked = 0;
    for scenario in array(field(&vectors, "scenarios")) {
        for side in array(field(scenario, "python_side")) {
            let manifest_json = field(side, "python_manifest");
            let manifest = Manifest::from_json(&manifest_json.to_string())
                .unwrap_or_else(|error| panic!("{}: {error}", id(scenario)));
            assert_eq!(
                ordered(&manifest.to_python_value()),
                ordered(manifest_json),
                "{}",
                id(scenario)
            );
            let digest_algorithm = field(side, "artifact")
                .get("kwargs")
                .and_then(|kwargs| kwargs.get("digest_algorithm"))
                .and_then(Value::as_str)
                .map_or(DigestAlgorithm::Md5, algorithm);
            assert_eq!(
                manifest.digest(digest_algorithm),
                string(side, "python_digest"),
                "{}",
                id(scenario)
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}
