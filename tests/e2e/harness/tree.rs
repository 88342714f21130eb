//! Trees of files: deterministic pseudo-random content, writing files with their parents, and
//! checking that a downloaded tree is byte-identical to the one that was uploaded.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

/// `len` pseudo-random (incompressible) bytes from `seed` (splitmix64).
pub(crate) fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        bytes.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// Writes `content` to `root/relative`, creating the parent directories.
pub(crate) fn write_file(root: &Path, relative: &str, content: &[u8]) -> Result<PathBuf> {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent)?;
    }
    fs_err::write(&path, content)?;
    Ok(path)
}

/// Writes `count` files of `size` distinct random bytes each (`part-000.bin`, ...) under `root`.
pub(crate) fn write_random_files(root: &Path, count: u64, size: usize, seed: u64) -> Result<()> {
    for index in 0..count {
        let content = random_bytes(seed ^ (index + 1).wrapping_mul(0x5851_F42D_4C95_7F2D), size);
        write_file(root, &format!("part-{index:03}.bin"), &content)?;
    }
    Ok(())
}

/// Fails unless `actual` holds exactly the files of `expected` (same relative paths, same bytes).
/// Directories only matter through the files in them: an artifact has no empty directories.
pub(crate) fn assert_same_tree(expected: &Path, actual: &Path) -> Result<()> {
    let want = files(expected)?;
    let got = files(actual)?;
    let want_names: Vec<&String> = want.keys().collect();
    let got_names: Vec<&String> = got.keys().collect();
    ensure!(
        want_names == got_names,
        "`{}` does not hold the same files as `{}`:\n  expected {want_names:?}\n  found    {got_names:?}",
        actual.display(),
        expected.display()
    );
    for (name, path) in &want {
        let other = &got[name];
        ensure!(
            same_content(path, other)?,
            "`{}` differs from `{}`",
            other.display(),
            path.display()
        );
    }
    Ok(())
}

/// Every regular file under `root`, by its `/`-separated relative path.
fn files(root: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut found = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs_err::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else {
                ensure!(
                    kind.is_file(),
                    "`{}` is neither a file nor a directory",
                    path.display()
                );
                let relative = path.strip_prefix(root).with_context(|| {
                    format!("`{}` is outside `{}`", path.display(), root.display())
                })?;
                let name = relative
                    .components()
                    .map(|part| part.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                found.insert(name, path);
            }
        }
    }
    Ok(found)
}

/// Compares two files a buffer at a time.
fn same_content(left: &Path, right: &Path) -> Result<bool> {
    if fs_err::metadata(left)?.len() != fs_err::metadata(right)?.len() {
        return Ok(false);
    }
    let (mut left, mut right) = (fs_err::File::open(left)?, fs_err::File::open(right)?);
    let (mut left_buffer, mut right_buffer) = (vec![0_u8; 1 << 16], vec![0_u8; 1 << 16]);
    loop {
        let read = left.read(&mut left_buffer)?;
        if read == 0 {
            return Ok(true);
        }
        right.read_exact(&mut right_buffer[..read])?;
        if left_buffer[..read] != right_buffer[..read] {
            return Ok(false);
        }
    }
}
