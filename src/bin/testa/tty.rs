//! Relaying a container's terminal to ours in the foreground: raw mode on
//! our terminal (restored on drop), bytes both ways, window size copied at
//! start and on SIGWINCH.

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::poll::{PollFd, PollFlags};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use testa::process::console::{set_window_size, window_size};
use testa::Error;

/// A pty master relayed to our stdin/stdout.
pub struct Relay {
    master: std::fs::File,
    saved: Option<Termios>,
    stdin_open: bool,
    master_open: bool,
}

fn stdin() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process.
    unsafe { BorrowedFd::borrow_raw(0) }
}

impl Relay {
    /// Start relaying `master`; our stdin goes raw if it is a terminal.
    pub fn new(master: OwnedFd) -> Result<Relay, Error> {
        let saved = tcgetattr(stdin()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            cfmakeraw(&mut raw);
            tcsetattr(stdin(), SetArg::TCSANOW, &raw)
                .map_err(|e| Error::sys("tcsetattr(stdin, raw)", e))?;
        }
        let r = Relay {
            master: std::fs::File::from(master),
            saved,
            stdin_open: true,
            master_open: true,
        };
        r.copy_window_size();
        Ok(r)
    }

    /// Our terminal's size onto the container's.
    pub fn copy_window_size(&self) {
        if let Ok((rows, cols)) = window_size(stdin()) {
            let _ = set_window_size(self.master.as_fd(), rows, cols);
        }
    }

    /// The fds to poll: stdin, then the master (placeholders when closed).
    pub fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let flag = |open: bool| {
            if open {
                PollFlags::POLLIN
            } else {
                PollFlags::empty()
            }
        };
        vec![
            PollFd::new(stdin(), flag(self.stdin_open)),
            PollFd::new(self.master.as_fd(), flag(self.master_open)),
        ]
    }

    /// Move what is ready: `ready[0]` stdin, `ready[1]` the master.
    pub fn pump(&mut self, ready: &[bool]) {
        let mut buf = [0u8; 8192];
        if ready.first() == Some(&true) && self.stdin_open {
            match std::io::stdin().lock().read(&mut buf) {
                Ok(0) | Err(_) => self.stdin_open = false,
                Ok(n) => {
                    let _ = self.master.write_all(&buf[..n]);
                }
            }
        }
        if ready.get(1) == Some(&true) && self.master_open {
            match self.master.read(&mut buf) {
                // EIO: the last slave fd closed (the process exited).
                Ok(0) | Err(_) => self.master_open = false,
                Ok(n) => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                }
            }
        }
    }

    /// Copy what the container wrote before it exited.
    pub fn drain(&mut self) {
        let fd = self.master.as_fd();
        let _ = nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        while self.master_open {
            self.pump(&[false, true]);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = tcsetattr(stdin(), SetArg::TCSANOW, t);
        }
    }
}
