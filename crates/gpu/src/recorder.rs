//! Records kernel dispatches into one compute pass and submits them together.
//!
//! Each dispatch is described by a [`Dispatch`]: its typed parameter block (which names the
//! kernel), tile, `aux`, inputs, output and workgroups. Parameter blocks go into one uniform
//! buffer at 256-byte slots (dynamic offsets) written once per submission; bind groups are
//! cached by the buffers they bind (the [`BIND_GROUPS_MAX`] used most recently), so a repeated
//! forward creates neither buffers nor bind groups, and a long session of different edits does
//! not grow the cache past its bound.

use std::cell::RefCell;
use std::rc::Rc;

use crate::context::{Gpu, STORAGE_BINDINGS};
use crate::kernels::{Kernel, Params, Pipelines, Tile, PARAMS_BYTES};
use crate::lru::Lru;
use crate::params::FillParams;
use crate::pool::{Buf, Pool};

/// Parameter slots per submission (fewer where the device's buffers are smaller); a forward
/// with more dispatches is split into several submissions.
pub const PARAM_SLOTS: u64 = 1024;
const SLOT: u64 = 256;
/// Bind groups the recorder keeps, the least recently used evicted first: several times the
/// distinct bind groups of one forward of the bundled models (about 140 with every site read
/// back), so that repeated renders create none; every different edit binds the pool's
/// buffers in new combinations, so without a bound a long session would add some with each.
pub const BIND_GROUPS_MAX: usize = 512;
/// Elements per elementwise workgroup.
pub const ELEMENTWISE_WG: u64 = 256;
const MAX_GROUPS: u64 = 65535;

/// One kernel dispatch for [`Recorder::record`].
#[derive(Clone, Copy, Debug)]
pub struct Dispatch<'a> {
    /// The parameter block; its variant is the kernel dispatched.
    pub params: Params,
    /// The pipeline's tile, for a GEMM kernel.
    pub tile: Option<Tile>,
    /// The read-only `aux` array at binding 1 (a dummy buffer when `None`).
    pub aux: Option<&'a Rc<Buf>>,
    /// The inputs at bindings 2.., as many as [`Kernel::inputs`].
    pub inputs: &'a [&'a Rc<Buf>],
    /// The output, bound after the inputs.
    pub output: &'a Rc<Buf>,
    /// Workgroups in x, y and z.
    pub workgroups: [u32; 3],
    /// True when the dispatch writes more of an output an earlier one of the recording started
    /// (the output is then not poisoned first).
    pub continues: bool,
}

impl<'a> Dispatch<'a> {
    /// A dispatch of `params`'s kernel from `inputs` into a fresh `output`, without `aux` or
    /// tile.
    pub fn new(
        params: Params,
        inputs: &'a [&'a Rc<Buf>],
        output: &'a Rc<Buf>,
        workgroups: [u32; 3],
    ) -> Self {
        Dispatch {
            params,
            tile: None,
            aux: None,
            inputs,
            output,
            workgroups,
            continues: false,
        }
    }

    /// The kernel dispatched.
    pub fn kernel(&self) -> Kernel {
        self.params.kernel()
    }
}

/// A bind group's identity: the pipeline's and the buffers it binds (aux, inputs, output;
/// unused places 0, which no buffer's id is).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct BindKey {
    kernel: Kernel,
    tile: Option<Tile>,
    buffers: [u64; STORAGE_BINDINGS as usize],
}

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
    binds: RefCell<Lru<BindKey, wgpu::BindGroup>>,
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
            binds: RefCell::new(Lru::new(BIND_GROUPS_MAX)),
            poison: std::cell::Cell::new(false),
            gpu,
        }
    }

    /// GPU buffers created so far by the pools (activations, uploads, readback staging):
    /// steady under repeated renders of the same shapes.
    pub fn buffers_created(&self) -> usize {
        self.act.created() + self.upload.created() + self.staging.created()
    }

    /// Bind groups in the cache (at most [`BIND_GROUPS_MAX`]).
    pub fn bind_groups(&self) -> usize {
        self.binds.borrow().len()
    }

    /// Bind groups created so far (a repeated forward creates none).
    pub fn bind_groups_created(&self) -> usize {
        self.binds.borrow().created()
    }

    /// Lowers the dispatches per submission (tests of forwards split over submissions).
    pub fn limit_dispatches(&self, n: u64) {
        self.slots.set(n.clamp(1, self.slots.get()));
    }

    /// A buffer from `pool` for `bytes`, or an error naming the limit.
    pub fn take(&self, pool: &Rc<Pool>, bytes: u64, what: &str) -> ganscope_model::Result<Rc<Buf>> {
        let max = self.gpu.max_binding();
        if bytes > max {
            let msg = format!(
                "{what} needs {:.1} MiB but this GPU binds at most {:.1} MiB per buffer; use a smaller batch",
                bytes as f64 / 1048576.0,
                max as f64 / 1048576.0
            );
            return Err(ganscope_model::Error::backend(crate::Error::Limit(msg)));
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

    /// Records `d`, its output poisoned first when [`Recorder::poison`] is set (unless the
    /// dispatch continues an output).
    pub fn record(&self, d: Dispatch<'_>) {
        if !d.continues && self.poison.get() {
            let n = (d.output.buffer.size() / 4) as u32;
            let fill = FillParams {
                n,
                bits: 0x7fc0_0000,
            };
            let groups = elementwise_groups(u64::from(n));
            self.encode(&Dispatch::new(Params::Fill(fill), &[], d.output, groups));
        }
        self.encode(&d);
    }

    fn encode(&self, d: &Dispatch<'_>) {
        let k = d.kernel();
        debug_assert_eq!(d.inputs.len(), k.inputs());
        let full = self.rec.borrow().as_ref().map(|r| r.params.len() as u64)
            >= Some(self.slots.get() * SLOT);
        if full {
            self.submit();
        }
        let pipe = self.pipelines.get(&self.gpu.device, k, d.tile);
        let aux = d.aux.unwrap_or(&self.dummy);
        let mut key = BindKey {
            kernel: k,
            tile: d.tile,
            buffers: [0; STORAGE_BINDINGS as usize],
        };
        let ids = std::iter::once(aux)
            .chain(d.inputs.iter().copied())
            .chain(std::iter::once(d.output));
        for (slot, b) in key.buffers.iter_mut().zip(ids) {
            *slot = b.id;
        }
        let bind = self.binds.borrow_mut().get_or_insert_with(key, || {
            self.bind_group(&pipe.layout, aux, d.inputs, d.output)
        });
        // A queue write lands at the start of the next submission: an uploaded buffer must not
        // go back to its pool (and be written again) before the submission that reads it.
        let uploads = d
            .inputs
            .iter()
            .copied()
            .chain(std::iter::once(aux))
            .filter(|b| b.is_from(&self.upload));
        let uploads: Vec<Rc<Buf>> = uploads.cloned().collect();
        let groups = d.workgroups;
        self.with_rec(|r| {
            r.keep.extend(uploads);
            let offset = r.params.len() as u32;
            let mut block = [0u8; SLOT as usize];
            let bytes = d.params.bytes();
            block[..bytes.len()].copy_from_slice(bytes);
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
