//! Free space on the file system that holds the data dir.

use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes an unprivileged writer may still use.
    pub free: u64,
    pub total: u64,
}

pub fn space(path: &Path) -> Option<Space> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    let mut s = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: statvfs fills the struct for a valid NUL-terminated path and returns 0.
    let ok = unsafe { libc::statvfs(c.as_ptr(), s.as_mut_ptr()) } == 0;
    // SAFETY: initialised by the successful call above.
    // The field types differ between platforms (u32 on some): widen them all.
    #[allow(clippy::unnecessary_cast)]
    ok.then(|| unsafe { s.assume_init() }).map(|s| Space {
        free: s.f_bavail as u64 * s.f_frsize as u64,
        total: s.f_blocks as u64 * s.f_frsize as u64,
    })
}

/// Below how much free space the administrators are warned: `configured`, else a tenth of
/// the file system up to 1 GiB (a small VPS disk warns at a few hundred MB, a large one at 1 GiB).
pub fn low_threshold(configured: Option<u64>, total: u64) -> u64 {
    configured.unwrap_or((total / 10).min(1024 * 1024 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_of_a_real_dir_and_the_threshold() {
        let s = space(Path::new("/")).unwrap();
        assert!(s.total >= s.free && s.total > 0);
        assert_eq!(low_threshold(None, 4_000_000_000), 400_000_000);
        assert_eq!(
            low_threshold(None, 100 * 1024 * 1024 * 1024),
            1024 * 1024 * 1024
        );
        assert_eq!(low_threshold(Some(5), 100), 5);
    }
}
