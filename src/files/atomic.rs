//! Outputs written whole or not at all: the new content goes to a temporary file beside the
//! target (same directory, so the same file system), is flushed to disk, and only then
//! renamed over the target, which the OS does in one step. On an error, a panic or Ctrl-C
//! (SIGINT, SIGTERM, SIGHUP; see [`super::interrupt`]) the temporary is removed and a previous
//! file of that name is untouched. Two writers racing for one target each leave a complete
//! file; the later rename wins.

use super::interrupt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// An output being written. [`AtomicFile::commit`] puts it in place; dropping it without
/// committing removes the temporary.
#[derive(Debug)]
pub struct AtomicFile {
    file: File,
    /// Where the content ends up (symbolic links resolved, so the link stays a link).
    target: PathBuf,
    /// The temporary beside `target`; `None` when `target` is a device or a pipe
    /// (`/dev/null`), which is written in place: it cannot be renamed over.
    temp: Option<PathBuf>,
}

impl AtomicFile {
    /// Start writing `path`: a new, empty temporary beside it, with the permissions of the
    /// file it will replace. Refuses a directory and a symbolic link to nothing.
    pub fn create(path: &Path) -> io::Result<Self> {
        let target = match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_owned(),
            Err(e) => return Err(e),
            Ok(meta) if meta.file_type().is_symlink() => path.canonicalize().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "a symbolic link to a file that does not exist",
                )
            })?,
            Ok(_) => path.to_owned(),
        };
        let existing = std::fs::metadata(&target).ok();
        if existing.as_ref().is_some_and(|m| m.is_dir()) {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            ));
        }
        if existing.as_ref().is_some_and(|m| !m.is_file()) {
            let file = OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&target)?;
            return Ok(Self {
                file,
                target,
                temp: None,
            });
        }
        let (file, temp) = interrupt::create_registered(|| create_temp_beside(&target))?;
        let this = Self {
            file,
            target,
            temp: Some(temp),
        };
        if let (Some(meta), Some(temp)) = (existing, &this.temp) {
            std::fs::set_permissions(temp, meta.permissions())?;
        }
        Ok(this)
    }

    /// The file to write into (`&File` is `Write + Seek`, as WAV writers need).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Flush the content to disk and rename it over the target.
    pub fn commit(mut self) -> io::Result<()> {
        let Some(temp) = self.temp.take() else {
            return self.file.flush();
        };
        let result = self.file.sync_all().and_then(|()| {
            interrupt::unregister_after(&temp, || std::fs::rename(&temp, &self.target))
        });
        if result.is_err() {
            interrupt::remove_registered(&temp);
            return result;
        }
        sync_directory_of(&self.target);
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            interrupt::remove_registered(&temp);
        }
    }
}

/// Write `bytes` to `path` through an [`AtomicFile`].
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let out = AtomicFile::create(path)?;
    out.file().write_all(bytes)?;
    out.commit()
}

/// Temporaries made by this process, for unique names.
static TEMP_COUNT: AtomicU64 = AtomicU64::new(0);

/// A new file `.NAME.PID-N.matchbox-tmp` in `target`'s directory (hidden, and named after
/// what it will become, for anyone who finds one after a power cut).
fn create_temp_beside(target: &Path) -> io::Result<(File, PathBuf)> {
    let name = target.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "names a directory, not a file")
    })?;
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    loop {
        let n = TEMP_COUNT.fetch_add(1, Ordering::Relaxed);
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}-{n}.matchbox-tmp", std::process::id()));
        let temp = dir.join(temp_name);
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&temp)
        {
            Ok(file) => return Ok((file, temp)),
            // Left by a process that had our PID before; try the next number.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Make the rename itself durable (the directory entry), where the OS allows it.
fn sync_directory_of(target: &Path) {
    #[cfg(unix)]
    if let Some(dir) = target.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            // The content is already safe; an old file system that cannot sync a directory
            // is no reason to report a failure.
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = target;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many files `dir` holds.
    fn count(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn commit_replaces_and_drop_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.json");
        std::fs::write(&target, b"old").unwrap();
        {
            let out = AtomicFile::create(&target).unwrap();
            out.file().write_all(b"half").unwrap();
            // The target is untouched while writing; the temporary sits beside it.
            assert_eq!(std::fs::read(&target).unwrap(), b"old");
            assert_eq!(count(dir.path()), 2);
        }
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(count(dir.path()), 1);
        write_atomically(&target, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(count(dir.path()), 1);
    }

    #[cfg(unix)]
    #[test]
    fn links_stay_links_and_permissions_are_kept() {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.wav");
        std::fs::write(&real, b"old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.wav");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        let mode = real.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let dangling = dir.path().join("dangling.wav");
        std::os::unix::fs::symlink(dir.path().join("nowhere.wav"), &dangling).unwrap();
        assert!(write_atomically(&dangling, b"x").is_err());
        assert!(write_atomically(dir.path(), b"x").is_err());
        // A device is written in place, never renamed over.
        write_atomically(Path::new("/dev/null"), b"x").unwrap();
        assert!(
            Path::new("/dev/null")
                .metadata()
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
}
