//! `entity/project/name:selector` as users type it, and the rule for entity (user and team)
//! names.

use std::fmt;

pub use cairn_manifest::{MAX_ENTITY_NAME_LENGTH, validate_entity_name};

/// A parsed artifact path: `[[entity/]project/]name[:selector]`, where the selector is an alias,
/// `vN` or an artifact digest. Names are not validated here (the server does that with the
/// SDK's rules); only the shape is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArtifactPath {
    /// The entity, when given.
    pub entity: Option<String>,
    /// The project, when given.
    pub project: Option<String>,
    /// The collection name.
    pub name: String,
    /// The alias, `vN` or digest, when given.
    pub selector: Option<String>,
}

/// Why an artifact path did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not an artifact path: {reason}; write `entity/project/name:alias`, `project/name:v3` or `name`"
)]
pub struct ParseArtifactPathError {
    /// The text as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl ArtifactPath {
    /// Parses `[[entity/]project/]name[:selector]`.
    pub fn parse(input: &str) -> Result<Self, ParseArtifactPathError> {
        let fail = |reason| ParseArtifactPathError {
            input: input.to_owned(),
            reason,
        };
        let mut parts: Vec<&str> = input.split('/').collect();
        if parts.len() > 3 {
            return Err(fail("it has more than three `/`-separated parts"));
        }
        let last = parts.pop().unwrap_or_default();
        let (name, selector) = match last.split_once(':') {
            Some((name, selector)) => {
                if selector.is_empty() {
                    return Err(fail("the part after `:` is empty"));
                }
                (name, Some(selector.to_owned()))
            }
            None => (last, None),
        };
        if name.is_empty() {
            return Err(fail("the artifact name is empty"));
        }
        if parts.iter().any(|part| part.is_empty()) {
            return Err(fail("the entity or project is empty"));
        }
        let (entity, project) = match parts.as_slice() {
            [] => (None, None),
            [project] => (None, Some((*project).to_owned())),
            [entity, project] => (Some((*entity).to_owned()), Some((*project).to_owned())),
            _ => return Err(fail("it has more than three `/`-separated parts")),
        };
        Ok(Self {
            entity,
            project,
            name: name.to_owned(),
            selector,
        })
    }

    /// The selector, `latest` when none was given.
    pub fn selector(&self) -> &str {
        self.selector
            .as_deref()
            .unwrap_or(cairn_manifest::LATEST_ALIAS)
    }

    /// Fills in a missing entity and project from defaults.
    pub fn with_defaults(mut self, entity: Option<&str>, project: Option<&str>) -> Self {
        if self.entity.is_none() {
            self.entity = entity.map(str::to_owned);
        }
        if self.project.is_none() {
            self.project = project.map(str::to_owned);
        }
        self
    }
}

impl fmt::Display for ArtifactPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(entity) = &self.entity {
            write!(formatter, "{entity}/")?;
        }
        if let Some(project) = &self.project {
            write!(formatter, "{project}/")?;
        }
        write!(formatter, "{}:{}", self.name, self.selector())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    type Parts<'a> = (Option<&'a str>, Option<&'a str>, &'a str, Option<&'a str>);

    fn check(input: &str, expect: Option<Parts<'_>>) {
        let parsed = ArtifactPath::parse(input).ok();
        let got = parsed.as_ref().map(|path| {
            (
                path.entity.as_deref(),
                path.project.as_deref(),
                path.name.as_str(),
                path.selector.as_deref(),
            )
        });
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn shapes() {
        check("e/p/n:v1", Some((Some("e"), Some("p"), "n", Some("v1"))));
        check("p/n:best", Some((None, Some("p"), "n", Some("best"))));
        check("n", Some((None, None, "n", None)));
        check("n:", None);
        check(":v1", None);
        check("e//n", None);
        check("a/b/c/d", None);
        check("e/p/n:a:b", Some((Some("e"), Some("p"), "n", Some("a:b"))));
    }

    #[test]
    fn entity_names() {
        assert!(validate_entity_name("acme-ml_2").is_ok());
        for bad in ["", "Acme", "-x", "a b", "a/b", &"a".repeat(65)] {
            assert!(validate_entity_name(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn display_parses_back(
            entity in "[a-z0-9][a-z0-9_-]{0,10}",
            project in "[a-z0-9][a-z0-9_.-]{0,10}",
            name in "[A-Za-z0-9][A-Za-z0-9_.-]{0,10}",
            selector in "[A-Za-z0-9_.-]{1,10}",
        ) {
            let path = ArtifactPath {
                entity: Some(entity), project: Some(project), name, selector: Some(selector),
            };
            prop_assert_eq!(ArtifactPath::parse(&path.to_string()).ok(), Some(path));
        }

        #[test]
        fn never_panics(input in "\\PC{0,40}") {
            let _ = ArtifactPath::parse(&input);
        }
    }
}
