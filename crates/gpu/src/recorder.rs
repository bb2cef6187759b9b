//! Records kernel dispatches into one compute pass and submits them together.
//!
//! Parameter blocks go into one uniform buffer at 256-byte slots (dynamic offsets) written
//! once per submission; bind groups are cached by the buffers they bind, so a repeated forward
//! creates neither buffers nor bind groups.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::context::Gpu;
use crate::kernels::{Kernel, Pipelines, Tile, PARAMS_BYTES};
use crate::pool::{Buf, Pool};

/// Parameter slots per submission (fewer where the device's buffers are smaller); a forward
/// with more dispatches is split into several submissions.
pub const PARAM_SLOTS: u64 = 1024;
const SLOT: u64 = 256;
const BIND_CACHE_MAX: usize = 8192;
/// Elements per elementwise workgroup.
pub const ELEMENTWISE_WG: u64 = 256;
const MAX_GROUPS: u64 = 65535;

struct Recording {
    encoder: wgpu::CommandEncoder,
    pass: Option<wgpu::ComputePass<'static>>,
    params: Vec<u8>,
    keep: Vec<Rc<Buf>>,
}

/// The dispatch recorder of one device.
pub struct Recorder {
    /// The device.
    pub gpu: Gpu,
    pipelines: Pipelines,
    /// Activations (storage, copy source for readback).
    pub act: Rc<Pool>,
    /// Uploads written by the queue (kept until their submission).
    pub upload: Rc<Pool>,
    /// Readback staging buffers.
    pub staging: Rc<Pool>,
    params: wgpu::Buffer,
    slots: std::cell::Cell<u64>,
    dummy: Rc<Buf>,
    rec: RefCell<Option<Recording>>,
    binds: RefCell<HashMap<Vec<u64>, wgpu::BindGroup>>,
    /// Fill every output with NaN before a kernel writes it (tests: an unwritten element fails).
    pub poison: std::cell::Cell<bool>,
}

/// Workgroup counts for `n` elements in groups of [`ELEMENTWISE_WG`], as (x, y) under the
/// per-dimension limit.
pub fn elementwise_groups(n: u64) -> [u32; 3] {
    let g = n.div_ceil(ELEMENTWISE_WG).max(1);
    let x = g.min(MAX_GROUPS);
    [x as u32, g.div_ceil(x) as u32, 1]
}

impl Recorder {
    /// A recorder on `gpu`.
    pub fn new(gpu: Gpu) -> Self {
        let storage = wgpu::BufferUsages::STORAGE;
        let slots = PARAM_SLOTS.min(gpu.limits.max_buffer_size / SLOT).max(1);
        let params = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("ganscope params"),
            size: slots * SLOT,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let dummy = Buf::standalone(&gpu.device, 16, storage);
        Recorder {
            pipelines: Pipelines::default(),
            act: Pool::new(storage | wgpu::BufferUsages::COPY_SRC),
            upload: Pool::new(
                storage | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
            ),
            staging: Pool::new(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST),
            params,
            slots: std::cell::Cell::new(slots),
            dummy,
            rec: RefCell::new(None),
            binds: RefCell::default(),
            poison: std::cell::Cell::new(false),
            gpu,
        }
    }

    /// GPU buffers created so far by the pools (activations, uploads, readback staging):
    /// steady under repeated renders of the same shapes.
    pub fn buffers_created(&self) -> usize {
        self.act.created() + self.upload.created() + self.staging.created()
    }

    /// Bind groups in the cache (bounded).
    pub fn bind_groups(&self) -> usize {
        self.binds.borrow().len()
    }

    /// Lowers the dispatches per submission (tests of forwards split over submissions).
    pub fn limit_dispatches(&self, n: u64) {
        self.slots.set(n.clamp(1, self.slots.get()));
    }

    /// A buffer from `pool` for `bytes`, or an error naming the limit.
    pub fn take(&self, pool: &Rc<Pool>, bytes: u64, what: &str) -> ganscope_model::Result<Rc<Buf>> {
        let max = self.gpu.max_binding();
        if bytes > max {
            return Err(ganscope_model::Error::Backend(format!(
                "{what} needs {:.1} MiB but this GPU binds at most {:.1} MiB per buffer; use a smaller batch",
                bytes as f64 / 1048576.0,
                max as f64 / 1048576.0
            )));
        }
        Ok(pool.take(&self.gpu.device, bytes, max))
    }

    /// Uploads `words` into a fresh upload buffer kept alive until its submission.
    pub fn upload(&self, words: &[u8], what: &str) -> ganscope_model::Result<Rc<Buf>> {
        let buf = self.take(&self.upload, words.len() as u64, what)?;
        if !words.is_empty() {
            self.gpu.queue.write_buffer(&buf.buffer, 0, words);
        }
        self.with_rec(|r| r.keep.push(buf.clone()));
        Ok(buf)
    }

