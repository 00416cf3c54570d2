//! Choosing a wgpu device: a real GPU where there is one, software Vulkan or GL otherwise.

use crate::error::Error;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
}

impl Gpu {
    /// The high-performance adapter wgpu finds (honours `WGPU_BACKEND`, e.g. `gl`, and `WGPU_ADAPTER_NAME`).
    pub fn new() -> Result<Gpu, Error> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        };
        let adapter = block_on(instance.request_adapter(&options))
            .map_err(|e| Error::runtime(format!("no graphics adapter found (wgpu): {e}")))?;
        let info = adapter.get_info();
        let (device, queue) = block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("vbg"),
            required_limits: wgpu::Limits::downlevel_defaults().using_resolution(adapter.limits()),
            ..Default::default()
        }))
        .map_err(|e| Error::runtime(format!("cannot open {}: {e}", info.name)))?;
        Ok(Gpu { device, queue, info })
    }

    /// For the user: which adapter renders, and whether it is a software one.
    pub fn describe(&self) -> String {
        let kind = match self.info.device_type {
            wgpu::DeviceType::Cpu => "software",
            wgpu::DeviceType::DiscreteGpu => "discrete GPU",
            wgpu::DeviceType::IntegratedGpu => "integrated GPU",
            wgpu::DeviceType::VirtualGpu => "virtual GPU",
            wgpu::DeviceType::Other => "other",
        };
        format!("{} ({:?}, {kind})", self.info.name, self.info.backend)
    }
}

/// Runs a future to completion on this thread. wgpu's native futures are ready at once or after a device
/// poll, so a spin with yields is all that is needed (no async runtime).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
