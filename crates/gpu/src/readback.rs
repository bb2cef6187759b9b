//! Reading tensors back: one submission copies them to staging buffers, then an async map
//! (awaited in the browser; natively the device is polled until the map completes).

use std::rc::Rc;

use crate::pool::Buf;
use crate::recorder::Recorder;
use crate::{Error, Result};

/// Submits what is recorded, copies `bytes` of each buffer out and returns the bytes.
pub async fn read_buffers(rec: &Recorder, items: &[(&Rc<Buf>, u64)]) -> Result<Vec<Vec<u8>>> {
    let staging = items
        .iter()
        .map(|(_, bytes)| rec.take(&rec.staging, *bytes, "a readback"))
        .collect::<ganscope_model::Result<Vec<_>>>()?;
    let copies: Vec<_> = items
        .iter()
        .zip(&staging)
        .map(|((src, bytes), dst)| (*src, dst, *bytes))
        .collect();
    rec.submit_with_copies(&copies);
    let mut waits = Vec::with_capacity(items.len());
    for ((_, bytes), s) in items.iter().zip(&staging) {
        let (tx, rx) = futures_channel::oneshot::channel();
        s.buffer
            .slice(0..*bytes)
            .map_async(wgpu::MapMode::Read, move |r| {
                let _ = tx.send(r);
            });
        waits.push(rx);
    }
    #[cfg(not(target_arch = "wasm32"))]
    rec.gpu
        .device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
    // every map is awaited and every mapped buffer unmapped before any error is returned, so
    // no staging buffer goes back to its pool still mapped
    let mut results = Vec::with_capacity(waits.len());
    for rx in waits {
        results.push(rx.await);
    }
    let mut out = Vec::with_capacity(items.len());
    let mut first_err = None;
    for ((r, s), (_, bytes)) in results.into_iter().zip(&staging).zip(items) {
        match r {
            Ok(Ok(())) => {
                let slice = s.buffer.slice(0..*bytes);
                match slice.get_mapped_range() {
                    Ok(view) => out.push(view.to_vec()),
                    Err(e) => {
                        first_err
                            .get_or_insert(Error::Gpu(format!("reading a mapped buffer: {e}")));
                    }
                }
                s.buffer.unmap();
            }
            Ok(Err(e)) => {
                first_err.get_or_insert(Error::Gpu(format!("mapping a readback buffer: {e}")));
            }
            Err(_) => {
                first_err.get_or_insert(Error::DeviceLost("the readback was dropped".into()));
            }
        }
    }
    rec.gpu.check()?;
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}
