//! Property tests: serialisations round-trip, the digest ignores insertion order, accepted paths
//! never leave the root, and parsing never panics.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::Value;

use cairn_manifest::{
    CoreJsonOptions, DigestAlgorithm, Entry, LogicalPath, Manifest, StorageLayout,
    StoragePolicyConfig, normalize_posix,
};

/// Path pieces that stress normalisation: traversal, separators of both systems, drives.
fn path_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just(String::new()),
        Just("/".to_owned()),
        Just("\\".to_owned()),
        Just(":".to_owned()),
        Just("C:".to_owned()),
        Just("\0".to_owned()),
        Just("\t".to_owned()),
        "[a-cé ._-]{1,3}",
    ]
}

fn path_input() -> impl Strategy<Value = String> {
    vec(path_piece(), 0..8).prop_map(|pieces| pieces.concat())
}

/// Keys a manifest may hold; awkward characters (control characters too, which manifests may
/// contain) are included so that escaping is exercised.
fn entry_path() -> impl Strategy<Value = LogicalPath> {
    "[a-z\"\\\\<>&é中🙂 \u{1}\u{8}\u{1f}\u{7f}\u{a0}\u{2028}]{1,6}(/[a-z._:-]{1,4}){0,2}"
        .prop_filter_map("unsafe key", |text| {
            LogicalPath::from_manifest_key(&text).ok()
        })
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9+/=\"\\\\<>&é\u{1}\u{8}\u{1f}\u{2028}🙂 ]{0,10}"
}

fn non_empty_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9:/._\"<>é🙂-]{1,10}"
}

/// JSON values for `extra`; `floats` is off where the core's float64 pass would turn `2.0`
/// into `2` (a different `serde_json` value, though the same number).
fn extra_value(floats: bool) -> impl Strategy<Value = Value> {
    let float = if floats {
        (-1e20f64..1e20).prop_map(Value::from).boxed()
    } else {
        Just(Value::Null).boxed()
    };
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53)..(1i64 << 53)).prop_map(Value::from),
        text().prop_map(Value::String),
        float,
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::Array),
            btree_map(text(), inner, 0..3).prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn entry(floats: bool) -> impl Strategy<Value = Entry> {
    (
        text(),
        proptest::option::of(non_empty_text()),
        proptest::option::of(non_empty_text()),
        // Sizes over 2^63 - 1 are refused when parsed (no file is that large).
        proptest::option::of(0..=i64::MAX.unsigned_abs()),
        btree_map(text(), extra_value(floats), 0..3),
        proptest::option::of(non_empty_text()),
        any::<bool>(),
    )
        .prop_map(
            |(digest, reference, birth_artifact_id, size, extra, local_path, skip_cache)| Entry {
                digest,
                reference,
                birth_artifact_id,
                size,
                extra: extra.into_iter().collect(),
                local_path,
                skip_cache,
            },
        )
}

fn manifest(floats: bool) -> impl Strategy<Value = Manifest> {
    let layout = proptest::option::of(prop_oneof![
        Just(StorageLayout::V1),
        Just(StorageLayout::V2)
    ]);
    let region = proptest::option::of("[a-z][a-z-]{0,8}[a-z]");
    (layout, region, btree_map(entry_path(), entry(floats), 0..6)).prop_map(
        |(storage_layout, storage_region, entries)| {
            let mut manifest = Manifest::with_storage_policy_config(StoragePolicyConfig {
                storage_layout,
                storage_region,
            });
            for (path, entry) in entries {
                manifest
                    .add(path, entry, true)
                    .unwrap_or_else(|error| panic!("{error}"));
            }
            manifest
        },
    )
}

/// What survives the Python format: everything but `local_path` and `skip_cache`.
fn python_view(manifest: &Manifest) -> Manifest {
    let mut view = Manifest::with_storage_policy_config(manifest.storage_policy_config().clone());
    for (path, entry) in manifest.entries() {
        let entry = Entry {
            local_path: None,
            skip_cache: false,
            ..entry.clone()
        };
        view.add(path.clone(), entry, true)
            .unwrap_or_else(|error| panic!("{error}"));
    }
    view
}

/// What survives the core format: layout forced to V2 and a missing size written as 0.
fn core_view(manifest: &Manifest) -> Manifest {
    let config = StoragePolicyConfig {
        storage_layout: Some(StorageLayout::V2),
        ..manifest.storage_policy_config().clone()
    };
    let mut view = Manifest::with_storage_policy_config(config);
    for (path, entry) in manifest.entries() {
        let entry = Entry {
            size: Some(entry.size.unwrap_or(0)),
            ..entry.clone()
        };
        view.add(path.clone(), entry, true)
            .unwrap_or_else(|error| panic!("{error}"));
    }
    view
}

