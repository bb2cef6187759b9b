//! The WGSL kernels (one file each in `shaders/`) and their pipelines, created once.
//!
//! Every kernel has the same binding scheme in group 0: binding 0 is a 64-byte uniform
//! parameter block at a dynamic offset, binding 1 an optional read-only `aux` array (index
//! lists, per-unit vectors, masks), bindings 2.. the input tensors and the last binding the
//! output.

use std::cell::RefCell;
use std::collections::HashMap;
use std::num::NonZeroU64;
use std::rc::Rc;

/// Bytes of one kernel's parameter block.
pub const PARAMS_BYTES: u64 = 64;

/// A compute kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Fill with a bit pattern (poisoning outputs in tests).
    Fill,
    /// ReLU, LeakyReLU, tanh.
    Activation,
    /// Residual add.
    Add,
    /// Inference BatchNorm.
    BatchNorm,
    /// Nearest 2x up-sampling.
    Upsample2x,
    /// 2x2 average pooling.
    AvgPool2x,
    /// Sum over H and W.
    SumSpatial,
    /// GAN Dissection unit edit.
    UnitEdit,
    /// Hybrid / concept exchange.
    Mix,
    /// Row gather (block selection, batch repeat).
    Gather,
    /// Copy at an offset (concatenation).
    Copy,
    /// Linear layer (tiled GEMM).
    Linear,
    /// 2-D convolution (implicit GEMM).
    Conv2d,
    /// 2-D transposed convolution (implicit GEMM per output phase).
    ConvTranspose2d,
    /// Images to packed RGBA8.
    ToRgba,
}

impl Kernel {
    /// Every kernel.
    pub const ALL: [Kernel; 15] = [
        Kernel::Fill,
        Kernel::Activation,
        Kernel::Add,
        Kernel::BatchNorm,
        Kernel::Upsample2x,
        Kernel::AvgPool2x,
        Kernel::SumSpatial,
        Kernel::UnitEdit,
        Kernel::Mix,
        Kernel::Gather,
        Kernel::Copy,
        Kernel::Linear,
        Kernel::Conv2d,
        Kernel::ConvTranspose2d,
        Kernel::ToRgba,
    ];

    /// The shader file's name in `shaders/`.
    pub fn file(self) -> &'static str {
        match self {
            Kernel::Fill => "fill.wgsl",
            Kernel::Activation => "activation.wgsl",
            Kernel::Add => "add.wgsl",
            Kernel::BatchNorm => "batch_norm.wgsl",
            Kernel::Upsample2x => "upsample2x.wgsl",
            Kernel::AvgPool2x => "avg_pool2x.wgsl",
            Kernel::SumSpatial => "sum_spatial.wgsl",
            Kernel::UnitEdit => "unit_edit.wgsl",
            Kernel::Mix => "mix.wgsl",
            Kernel::Gather => "gather.wgsl",
            Kernel::Copy => "copy.wgsl",
            Kernel::Linear => "linear.wgsl",
            Kernel::Conv2d => "conv2d.wgsl",
            Kernel::ConvTranspose2d => "conv_transpose2d.wgsl",
            Kernel::ToRgba => "to_rgba.wgsl",
        }
    }

    /// The WGSL source.
    pub fn source(self) -> &'static str {
        match self {
            Kernel::Fill => include_str!("../../../shaders/fill.wgsl"),
            Kernel::Activation => include_str!("../../../shaders/activation.wgsl"),
            Kernel::Add => include_str!("../../../shaders/add.wgsl"),
            Kernel::BatchNorm => include_str!("../../../shaders/batch_norm.wgsl"),
            Kernel::Upsample2x => include_str!("../../../shaders/upsample2x.wgsl"),
            Kernel::AvgPool2x => include_str!("../../../shaders/avg_pool2x.wgsl"),
            Kernel::SumSpatial => include_str!("../../../shaders/sum_spatial.wgsl"),
            Kernel::UnitEdit => include_str!("../../../shaders/unit_edit.wgsl"),
            Kernel::Mix => include_str!("../../../shaders/mix.wgsl"),
            Kernel::Gather => include_str!("../../../shaders/gather.wgsl"),
            Kernel::Copy => include_str!("../../../shaders/copy.wgsl"),
            Kernel::Linear => include_str!("../../../shaders/linear.wgsl"),
            Kernel::Conv2d => include_str!("../../../shaders/conv2d.wgsl"),
            Kernel::ConvTranspose2d => include_str!("../../../shaders/conv_transpose2d.wgsl"),
            Kernel::ToRgba => include_str!("../../../shaders/to_rgba.wgsl"),
        }
    }

    /// Input tensors bound at 2.. (the output follows them).
    pub fn inputs(self) -> usize {
        match self {
            Kernel::Fill => 0,
            Kernel::Add => 2,
            Kernel::Linear | Kernel::Conv2d | Kernel::ConvTranspose2d => 3,
            Kernel::BatchNorm => 5,
            _ => 1,
        }
    }
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
/// `linear.wgsl`, `conv2d.wgsl` and `conv_transpose2d.wgsl` (tiles of 16 TM x 16 TN).
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
