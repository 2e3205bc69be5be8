//! The plugin's memory allocator (feature `fast-alloc`, on by default).
//!
//! A plugin call allocates and frees dozens of small blocks (every JSON key and string of an
//! event, the tree that holds them, the emitted text). In wasm the C library's dlmalloc is
//! reached through four calls and does boundary tagging and coalescing on each of them; that
//! was a quarter of a transform's time. Plugins are single-threaded and short-lived per call,
//! so small blocks here come from free lists of power-of-two size classes: allocating and
//! freeing are a few instructions, and a freed block is the next one handed out of its class.
//!
//! What it costs: a small block is rounded up to a power of two, and memory freed into a class
//! stays with that class (a plugin's footprint is its peak of live small blocks, within the
//! host's per-instance memory cap). Blocks above [`MAX_SMALL`] or with alignment above 16 go to
//! the system allocator unchanged. Plugins that want another allocator turn the feature off.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::{Cell, UnsafeCell};
use std::ptr;

/// The largest block served from the size classes.
pub const MAX_SMALL: usize = 4096;
const MIN_SMALL: usize = 8;
const CLASSES: usize = (MAX_SMALL.trailing_zeros() - MIN_SMALL.trailing_zeros() + 1) as usize;
/// Small blocks are carved out of regions this big taken from the backing allocator.
const REGION: usize = 16 * 1024;
const MAX_ALIGN: usize = 16;

/// Size-class free lists in front of a backing allocator `B` (the system allocator in a plugin).
///
/// Not thread-safe: one instance serves one thread. In a plugin that is guaranteed by the
/// target (wasm32 without threads); native tests use their own instance per test.
pub struct SizeClasses<B> {
    backing: B,
    /// Head of each class's free list; a free block's first word points to the next one.
    free: UnsafeCell<[*mut u8; CLASSES]>,
    /// The part of the current region no block has been carved from yet.
    bump: Cell<usize>,
    end: Cell<usize>,
}

impl<B> SizeClasses<B> {
    pub const fn new(backing: B) -> Self {
        Self { backing, free: UnsafeCell::new([ptr::null_mut(); CLASSES]), bump: Cell::new(0), end: Cell::new(0) }
    }
}

/// The class of a layout, or `None` when it belongs to the backing allocator.
#[inline(always)]
fn class_of(layout: &Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(MIN_SMALL);
    if size > MAX_SMALL || layout.align() > MAX_ALIGN {
        return None;
    }
    Some((usize::BITS - (size - 1).leading_zeros() - MIN_SMALL.trailing_zeros()) as usize)
}

#[inline(always)]
const fn block_size(class: usize) -> usize {
    MIN_SMALL << class
}

impl<B: GlobalAlloc> SizeClasses<B> {
    /// A block of `class` from a fresh region; null when the backing allocator is out of memory.
    #[cold]
    unsafe fn carve(&self, class: usize) -> *mut u8 {
        let size = block_size(class);
        // Blocks of 16 bytes and more start on 16-byte boundaries, 8-byte blocks on 8.
        let align = size.min(MAX_ALIGN);
        let mut start = self.bump.get().next_multiple_of(align);
        if start + size > self.end.get() {
            // The tail of the old region (less than one block) is left unused.
            let region = unsafe { self.backing.alloc(Layout::from_size_align_unchecked(REGION, MAX_ALIGN)) };
            if region.is_null() {
                return region;
            }
            start = region as usize;
            self.end.set(start + REGION);
        }
        self.bump.set(start + size);
        start as *mut u8
    }
}

unsafe impl<B: GlobalAlloc> GlobalAlloc for SizeClasses<B> {
    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(&layout) else {
            return unsafe { self.backing.alloc(layout) };
        };
        // SAFETY: single-threaded (see the type), and no reference to the lists outlives this call.
        let free = unsafe { &mut *self.free.get() };
        let head = free[class];
        if head.is_null() {
            return unsafe { self.carve(class) };
        }
        free[class] = unsafe { *(head as *mut *mut u8) };
        head
    }

    #[inline(always)]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let Some(class) = class_of(&layout) else {
            return unsafe { self.backing.dealloc(block, layout) };
        };
        let free = unsafe { &mut *self.free.get() };
        unsafe { *(block as *mut *mut u8) = free[class] };
        free[class] = block;
    }

    #[inline]
    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (class_of(&layout), class_of(&new_layout)) {
            // Still fits its block (a string growing within its power of two).
            (Some(old), Some(new)) if old == new => block,
            (None, None) => unsafe { self.backing.realloc(block, layout, new_size) },
            _ => {
                let moved = unsafe { self.alloc(new_layout) };
                if !moved.is_null() {
                    unsafe {
                        ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                        self.dealloc(block, layout);
                    }
                }
                moved
            }
        }
    }
}

