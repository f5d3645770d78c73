//! The global allocator of the test binaries that count heap allocations:
//! every call is forwarded to `System`, and while [`measure`] (or
//! [`measure_async`]) runs on a thread, that thread's allocations and the
//! bytes they ask for are counted. Other threads (the provider, the
//! refresh task, the test harness) never show up in the figures.
//!
//! Included with `#[path]` by tests/alloc.rs, tests/attacks/main.rs and
//! tests/authz.rs, each of which uses part of it.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

thread_local! { static IN: Cell<bool> = const { Cell::new(false) }; }
fn record(size: usize) {
    let _ = ON.try_with(|on| {
        if on.get() {
            COUNT.with(|c| c.set(c.get() + 1));
            BYTES.with(|b| b.set(b.get() + size as u64));
            if !IN.with(|i| i.get()) {
                IN.with(|i| i.set(true));
                let bt = std::backtrace::Backtrace::force_capture().to_string();
                let frames: Vec<&str> = bt.lines().filter(|l| l.contains("oidc_bearer") || l.contains("serde") ).take(5).collect();
                eprintln!("ALLOC {size}: {}", frames.join(" | "));
                IN.with(|i| i.set(false));
            }
        }
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are
// const-initialised thread locals without destructors, so recording never
// allocates or re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations and bytes asked for on this thread while measuring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocs {
    pub count: u64,
    pub bytes: u64,
}

fn start() {
    COUNT.with(|c| c.set(0));
    BYTES.with(|b| b.set(0));
    ON.with(|on| on.set(true));
}

fn stop() -> Allocs {
    ON.with(|on| on.set(false));
    Allocs {
        count: COUNT.with(Cell::get),
        bytes: BYTES.with(Cell::get),
    }
}

/// `f`'s result and what it allocated on this thread.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Allocs) {
    start();
    let out = f();
    (out, stop())
}

/// As [`measure`], for a future awaited on this thread (use a
/// current-thread runtime).
pub async fn measure_async<T>(f: impl std::future::Future<Output = T>) -> (T, Allocs) {
    start();
    let out = f.await;
    (out, stop())
}
