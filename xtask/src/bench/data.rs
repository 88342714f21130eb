//! Benchmark datasets: deterministic, incompressible files generated once under the target dir.
//!
//! A dataset is described by a [`DatasetSpec`]; its content is a pure function of the spec, so the
//! same spec gives byte-identical files on every machine. After a dataset is written completely,
//! its spec is saved to `<name>.spec` beside the dataset directory (not inside it, so it is never
//! hashed). A later run reuses the files when that marker matches and regenerates them otherwise,
//! which also covers a generation that was interrupted.
//!
//! Content comes from splitmix64, seeded per file, written 8 bytes at a time into a reused buffer;
//! a 2 GiB file streams through that buffer and is never held in memory.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::ValueEnum;

/// Bump when the content or layout rules change, so old datasets are regenerated.
const FORMAT_VERSION: u32 = 1;

/// The write buffer: large enough for efficient writes, small enough to never matter for memory.
const CHUNK: usize = 1024 * 1024;

/// Which of the standard datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub(crate) enum DatasetId {
    /// One large file.
    #[value(name = "A")]
    A,
    /// Medium files in nested directories.
    #[value(name = "B")]
    B,
    /// Many small files.
    #[value(name = "C")]
    C,
}

/// How large each file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileSize {
    /// Every file has this many bytes.
    Fixed(u64),
    /// Each file has between `min` and `max` bytes (inclusive), chosen from its seed.
    Between { min: u64, max: u64 },
}

/// Where the files go inside the dataset directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// A single file with this name.
    SingleFile(&'static str),
    /// Nested directories with the given fan-out per level; the files are spread evenly over the
    /// leaf directories (`d003/d007/f0004.bin`).
    Tree(&'static [u64]),
}

/// A dataset's full description: the content is a function of this and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DatasetSpec {
    pub(crate) id: DatasetId,
    pub(crate) file_count: u64,
    pub(crate) size: FileSize,
    pub(crate) layout: Layout,
}

/// A generated dataset on disk.
#[derive(Debug, Clone)]
pub(crate) struct Dataset {
    pub(crate) spec: DatasetSpec,
    /// The dataset directory (`<base>/A`).
    pub(crate) dir: PathBuf,
    /// Total bytes over all files.
    pub(crate) bytes: u64,
}

impl Dataset {
    /// The one file of a single-file dataset (A); `None` for directory datasets.
    pub(crate) fn single_file(&self) -> Option<PathBuf> {
        match self.spec.layout {
            Layout::SingleFile(name) => Some(self.dir.join(name)),
            Layout::Tree(_) => None,
        }
    }
}

impl DatasetId {
    /// The dataset's name, which is also its directory name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
        }
    }

    /// The full-size spec (`quick == false`) or the tiny one used to check the code path.
    pub(crate) fn spec(self, quick: bool) -> DatasetSpec {
        const MIB: u64 = 1024 * 1024;
        let (file_count, size, layout) = match (self, quick) {
            (Self::A, false) => (
                1,
                FileSize::Fixed(2048 * MIB),
                Layout::SingleFile("big.bin"),
            ),
            (Self::A, true) => (1, FileSize::Fixed(64 * MIB), Layout::SingleFile("big.bin")),
            (Self::B, false) => (2_000, FileSize::Fixed(512 * 1024), Layout::Tree(&[20, 10])),
            (Self::B, true) => (200, FileSize::Fixed(512 * 1024), Layout::Tree(&[2, 10])),
            (Self::C, false) => (
                50_000,
                FileSize::Between {
                    min: 1024,
                    max: 4096,
                },
                Layout::Tree(&[50]),
            ),
            (Self::C, true) => (
                2_000,
                FileSize::Between {
                    min: 1024,
                    max: 4096,
                },
                Layout::Tree(&[2]),
            ),
        };
        DatasetSpec {
            id: self,
            file_count,
            size,
            layout,
        }
    }
}

