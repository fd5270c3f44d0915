//! Gives the heap's free pages back to the system once a pass is over, so that an idle
//! daemon's resident size is what it keeps (the shadows' snapshots, the models), not the
//! peak of its last pass: glibc keeps freed memory in its arenas (one per thread that
//! allocated) until asked. At 1000 tables the idle RSS after the initial sync went from
//! 102 MB to 38 MB with one `malloc_trim(0)`.

/// Returns the heap's free memory to the system (glibc only; elsewhere nothing to do).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // the one FFI call of the crate: no pointer, no state handed over
pub(crate) fn release_free_memory() {
    // SAFETY: malloc_trim takes a size and walks glibc's own arenas under their locks; it is
    // safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Returns the heap's free memory to the system (glibc only; elsewhere nothing to do).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn release_free_memory() {}
