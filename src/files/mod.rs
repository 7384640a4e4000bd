//! The user's files: whether two paths name one file (so no output ever replaces an input),
//! and replacing an output only once its new content is complete ([`atomic`]).

pub mod atomic;
mod interrupt;

pub use atomic::{AtomicFile, write_atomically};

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What a path names, for telling whether two paths are one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileId {
    /// An existing file, through any symbolic links: its device and inode on unix (so a
    /// hard link is the same file too), its canonical path elsewhere.
    Existing(Identity),
    /// A name with nothing there yet: the canonical path of its directory, and the name.
    /// It can be no input (inputs exist), but two outputs may both be new.
    New { dir: PathBuf, name: OsString },
}

#[cfg(unix)]
type Identity = (u64, u64);
#[cfg(not(unix))]
type Identity = PathBuf;

/// The identity of `path`, or `None` when neither it nor its directory can be found (then
/// reading or writing it fails with its own error).
pub fn file_id(path: &Path) -> Option<FileId> {
    if let Ok(meta) = std::fs::metadata(path) {
        return existing_id(path, &meta);
    }
    let name = path.file_name()?.to_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(FileId::New {
        dir: dir.canonicalize().ok()?,
        name,
    })
}

#[cfg(unix)]
fn existing_id(_path: &Path, meta: &std::fs::Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some(FileId::Existing((meta.dev(), meta.ino())))
}

#[cfg(not(unix))]
fn existing_id(path: &Path, _meta: &std::fs::Metadata) -> Option<FileId> {
    path.canonicalize().ok().map(FileId::Existing)
}

/// Whether `a` and `b` name the same file: by identity when it exists, by directory and name
/// when it does not yet.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (file_id(a), file_id(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_sees_through_dot_dot_links_and_missing_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.wav");
        std::fs::write(&input, b"x").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(same_file(&input, &dir.path().join("sub/../in.wav")));
        assert!(!same_file(&input, &dir.path().join("out.wav")));
        // Neither exists: different names differ, the same name matches.
        let ghost = dir.path().join("ghost.wav");
        assert!(same_file(&ghost, &dir.path().join("sub/../ghost.wav")));
        assert!(!same_file(&ghost, &dir.path().join("other.wav")));
        #[cfg(unix)]
        {
            let hard = dir.path().join("sub/hard.wav");
            std::fs::hard_link(&input, &hard).unwrap();
            assert!(same_file(&input, &hard));
            let soft = dir.path().join("soft.wav");
            std::os::unix::fs::symlink(&hard, &soft).unwrap();
            assert!(same_file(&soft, &input));
            // A copy is another file.
            let copy = dir.path().join("copy.wav");
            std::fs::copy(&input, &copy).unwrap();
            assert!(!same_file(&copy, &input));
        }
    }
}