proptest! {
    #[test]
    fn python_json_round_trips(manifest in manifest(true)) {
        let text = manifest.to_python_json();
        prop_assert!(text.is_ascii());
        // The direct writer and the generic `json.dumps` emulation agree on every manifest.
        prop_assert_eq!(&text, &cairn_manifest::python_json_dumps(&manifest.to_python_value()));
        let parsed = Manifest::from_json(&text).unwrap();
        prop_assert_eq!(&parsed, &python_view(&manifest));
        prop_assert_eq!(parsed.to_python_json(), text);
    }

    #[test]
    fn core_json_round_trips(manifest in manifest(false)) {
        let text = manifest.to_core_json();
        let parsed = Manifest::from_json(&text).unwrap();
        prop_assert_eq!(&parsed, &core_view(&manifest));
        prop_assert_eq!(parsed.to_core_json(), text);
    }

    /// The chunks are the whole text, cut anywhere between entries; leaving out local paths
    /// gives the bytes of the manifest whose entries have none.
    #[test]
    fn core_json_chunks_concatenate_to_the_whole(manifest in manifest(false), chunk_size in 0_usize..400) {
        let options = CoreJsonOptions::default().with_chunk_size(chunk_size);
        let chunks: Vec<String> = manifest.core_json_chunks(options).collect();
        prop_assert!(chunks.iter().all(|chunk| !chunk.is_empty()));
        prop_assert_eq!(chunks.concat(), manifest.to_core_json());
        let mut without = Manifest::with_storage_policy_config(manifest.storage_policy_config().clone());
        for (path, entry) in manifest.entries() {
            let entry = Entry { local_path: None, ..entry.clone() };
            without.add(path.clone(), entry, true).unwrap_or_else(|error| panic!("{error}"));
        }
        let published: String = manifest.core_json_chunks(options.without_local_paths()).collect();
        prop_assert_eq!(published, without.to_core_json());
    }

    #[test]
    fn digest_ignores_insertion_order(
        entries in btree_map(entry_path(), text(), 0..8)
            .prop_map(|entries| entries.into_iter().collect::<Vec<_>>())
            .prop_shuffle()
    ) {
        let mut forward = Manifest::new();
        for (path, digest) in &entries {
            forward.add(path.clone(), Entry::file(digest.clone(), 1), false).unwrap();
        }
        let mut backward = Manifest::new();
        for (path, digest) in entries.iter().rev() {
            backward.add(path.clone(), Entry::file(digest.clone(), 1), false).unwrap();
        }
        for algorithm in [DigestAlgorithm::Md5, DigestAlgorithm::Xxh128] {
            prop_assert_eq!(forward.digest(algorithm), backward.digest(algorithm));
        }
        prop_assert_eq!(forward.to_core_json(), backward.to_core_json());
        prop_assert_eq!(forward.to_python_json(), backward.to_python_json());
    }

    #[test]
    fn accepted_paths_stay_inside_the_root(input in path_input()) {
        let normalized = normalize_posix(&input);
        prop_assert_eq!(normalize_posix(&normalized), normalized.clone());
        if let Ok(path) = LogicalPath::new(&input) {
            let text = path.as_str();
            prop_assert_eq!(text, normalized.as_str());
            prop_assert!(text != "." && !text.is_empty());
            prop_assert!(!text.starts_with(['/', '\\']));
            let mut characters = text.chars();
            let drive = matches!((characters.next(), characters.next()), (Some(letter), Some(':')) if letter.is_ascii_alphabetic());
            prop_assert!(!drive);
            prop_assert!(text.split(['/', '\\']).all(|component| component != ".." && !component.contains('\0')));
            prop_assert!(!text.chars().any(char::is_control));
            prop_assert_eq!(LogicalPath::new(text).ok(), Some(path.clone()));
            prop_assert_eq!(LogicalPath::from_manifest_key(text).ok(), Some(path.clone()));
        }
        if let Ok(path) = LogicalPath::from_manifest_key(&input) {
            prop_assert_eq!(path.as_str(), input.as_str());
            prop_assert!(path.as_str().split(['/', '\\']).all(|component| component != ".."));
        }
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in any::<String>()) {
        let _ = Manifest::from_json(&text);
    }

    #[test]
    fn parsing_arbitrary_json_never_panics(
        value in extra_value(true),
        key in path_input(),
        version in prop_oneof![Just(Value::from(1)), extra_value(true)],
    ) {
        let documents = [
            value.clone(),
            serde_json::json!({"version": version, "storagePolicy": "wandb-storage-policy-v1", "storagePolicyConfig": value, "contents": {}}),
            serde_json::json!({"version": 1, "storagePolicy": "wandb-storage-policy-v1", "contents": {key.clone(): value}}),
            serde_json::json!({"version": 1, "storagePolicy": "wandb-storage-policy-v1", "contents": {key: {"digest": "d", "size": version}}}),
        ];
        for document in documents {
            let _ = Manifest::from_json(&document.to_string());
        }
    }
}
