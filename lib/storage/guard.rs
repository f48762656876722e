//! Reading a memory map without dying of SIGBUS.
//!
//! When another program truncates a file while we read it through a memory map, touching a
//! mapped page past the new end raises SIGBUS, which kills the process by default. A length
//! check before mapping cannot close that race. Instead, [`guarded`] marks the mapped range of
//! the current thread; a SIGBUS handler that finds the faulting address inside the marked range
//! replaces that page with an anonymous zero page, records the fault and returns, so the read
//! completes (seeing zeros) and the caller turns the recorded fault into an I/O error for the
//! file. A SIGBUS anywhere else is passed on to the previous disposition (by default: death),
//! so real bugs are not hidden.
//!
//! The handler is installed once per process, on first use; it only touches two `const`
//! thread-locals without destructors and calls `mmap`, which is async-signal-safe.

use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Once;

thread_local! {
    static RANGE: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    static HIT: Cell<bool> = const { Cell::new(false) };
}

static INSTALL: Once = Once::new();
static OLD: AtomicPtr<libc::sigaction> = AtomicPtr::new(std::ptr::null_mut());
static PAGE: AtomicUsize = AtomicUsize::new(4096);

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel hands a valid siginfo to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let (start, end) = RANGE.with(|r| r.get());
    if addr >= start && addr < end {
        let page = PAGE.load(Ordering::Relaxed);
        let base = addr & !(page - 1);
        // SAFETY: the page lies inside a read-only file mapping owned by the guarded caller;
        // replacing it with zeros keeps the mapping valid until the caller unmaps it.
        let p = unsafe {
            libc::mmap(
                base as *mut libc::c_void,
                page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            HIT.with(|h| h.set(true));
            return;
        }
    }
    // Not ours: restore the previous disposition; returning re-runs the faulting access,
    // which then gets the old behavior.
    let old = OLD.load(Ordering::Acquire);
    // SAFETY: `old` is null or a leaked, never-freed sigaction.
    unsafe {
        if old.is_null() {
            libc::signal(libc::SIGBUS, libc::SIG_DFL);
        } else {
            libc::sigaction(libc::SIGBUS, old, std::ptr::null_mut());
        }
    }
}

fn install() {
    INSTALL.call_once(|| {
        // SAFETY: plain libc calls with zero-initialised, fully set-up structs.
        unsafe {
            let page = libc::sysconf(libc::_SC_PAGESIZE);
            if page > 0 {
                PAGE.store(page as usize, Ordering::Relaxed);
            }
            let mut sa: libc::sigaction = std::mem::zeroed();
            let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                on_sigbus;
            sa.sa_sigaction = handler as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, &sa, &mut old) == 0 {
                OLD.store(Box::into_raw(Box::new(old)), Ordering::Release);
            }
        }
    });
}

struct Reset;

impl Drop for Reset {
    fn drop(&mut self) {
        RANGE.with(|r| r.set((0, 0)));
    }
}

/// Run `f` over `map` (a read-only file mapping); returns `f`'s result and whether a page of
/// the map vanished (SIGBUS) meanwhile, in which case some bytes `f` saw were zeros instead of
/// file data.
pub fn guarded<R>(map: &[u8], f: impl FnOnce(&[u8]) -> R) -> (R, bool) {
    install();
    let start = map.as_ptr() as usize;
    RANGE.with(|r| r.set((start, start + map.len())));
    HIT.with(|h| h.set(false));
    let reset = Reset;
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
    let r = f(map);
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
    drop(reset);
    (r, HIT.with(|h| h.get()))
}
