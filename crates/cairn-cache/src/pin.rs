//! Pins: objects an operation in progress relies on, which cleanup never evicts.
//!
//! A [`Pin`] is a file `pins/<unique>.pin`, held under an exclusive file lock for as long as the
//! pin lives, listing one object per line. Cleanup reads every pin file while it holds the cache
//! lock exclusively; a pin file it *can* lock belongs to a process that died, and is removed.
//!
//! Adding keys takes the cache lock shared, so it cannot interleave with a cleanup's decision:
//! once [`Pin::add`] returns, no cleanup can evict those objects until the pin is dropped. An
//! operation therefore pins first and checks the object's presence second; what it then finds is
//! safe to use.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::{Cache, Error, ObjectKey, Result};

/// Objects protected from eviction while this value lives.
#[derive(Debug)]
pub struct Pin<'cache> {
    cache: &'cache Cache,
    file: tempfile::NamedTempFile,
    keys: HashSet<ObjectKey>,
}

impl Cache {
    /// Starts a pin for an operation. It protects nothing until keys are added.
    pub fn pin(&self) -> Result<Pin<'_>> {
        let dir = self.pins_dir();
        // Created and locked under the shared cache lock: a cleanup (which holds it exclusively)
        // never sees the file before it is locked and so never takes it for a dead one.
        let _shared = self.lock(false)?;
        let file = tempfile::Builder::new()
            .prefix("pin-")
            .suffix(".pin")
            .tempfile_in(&dir)
            .map_err(Error::io("create a pin file in", &dir))?;
        file.as_file()
            .lock()
            .map_err(Error::io("lock", file.path().to_owned()))?;
        Ok(Pin {
            cache: self,
            file,
            keys: HashSet::new(),
        })
    }
}

impl Pin<'_> {
    /// Pins one object (present or not yet inserted).
    pub fn add(&mut self, key: &ObjectKey) -> Result<()> {
        self.add_all(std::slice::from_ref(key))
    }

    /// Pins several objects at once, under one acquisition of the cache lock.
    pub fn add_all(&mut self, keys: &[ObjectKey]) -> Result<()> {
        let mut text = String::new();
        for key in keys {
            if self.keys.insert(key.clone()) {
                text.push_str(&key.to_hex());
                text.push(' ');
                text.push_str(key.algorithm());
                text.push('\n');
            }
        }
        if text.is_empty() {
            return Ok(());
        }
        let _shared = self.cache.lock(false)?;
        let path = self.file.path().to_owned();
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(Error::io("write", path))
    }

    /// Whether `key` is pinned by this pin.
    pub fn contains(&self, key: &ObjectKey) -> bool {
        self.keys.contains(key)
    }

    /// The pin file.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

/// Reads every live pin (caller holds the cache lock exclusively) and removes pin files whose
/// owner is gone.
pub(crate) fn live_pins(dir: &Path) -> Result<HashSet<ObjectKey>> {
    let mut pinned = HashSet::new();
    let entries = fs_err::read_dir(dir).map_err(Error::io("list", dir))?;
    for entry in entries {
        let entry = entry.map_err(Error::io("list", dir))?;
        let path: PathBuf = entry.path();
        let file = match fs_err::File::open(&path) {
            Ok(file) => file,
            // Dropped between listing and opening.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(Error::io("open", &path)(error)),
        };
        match file.file().try_lock_shared() {
            Ok(()) => {
                // Nobody holds it: its process ended without removing it.
                let _ = fs_err::remove_file(&path);
                continue;
            }
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(Error::io("lock", &path)(error));
            }
        }
        // Read through the descriptor already open: the owner may drop its pin (removing the
        // file) at any moment now, and reopening by path would then fail.
        let mut text = String::new();
        let mut file = file;
        std::io::Read::read_to_string(&mut file, &mut text).map_err(Error::io("read", &path))?;
        for line in text.lines() {
            let Some((hex, algorithm)) = line.split_once(' ') else {
                continue;
            };
            if hex.len() < 3 {
                continue;
            }
            let (fan_out, rest) = hex.split_at(2);
            if let Some(key) = ObjectKey::from_parts(algorithm, fan_out, rest) {
                pinned.insert(key);
            }
        }
    }
    Ok(pinned)
}
