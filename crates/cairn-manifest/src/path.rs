//! Logical entry paths: normalisation and the rules that keep them inside the artifact root.
//!
//! A logical path is the key of a manifest's `contents` and, when an artifact is downloaded, a
//! path relative to the download root. The SDK normalises it as a POSIX path and then rejects
//! anything that could name a file outside the root on POSIX *or* Windows (FORMAT.md §6).
//! [`LogicalPath`] encodes that check in a type, so code that holds one never re-validates.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A validated, normalised logical path of a manifest entry.
///
/// Comparison, ordering and hashing are those of the underlying string. Rust orders strings by
/// their UTF-8 bytes, which is the same as Python's code-point order, so a sorted collection of
/// `LogicalPath`s is in the order the artifact digest needs (FORMAT.md §3.3).
///
/// ```
/// use cairn_manifest::LogicalPath;
///
/// let path = LogicalPath::new("./data//train/")?;
/// assert_eq!(path.as_str(), "data/train");
/// assert!(LogicalPath::new("data/../secrets").is_err());
/// # Ok::<(), cairn_manifest::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogicalPath(String);

impl LogicalPath {
    /// Validates a path that Cairn is about to create (`add_file`, `add_dir`, `new_file` and
    /// reference names).
    ///
    /// The input is normalised with [`normalize_posix`] and rejected, with the SDK's message, if
    /// it is `.` (which includes the empty string), absolute on POSIX or Windows (leading `/` or
    /// `\`, a drive such as `C:` or even `a:b`, a UNC share), or has a `..` component when split
    /// on `/` or on `\`. The Windows checks also apply to the normal form, so `./C:x` is
    /// rejected although the SDK lets it through. On top of the SDK's rules Cairn rejects every
    /// control character (`char::is_control`, which includes NUL), because such names cannot be
    /// written on every file system and hide in terminal output.
    pub fn new(input: &str) -> Result<Self> {
        let normalized = normalize_posix(input);
        check_stays_inside(input, &normalized)?;
        if let Some(character) = input.chars().find(|character| character.is_control()) {
            return Err(Error::ControlCharacterInPath {
                input: input.to_owned(),
                character,
            });
        }
        Ok(Self(normalized))
    }

    /// Validates a `contents` key read from a manifest.
    ///
    /// The traversal, absolute-path and drive rules of [`LogicalPath::new`] apply, and so does the
    /// NUL rejection; other control characters are tolerated because the SDK accepts them in
    /// names and real manifests contain them. The key must already be in normal form: a key
    /// such as `a//b` is rejected rather than rewritten, because rewriting it would change the
    /// artifact digest the manifest was published under.
    pub fn from_manifest_key(input: &str) -> Result<Self> {
        let normalized = normalize_posix(input);
        check_stays_inside(input, &normalized)?;
        if input.contains('\0') {
            return Err(Error::ControlCharacterInPath {
                input: input.to_owned(),
                character: '\0',
            });
        }
        if normalized != input {
            return Err(Error::NonNormalizedKey {
                key: input.to_owned(),
                normalized,
            });
        }
        Ok(Self(normalized))
    }

    /// The path as a string, components separated by `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the path and returns its string.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Normalises `input` the way the SDK's `LogicalPath` does on POSIX, without validating it.
///
/// Empty and `.` components are dropped, repeated and trailing `/` collapse, and `..` is kept
/// (it is not resolved). As in Python's `PurePosixPath`, exactly two leading slashes are kept
/// while one or three or more become one. The empty string and `./` become `.`. A `\` is an
/// ordinary character.
///
/// ```
/// assert_eq!(cairn_manifest::normalize_posix("a/./b/../c"), "a/b/../c");
/// assert_eq!(cairn_manifest::normalize_posix(""), ".");
/// assert_eq!(cairn_manifest::normalize_posix("/abs/x/"), "/abs/x");
/// ```
pub fn normalize_posix(input: &str) -> String {
    let rest = input.trim_start_matches('/');
    let root = match input.len() - rest.len() {
        0 => "",
        2 => "//",
        _ => "/",
    };
    let mut out = String::with_capacity(input.len());
    out.push_str(root);
    let mut first = true;
    for component in rest
        .split('/')
        .filter(|component| !component.is_empty() && *component != ".")
    {
        if !first {
            out.push('/');
        }
        out.push_str(component);
        first = false;
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// The SDK's containment rules, checked on the input *and* on its normal form.
///
/// The SDK checks the input as a POSIX path after normalisation and as a Windows path before
/// it. Checking the normal form on Windows terms too closes a gap the SDK leaves open: it
/// accepts `./C:x` and `./\x`, whose normal forms `C:x` and `\x` it would itself reject,
/// so a path it stores could not be validated again.
fn check_stays_inside(input: &str, normalized: &str) -> Result<()> {
    if normalized == "." || escapes_on_windows(input) || escapes_on_windows(normalized) {
        return Err(Error::InvalidPath {
            input: input.to_owned(),
        });
    }
    Ok(())
}

/// Whether `path` would leave the root read as a Windows path, as Python 3.11's
/// `PureWindowsPath` reads it: a leading `/` or `\` (root or UNC share), a drive (an ASCII
/// letter and `:`), or a `..` component with either separator. A POSIX-absolute path starts
/// with `/`, so this covers POSIX as well.
fn escapes_on_windows(path: &str) -> bool {
    path.starts_with(['/', '\\'])
        || has_drive(path)
        || path.split(['/', '\\']).any(|component| component == "..")
}

/// Whether `path` starts with a Windows drive such as `C:` (ASCII letters only, so `1:x` and
/// `é:x` are ordinary names, as in the SDK).
fn has_drive(path: &str) -> bool {
    let mut characters = path.chars();
    matches!((characters.next(), characters.next()), (Some(letter), Some(':')) if letter.is_ascii_alphabetic())
}

/// Whether the SDK's relative-path check (`validate_relpath`) rejects `input`; used for
/// download-root names, which get no control-character check.
pub(crate) fn is_unsafe_relative_path(input: &str) -> bool {
    check_stays_inside(input, &normalize_posix(input)).is_err()
}

impl fmt::Display for LogicalPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl fmt::Debug for LogicalPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "LogicalPath({:?})", self.0)
    }
}