    fn with_rec<R>(&self, f: impl FnOnce(&mut Recording) -> R) -> R {
        let mut g = self.rec.borrow_mut();
        let r = g.get_or_insert_with(|| {
            let mut encoder = self
                .gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
            let pass = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor::default())
                .forget_lifetime();
            Recording {
                encoder,
                pass: Some(pass),
                params: Vec::new(),
                keep: Vec::new(),
            }
        });
        f(r)
    }

    /// Records one dispatch of `k` with parameter words `params`, `aux`, `inputs` and a
    /// fresh output `out` (poisoned first when [`Recorder::poison`] is set).
    pub fn dispatch(
        &self,
        k: Kernel,
        params: &[u32],
        aux: Option<&Rc<Buf>>,
        inputs: &[&Rc<Buf>],
        out: &Rc<Buf>,
        groups: [u32; 3],
    ) {
        self.poison(out);
        self.record(k, None, params, aux, inputs, out, groups);
    }

    /// [`Recorder::dispatch`] of a GEMM kernel with its tile.
    pub fn dispatch_tiled(
        &self,
        k: Kernel,
        tile: Tile,
        params: &[u32],
        inputs: &[&Rc<Buf>],
        out: &Rc<Buf>,
        groups: [u32; 3],
    ) {
        self.poison(out);
        self.record(k, Some(tile), params, None, inputs, out, groups);
    }

    fn poison(&self, out: &Rc<Buf>) {
        if self.poison.get() {
            let n = (out.buffer.size() / 4) as u32;
            let groups = elementwise_groups(u64::from(n));
            self.record(
                Kernel::Fill,
                None,
                &[n, 0x7fc0_0000],
                None,
                &[],
                out,
                groups,
            );
        }
    }

    /// Records a dispatch that writes more of an output an earlier dispatch started.
    pub fn dispatch_more(
        &self,
        k: Kernel,
        params: &[u32],
        aux: Option<&Rc<Buf>>,
        inputs: &[&Rc<Buf>],
        out: &Rc<Buf>,
        groups: [u32; 3],
    ) {
        self.record(k, None, params, aux, inputs, out, groups);
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        k: Kernel,
        tile: Option<Tile>,
        params: &[u32],
        aux: Option<&Rc<Buf>>,
        inputs: &[&Rc<Buf>],
        out: &Rc<Buf>,
        groups: [u32; 3],
    ) {
        debug_assert_eq!(inputs.len(), k.inputs());
        let full = self.rec.borrow().as_ref().map(|r| r.params.len() as u64)
            >= Some(self.slots.get() * SLOT);
        if full {
            self.submit();
        }
        let pipe = self.pipelines.get(&self.gpu.device, k, tile);
        let aux = aux.unwrap_or(&self.dummy);
        let t = tile.map_or(0, |(m, n)| 1 + u64::from(m) * 64 + u64::from(n));
        let mut key = vec![k as u64, t, aux.id, out.id];
        key.extend(inputs.iter().map(|b| b.id));
        let bind = {
            let mut cache = self.binds.borrow_mut();
            if cache.len() > BIND_CACHE_MAX {
                cache.clear();
            }
            cache
                .entry(key)
                .or_insert_with(|| self.bind_group(&pipe.layout, aux, inputs, out))
                .clone()
        };
        // A queue write lands at the start of the next submission: an uploaded buffer must not
        // go back to its pool (and be written again) before the submission that reads it.
        let uploads = inputs
            .iter()
            .copied()
            .chain(std::iter::once(aux))
            .filter(|b| b.is_from(&self.upload));
        let uploads: Vec<Rc<Buf>> = uploads.cloned().collect();
        self.with_rec(|r| {
            r.keep.extend(uploads);
            let offset = r.params.len() as u32;
            let mut block = [0u8; SLOT as usize];
            for (i, w) in params.iter().enumerate().take((PARAMS_BYTES / 4) as usize) {
                block[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            r.params.extend_from_slice(&block);
            if let Some(pass) = r.pass.as_mut() {
                pass.set_pipeline(&pipe.pipeline);
                pass.set_bind_group(0, &bind, &[offset]);
                pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
            }
        });
    }

    fn bind_group(
        &self,
        layout: &wgpu::BindGroupLayout,
        aux: &Rc<Buf>,
        inputs: &[&Rc<Buf>],
        out: &Rc<Buf>,
    ) -> wgpu::BindGroup {
        let mut entries = vec![
            wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &self.params,
                    offset: 0,
                    size: std::num::NonZeroU64::new(PARAMS_BYTES),
                }),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: aux.buffer.as_entire_binding(),
            },
        ];
        for (i, b) in inputs.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: 2 + i as u32,
                resource: b.buffer.as_entire_binding(),
            });
        }
        entries.push(wgpu::BindGroupEntry {
            binding: 2 + inputs.len() as u32,
            resource: out.buffer.as_entire_binding(),
        });
        self.gpu
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout,
                entries: &entries,
            })
    }

    /// Ends the pass, records `copies` (source, destination, bytes) and submits everything
    /// recorded so far in one submission.
    pub fn submit_with_copies(&self, copies: &[(&Rc<Buf>, &Rc<Buf>, u64)]) {
        let rec = self.rec.borrow_mut().take();
        // the uploads stay out of their pool until the submission that reads them is made
        let (mut encoder, _keep) = match rec {
            Some(mut r) => {
                drop(r.pass.take());
                if !r.params.is_empty() {
                    self.gpu.queue.write_buffer(&self.params, 0, &r.params);
                }
                (r.encoder, r.keep)
            }
            None => (
                self.gpu
                    .device
                    .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None }),
                Vec::new(),
            ),
        };
        for (src, dst, bytes) in copies {
            encoder.copy_buffer_to_buffer(&src.buffer, 0, &dst.buffer, 0, *bytes);
        }
        self.gpu.queue.submit([encoder.finish()]);
    }

    /// Submits everything recorded so far.
    pub fn submit(&self) {
        self.submit_with_copies(&[]);
    }
}
