//! The adapter, device and queue, with the limits the kernels need checked once.

use std::sync::{Arc, Mutex};

use crate::{Error, Result};

/// Workgroup memory of the largest GEMM tiles (16x32 and 16x128 f32, the 2 x 8 tile).
pub const WORKGROUP_STORAGE: u32 = 10240;
/// Invocations per workgroup of every kernel.
pub const WORKGROUP_INVOCATIONS: u32 = 256;
/// Storage buffers one kernel binds at most (aux, five inputs, output).
pub const STORAGE_BINDINGS: u32 = 7;

/// A device with its queue, adapter description and limits. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Gpu {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// What the adapter says of itself.
    pub info: wgpu::AdapterInfo,
    /// The limits the device was created with (the adapter's own).
    pub limits: wgpu::Limits,
    lost: Arc<Mutex<Option<String>>>,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Gpu {
    /// Requests the default adapter (`WGPU_BACKEND` and friends are honoured natively) and a
    /// device with the adapter's limits.
    pub async fn new() -> Result<Self> {
        Self::with_buffer_limit(None).await
    }

    /// Like [`Gpu::new`], with the largest buffer lowered to `max_bytes` when given (tests of
    /// models and batches that do not fit a small GPU).
    pub async fn with_buffer_limit(max_bytes: Option<u64>) -> Result<Self> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::NoAdapter(e.to_string()))?;
        let mut limits = adapter.limits();
        if let Some(m) = max_bytes {
            limits.max_buffer_size = limits.max_buffer_size.min(m);
            limits.max_storage_buffer_binding_size = limits.max_storage_buffer_binding_size.min(m);
        }
        Self::from_adapter_with_limits(&adapter, limits).await
    }

    /// Blocks on [`Gpu::new`] (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new_blocking() -> Result<Self> {
        pollster::block_on(Self::new())
    }

    /// A device on `adapter`, after checking it can run the kernels.
    pub async fn from_adapter(adapter: &wgpu::Adapter) -> Result<Self> {
        Self::from_adapter_with_limits(adapter, adapter.limits()).await
    }

    /// A device on `adapter` with `limits` (at most the adapter's), after checking them.
    pub async fn from_adapter_with_limits(
        adapter: &wgpu::Adapter,
        limits: wgpu::Limits,
    ) -> Result<Self> {
        check_limits(&limits)?;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("ganscope"),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Device(e.to_string()))?;
        let lost = Arc::new(Mutex::new(None));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let l = lost.clone();
        device.set_device_lost_callback(move |reason, msg| {
            if let Ok(mut g) = l.lock() {
                *g = Some(format!("{reason:?}: {msg}"));
            }
        });
        // Errors are collected and returned by the next readback, never a panic.
        let e = errors.clone();
        device.on_uncaptured_error(Arc::new(move |err: wgpu::Error| {
            if let Ok(mut g) = e.lock() {
                g.push(err.to_string());
            }
        }));
        Ok(Gpu {
            device,
            queue,
            info: adapter.get_info(),
            limits,
            lost,
            errors,
        })
    }

    /// `name (backend, device type)`, e.g. `llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan, Cpu)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    /// Why the device was lost, if it was.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|g| g.clone())
    }

    /// Takes the GPU errors reported since the last call.
    pub fn take_errors(&self) -> Vec<String> {
        self.errors
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default()
    }

    /// The largest buffer a kernel can bind, in bytes.
    pub fn max_binding(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// An error unless the device is alive and nothing failed since the last check.
    pub fn check(&self) -> Result<()> {
        if let Some(why) = self.lost() {
            return Err(Error::DeviceLost(why));
        }
        let mut errs = self.take_errors();
        errs.dedup();
        match errs.len() {
            0 => Ok(()),
            1 => Err(Error::Gpu(errs.remove(0))),
            n => Err(Error::Gpu(format!("{} (and {} more)", errs[0], n - 1))),
        }
    }
}

fn check_limits(l: &wgpu::Limits) -> Result<()> {
    let need = [
        (
            "workgroup storage bytes",
            l.max_compute_workgroup_storage_size,
            WORKGROUP_STORAGE,
        ),
        (
            "invocations per workgroup",
            l.max_compute_invocations_per_workgroup,
            WORKGROUP_INVOCATIONS,
        ),
        (
            "storage buffers per stage",
            l.max_storage_buffers_per_shader_stage,
            STORAGE_BINDINGS,
        ),
        (
            "dynamic uniform buffers",
            l.max_dynamic_uniform_buffers_per_pipeline_layout,
            1,
        ),
    ];
    for (what, have, want) in need {
        if have < want {
            return Err(Error::Unsupported(format!(
                "it allows {have} {what}; the kernels need {want}"
            )));
        }
    }
    Ok(())
}
