//! A pseudo-terminal for a command: the near end kelp reads, types into and resizes, and the
//! far end the command gets on its three streams (made its controlling terminal by
//! `shell::prepare`). A background terminal of the model's and a host's `command/exec` or
//! `process/spawn` with `tty` both run on one.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

use tokio::io::unix::AsyncFd;

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct Size {
    pub rows: u16,
    pub cols: u16,
}

impl Default for Size {
    /// The size a command's terminal starts with when nobody names one.
    fn default() -> Self {
        Self {
            rows: 24,
            cols: 120,
        }
    }
}

/// The near end of a terminal; cheap to clone, closed when the last clone goes.
#[derive(Clone)]
pub struct Terminal(Arc<AsyncFd<OwnedFd>>);

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Terminal")
            .field(&self.0.get_ref().as_raw_fd())
            .finish()
    }
}

/// A new terminal of `size`: the near end (non-blocking, on the runtime's reactor) and the far
/// end a command gets. Both close on exec, so no other command inherits them.
pub fn open(size: Size) -> std::io::Result<(Terminal, OwnedFd)> {
    let (mut near, mut far) = (-1, -1);
    let size = winsize(size);
    // SAFETY: openpty writes two descriptors into the integers given and reads the size.
    let opened = unsafe {
        libc::openpty(
            &mut near,
            &mut far,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    if opened < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: openpty succeeded: both are open descriptors that nothing else owns.
    let (near, far) = unsafe { (OwnedFd::from_raw_fd(near), OwnedFd::from_raw_fd(far)) };
    for fd in [&near, &far] {
        // SAFETY: fcntl on a descriptor this owns.
        unsafe {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    // SAFETY: as above.
    unsafe {
        let flags = libc::fcntl(near.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(near.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    // SAFETY: the descriptor is this terminal's near end, owned here and closed only when the
    // `AsyncFd` (which deregisters it first) is dropped.
    let near = unsafe { AsyncFd::register(near) }?;
    Ok((Terminal(Arc::new(near)), far))
}

fn winsize(size: Size) -> libc::winsize {
    libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Terminal {
    /// Reads once; `None` once the terminal is closed (every far end gone: `EIO`).
    pub async fn read(&self, buf: &mut [u8]) -> Option<usize> {
        loop {
            let mut ready = self.0.readable().await.ok()?;
            match ready.try_io(|fd| raw_io(fd.as_raw_fd(), buf.as_mut_ptr(), buf.len(), true)) {
                Ok(Ok(0) | Err(_)) => return None,
                Ok(Ok(n)) => return Some(n),
                Err(_would_block) => continue,
            }
        }
    }

    /// Types `bytes` into the terminal, as a person at it would.
    pub async fn type_in(&self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let mut ready = self.0.writable().await?;
            match ready.try_io(|fd| {
                raw_io(
                    fd.as_raw_fd(),
                    bytes.as_ptr().cast_mut(),
                    bytes.len(),
                    false,
                )
            }) {
                Ok(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(Ok(n)) => bytes = &bytes[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Gives the terminal a new size; the command gets `SIGWINCH`.
    pub fn resize(&self, size: Size) -> std::io::Result<()> {
        let size = winsize(size);
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer given, on a descriptor held open.
        let done = unsafe { libc::ioctl(self.0.get_ref().as_raw_fd(), libc::TIOCSWINSZ, &size) };
        if done < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Reads once from `terminal` when there is one; `None` when there is none or it has closed.
pub async fn read_from(terminal: Option<&Terminal>, buf: &mut [u8]) -> Option<usize> {
    terminal?.read(buf).await
}

/// One read (or write) on a raw descriptor.
fn raw_io(fd: i32, buf: *mut u8, len: usize, read: bool) -> std::io::Result<usize> {
    // SAFETY: `buf` points at `len` bytes the caller holds (mutably, for a read).
    let n = unsafe {
        if read {
            libc::read(fd, buf.cast(), len)
        } else {
            libc::write(fd, buf.cast_const().cast(), len)
        }
    };
    usize::try_from(n).map_err(|_| std::io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A size set on the near end is the one the far end's program reads.
    #[tokio::test]
    async fn a_resize_is_what_the_far_end_sees() {
        let (terminal, far) = open(Size { rows: 10, cols: 40 }).unwrap();
        let read_size = |fd: &OwnedFd| {
            let mut size = winsize(Size::default());
            // SAFETY: TIOCGWINSZ writes one winsize into the pointer given.
            unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
            (size.ws_row, size.ws_col)
        };
        assert_eq!(read_size(&far), (10, 40));
        terminal
            .resize(Size {
                rows: 50,
                cols: 132,
            })
            .unwrap();
        assert_eq!(read_size(&far), (50, 132));
    }
}
