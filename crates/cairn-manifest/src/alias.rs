//! Aliases and tags: the labels attached to an artifact version (FORMAT.md §5, §6).
//!
//! The SDK accepts a single string wherever a list of aliases or tags is expected and treats it
//! as a one-element list; Rust callers pass a one-element slice instead.

use crate::error::{Error, Result};
use crate::unicode_tables::{is_python_numeric, is_python_word};

/// The alias every logged version receives.
pub const LATEST_ALIAS: &str = "latest";

/// Checks aliases: none may contain `/` or `:`. Anything else, even an empty string or spaces,
/// is accepted client-side. Returns the aliases unchanged.
pub fn validate_aliases(aliases: &[String]) -> Result<Vec<String>> {
    if let Some(alias) = aliases.iter().find(|alias| alias.contains(['/', ':'])) {
        return Err(Error::InvalidAlias {
            alias: alias.clone(),
        });
    }
    Ok(aliases.to_vec())
}

/// Checks tags and removes duplicates, keeping the first occurrence of each.
///
/// A tag is one or more words of Unicode word characters (`\w` as Python defines it) and `-`,
/// separated by runs of spaces, with no leading or trailing space. Tabs, punctuation and the
/// empty string are rejected. As in the SDK, a single trailing `\n` slips through the check
/// (Python's `$` matches before it) and is kept.
pub fn validate_tags(tags: &[String]) -> Result<Vec<String>> {
    let invalid: Vec<String> = tags
        .iter()
        .filter(|tag| !is_valid_tag(tag))
        .cloned()
        .collect();
    if !invalid.is_empty() {
        return Err(Error::InvalidTags { tags: invalid });
    }
    let mut unique: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        if !unique.contains(tag) {
            unique.push(tag.clone());
        }
    }
    Ok(unique)
}

/// A match of `^[-\w]+( +[-\w]+)*$` with Python's `re.match`: word characters and spaces, no
/// space at either end; like the SDK, one trailing newline is tolerated, because `$` also
/// matches just before it.
fn is_valid_tag(tag: &str) -> bool {
    let tag = tag.strip_suffix('\n').unwrap_or(tag);
    !tag.is_empty()
        && !tag.starts_with(' ')
        && !tag.ends_with(' ')
        && tag
            .chars()
            .all(|character| character == ' ' || character == '-' || is_python_word(character))
}

/// Whether `alias` names a version (`v0`, `v12`): a `v` followed by at least one character,
/// all of which are numeric in the sense of Python's `str.isnumeric()`.
///
/// That is broader than ASCII digits: `v²`, `v٣` and `v三` are version aliases to the SDK, so
/// they are here too.
pub fn is_version_alias(alias: &str) -> bool {
    alias
        .strip_prefix('v')
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(is_python_numeric))
}

/// The aliases a version is logged with: `aliases` plus `latest`, without duplicates.
///
/// The SDK goes through a Python set, so its order is unspecified; Cairn keeps the first
/// occurrence of each alias in input order and appends `latest` when it is missing.
pub fn resolve_aliases(aliases: &[String]) -> Vec<String> {
    let mut resolved: Vec<String> = Vec::with_capacity(aliases.len() + 1);
    for alias in aliases.iter().map(String::as_str).chain([LATEST_ALIAS]) {
        if !resolved.iter().any(|existing| existing == alias) {
            resolved.push(alias.to_owned());
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::{is_version_alias, resolve_aliases, validate_aliases, validate_tags};

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    fn check_tags(input: &[&str], expect: Option<&[&str]>) {
        let actual = validate_tags(&strings(input)).ok();
        assert_eq!(actual, expect.map(strings), "tags {input:?}");
    }

    #[test]
    fn tags() {
        check_tags(
            &["a b", "x-y_z", "ünï", "a  b"],
            Some(&["a b", "x-y_z", "ünï", "a  b"]),
        );
        check_tags(&["dup", "other", "dup"], Some(&["dup", "other"]));
        check_tags(&[], Some(&[]));
        check_tags(&["tab\there"], None);
        check_tags(&["trailing\n"], Some(&["trailing\n"]));
        check_tags(&["trailing\n\n"], None);
        check_tags(&["\n"], None);
        check_tags(&["e\u{301}"], None);
        check_tags(&["ok", " "], None);
    }

    #[test]
    fn aliases() {
        assert!(validate_aliases(&strings(&["", "with space", "v1"])).is_ok());
        assert!(validate_aliases(&strings(&["ok", "a:b"])).is_err());
        assert_eq!(
            resolve_aliases(&strings(&["best", "latest", "best"])),
            strings(&["best", "latest"])
        );
        assert_eq!(resolve_aliases(&[]), strings(&["latest"]));
    }

    #[test]
    fn version_aliases() {
        for (alias, expect) in [
            ("v0", true),
            ("v三", true),
            ("v1二", true),
            ("v", false),
            ("V1", false),
            ("vv1", false),
            ("v 1", false),
            ("", false),
        ] {
            assert_eq!(is_version_alias(alias), expect, "alias {alias:?}");
        }
    }
}
