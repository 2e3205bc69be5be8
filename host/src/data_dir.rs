//! The data directory holds every tenant's JWT secret and the WhatsApp device credentials, so
//! it belongs to the gateway's user alone: the directory 0700, every file in it 0600.
//!
//! At start the gateway creates it that way, and repairs (with a warning naming each path) an
//! existing directory whose folders or files other local users could read. The process umask
//! (`restrict_umask`, set by the binary) keeps files created later, such as SQLite's `-wal`
//! and `-shm` files and per-session device stores, private as well.

use std::path::{Path, PathBuf};

/// Folders and files of the data directory that were open to others and have been closed.
#[derive(Debug, Default, PartialEq)]
pub struct Repaired {
    pub paths: Vec<PathBuf>,
}

/// Creates `dir` (0700) if missing, then closes every folder (0700) and file (0600) below it
/// that group or others could access. Symbolic links are left alone: they are not ours.
pub fn secure(dir: &Path) -> std::io::Result<Repaired> {
    std::fs::create_dir_all(dir)?;
    let mut repaired = Repaired::default();
    #[cfg(unix)]
    walk(dir, &mut repaired)?;
    Ok(repaired)
}

#[cfg(unix)]
fn walk(path: &Path, repaired: &mut Repaired) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let private = if meta.is_dir() { 0o700 } else { 0o600 };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o077 | private & 0o700))?;
        repaired.paths.push(path.to_owned());
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            walk(&entry?.path(), repaired)?;
        }
    }
    Ok(())
}

/// Files and folders this process creates from now on are private to its user.
pub fn restrict_umask() {
    #[cfg(unix)]
    // SAFETY: umask only swaps the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn open_folders_and_files_are_closed_and_named() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir_all(dir.join("whatsapp")).unwrap();
        std::fs::write(dir.join("wagate.db"), b"x").unwrap();
        std::fs::write(dir.join("whatsapp/s.db"), b"x").unwrap();
        std::fs::write(dir.join("private"), b"x").unwrap();
        for (p, m) in
            [("", 0o755), ("whatsapp", 0o775), ("wagate.db", 0o644), ("whatsapp/s.db", 0o664), ("private", 0o600)]
        {
            std::fs::set_permissions(dir.join(p), std::fs::Permissions::from_mode(m)).unwrap();
        }
        let repaired = secure(&dir).unwrap();
        assert_eq!(repaired.paths.len(), 4, "{repaired:?}");
        assert!(!repaired.paths.contains(&dir.join("private")));
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("whatsapp")), 0o700);
        assert_eq!(mode(&dir.join("wagate.db")), 0o600);
        assert_eq!(mode(&dir.join("whatsapp/s.db")), 0o600);
        assert_eq!(secure(&dir).unwrap(), Repaired::default(), "a second start finds nothing to repair");
    }

    #[test]
    fn a_missing_directory_is_created_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("new/data");
        secure(&dir).unwrap();
        assert_eq!(mode(&dir) & 0o077, 0);
    }
}
