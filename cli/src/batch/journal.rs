//! The out dir's own files: the lock that keeps a second batch out, the journal, and the
//! temporary files (created exclusively, named `.NAME.EXT.stepca-batch-XXXXXXXXXX.tmp`, each
//! recorded in the journal before anything is written into it).
//!
//! The journal, `.stepca-batch.journal`, is a text file appended to, one record a line, each
//! record but `done` durable (fsynced) before `record` returns; records written by several
//! workers at once share one fsync (group commit). A `done` is synced with a later record or
//! when the run ends: a run stopped before that finds the device's chain in place, or in the
//! temporary file its `sign` record names, and records `done` again. Fields are separated by
//! tabs (device names hold no control characters):
//!
//! ```text
//! run     PID  UNIX-TIME      a run starts
//! tmp     NAME TEMP-FILE      a temporary file was created for NAME's key
//! sign    NAME TEMP-FILE      NAME's sign request is about to be sent; its chain goes to TEMP-FILE
//! done    NAME                NAME's chain is in place (NAME.crt)
//! rejected NAME               the request failed and no certificate was issued
//! unsure  NAME                the request failed after it may have reached the CA
//! ```
//!
//! A device whose last record is `sign` or `unsure` is pending: the CA may have issued it a
//! certificate that never reached the disk. A run that ends with nothing pending removes the
//! journal. A torn last line (no line end) is ignored.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use tempfile::NamedTempFile;

use crate::Failure;

pub(crate) const LOCK: &str = ".stepca-batch.lock";
pub(crate) const JOURNAL: &str = ".stepca-batch.journal";
/// What every temporary file name holds after `.NAME.EXT`.
const TAG: &str = ".stepca-batch-";
const SUFFIX: &str = ".tmp";
/// Random characters in a temporary file's name.
pub(crate) const RANDOM: usize = 10;

/// The exit code of a batch refused because another holds its out dir.
pub(crate) const LOCKED: i32 = 9;

fn io_failure(path: &Path, e: std::io::Error) -> Failure {
    let why = if e.raw_os_error() == Some(libc::ELOOP) {
        "a symbolic link, not followed".to_string()
    } else {
        e.to_string()
    };
    crate::input(format!("{}: {why}", path.display()))
}

/// Opens a file of the batch's own in the out dir, never through a symbolic link.
fn open_own(path: &Path, opts: &mut OpenOptions) -> Result<File, Failure> {
    opts.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_failure(path, e))
}

/// The out dir's lock, held until dropped (the process's end): flock on
/// `.stepca-batch.lock`, taken without waiting. A second batch on the directory is refused
/// with exit code [`LOCKED`] and the holder's pid.
pub(crate) struct DirLock(#[allow(dead_code)] File);

pub(crate) fn lock(dir: &Path) -> Result<DirLock, Failure> {
    let path = dir.join(LOCK);
    let mut f = open_own(
        &path,
        OpenOptions::new().read(true).write(true).create(true),
    )?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(Failure {
                code: LOCKED,
                message: format!(
                    "{}: another stepca batch{} is enrolling into this directory; two at \
                     once could enroll a device twice (wait for it, or use another --out-dir)",
                    dir.display(),
                    if holder.is_empty() {
                        String::new()
                    } else {
                        format!(" (pid {holder})")
                    }
                ),
            });
        }
        return Err(io_failure(&path, e));
    }
    // Who holds it, for the message of a batch refused.
    let _ = f.set_len(0);
    let _ = f.write_all(format!("{}\n", std::process::id()).as_bytes());
    Ok(DirLock(f))
}

/// What the journal holds about a device the CA may have issued a certificate to that did
/// not reach the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pending {
    /// The temporary file its chain was to be written to, while there may be one.
    pub(crate) temp: Option<String>,
    /// `true`: its request was in flight when the run stopped (no outcome recorded);
    /// `false`: the request failed after it may have reached the CA.
    pub(crate) in_flight: bool,
}

/// What earlier runs left in the journal.
#[derive(Default, Debug)]
pub(crate) struct Previous {
    /// By device name.
    pub(crate) pending: BTreeMap<String, Pending>,
    /// Every temporary file recorded: (device, file name).
    pub(crate) temps: Vec<(String, String)>,
}

