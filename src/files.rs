//! Files written so that a crash or a full disk never leaves a half-written one: a
//! temporary file in the same directory, fsync, rename over the target, then fsync of the
//! directory. Readers see the old file or the new one, never a mix.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

/// Writes `data` to `path` atomically with permissions `mode` (0600 for keys, whatever the
/// umask). A failure is [`ErrorKind::Io`] naming the path, and leaves the old file as it
/// was.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let fail = |e: std::io::Error| Error::new(ErrorKind::Io, format!("{}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        Error::new(
            ErrorKind::Io,
            format!("{}: not a file name", path.display()),
        )
    })?;
    // A random name created exclusively (O_CREAT|O_EXCL, which also refuses a symlink
    // planted at that name): no other writer's file is taken over, nothing is followed.
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        crate::jose::random_hex(8)?
    ));
    let result = (|| {
        let mut f = create_exclusive(&tmp, mode)?;
        // The mode given to open is masked by the umask; keys must be 0600 whatever it is.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates `path` for writing, failing when anything (a file, a symlink) is there already.
fn create_exclusive(path: &Path, mode: u32) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn writes_with_the_mode_whatever_the_umask_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("stepca-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("k.pem");
        std::fs::write(&p, b"old").unwrap();
        write_atomic(&p, b"new", 0o600).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_planted_at_the_temporary_name_is_not_followed() {
        let dir = std::env::temp_dir().join(format!("stepca-files-link-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("target");
        std::fs::write(&target, b"untouched").unwrap();
        let link = dir.join(".c.pem.tmp-planted");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = create_exclusive(&link, 0o600).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&target).unwrap(), b"untouched");
        // A dangling link is not followed either (it would create the target).
        std::fs::remove_file(&target).unwrap();
        assert!(create_exclusive(&link, 0o600).is_err());
        assert!(!target.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_names_the_path_and_keeps_the_old_file() {
        let e = write_atomic(Path::new("/nonexistent-dir/x.crt"), b"x", 0o644).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e.message().starts_with("/nonexistent-dir/x.crt: "), "{e}");
    }
}

/// A password or passphrase file's contents without trailing white space, as `step` reads
/// its `--password-file`s: the newline an editor or `echo` leaves is not part of the
/// password (step trims every trailing Unicode white-space character, and skips a UTF-8
/// byte-order mark; so does this). Leading white space is kept. A failure is [`ErrorKind::Io`] naming the path; the
/// contents are wiped when dropped.
pub fn read_password_file(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(path)
            .map_err(|e| Error::new(ErrorKind::Io, format!("{}: {e}", path.display())))?,
    );
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    Ok(zeroize::Zeroizing::new(trim_end_space(text).to_vec()))
}

/// `bytes` without trailing white space: Unicode white space where the bytes are UTF-8 (as
/// Go's `unicode.IsSpace`), else ASCII white space.
fn trim_end_space(bytes: &[u8]) -> &[u8] {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.trim_end().as_bytes(),
        Err(_) => bytes.trim_ascii_end(),
    }
}

#[cfg(test)]
mod password_tests {
    use super::*;

    #[test]
    fn trailing_space_goes_and_the_rest_stays() {
        assert_eq!(trim_end_space(b"s3cret\n"), b"s3cret");
        assert_eq!(trim_end_space(b"s3cret\r\n\n \t"), b"s3cret");
        assert_eq!(
            trim_end_space(" two words\u{a0}\n".as_bytes()),
            b" two words"
        );
        assert_eq!(trim_end_space(b"\xffbin\n"), b"\xffbin");
        assert_eq!(trim_end_space(b"\n"), b"");
        let dir = std::env::temp_dir().join(format!("stepca-pw-{}", std::process::id()));
        std::fs::write(&dir, b"\xef\xbb\xbf pw \r\n").unwrap();
        assert_eq!(read_password_file(&dir).unwrap().as_slice(), b" pw");
        let _ = std::fs::remove_file(&dir);
        let e = read_password_file(Path::new("/nonexistent/pw")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e.to_string().contains("/nonexistent/pw"), "{e}");
    }
}
