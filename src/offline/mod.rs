//! The offline side (the `vbg` tool): rendering with wgpu, outside OBS. Only built with the `offline` feature,
//! so the plugin never links wgpu.

pub mod compositor;
pub mod gpu;
pub mod pipeline;
pub mod video;