impl DatasetSpec {
    /// The path of file `index`, relative to the dataset directory.
    fn relative_path(&self, index: u64) -> PathBuf {
        match self.layout {
            Layout::SingleFile(name) => PathBuf::from(name),
            Layout::Tree(fan_out) => {
                let leaves: u64 = fan_out.iter().product();
                let per_leaf = self.file_count.div_ceil(leaves.max(1));
                let mut leaf = index / per_leaf;
                let mut dirs = Vec::with_capacity(fan_out.len());
                for &width in fan_out.iter().rev() {
                    dirs.push(format!("d{:03}", leaf % width));
                    leaf /= width;
                }
                let mut path: PathBuf = dirs.iter().rev().collect();
                path.push(format!("f{:04}.bin", index % per_leaf));
                path
            }
        }
    }

    /// This spec with `factor` times the files (at least one), or for a single-file dataset
    /// `factor` times the bytes (at least one): `--scale 0.01` makes a smoke-test dataset.
    pub(crate) fn scaled(self, factor: f64) -> Self {
        let scale = |value: u64| ((value as f64 * factor).round() as u64).max(1);
        match self.layout {
            Layout::SingleFile(_) => Self {
                size: match self.size {
                    FileSize::Fixed(size) => FileSize::Fixed(scale(size)),
                    FileSize::Between { min, max } => FileSize::Between {
                        min: scale(min),
                        max: scale(max),
                    },
                },
                ..self
            },
            Layout::Tree(_) => Self {
                file_count: scale(self.file_count),
                ..self
            },
        }
    }

    /// The PRNG seed of file `index`: distinct per dataset and per file.
    fn seed(&self, index: u64) -> u64 {
        let dataset = match self.id {
            DatasetId::A => 1,
            DatasetId::B => 2,
            DatasetId::C => 3,
        };
        splitmix64(&mut ((dataset << 56) ^ index))
    }

    /// The size of file `index`.
    fn file_size(&self, index: u64) -> u64 {
        match self.size {
            FileSize::Fixed(size) => size,
            FileSize::Between { min, max } => {
                min + splitmix64(&mut self.seed(index)) % (max - min + 1)
            }
        }
    }

    /// Total bytes of the dataset.
    pub(crate) fn total_bytes(&self) -> u64 {
        (0..self.file_count)
            .map(|index| self.file_size(index))
            .sum()
    }

    /// The text saved in the completion marker.
    fn marker_text(&self) -> String {
        format!("format {FORMAT_VERSION}\n{self:?}\n")
    }
}

/// Returns the dataset under `base`, generating it first unless a complete copy of the same spec
/// is already there.
pub(crate) fn ensure(base: &Path, spec: DatasetSpec) -> Result<Dataset> {
    let name = spec.id.name();
    let dir = base.join(name);
    let marker = base.join(format!("{name}.spec"));
    let bytes = spec.total_bytes();
    let dataset = Dataset {
        spec,
        dir: dir.clone(),
        bytes,
    };
    if fs_err::read_to_string(&marker).is_ok_and(|text| text == spec.marker_text()) && dir.is_dir()
    {
        println!(
            "dataset {name}: reusing {} ({} files, {})",
            dir.display(),
            spec.file_count,
            mebibytes(bytes)
        );
        return Ok(dataset);
    }
    if marker.exists() {
        fs_err::remove_file(&marker)?;
    }
    if dir.exists() {
        println!(
            "dataset {name}: removing incomplete or outdated {}",
            dir.display()
        );
        fs_err::remove_dir_all(&dir)?;
    }
    println!(
        "dataset {name}: generating {} files, {} in {}",
        spec.file_count,
        mebibytes(bytes),
        dir.display()
    );
    generate(&spec, &dir, bytes)?;
    fs_err::write(&marker, spec.marker_text())?;
    println!("dataset {name}: done");
    Ok(dataset)
}

/// Formats a byte count as MiB for progress lines and tables.
pub(crate) fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn generate(spec: &DatasetSpec, dir: &Path, total: u64) -> Result<()> {
    let mut buffer = vec![0_u8; CHUNK];
    let mut written = 0_u64;
    let mut next_report = 1_u64;
    let mut current_parent: Option<PathBuf> = None;
    for index in 0..spec.file_count {
        let path = dir.join(spec.relative_path(index));
        if let Some(parent) = path.parent()
            && current_parent.as_deref() != Some(parent)
        {
            fs_err::create_dir_all(parent)?;
            current_parent = Some(parent.to_path_buf());
        }
        let size = spec.file_size(index);
        write_file(&path, size, spec.seed(index), &mut buffer, |done| {
            // Report every tenth of the total, counting bytes so that one big file and many small
            // ones both make steady progress lines.
            let now = written + done;
            while next_report <= 10 && now * 10 >= total * next_report {
                println!(
                    "  {}% ({} of {}, file {} of {})",
                    next_report * 10,
                    mebibytes(now),
                    mebibytes(total),
                    index + 1,
                    spec.file_count
                );
                next_report += 1;
            }
        })?;
        written += size;
    }
    Ok(())
}