#[cfg(all(feature = "fast-alloc", target_arch = "wasm32", not(target_feature = "atomics")))]
mod global {
    use super::SizeClasses;
    use std::alloc::System;

    /// A wasm32 plugin without threads runs on one thread only.
    struct SingleThreaded(SizeClasses<System>);
    unsafe impl Sync for SingleThreaded {}

    unsafe impl std::alloc::GlobalAlloc for SingleThreaded {
        #[inline(always)]
        unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
            unsafe { self.0.alloc(layout) }
        }
        #[inline(always)]
        unsafe fn dealloc(&self, block: *mut u8, layout: std::alloc::Layout) {
            unsafe { self.0.dealloc(block, layout) }
        }
        #[inline]
        unsafe fn realloc(&self, block: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
            unsafe { self.0.realloc(block, layout, new_size) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: SingleThreaded = SingleThreaded(SizeClasses::new(System));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;
    use std::collections::HashSet;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn classes_round_up_to_powers_of_two() {
        assert_eq!(class_of(&layout(1, 1)), Some(0));
        assert_eq!(class_of(&layout(8, 8)), Some(0));
        assert_eq!(class_of(&layout(9, 1)), Some(1));
        assert_eq!(class_of(&layout(24, 8)), Some(2));
        assert_eq!(class_of(&layout(4, 16)), Some(1));
        assert_eq!(class_of(&layout(MAX_SMALL, 8)), Some(CLASSES - 1));
        assert_eq!(class_of(&layout(MAX_SMALL + 1, 8)), None);
        assert_eq!(class_of(&layout(8, 32)), None);
    }

    #[test]
    fn blocks_are_aligned_distinct_and_reused_after_free() {
        let a = SizeClasses::new(System);
        let mut seen = HashSet::new();
        let mut blocks = Vec::new();
        for size in [1, 7, 8, 13, 16, 33, 100, 1000, 4096] {
            for align in [1, 2, 4, 8, 16] {
                let l = layout(size, align);
                let p = unsafe { a.alloc(l) };
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "size {size} align {align}");
                unsafe { ptr::write_bytes(p, 0xAB, size) };
                assert!(seen.insert(p as usize), "a live block was handed out twice");
                blocks.push((p, l));
            }
        }
        // No two live blocks overlap.
        let mut spans: Vec<_> = blocks.iter().map(|(p, l)| (*p as usize, *p as usize + l.size())).collect();
        spans.sort();
        assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0));
        let (p, l) = blocks.pop().unwrap();
        unsafe { a.dealloc(p, l) };
        assert_eq!(unsafe { a.alloc(l) }, p, "a freed block is the next one of its class");
        for (p, l) in blocks {
            unsafe { a.dealloc(p, l) };
        }
    }

    #[test]
    fn realloc_keeps_contents_across_classes_and_into_the_backing_allocator() {
        let a = SizeClasses::new(System);
        let mut l = layout(5, 1);
        let mut p = unsafe { a.alloc(l) };
        unsafe { ptr::copy_nonoverlapping(b"hello".as_ptr(), p, 5) };
        for new_size in [7, 20, 600, MAX_SMALL, MAX_SMALL * 3, 64, 3] {
            let same_class = class_of(&l) == class_of(&layout(new_size, 1)) && class_of(&l).is_some();
            let q = unsafe { a.realloc(p, l, new_size) };
            if same_class {
                assert_eq!(q, p);
            }
            let kept = 5.min(new_size);
            assert_eq!(unsafe { std::slice::from_raw_parts(q, kept) }, &b"hello"[..kept]);
            p = q;
            l = layout(new_size, 1);
        }
        unsafe { a.dealloc(p, l) };
    }

    #[test]
    fn many_blocks_span_several_regions() {
        let a = SizeClasses::new(System);
        let l = layout(3000, 8);
        let blocks: Vec<_> = (0..100).map(|_| unsafe { a.alloc(l) }).collect();
        assert!(blocks.iter().all(|p| !p.is_null()));
        assert_eq!(blocks.iter().collect::<HashSet<_>>().len(), 100);
        for p in blocks {
            unsafe { a.dealloc(p, l) };
        }
    }
}
