//! System calls (skeleton).
#![allow(unsafe_code)]
use std::ffi::{CStr, OsString, c_char, c_int};
use std::os::unix::ffi::OsStringExt;

/// Copies the C `argv` into owned strings.
///
/// # Safety
/// `argv` must point to `argc` valid NUL-terminated strings.
pub unsafe fn args_from_c(argc: c_int, argv: *const *const c_char) -> Vec<OsString> {
    let count = usize::try_from(argc).unwrap_or(0);
    let mut args = Vec::with_capacity(count);
    for i in 0..count {
        // SAFETY: the caller guarantees `argv` holds `argc` valid pointers.
        let ptr = unsafe { *argv.add(i) };
        if ptr.is_null() {
            break;
        }
        // SAFETY: each non-null entry is a valid NUL-terminated string.
        let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes().to_vec();
        args.push(OsString::from_vec(bytes));
    }
    args
}