/// Folds the journal's text into what is pending and which temporary files were the
/// batch's.
pub(crate) fn fold(text: &str) -> Previous {
    let mut prev = Previous::default();
    // A last line without its line end was torn by a crash: not a record.
    let whole = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    for line in whole.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["tmp", name, temp] => prev.temps.push((name.to_string(), temp.to_string())),
            ["sign", name, temp] => {
                prev.temps.push((name.to_string(), temp.to_string()));
                prev.pending.insert(
                    name.to_string(),
                    Pending {
                        temp: Some(temp.to_string()),
                        in_flight: true,
                    },
                );
            }
            ["done" | "rejected", name] => {
                prev.pending.remove(*name);
            }
            ["unsure", name] => {
                prev.pending.insert(
                    name.to_string(),
                    Pending {
                        temp: None,
                        in_flight: false,
                    },
                );
            }
            _ => {}
        }
    }
    prev
}

#[derive(Clone, Copy)]
pub(crate) enum Record<'a> {
    Run,
    Tmp(&'a str, &'a str),
    Sign(&'a str, &'a str),
    Done(&'a str),
    Rejected(&'a str),
    Unsure(&'a str),
}

/// The journal, open for appending, with the set of devices pending in it.
pub(crate) struct Journal {
    path: PathBuf,
    dir: PathBuf,
    file: File,
    /// Held while a line is written: one write at a time, each line whole.
    write: Mutex<()>,
    /// The journal's fsyncs and the out dir's, each shared by the workers waiting for one.
    file_sync: GroupSync,
    dir_sync: GroupSync,
    /// What makes the file durable: `File::sync_data`, or a test's stand-in.
    sync_data: fn(&File) -> std::io::Result<()>,
    pending: Mutex<BTreeMap<String, ()>>,
}

/// Group commit: a worker whose change (an appended line, a rename) must be durable takes a
/// ticket; one worker at a time syncs, covering every ticket taken before its sync began,
/// while the others wait for it. Eight workers at once share an fsync instead of queueing
/// for eight.
#[derive(Default)]
pub(crate) struct GroupSync {
    state: Mutex<SyncState>,
    done: Condvar,
}

#[derive(Default)]
struct SyncState {
    tickets: u64,
    synced: u64,
    syncing: bool,
    /// A sync (or a write) failed: the kernel may have dropped the pages it could not
    /// write, and a later fsync could succeed without them, so everything from then on
    /// fails.
    failed: Option<(std::io::ErrorKind, String)>,
    #[cfg(test)]
    syncs: u64,
}

impl SyncState {
    fn check(&self) -> std::io::Result<()> {
        match &self.failed {
            Some((kind, msg)) => Err(std::io::Error::new(
                *kind,
                format!("an earlier write of the journal or out dir failed ({msg})"),
            )),
            None => Ok(()),
        }
    }
}

impl GroupSync {
    /// Returns once a `sync` begun after this call succeeded: what the caller changed
    /// before calling is durable.
    pub(crate) fn after(&self, sync: impl Fn() -> std::io::Result<()>) -> std::io::Result<()> {
        let mut st = locked(&self.state);
        st.check()?;
        st.tickets += 1;
        let ticket = st.tickets;
        loop {
            st.check()?;
            if st.synced >= ticket {
                return Ok(());
            }
            if st.syncing {
                st = self.done.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            st.syncing = true;
            let upto = st.tickets;
            drop(st);
            let result = sync();
            st = locked(&self.state);
            st.syncing = false;
            #[cfg(test)]
            {
                st.syncs += 1;
            }
            self.done.notify_all();
            match result {
                Ok(()) => st.synced = upto,
                Err(e) => {
                    st.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
            }
        }
    }

    fn check(&self) -> std::io::Result<()> {
        locked(&self.state).check()
    }

    fn fail(&self, e: &std::io::Error) {
        locked(&self.state).failed = Some((e.kind(), e.to_string()));
    }
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Journal {
    /// Opens (creates) the journal of `dir` and reads what earlier runs left in it.
    pub(crate) fn open(dir: &Path) -> Result<(Journal, Previous), Failure> {
        let path = dir.join(JOURNAL);
        let mut f = open_own(
            &path,
            OpenOptions::new().read(true).append(true).create(true),
        )?;
        if !f.metadata().map_err(|e| io_failure(&path, e))?.is_file() {
            return Err(crate::input(format!(
                "{}: not a regular file",
                path.display()
            )));
        }
        let mut text = String::new();
        f.read_to_string(&mut text)
            .map_err(|e| io_failure(&path, e))?;
        if !text.is_empty() && !text.ends_with('\n') {
            // Finish the torn line so that the next record starts a line of its own.
            f.write_all(b"\n").map_err(|e| io_failure(&path, e))?;
        }
        let prev = fold(&text);
        let journal = Journal {
            path,
            dir: dir.to_path_buf(),
            file: f,
            write: Mutex::new(()),
            file_sync: GroupSync::default(),
            dir_sync: GroupSync::default(),
            sync_data: File::sync_data,
            pending: Mutex::new(prev.pending.keys().map(|k| (k.clone(), ())).collect()),
        };
        sync_dir(dir).map_err(|e| io_failure(dir, e))?;
        journal
            .record(Record::Run)
            .map_err(|e| io_failure(&journal.path, e))?;
        Ok((journal, prev))
    }

    /// Appends `r` and returns once it is durable; a `done` is left to a later sync (see the
    /// module's comment).
    pub(crate) fn record(&self, r: Record<'_>) -> std::io::Result<()> {
        let line = match r {
            Record::Run => format!("run\t{}\t{}\n", std::process::id(), crate::now()),
            Record::Tmp(n, t) => format!("tmp\t{n}\t{t}\n"),
            Record::Sign(n, t) => format!("sign\t{n}\t{t}\n"),
            Record::Done(n) => format!("done\t{n}\n"),
            Record::Rejected(n) => format!("rejected\t{n}\n"),
            Record::Unsure(n) => format!("unsure\t{n}\n"),
        };
        {
            let _one = locked(&self.write);
            self.file_sync.check()?;
            if let Err(e) = (&self.file).write_all(line.as_bytes()) {
                // A part of the line may be in the file: nothing may follow it.
                self.file_sync.fail(&e);
                return Err(e);
            }
        }
        if !matches!(r, Record::Done(_)) {
            self.file_sync.after(|| (self.sync_data)(&self.file))?;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match r {
            Record::Sign(n, _) | Record::Unsure(n) => {
                pending.insert(n.to_string(), ());
            }
            Record::Done(n) | Record::Rejected(n) => {
                pending.remove(n);
            }
            Record::Run | Record::Tmp(..) => {}
        }
        Ok(())
    }

    /// Returns once the out dir's entries as they are now (a rename just made) are durable.
    pub(crate) fn sync_dir(&self) -> std::io::Result<()> {
        self.dir_sync.after(|| sync_dir(&self.dir))
    }

    /// How many devices are pending.
    pub(crate) fn pending(&self) -> usize {
        self.pending.lock().map_or(0, |p| p.len())
    }

    /// The end of a run: the chains' renames and the `done` records, not synced one by one,
    /// are made durable; then, with nothing pending, the journal has nothing left to say and
    /// is removed (not before: without it a chain whose rename was lost would be found by
    /// nothing). A failed sync keeps the journal for the next run, and is returned.
    pub(crate) fn close(self, dir: &Path) -> std::io::Result<()> {
        self.sync_dir()?;
        self.file_sync.after(|| (self.sync_data)(&self.file))?;
        if self.pending() == 0 && std::fs::remove_file(&self.path).is_ok() {
            let _ = sync_dir(dir);
        }
        Ok(())
    }
}

pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Whether `temp` is the name of a temporary file the batch would make for device `name`
/// (`.NAME.key…` or `.NAME.crt…` with the tag and suffix); the journal is only believed
/// about such names.
pub(crate) fn is_temp_name(name: &str, temp: &str) -> bool {
    let Some(rest) = temp
        .strip_prefix('.')
        .and_then(|t| t.strip_prefix(name))
        .and_then(|t| t.strip_prefix(".key").or_else(|| t.strip_prefix(".crt")))
        .and_then(|t| t.strip_prefix(TAG))
        .and_then(|t| t.strip_suffix(SUFFIX))
    else {
        return false;
    };
    !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A new temporary file in `dir` for device `name`'s `ext` ("key" or "crt"), with mode
/// `mode` whatever the umask. Its name is recorded in the journal before the file is created
/// (`sign` when `sign`, else `tmp`), so that a kill leaves no temporary file the journal does
/// not name; it is created exclusively (O_EXCL: a planted file or symbolic link at its name
/// is never opened, and another random name is tried). `random`: how many random characters
/// the name has ([`RANDOM`]).
pub(crate) fn temp_file(
    journal: &Journal,
    dir: &Path,
    name: &str,
    ext: &str,
    mode: u32,
    random: usize,
    sign: bool,
) -> std::io::Result<NamedTempFile<File>> {
    let prefix = format!(".{name}.{ext}{TAG}");
    let t = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(SUFFIX)
        .rand_bytes(random)
        .make_in(dir, |path| {
            let temp = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            journal.record(if sign {
                Record::Sign(name, &temp)
            } else {
                Record::Tmp(name, &temp)
            })?;
            OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(mode)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(path)
        })?;
    t.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    Ok(t)
}

/// The file name of a temporary file.
#[cfg(test)]
pub(crate) fn base(t: &NamedTempFile<File>) -> String {
    t.path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Writes `data` for device `name` to `dest` in `dir` atomically: a temporary file
/// (recorded in the journal before it is created), fsync, rename, fsync of the directory. `replace`: whether an existing `dest` is replaced (a chain) or refused (a
/// key: one on disk may already hold a certificate).
pub(crate) fn write_file(
    journal: &Journal,
    dir: &Path,
    name: &str,
    ext: &str,
    mode: u32,
    data: &[u8],
    replace: bool,
) -> std::io::Result<()> {
    let mut t = temp_file(journal, dir, name, ext, mode, RANDOM, false)?;
    t.as_file_mut().write_all(data)?;
    t.as_file().sync_all()?;
    let dest = dir.join(format!("{name}.{ext}"));
    if replace {
        t.persist(&dest).map_err(|e| e.error)?;
    } else {
        t.persist_noclobber(&dest).map_err(|e| e.error)?;
    }
    journal.sync_dir()
}

/// Reads a temporary file of the batch's, never through a symbolic link nor from anything
/// but a regular file (at most 1 MiB). The open file and its bytes.
pub(crate) fn read_temp(path: &Path) -> std::io::Result<(File, Vec<u8>)> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    (&f).take(1 << 20).read_to_end(&mut bytes)?;
    Ok((f, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("stepca-journal-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Eight workers recording at once share fsyncs (each fsync here takes 20 ms, as on a
    /// slow card), every record reaches the file whole, and each `record` returned only
    /// after an fsync that began once its line was written.
    #[test]
    fn concurrent_records_share_fsyncs_and_each_is_durable_first() {
        use std::sync::atomic::{AtomicU64, Ordering};
        // The file's length when the last fsync began.
        static SYNCED_LEN: AtomicU64 = AtomicU64::new(0);
        fn slow_sync(f: &File) -> std::io::Result<()> {
            let len = f.metadata()?.len();
            std::thread::sleep(std::time::Duration::from_millis(20));
            SYNCED_LEN.fetch_max(len, Ordering::SeqCst);
            f.sync_data()
        }
        let dir = scratch("group");
        let Ok((mut journal, _)) = Journal::open(&dir) else {
            panic!("open")
        };
        journal.sync_data = slow_sync;
        let (workers, each) = (8, 25);
        std::thread::scope(|s| {
            for w in 0..workers {
                let journal = &journal;
                s.spawn(move || {
                    for i in 0..each {
                        let name = format!("dev-{w}-{i}");
                        journal.record(Record::Rejected(&name)).unwrap();
                        // This line is in the file, and an fsync began after it was.
                        let text = std::fs::read_to_string(&journal.path).unwrap();
                        let end =
                            text.find(&format!("rejected\t{name}\n")).unwrap() + name.len() + 10;
                        assert!(SYNCED_LEN.load(Ordering::SeqCst) >= end as u64, "{name}");
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&journal.path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len(),
            1 + workers * each,
            "the run line and every record"
        );
        assert!(lines[1..].iter().all(|l| l.starts_with("rejected\tdev-")));
        let fsyncs = locked(&journal.file_sync.state).syncs;
        assert!(
            fsyncs <= (workers * each / 2) as u64,
            "{fsyncs} fsyncs for {} records",
            workers * each
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The out dir's syncs the same way: each worker's rename is covered by a sync that
    /// began after it, and eight workers share syncs.
    #[test]
    fn dir_syncs_are_shared_and_each_covers_its_change() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let group = GroupSync::default();
        let changes = AtomicU64::new(0);
        let covered = AtomicU64::new(0); // the changes made when the last sync began
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let mine = changes.fetch_add(1, Ordering::SeqCst) + 1;
                        group
                            .after(|| {
                                covered.fetch_max(changes.load(Ordering::SeqCst), Ordering::SeqCst);
                                std::thread::sleep(std::time::Duration::from_millis(5));
                                Ok(())
                            })
                            .unwrap();
                        assert!(covered.load(Ordering::SeqCst) >= mine);
                    }
                });
            }
        });
        let syncs = locked(&group.state).syncs;
        assert!(syncs <= 200, "{syncs} syncs for 400 changes");
    }

    /// Once an fsync failed, that record and every later one fail, even if fsync would
    /// succeed again (the pages it could not write may be gone).
    #[test]
    fn a_failed_fsync_fails_every_later_record() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static CALLS: AtomicU64 = AtomicU64::new(0);
        fn fails_once(f: &File) -> std::io::Result<()> {
            if CALLS.fetch_add(1, Ordering::SeqCst) == 1 {
                return Err(std::io::Error::other("EIO from the card"));
            }
            f.sync_data()
        }
        let dir = scratch("fsync-fails");
        let Ok((mut journal, _)) = Journal::open(&dir) else {
            panic!("open")
        };
        journal.sync_data = fails_once;
        journal.record(Record::Rejected("a")).unwrap();
        let e = journal.record(Record::Rejected("b")).unwrap_err();
        assert!(e.to_string().contains("EIO from the card"), "{e}");
        let e = journal.record(Record::Done("c")).unwrap_err();
        assert!(
            e.to_string()
                .contains("an earlier write of the journal or out dir failed"),
            "{e}"
        );
        assert_eq!(
            CALLS.load(Ordering::SeqCst),
            2,
            "no fsync after the failure"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A `done` waits for a later sync: `close` makes it (and the out dir's renames)
    /// durable while the journal is still there, and only then removes it.
    #[test]
    fn done_is_synced_at_close_before_the_journal_goes() {
        use std::os::unix::fs::MetadataExt;
        use std::sync::atomic::{AtomicU64, Ordering};
        static SYNCS: AtomicU64 = AtomicU64::new(0);
        static LINKED_AT_LAST: AtomicU64 = AtomicU64::new(0);
        fn counted(f: &File) -> std::io::Result<()> {
            SYNCS.fetch_add(1, Ordering::SeqCst);
            LINKED_AT_LAST.store(f.metadata()?.nlink(), Ordering::SeqCst);
            f.sync_data()
        }
        let dir = scratch("done-at-close");
        let Ok((mut journal, _)) = Journal::open(&dir) else {
            panic!("open")
        };
        journal.sync_data = counted;
        journal
            .record(Record::Sign("a", ".a.crt.stepca-batch-x.tmp"))
            .unwrap();
        assert_eq!(SYNCS.load(Ordering::SeqCst), 1, "sign is durable at once");
        journal.record(Record::Done("a")).unwrap();
        assert_eq!(SYNCS.load(Ordering::SeqCst), 1, "done waits");
        assert_eq!(journal.pending(), 0);
        let path = journal.path.clone();
        journal.close(&dir).unwrap();
        assert_eq!(SYNCS.load(Ordering::SeqCst), 2, "close synced the done");
        assert_eq!(
            LINKED_AT_LAST.load(Ordering::SeqCst),
            1,
            "before the journal went"
        );
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A sync that fails at the end keeps the journal (and says so to the caller): the
    /// next run checks the devices it names.
    #[test]
    fn a_failed_sync_at_close_keeps_the_journal() {
        fn fails(_: &File) -> std::io::Result<()> {
            Err(std::io::Error::other("EIO at the end"))
        }
        let dir = scratch("close-fails");
        let Ok((mut journal, _)) = Journal::open(&dir) else {
            panic!("open")
        };
        journal.record(Record::Done("a")).unwrap();
        journal.sync_data = fails;
        let path = journal.path.clone();
        let e = journal.close(&dir).unwrap_err();
        assert!(e.to_string().contains("EIO at the end"), "{e}");
        assert!(path.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn fold_keeps_what_is_pending_and_every_temporary_file() {
        let p = fold(
            "run\t1\t2\n\
             tmp\ta\t.a.key.stepca-batch-x.tmp\n\
             sign\ta\t.a.crt.stepca-batch-y.tmp\n\
             sign\tb\t.b.crt.stepca-batch-z.tmp\n\
             done\tb\n\
             sign\tc\t.c.crt.stepca-batch-w.tmp\n\
             unsure\tc\n\
             sign\td\t.d.crt.stepca-batch-v.tmp\n\
             rejected\td\n\
             sign\te\t.e.crt.stepca-batch-u.tm",
        );
        assert_eq!(p.pending.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert!(p.pending["a"].in_flight);
        assert_eq!(
            p.pending["a"].temp.as_deref(),
            Some(".a.crt.stepca-batch-y.tmp")
        );
        assert!(!p.pending["c"].in_flight);
        assert_eq!(p.temps.len(), 5);
    }

    #[test]
    fn temp_names() {
        assert!(is_temp_name("a", ".a.crt.stepca-batch-Ab3.tmp"));
        assert!(is_temp_name("a", ".a.key.stepca-batch-Ab3.tmp"));
        assert!(!is_temp_name("a", "a.crt"));
        assert!(!is_temp_name("a", ".a.crt.tmp-123"));
        assert!(!is_temp_name("a", ".b.crt.stepca-batch-Ab3.tmp"));
        assert!(!is_temp_name("a", ".a.crt.stepca-batch-../x.tmp"));
        assert!(!is_temp_name("a", ".a.crt.stepca-batch-.tmp"));
    }

    #[test]
    fn a_temporary_file_never_follows_a_planted_symlink() {
        let d = scratch("symlink");
        let target = d.join("target");
        std::fs::write(&target, b"precious").unwrap();
        // With no random characters the name is known: plant a link there.
        symlink(&target, d.join(".dev.crt.stepca-batch-.tmp")).unwrap();
        let Ok((j, _)) = Journal::open(&d) else {
            panic!()
        };
        let e = temp_file(&j, &d, "dev", "crt", 0o644, 0, true).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        assert!(
            std::fs::symlink_metadata(d.join(".dev.crt.stepca-batch-.tmp"))
                .unwrap()
                .is_symlink()
        );
        // With random characters another name is taken, recorded before it was created, and
        // the file has the mode asked.
        let t = temp_file(&j, &d, "dev", "key", 0o600, RANDOM, false).unwrap();
        assert!(is_temp_name("dev", &base(&t)), "{}", base(&t));
        let text = std::fs::read_to_string(d.join(JOURNAL)).unwrap();
        assert!(
            text.ends_with(&format!("tmp\tdev\t{}\n", base(&t))),
            "{text}"
        );
        let mode = t.as_file().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Reading a temporary file refuses a link.
        let e = read_temp(&d.join(".dev.crt.stepca-batch-.tmp")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        drop(t);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_lock_refuses_a_second_holder_and_links() {
        let d = scratch("lock");
        let Ok(first) = lock(&d) else {
            panic!("not locked")
        };
        let Err(f) = lock(&d) else {
            panic!("locked twice")
        };
        assert_eq!(f.code, LOCKED);
        assert!(
            f.message.contains(&format!("(pid {})", std::process::id())),
            "{}",
            f.message
        );
        drop(first);
        assert!(lock(&d).is_ok(), "the lock is free again");
        // The journal and the lock are never opened through a symbolic link.
        let target = d.join("target");
        std::fs::write(&target, b"precious").unwrap();
        std::fs::remove_file(d.join(LOCK)).unwrap();
        symlink(&target, d.join(LOCK)).unwrap();
        symlink(&target, d.join(JOURNAL)).unwrap();
        let Err(f) = lock(&d) else { panic!() };
        assert!(f.message.contains("symbolic link"), "{}", f.message);
        let Err(f) = Journal::open(&d) else { panic!() };
        assert!(f.message.contains("symbolic link"), "{}", f.message);
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
