//! The OpenAPI 3.1 document of the native API, written by hand in `openapi.json` next to this
//! crate's `Cargo.toml` and served at [`cairn_api::routes::OPENAPI`]. A test checks that it
//! describes exactly the routes the router registers.

/// The document, as served.
pub const DOCUMENT: &str = include_str!("../openapi.json");

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::DOCUMENT;

    #[test]
    fn documents_exactly_the_registered_routes() -> Result<(), serde_json::Error> {
        let document: Value = serde_json::from_str(DOCUMENT)?;
        assert_eq!(
            document["openapi"].as_str().map(|v| v.starts_with("3.1")),
            Some(true)
        );
        let registered: BTreeSet<(String, String)> = crate::router::table()
            .into_iter()
            .map(|route| {
                (
                    route.method.as_str().to_ascii_lowercase(),
                    route.path.to_owned(),
                )
            })
            .collect();
        let mut documented = BTreeSet::new();
        if let Some(paths) = document["paths"].as_object() {
            for (path, item) in paths {
                for method in ["get", "put", "post", "delete", "patch"] {
                    if item.get(method).is_some() {
                        documented.insert((method.to_owned(), path.clone()));
                    }
                }
            }
        }
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        let unregistered: Vec<_> = documented.difference(&registered).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from openapi.json: {undocumented:?}"
        );
        assert!(
            unregistered.is_empty(),
            "openapi.json documents unknown routes: {unregistered:?}"
        );
        Ok(())
    }
}