impl AsRef<str> for LogicalPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for LogicalPath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for LogicalPath {
    type Err = Error;

    /// Same as [`LogicalPath::new`].
    fn from_str(input: &str) -> Result<Self> {
        Self::new(input)
    }
}

impl TryFrom<&str> for LogicalPath {
    type Error = Error;

    /// Same as [`LogicalPath::new`].
    fn try_from(input: &str) -> Result<Self> {
        Self::new(input)
    }
}

impl From<LogicalPath> for String {
    fn from(path: LogicalPath) -> Self {
        path.0
    }
}

#[cfg(test)]
mod tests {
    use super::{LogicalPath, normalize_posix};
    use crate::Error;

    fn check(input: &str, expect: Result<&str, &str>) {
        let actual = LogicalPath::new(input)
            .map(LogicalPath::into_string)
            .map_err(|error| error.to_string());
        assert_eq!(
            actual.as_deref(),
            expect.map_err(str::to_owned).as_deref(),
            "input {input:?}"
        );
    }

    fn check_key(input: &str, accepted: bool) {
        let actual = LogicalPath::from_manifest_key(input);
        assert_eq!(actual.is_ok(), accepted, "key {input:?}: {actual:?}");
        if let Ok(path) = actual {
            assert_eq!(path.as_str(), input);
        }
    }

    #[test]
    fn normalisation() {
        for (input, expect) in [
            ("a//b", "a/b"),
            ("./a", "a"),
            ("a/", "a"),
            ("/abs/x", "/abs/x"),
            ("a\\b", "a\\b"),
            (".", "."),
            ("", "."),
            ("./", "."),
            ("/", "/"),
            ("//x", "//x"),
            ("///x", "/x"),
            ("a/./b/../c", "a/b/../c"),
        ] {
            assert_eq!(normalize_posix(input), expect, "input {input:?}");
        }
    }

    #[test]
    fn strict_paths() {
        check("a.txt", Ok("a.txt"));
        check("./a//b/", Ok("a/b"));
        check("dir/a:b", Ok("dir/a:b"));
        check("sub\\back.txt", Ok("sub\\back.txt"));
        check("...", Ok("..."));
        check("sep\u{2028}x", Ok("sep\u{2028}x"));
        check("../a", Err("Invalid artifact path: '../a'"));
        check("a/..", Err("Invalid artifact path: 'a/..'"));
        check("a\\..\\b", Err("Invalid artifact path: 'a\\\\..\\\\b'"));
        check("\\x", Err("Invalid artifact path: '\\\\x'"));
        check("C:x", Err("Invalid artifact path: 'C:x'"));
        check("./a:b", Err("Invalid artifact path: './a:b'"));
        check(".//\\x", Err("Invalid artifact path: './/\\\\x'"));
        check("1:x", Ok("1:x"));
        check("é:x", Ok("é:x"));
        check("::", Ok("::"));
        check(
            "\\\\srv\\share\\x",
            Err("Invalid artifact path: '\\\\\\\\srv\\\\share\\\\x'"),
        );
        check("//x", Err("Invalid artifact path: '//x'"));
        check("./", Err("Invalid artifact path: './'"));
        check(
            "tab\there",
            Err(
                "Invalid artifact path: 'tab\\there': control character U+0009 is not allowed in a path",
            ),
        );
        check(
            "nul\0",
            Err(
                "Invalid artifact path: 'nul\\x00': control character U+0000 is not allowed in a path",
            ),
        );
        check(
            "del\u{7f}",
            Err(
                "Invalid artifact path: 'del\\x7f': control character U+007F is not allowed in a path",
            ),
        );
    }

    #[test]
    fn manifest_keys() {
        check_key("ctl\u{1}\u{8}\u{c}\u{1f}\u{7f}\u{a0}end.bin", true);
        check_key("sep\u{2028}line\tTab.bin", true);
        check_key("quote\"back\\slash.txt", true);
        check_key("../evil", false);
        check_key("/abs", false);
        check_key("C:x", false);
        check_key("a\\..\\b", false);
        check_key("nul\0", false);
        check_key("", false);
        check_key("a//b", false);
        check_key("a/", false);
        assert!(matches!(
            LogicalPath::from_manifest_key("./a"),
            Err(Error::NonNormalizedKey { .. })
        ));
    }
}
