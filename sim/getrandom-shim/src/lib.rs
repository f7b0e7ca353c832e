//! joinsim's own implementation of the getrandom 0.2 API, used through `[patch.crates-io]`.
//!
//! Why it exists: raft-rs draws its randomized election timeouts from rand 0.8's `thread_rng()`,
//! which is seeded by getrandom 0.2. The published getrandom 0.2 asks the kernel through a raw
//! `SYS_getrandom` syscall, which madsim cannot intercept, so every simulated run would draw
//! different election timeouts and the same seed would not replay.
//!
//! This crate fills buffers by calling the C library's `getrandom` function instead. madsim exports
//! a `getrandom` symbol that takes precedence over glibc's: inside a simulation it draws from the
//! run's seeded RNG, outside one it forwards to the real function. Outside madsim builds this is
//! simply the operating system's random source.
//!
//! Only the part of the getrandom 0.2 API that this workspace's dependencies use is provided:
//! [`getrandom`], [`getrandom_uninit`] and [`Error`].

use core::fmt;
use core::mem::MaybeUninit;
use core::num::NonZeroU32;

/// An error from the random source: an OS error number, or one of this crate's own codes.
#[derive(Copy, Clone, Eq, PartialEq)]
pub struct Error(NonZeroU32);

impl Error {
    /// The OS gave no error number for a failure.
    pub const ERRNO_NOT_POSITIVE: Error = Error::internal(1);
    /// Codes at or above this are not OS error numbers but errors of the crate.
    pub const INTERNAL_START: u32 = 1 << 31;
    /// Codes at or above this are reserved for custom random sources.
    pub const CUSTOM_START: u32 = (1 << 31) + (1 << 30);

    const fn internal(n: u16) -> Error {
        // INTERNAL_START + n is never zero.
        match NonZeroU32::new(Self::INTERNAL_START + n as u32) {
            Some(code) => Error(code),
            None => panic!("internal error code is zero"),
        }
    }

    /// The OS error number, when the error came from the OS.
    pub fn raw_os_error(self) -> Option<i32> {
        if self.0.get() < Self::INTERNAL_START {
            Some(self.0.get() as i32)
        } else {
            None
        }
    }

    /// The error code.
    pub const fn code(self) -> NonZeroU32 {
        self.0
    }
}

impl From<NonZeroU32> for Error {
    fn from(code: NonZeroU32) -> Self {
        Error(code)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.raw_os_error() {
            Some(errno) => write!(f, "Error {{ os_error: {errno} }}"),
            None => write!(f, "Error {{ internal_code: {} }}", self.0.get()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.raw_os_error() {
            Some(errno) => write!(f, "getrandom failed with OS error {errno}"),
            None => write!(f, "getrandom failed with internal error {}", self.0.get()),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(err: Error) -> Self {
        match err.raw_os_error() {
            Some(errno) => std::io::Error::from_raw_os_error(errno),
            None => std::io::Error::other(err),
        }
    }
}

/// Fills `dest` with random bytes.
pub fn getrandom(dest: &mut [u8]) -> Result<(), Error> {
    let mut filled = 0;
    // Bounded: each successful call makes progress, and EINTR retries are capped.
    let mut interrupted_retries = 0u32;
    while filled < dest.len() {
        let rest = &mut dest[filled..];
        // SAFETY: `rest` is a valid, writable buffer of `rest.len()` bytes.
        let ret = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if ret < 0 {
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            if errno == libc::EINTR && interrupted_retries < 1_000 {
                interrupted_retries += 1;
                continue;
            }
            return Err(NonZeroU32::new(errno as u32)
                .map(Error)
                .unwrap_or(Error::ERRNO_NOT_POSITIVE));
        }
        filled += ret as usize;
    }
    Ok(())
}

/// Fills a possibly uninitialized buffer with random bytes and returns it as initialized.
pub fn getrandom_uninit(dest: &mut [MaybeUninit<u8>]) -> Result<&mut [u8], Error> {
    for byte in dest.iter_mut() {
        byte.write(0);
    }
    // SAFETY: every byte was initialized just above.
    let bytes = unsafe { &mut *(dest as *mut [MaybeUninit<u8>] as *mut [u8]) };
    getrandom(bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_the_whole_buffer() {
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        getrandom(&mut a).unwrap();
        getrandom(&mut b).unwrap();
        assert_ne!(a, b, "two draws of 64 random bytes were equal");
    }

    #[test]
    fn empty_buffer_is_fine() {
        getrandom(&mut []).unwrap();
    }

    #[test]
    fn error_codes_round_trip() {
        let e = Error::from(NonZeroU32::new(5).unwrap());
        assert_eq!(e.raw_os_error(), Some(5));
        assert_eq!(Error::ERRNO_NOT_POSITIVE.raw_os_error(), None);
        assert!(Error::ERRNO_NOT_POSITIVE.code().get() >= Error::INTERNAL_START);
    }
}
