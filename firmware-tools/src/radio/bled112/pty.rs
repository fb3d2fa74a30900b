//! The pseudo-terminal a virtual dongle sits behind: the host opens its path exactly as it
//! would open `/dev/ttyACM0`.
//!
//! The dongle holds the master side. While no host holds the slave open, the master reports
//! a hang-up: reads fail with `EIO` and epoll keeps signalling it (tokio treats a hang-up as
//! final). So the pty has two states: without a host it polls on a timer and writes nothing
//! (bytes written then would reach the next host as stale data); once a read shows a host, it
//! registers the descriptor with the runtime afresh and waits on readiness until the host
//! hangs up again.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt, PtyMaster};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use tokio::io::unix::AsyncFd;

/// How often to look for a host while there is none.
const NO_HOST_POLL: Duration = Duration::from_millis(20);

/// The master side of a pty, in non-blocking mode.
pub struct Pty {
    path: PathBuf,
    state: State,
}

enum State {
    /// No host has the slave open; the descriptor is not registered with the runtime.
    NoHost(Master),
    /// A host has it open; readiness drives reads and writes.
    Host(AsyncFd<Master>),
    /// Only while switching states.
    Switching,
}

struct Master(PtyMaster);

impl AsRawFd for Master {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl AsFd for Master {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// What one non-blocking read found.
enum Read {
    Data(usize),
    Nothing,
    NoHost,
}

fn read_now(master: &Master, buf: &mut [u8]) -> io::Result<Read> {
    match nix::unistd::read(master.as_raw_fd(), buf) {
        Ok(0) | Err(Errno::EIO) => Ok(Read::NoHost),
        Ok(n) => Ok(Read::Data(n)),
        Err(Errno::EAGAIN) => Ok(Read::Nothing),
        Err(errno) => Err(errno.into()),
    }
}

impl Pty {
    /// Opens a new pty in raw mode (bytes pass unchanged).
    pub fn open() -> io::Result<Pty> {
        let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let path = PathBuf::from(ptsname_r(&master)?);
        // Raw mode is a property of the terminal, so set it once through a short-lived
        // slave descriptor; hosts that open the port set their own modes anyway.
        // O_NOCTTY: a session leader (a service, `setsid`) must not take the pty as its
        // controlling terminal, or closing the master at stop would hang the process up.
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(OFlag::O_NOCTTY.bits())
            .open(&path)?;
        let mut modes = tcgetattr(&slave)?;
        cfmakeraw(&mut modes);
        tcsetattr(&slave, SetArg::TCSANOW, &modes)?;
        drop(slave);
        let flags = OFlag::from_bits_truncate(fcntl(master.as_raw_fd(), FcntlArg::F_GETFL)?);
        fcntl(
            master.as_raw_fd(),
            FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK),
        )?;
        Ok(Pty {
            path,
            state: State::NoHost(Master(master)),
        })
    }

    /// The slave's path, for the host (`/dev/pts/N`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads what the host wrote; waits while no host holds the port open.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match &self.state {
                State::NoHost(master) => match read_now(master, buf)? {
                    Read::NoHost => tokio::time::sleep(NO_HOST_POLL).await,
                    found => {
                        self.switch(true)?;
                        if let Read::Data(n) = found {
                            return Ok(n);
                        }
                    }
                },
                State::Host(fd) => {
                    let mut guard = fd.readable().await?;
                    match read_now(fd.get_ref(), buf)? {
                        Read::Data(n) => return Ok(n),
                        Read::Nothing => guard.clear_ready(),
                        Read::NoHost => {
                            drop(guard);
                            self.switch(false)?;
                        }
                    }
                }
                State::Switching => {
                    return Err(io::Error::other("the pty was lost while switching state"))
                }
            }
        }
    }

    /// Writes all of `bytes` to the host; without a host, drops them.
    pub async fn write_all(&self, mut bytes: &[u8]) -> io::Result<()> {
        let State::Host(fd) = &self.state else {
            return Ok(());
        };
        while !bytes.is_empty() {
            let mut guard = fd.writable().await?;
            match nix::unistd::write(fd.get_ref(), bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(Errno::EAGAIN) => guard.clear_ready(),
                // The host hung up: what it did not read is lost with its session.
                Err(Errno::EIO) => return Ok(()),
                Err(errno) => return Err(errno.into()),
            }
        }
        Ok(())
    }

    /// Registers the descriptor with the runtime when a host appears (so no stale hang-up
    /// is remembered), and unregisters it when the host leaves.
    fn switch(&mut self, host: bool) -> io::Result<()> {
        self.state = match (std::mem::replace(&mut self.state, State::Switching), host) {
            (State::NoHost(master), true) => {
                // `AsyncFd::new` is deprecated because a borrowed descriptor could be closed
                // while registered; `Master` owns its descriptor and the `AsyncFd` owns
                // `Master`, so the descriptor outlives the registration.
                #[allow(deprecated)]
                let fd = AsyncFd::new(master)?;
                State::Host(fd)
            }
            (State::Host(fd), false) => State::NoHost(fd.into_inner()),
            (same, _) => same,
        };
        Ok(())
    }
}
