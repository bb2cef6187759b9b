//! GPU buffers recycled by size class: a buffer returns to its pool when the last tensor
//! holding it is dropped, so a repeated forward of the same shapes allocates nothing.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A GPU buffer, owned by a pool (returned to it on drop) or standalone (weights).
#[derive(Debug)]
pub struct Buf {
    /// Unique id (bind-group cache key).
    pub id: u64,
    /// The buffer.
    pub buffer: wgpu::Buffer,
    class: u64,
    home: Option<Rc<Pool>>,
}

impl Buf {
    /// True when the buffer belongs to `pool`.
    pub fn is_from(&self, pool: &Rc<Pool>) -> bool {
        self.home.as_ref().is_some_and(|h| Rc::ptr_eq(h, pool))
    }

    /// A standalone buffer of `bytes` with `usage`.
    pub fn standalone(device: &wgpu::Device, bytes: u64, usage: wgpu::BufferUsages) -> Rc<Buf> {
        Rc::new(Buf {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            buffer: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("ganscope"),
                size: bytes.max(4),
                usage,
                mapped_at_creation: false,
            }),
            class: bytes,
            home: None,
        })
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        if let Some(p) = &self.home {
            p.free
                .borrow_mut()
                .entry(self.class)
                .or_default()
                .push((self.id, self.buffer.clone()));
        }
    }
}

/// Free buffers of one usage, by size class.
#[derive(Debug)]
pub struct Pool {
    usage: wgpu::BufferUsages,
    free: RefCell<HashMap<u64, Vec<(u64, wgpu::Buffer)>>>,
    created: Cell<usize>,
}

impl Pool {
    /// An empty pool of buffers with `usage`.
    pub fn new(usage: wgpu::BufferUsages) -> Rc<Pool> {
        Rc::new(Pool {
            usage,
            free: RefCell::default(),
            created: Cell::new(0),
        })
    }

    /// Buffers created so far (a forward that reuses everything leaves it unchanged).
    pub fn created(&self) -> usize {
        self.created.get()
    }

    /// A buffer of at least `bytes` (`bytes <= max`, checked by the caller): the next power
    /// of two, or `bytes` rounded to 256 where the power of two would pass `max`.
    pub fn take(self: &Rc<Self>, device: &wgpu::Device, bytes: u64, max: u64) -> Rc<Buf> {
        let pow = bytes.max(256).next_power_of_two();
        let class = if pow <= max {
            pow
        } else {
            // never past the binding limit (which need not be a multiple of 256)
            (bytes.div_ceil(256) * 256)
                .min(max & !3)
                .max(bytes.div_ceil(4) * 4)
        };
        let reuse = self.free.borrow_mut().get_mut(&class).and_then(|v| v.pop());
        let (id, buffer) = reuse.unwrap_or_else(|| {
            self.created.set(self.created.get() + 1);
            let b = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("ganscope pool"),
                size: class,
                usage: self.usage,
                mapped_at_creation: false,
            });
            (NEXT_ID.fetch_add(1, Ordering::Relaxed), b)
        });
        Rc::new(Buf {
            id,
            buffer,
            class,
            home: Some(self.clone()),
        })
    }
}