/// Writes `size` pseudo-random bytes from `seed` to `path`, one buffer at a time.
fn write_file(
    path: &Path,
    size: u64,
    seed: u64,
    buffer: &mut [u8],
    mut progress: impl FnMut(u64),
) -> Result<()> {
    let mut file = fs_err::File::create(path)?;
    let mut state = seed;
    let mut done = 0_u64;
    while done < size {
        let length =
            usize::try_from(size - done).map_or(buffer.len(), |left| left.min(buffer.len()));
        let chunk = &mut buffer[..length];
        for word in chunk.chunks_mut(8) {
            let bytes = splitmix64(&mut state).to_le_bytes();
            word.copy_from_slice(&bytes[..word.len()]);
        }
        file.write_all(chunk)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        done += length as u64;
        progress(done);
    }
    file.flush()
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}

/// splitmix64: a tiny, fast PRNG whose output is incompressible for our purposes.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_spread_files_over_the_leaves() {
        let b = DatasetId::B.spec(false);
        assert_eq!(b.relative_path(0), Path::new("d000/d000/f0000.bin"));
        assert_eq!(b.relative_path(1_999), Path::new("d019/d009/f0009.bin"));
        let c = DatasetId::C.spec(false);
        assert_eq!(c.relative_path(49_999), Path::new("d049/f0999.bin"));
        assert_eq!(
            DatasetId::A.spec(true).relative_path(0),
            Path::new("big.bin")
        );
    }

    #[test]
    fn sizes_are_deterministic_and_in_range() {
        let c = DatasetId::C.spec(true);
        let sizes: Vec<u64> = (0..c.file_count).map(|index| c.file_size(index)).collect();
        assert!(sizes.iter().all(|size| (1024..=4096).contains(size)));
        assert!(sizes.iter().any(|&size| size != sizes[0]));
        assert_eq!(c.total_bytes(), sizes.iter().sum::<u64>());
        assert_eq!(DatasetId::B.spec(false).total_bytes(), 2_000 * 512 * 1024);
    }

    #[test]
    fn scaling_shrinks_file_counts_and_single_files() {
        let b = DatasetId::B.spec(false).scaled(0.01);
        assert_eq!((b.file_count, b.size), (20, FileSize::Fixed(512 * 1024)));
        assert_eq!(b.relative_path(19), Path::new("d001/d009/f0000.bin"));
        let a = DatasetId::A.spec(false).scaled(0.01);
        assert_eq!(
            a.total_bytes(),
            (2048.0 * 1024.0 * 1024.0 * 0.01_f64).round() as u64
        );
        assert_eq!(DatasetId::C.spec(false).scaled(0.000_001).file_count, 1);
        assert_eq!(
            DatasetId::C.spec(false).scaled(1.0),
            DatasetId::C.spec(false)
        );
    }

    #[test]
    fn generation_is_reproducible_and_reused() {
        let base = std::env::temp_dir().join(format!("xtask-bench-data-{}", std::process::id()));
        let spec = DatasetSpec {
            id: DatasetId::C,
            file_count: 7,
            size: FileSize::Between { min: 1, max: 20 },
            layout: Layout::Tree(&[2]),
        };
        let first = ensure(&base, spec).unwrap();
        let content = fs_err::read(first.dir.join("d001/f0002.bin")).unwrap();
        assert_eq!(content.len() as u64, spec.file_size(6));
        let again = ensure(&base, spec).unwrap();
        assert_eq!(
            fs_err::read(again.dir.join("d001/f0002.bin")).unwrap(),
            content
        );
        fs_err::remove_dir_all(&base).unwrap();
    }
}
