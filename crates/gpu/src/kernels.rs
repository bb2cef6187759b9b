//! The WGSL kernels and their pipelines, created once.
//!
//! Each kernel is one file in `crates/gpu/shaders/`, put after the shared parts it uses
//! (`shaders/common/`: the element-wise entry point, the activations, the tiled GEMM and the
//! convolutions' input gathering), all concatenated at compile time. The table below lists
//! every kernel once: its file, shared parts, input count and parameter block
//! ([`crate::params`]).
//!
//! Every kernel has the same binding scheme in group 0: binding 0 is a 64-byte uniform
//! parameter block at a dynamic offset, binding 1 an optional read-only `aux` array (index
//! lists, per-unit vectors, masks), bindings 2.. the input tensors (read-only) and the last
//! binding the output (read-write).

use std::cell::RefCell;
use std::collections::HashMap;
use std::num::NonZeroU64;
use std::rc::Rc;

use crate::context::STORAGE_BINDINGS;
use crate::params::{
    ActivationParams, AddParams, ConvParams, CopyParams, FillParams, GatherParams, LinearParams,
    MixParams, NormParams, Resample2xParams, SumSpatialParams, ToRgbaParams, UnitEditParams,
};

/// Bytes of one kernel's parameter block.
pub const PARAMS_BYTES: u64 = 64;

