//! Ctrl-C while an output is being written: the temporaries of [`super::atomic`] are
//! registered here, and on SIGINT, SIGTERM or SIGHUP a watcher thread removes them and then
//! ends the process by the same signal, as if Matchbox had no handler (the shell sees
//! 128 + the signal's number: 130 for Ctrl-C).
//!
//! The signal handler itself only writes the signal's number into a pipe (`write` is
//! async-signal-safe; removing files by name from a locked list is not); the thread does the
//! rest. The handlers are installed when the first temporary is made, so a command that
//! writes no file keeps the default behaviour. Creating, renaming and removing a temporary
//! happen under the list's lock, so the watcher never removes a file that has just become
//! the output, and never misses one that is about to.
//!
//! Elsewhere than unix there is no watcher: temporaries are still removed on errors and
//! panics, not on Ctrl-C.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Temporaries that exist right now.
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn temporaries() -> MutexGuard<'static, Vec<PathBuf>> {
    // A panic while holding the lock leaves a list that is still right.
    TEMPORARIES.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run `create` (which makes a temporary file and returns it with its path) and register the
/// path, in one step as the watcher sees it.
pub fn create_registered<T>(
    create: impl FnOnce() -> std::io::Result<(T, PathBuf)>,
) -> std::io::Result<(T, PathBuf)> {
    install_once();
    let mut list = temporaries();
    let (value, path) = create()?;
    list.push(path.clone());
    Ok((value, path))
}

/// Run `finish` (the rename that makes `path` the output) and forget `path`, in one step.
pub fn unregister_after<T>(path: &Path, finish: impl FnOnce() -> T) -> T {
    let mut list = temporaries();
    let result = finish();
    list.retain(|p| p != path);
    result
}

/// Remove the temporary `path` and forget it.
pub fn remove_registered(path: &Path) {
    unregister_after(path, || {
        // Already gone (renamed, or removed by hand) is fine.
        let _ = std::fs::remove_file(path);
    });
}

#[cfg(unix)]
fn install_once() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(unix::install);
}

#[cfg(not(unix))]
fn install_once() {}

#[cfg(unix)]
mod unix {
    use std::sync::atomic::{AtomicI32, Ordering};

    /// The pipe's write end, for the handler.
    static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

    const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

    extern "C" fn on_signal(signal: libc::c_int) {
        let byte = signal as u8;
        // SAFETY: write(2) on a valid descriptor from a signal handler is async-signal-safe;
        // it sets errno only on failure, which a pipe with room for 64 KiB of signals has not.
        unsafe {
            libc::write(
                PIPE_WRITE.load(Ordering::Relaxed),
                (&byte as *const u8).cast(),
                1,
            );
        }
    }

    /// The pipe, the watcher thread, then the handlers. Any failure leaves the default
    /// handlers (Ctrl-C then just ends the process, leaving a hidden temporary behind).
    pub fn install() {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe(2) writes two descriptors into the array it is given.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return;
        }
        let [read_end, write_end] = fds;
        for fd in fds {
            // SAFETY: both descriptors are ours; FD_CLOEXEC keeps them from child processes.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        PIPE_WRITE.store(write_end, Ordering::Relaxed);
        let watcher = std::thread::Builder::new()
            .name("matchbox-signals".into())
            .spawn(move || watch(read_end));
        if watcher.is_err() {
            return;
        }
        for signal in SIGNALS {
            // SAFETY: a zeroed sigaction with a handler of the right type and an empty mask
            // is a valid argument to sigaction(2); the first call only reads the current one.
            unsafe {
                let mut current: libc::sigaction = std::mem::zeroed();
                libc::sigaction(signal, std::ptr::null(), &mut current);
                // An ignored signal stays ignored (`nohup`, background jobs of a script), and
                // one the process already handles stays with its handler (the live monitor's
                // Ctrl-C ends its session itself: a preset saved from its editor then keeps
                // its temporary on Ctrl-C rather than cutting the recording short).
                if current.sa_sigaction != libc::SIG_DFL {
                    continue;
                }
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    }

    /// Wait for a signal; remove the temporaries; die by that signal.
    fn watch(read_end: libc::c_int) {
        let mut byte = 0u8;
        loop {
            // SAFETY: reads one byte into a local.
            let n = unsafe { libc::read(read_end, (&mut byte as *mut u8).cast(), 1) };
            if n == 1 {
                break;
            }
            if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return;
            }
        }
        let signal = libc::c_int::from(byte);
        // Held until the process ends: no temporary can be made or renamed from now on.
        let list = super::temporaries();
        for path in list.iter() {
            let _ = std::fs::remove_file(path);
        }
        // SAFETY: restoring the default action and raising the signal ends the process as
        // the signal would have without a handler.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
        // Only reached if the signal was blocked or ignored on the way.
        std::process::exit(128 + signal);
    }
}
