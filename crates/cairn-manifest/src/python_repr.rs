//! Python's `repr()` of a string, used to quote values in SDK-compatible error messages.
//!
//! The SDK writes messages such as `Invalid artifact path: 'C:\\x'` with an f-string `!r`, so a
//! backslash appears doubled and a control character appears as `\x01`. Reproducing `repr()`
//! keeps Cairn's messages byte-identical to the SDK's.
//!
//! Python escapes every character that `str.isprintable()` rejects. That needs the Unicode
//! general category of every code point, which the standard library does not expose;
//! [`crate::unicode_tables`] lists the *assigned* non-printable code points of Unicode 14
//! (Python 3.11). Unassigned code points, which Python would also escape, are written raw.

use std::fmt::Write as _;

use crate::unicode_tables::is_python_printable;

/// Quotes `text` exactly as Python's `repr(str)` does, except for unassigned code points.
pub(crate) fn python_repr(text: &str) -> String {
    // Python prefers single quotes and switches to double quotes only when that avoids escaping.
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if character == quote => {
                out.push('\\');
                out.push(character);
            }
            _ if is_python_printable(character) => out.push(character),
            _ => push_escape(&mut out, character),
        }
    }
    out.push(quote);
    out
}

fn push_escape(out: &mut String, character: char) {
    let code = u32::from(character);
    // Writing into a `String` cannot fail, so the `fmt::Result` carries no information.
    let _ = if code < 0x100 {
        write!(out, "\\x{code:02x}")
    } else if code < 0x1_0000 {
        write!(out, "\\u{code:04x}")
    } else {
        write!(out, "\\U{code:08x}")
    };
}

#[cfg(test)]
mod tests {
    use super::python_repr;

    fn check(input: &str, expect: &str) {
        assert_eq!(python_repr(input), expect, "repr of {input:?}");
    }

    #[test]
    fn matches_python() {
        // Expected values were printed by CPython 3.11's `repr()`.
        check("", "''");
        check("a.txt", "'a.txt'");
        check("C:\\x", "'C:\\\\x'");
        check("it's", "\"it's\"");
        check("it's \"x\"", "'it\\'s \"x\"'");
        check("say \"x\"", "'say \"x\"'");
        check("tab\there\nnl\rcr", "'tab\\there\\nnl\\rcr'");
        check("\u{1}\u{7f}\u{a0}é", "'\\x01\\x7f\\xa0é'");
        check("sep\u{2028}x\u{feff}", "'sep\\u2028x\\ufeff'");
        check("日本 🙂", "'日本 🙂'");
        check("\u{e0001}", "'\\U000e0001'");
    }
}