/// Defines [`Kernel`] and [`Params`] from one table: per kernel its doc, its parameter
/// struct, its file in `shaders/`, its input tensors and the shared files put before it
/// (`after: [gemm]` is `shaders/common/gemm.wgsl`).
macro_rules! kernels {
    ($(
        $(#[$doc:meta])*
        $name:ident($params:ty) = $file:literal,
            inputs: $inputs:literal, after: [$($common:ident),*];
    )*) => {
        /// A compute kernel.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Kernel {
            $($(#[$doc])* $name,)*
        }

        /// A kernel's parameter block, as its variant: the kernel it is for.
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub enum Params {
            $($(#[$doc])* $name($params),)*
        }

        impl Kernel {
            /// Every kernel.
            pub const ALL: [Kernel; [$(stringify!($name)),*].len()] = [$(Kernel::$name),*];

            /// The kernel's own shader file in `crates/gpu/shaders/`.
            pub fn file(self) -> &'static str {
                match self {
                    $(Kernel::$name => $file,)*
                }
            }

            /// The files its source is made of, in order (the shared ones in `common/`, then
            /// [`Kernel::file`]), relative to `crates/gpu/shaders/`.
            pub fn parts(self) -> &'static [&'static str] {
                match self {
                    $(Kernel::$name => &[
                        $(concat!("common/", stringify!($common), ".wgsl"),)*
                        $file,
                    ],)*
                }
            }

            /// The WGSL source: [`Kernel::parts`] concatenated.
            pub fn source(self) -> &'static str {
                match self {
                    $(Kernel::$name => concat!(
                        $(include_str!(
                            concat!("../shaders/common/", stringify!($common), ".wgsl")
                        ),)*
                        include_str!(concat!("../shaders/", $file))
                    ),)*
                }
            }

            /// Input tensors bound at 2.. (the output follows them).
            pub fn inputs(self) -> usize {
                match self {
                    $(Kernel::$name => $inputs,)*
                }
            }

            /// Bytes of its parameter struct (at most [`PARAMS_BYTES`]).
            pub fn params_size(self) -> usize {
                match self {
                    $(Kernel::$name => std::mem::size_of::<$params>(),)*
                }
            }
        }

        impl Params {
            /// The kernel these parameters are for.
            pub fn kernel(&self) -> Kernel {
                match self {
                    $(Params::$name(_) => Kernel::$name,)*
                }
            }

            /// The block's bytes as the shader reads them.
            pub fn bytes(&self) -> &[u8] {
                match self {
                    $(Params::$name(p) => bytemuck::bytes_of(p),)*
                }
            }
        }

        $(const _: () = assert!(std::mem::size_of::<$params>() <= PARAMS_BYTES as usize);)*
        // aux, the inputs and the output are at most STORAGE_BINDINGS
        $(const _: () = assert!($inputs < STORAGE_BINDINGS as usize - 1);)*
    };
}

kernels! {
    /// Fill with a bit pattern (poisoning outputs in tests).
    Fill(FillParams) = "fill.wgsl", inputs: 0, after: [elementwise];
    /// ReLU, LeakyReLU, tanh, sigmoid.
    Activation(ActivationParams) = "activation.wgsl", inputs: 1, after: [elementwise, activation];
    /// Residual add.
    Add(AddParams) = "add.wgsl", inputs: 2, after: [elementwise];
    /// Inference BatchNorm (inputs: x, gamma, beta, mean, variance), activation fused in.
    BatchNorm(NormParams) = "batch_norm.wgsl", inputs: 5, after: [elementwise, activation];
    /// Nearest 2x up-sampling.
    Upsample2x(Resample2xParams) = "upsample2x.wgsl", inputs: 1, after: [elementwise];
    /// Bilinear 2x up-sampling (PyTorch's `align_corners=False`).
    Upsample2xBilinear(Resample2xParams) = "upsample2x_bilinear.wgsl", inputs: 1, after: [elementwise];
    /// 2x2 average pooling.
    AvgPool2x(Resample2xParams) = "avg_pool2x.wgsl", inputs: 1, after: [elementwise];
    /// Sum over H and W.
    SumSpatial(SumSpatialParams) = "sum_spatial.wgsl", inputs: 1, after: [elementwise];
    /// GAN Dissection unit edit.
    UnitEdit(UnitEditParams) = "unit_edit.wgsl", inputs: 1, after: [elementwise];
    /// Hybrid / concept exchange.
    Mix(MixParams) = "mix.wgsl", inputs: 1, after: [elementwise];
    /// Row gather (block selection, batch repeat).
    Gather(GatherParams) = "gather.wgsl", inputs: 1, after: [elementwise];
    /// Copy at an offset (concatenation).
    Copy(CopyParams) = "copy.wgsl", inputs: 1, after: [elementwise];
    /// Linear layer (tiled GEMM; inputs: x, weight, bias).
    Linear(LinearParams) = "linear.wgsl", inputs: 3, after: [gemm];
    /// 2-D convolution (implicit GEMM; inputs: x, weight, bias).
    Conv2d(ConvParams) = "conv2d.wgsl", inputs: 3, after: [gemm, conv];
    /// 2-D transposed convolution (implicit GEMM per output phase; inputs: x, weight, bias).
    ConvTranspose2d(ConvParams) = "conv_transpose2d.wgsl", inputs: 3, after: [gemm, conv];
    /// Images to packed RGBA8.
    ToRgba(ToRgbaParams) = "to_rgba.wgsl", inputs: 1, after: [elementwise];
}

/// A kernel's pipeline and bind-group layout.
#[derive(Debug)]
pub struct Pipeline {
    /// The compute pipeline.
    pub pipeline: wgpu::ComputePipeline,
    /// Its bind-group layout.
    pub layout: wgpu::BindGroupLayout,
}

/// Outputs per invocation (rows, columns) of a GEMM kernel: the `TM` and `TN` overrides of
/// `common/gemm.wgsl` (tiles of 16 TM x 16 TN).
pub type Tile = (u32, u32);

/// The tile for `rows` output channels (or features) and `cols` columns, so that little of
/// a tile is padding: 8 x 1 when there are few columns (a linear layer at batch 1), else
/// 1 x 8 up to 16 rows (an RGB output layer), 2 x 8 up to 32, 4 x 4 beyond.
pub fn tile_for(rows: usize, cols: usize) -> Tile {
    if cols <= 16 && rows > cols {
        (8, 1)
    } else if rows <= 16 {
        (1, 8)
    } else if rows <= 32 {
        (2, 8)
    } else {
        (4, 4)
    }
}

/// A pipeline's identity: its kernel and, for a GEMM kernel, its tile.
type PipelineKey = (Kernel, Option<Tile>);

/// Pipelines by kernel (and tile), each created on first use and kept.
#[derive(Debug, Default)]
pub struct Pipelines {
    cache: RefCell<HashMap<PipelineKey, Rc<Pipeline>>>,
}

fn storage(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl Pipelines {
    /// The pipeline of `k` (with `tile` for a GEMM kernel), created now if it is the first use.
    pub fn get(&self, device: &wgpu::Device, k: Kernel, tile: Option<Tile>) -> Rc<Pipeline> {
        if let Some(p) = self.cache.borrow().get(&(k, tile)) {
            return p.clone();
        }
        let mut entries = vec![
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: NonZeroU64::new(PARAMS_BYTES),
                },
                count: None,
            },
            storage(1, true),
        ];
        let n = k.inputs() as u32;
        entries.extend((0..n).map(|i| storage(2 + i, true)));
        entries.push(storage(2 + n, false));
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(k.file()),
            entries: &entries,
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(k.file()),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(k.file()),
            source: wgpu::ShaderSource::Wgsl(k.source().into()),
        });
        let constants: Vec<(&str, f64)> = match tile {
            Some((tm, tn)) => vec![("TM", f64::from(tm)), ("TN", f64::from(tn))],
            None => Vec::new(),
        };
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(k.file()),
            layout: Some(&pl),
            module: &module,
            entry_point: Some("main"),
            // every kernel writes its workgroup tiles before reading them
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        let p = Rc::new(Pipeline { pipeline, layout });
        self.cache.borrow_mut().insert((k, tile), p.clone());
        p
    }
}
