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
    let mut out = Vec::with_capacity(items.len());
    for ((rx, s), (_, bytes)) in waits.into_iter().zip(&staging).zip(items) {
        let mapped = rx
            .await
            .map_err(|_| Error::DeviceLost("the readback was dropped".into()))?;
        rec.gpu.check()?;
        mapped.map_err(|e| Error::Gpu(format!("mapping a readback buffer: {e}")))?;
        let slice = s.buffer.slice(0..*bytes);
        let data = slice
            .get_mapped_range()
            .map_err(|e| Error::Gpu(format!("reading a mapped buffer: {e}")))?
            .to_vec();
        s.buffer.unmap();
        out.push(data);
    }
    rec.gpu.check()?;
    Ok(out)
}
