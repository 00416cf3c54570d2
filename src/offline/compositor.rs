//! The plugin's GPU pipeline on wgpu: the same passes as `src/obs/render.rs` with the WGSL twin of the OBS
//! effect (`shaders/virtual_background.wgsl`), for rendering files, evaluating and benchmarking outside OBS.
//! Textures, pipelines and buffers are created once and reused while the frame size stays the same.

use super::gpu::Gpu;
use crate::background_image::{fit_transform, DecodedImage};
use crate::blur;
use crate::crop::Crop;
use crate::error::Error;
use crate::mask_refiner::RefinedMask;
use crate::preprocess::RgbaView;
use crate::refine;
use crate::settings::{BackgroundMode, Settings};
use bytemuck::{Pod, Zeroable};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const SHADER: &str = include_str!("../../shaders/virtual_background.wgsl");
/// Frames, the model's input, pictures and the output: 8-bit values used as stored, as in the plugin.
const RGBA8: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;

/// The shader's `Params` uniform, field for field.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, Pod, Zeroable)]
struct Params {
    mask_uv_scale: [f32; 2],
    bg_uv_scale: [f32; 2],
    bg_uv_offset: [f32; 2],
    footprint: [f32; 2],
    texel_step: [f32; 2],
    target_size: [f32; 2],
    color: [f32; 4],
    threshold: f32,
    softness: f32,
    sigma: f32,
    alpha_ready: f32,
    grow: f32,
    light_wrap: f32,
    crop_origin: [f32; 2],
    crop_size: [f32; 2],
    _pad: [f32; 2],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pass {
    Downscale,
    RefineMask,
    Grow,
    /// The Gaussian of `Blur` on the 8-bit opacity (a pipeline is tied to its target format).
    Feather,
    BlurDownsample,
    BlurDownsampleWide,
    Blur,
    BlurNormalize,
    CompositeBlur,
    CompositeImage,
    CompositeColor,
    CompositeTransparent,
}

impl Pass {
    const ALL: [Pass; 12] = [
        Pass::Downscale,
        Pass::RefineMask,
        Pass::Grow,
        Pass::Feather,
        Pass::BlurDownsample,
        Pass::BlurDownsampleWide,
        Pass::Blur,
        Pass::BlurNormalize,
        Pass::CompositeBlur,
        Pass::CompositeImage,
        Pass::CompositeColor,
        Pass::CompositeTransparent,
    ];

    pub fn entry_point(self) -> &'static str {
        match self {
            Pass::Downscale => "fs_downscale",
            Pass::RefineMask => "fs_refine_mask",
            Pass::Grow => "fs_grow",
            Pass::Feather => "fs_blur",
            Pass::BlurDownsample => "fs_blur_downsample",
            Pass::BlurDownsampleWide => "fs_blur_downsample_wide",
            Pass::Blur => "fs_blur",
            Pass::BlurNormalize => "fs_blur_normalize",
            Pass::CompositeBlur => "fs_composite_blur",
            Pass::CompositeImage => "fs_composite_image",
            Pass::CompositeColor => "fs_composite_color",
            Pass::CompositeTransparent => "fs_composite_transparent",
        }
    }

    /// As in the plugin: blur intermediates are half floats, everything else 8-bit RGBA.
    fn format(self) -> wgpu::TextureFormat {
        match self {
            Pass::BlurDownsample | Pass::BlurDownsampleWide | Pass::Blur => wgpu::TextureFormat::Rgba16Float,
            _ => RGBA8,
        }
    }
}

/// Uniform buffer slots, one per pass of a frame (each pass has its own values).
#[derive(Clone, Copy)]
enum Slot {
    Downscale,
    Refine,
    GrowHorizontal,
    GrowVertical,
    FeatherHorizontal,
    FeatherVertical,
    BlurDownsample,
    BlurHorizontal,
    BlurVertical,
    Composite,
}
const SLOTS: usize = Slot::Composite as usize + 1;

/// The textures one pass reads; unset ones are bound to a 1x1 placeholder.
#[derive(Clone, Copy, Default)]
struct Inputs<'a> {
    image: Option<&'a wgpu::TextureView>,
    mask: Option<&'a wgpu::TextureView>,
    background: Option<&'a wgpu::TextureView>,
    coefficients: Option<&'a wgpu::TextureView>,
    alpha: Option<&'a wgpu::TextureView>,
}

impl<'a> Inputs<'a> {
    /// A pass that filters `t` as its image.
    fn image(t: &'a Target) -> Inputs<'a> {
        Inputs { image: Some(&t.view), ..Default::default() }
    }

    /// A pass that reads `t` as the person's opacity.
    fn alpha(t: &'a Target) -> Inputs<'a> {
        Inputs { alpha: Some(&t.view), ..Default::default() }
    }
}

struct Target {
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    width: u32,
    height: u32,
}

/// GPU time per pass of the last composite (wall time of each pass submitted and waited for alone), when
/// `Compositor::time_passes` is on.
#[derive(Clone, Debug, Default)]
pub struct PassTiming {
    pub passes: Vec<(Pass, (u32, u32), Duration)>,
}

pub struct Compositor {
    gpu: Gpu,
    layout: wgpu::BindGroupLayout,
    pipelines: HashMap<Pass, wgpu::RenderPipeline>,
    sampler: wgpu::Sampler,
    uniforms: Vec<wgpu::Buffer>,
    frame: Option<Target>,
    mask: Option<Target>,
    coefficients: Option<Target>,
    background: Option<Target>,
    placeholder: Target,
    analysis: Option<Target>,
    refine_a: Option<Target>,
    refine_b: Option<Target>,
    blur_a: Option<Target>,
    blur_b: Option<Target>,
    /// The finished blur, normalised to 8 bits.
    blurred: Option<Target>,
    output: Option<Target>,
    readback: Option<wgpu::Buffer>,
    /// With timing on, each pass is submitted and waited for on its own (`vbg bench`).
    timing: RefCell<Option<PassTiming>>,
}

impl Compositor {
    pub fn new(gpu: Gpu) -> Result<Compositor, Error> {
        let device = &gpu.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("virtual_background.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });
        let texture_entry = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                // The coefficients (binding 5) are 32-bit floats, read with textureLoad.
                sample_type: wgpu::TextureSampleType::Float { filterable: binding != 5 },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("vbg"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                texture_entry(1),
                texture_entry(2),
                texture_entry(3),
                texture_entry(5),
                texture_entry(6),
                wgpu::BindGroupLayoutEntry {
                    binding: 4,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("vbg"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipelines = Pass::ALL
            .iter()
            .map(|&pass| {
                let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                    label: Some(pass.entry_point()),
                    layout: Some(&pipeline_layout),
                    vertex: wgpu::VertexState {
                        module: &module,
                        entry_point: Some("vs_main"),
                        compilation_options: Default::default(),
                        buffers: &[],
                    },
                    primitive: wgpu::PrimitiveState::default(),
                    depth_stencil: None,
                    multisample: wgpu::MultisampleState::default(),
                    fragment: Some(wgpu::FragmentState {
                        module: &module,
                        entry_point: Some(pass.entry_point()),
                        compilation_options: Default::default(),
                        targets: &[Some(pass.format().into())],
                    }),
                    multiview_mask: None,
                    cache: None,
                });
                (pass, pipeline)
            })
            .collect();
        if let Some(e) = super::gpu::block_on(scope.pop()) {
            return Err(Error::install(format!("shaders/virtual_background.wgsl: {e}")));
        }
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("linear_clamp"),
            address_mode_u: wgpu::AddressMode::ClampToEdge,
            address_mode_v: wgpu::AddressMode::ClampToEdge,
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        let uniforms = (0..SLOTS)
            .map(|_| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("params"),
                    size: std::mem::size_of::<Params>() as u64,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })
            .collect();
        let placeholder =
            make_target(device, 1, 1, wgpu::TextureFormat::Rgba8Unorm, wgpu::TextureUsages::TEXTURE_BINDING);
        Ok(Compositor {
            gpu,
            layout,
            pipelines,
            sampler,
            uniforms,
            frame: None,
            mask: None,
            coefficients: None,
            background: None,
            placeholder,
            analysis: None,
            refine_a: None,
            refine_b: None,
            blur_a: None,
            blur_b: None,
            blurred: None,
            output: None,
            readback: None,
            timing: RefCell::new(None),
        })
    }

    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The picture behind the person in Image and Source mode (premultiplied RGBA), or none. A video's
    /// frames reuse the texture while their size stays.
    pub fn set_background(&mut self, picture: Option<&DecodedImage>) {
        let Some(img) = picture else {
            self.background = None;
            return;
        };
        let usage = wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST;
        let target = ensure(&self.gpu.device, &mut self.background, img.width, img.height, RGBA8, usage);
        write_texture(&self.gpu.queue, target, &img.rgba, 4);
    }

    /// Times every pass of the following composites (each is then submitted and waited for alone).
    pub fn time_passes(&mut self, on: bool) {
        *self.timing.get_mut() = on.then(PassTiming::default);
    }

    /// The passes of the last composite and their times, when timing is on.
    pub fn last_timing(&self) -> Option<PassTiming> {
        self.timing.borrow().clone()
    }

    /// Uploads the frame that the next `analysis_input` and `composite` calls work on.
    pub fn upload_frame(&mut self, frame: RgbaView<'_>) {
        let usage = wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST;
        let target = ensure(&self.gpu.device, &mut self.frame, frame.width, frame.height, RGBA8, usage);
        write_texture(&self.gpu.queue, target, frame.data, 4);
    }

    /// The uploaded frame, cut to `crop`, shrunk on the GPU to the model's input size, as the plugin does it.
    pub fn analysis_input(&mut self, width: u32, height: u32, crop: Crop) -> Vec<u8> {
        let usage = wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC;
        ensure(&self.gpu.device, &mut self.analysis, width, height, RGBA8, usage);
        let frame = self.frame.as_ref().expect("upload_frame first");
        let (crop_origin, crop_size) = crop.shader_params();
        let params = Params {
            footprint: [crop.w / width as f32, crop.h / height as f32],
            target_size: [width as f32, height as f32],
            crop_origin,
            crop_size,
            ..Default::default()
        };
        let mut encoder = self.gpu.device.create_command_encoder(&Default::default());
        let target = self.analysis.as_ref().unwrap();
        let inputs = Inputs { image: Some(&frame.view), ..Default::default() };
        self.pass(&mut encoder, Pass::Downscale, Slot::Downscale, params, target, inputs);
        self.read_back(encoder, Which::Analysis)
    }

    /// Composites the uploaded frame with `refined` as `settings` say, returning tightly packed RGBA.
    pub fn composite(&mut self, refined: &RefinedMask, settings: &Settings) -> Vec<u8> {
        if let Some(t) = self.timing.get_mut() {
            t.passes.clear();
        }
        let device = &self.gpu.device;
        let frame = self.frame.as_ref().expect("upload_frame first");
        let (w, h) = (frame.width, frame.height);
        let (mask, guidance) = (&refined.mask, &refined.guidance);
        let upload = wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST;
        ensure(device, &mut self.mask, mask.width, mask.height, wgpu::TextureFormat::R8Unorm, upload);
        write_texture(&self.gpu.queue, self.mask.as_ref().unwrap(), &mask.data, 1);
        let float = wgpu::TextureFormat::Rgba32Float;
        ensure(device, &mut self.coefficients, guidance.width, guidance.height, float, upload);
        let coefficients = bytemuck::cast_slice(&guidance.coefficients);
        write_texture(&self.gpu.queue, self.coefficients.as_ref().unwrap(), coefficients, 16);
        let out_usage = wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC;
        ensure(device, &mut self.output, w, h, RGBA8, out_usage);

        let (crop_origin, crop_size) = refined.crop.shader_params();
        let mut base = Params {
            mask_uv_scale: [1.0, 1.0],
            crop_origin,
            crop_size,
            color: settings.color.to_unit(),
            threshold: settings.threshold,
            softness: settings.softness,
            light_wrap: settings.light_wrap,
            ..Default::default()
        };
        if settings.mode.shows_picture() && self.background.is_none() {
            // No picture: the plugin passes the video through; so does this.
            return frame_rgba_passthrough(self);
        }
        let mut encoder = self.gpu.device.create_command_encoder(&Default::default());
        if settings.grow != 0 || settings.feather != 0 {
            self.shape_alpha(&mut encoder, base, settings, (w, h), refined.crop.covering((mask.width, mask.height)));
            base.alpha_ready = 1.0;
        }
        if settings.mode == BackgroundMode::Blur {
            self.blur(&mut encoder, base, settings.blur_strength, (w, h));
        }
        let (pass, background) = match settings.mode {
            BackgroundMode::Blur => (Pass::CompositeBlur, self.blurred.as_ref().map(|t| &t.view)),
            BackgroundMode::Image | BackgroundMode::Source => {
                (Pass::CompositeImage, self.background.as_ref().map(|t| &t.view))
            }
            BackgroundMode::Color => (Pass::CompositeColor, None),
            BackgroundMode::Transparent => (Pass::CompositeTransparent, None),
        };
        let mut params = Params { target_size: [w as f32, h as f32], ..base };
        if let (true, Some(bg)) = (settings.mode.shows_picture(), &self.background) {
            let t = fit_transform(settings.image_fit, bg.width, bg.height, w, h);
            params.bg_uv_scale = t.scale;
            params.bg_uv_offset = t.offset;
        }
        let inputs = Inputs {
            image: Some(&self.frame.as_ref().unwrap().view),
            mask: Some(&self.mask.as_ref().unwrap().view),
            coefficients: Some(&self.coefficients.as_ref().unwrap().view),
            background,
            alpha: self.refine_a.as_ref().filter(|_| base.alpha_ready > 0.5).map(|t| &t.view),
        };
        let output = self.output.as_ref().unwrap();
        self.pass(&mut encoder, pass, Slot::Composite, params, output, inputs);
        self.read_back(encoder, Which::Output)
    }

    /// Grow or feather set: the person's opacity at (half) output size, grown or shrunk and feathered as the
    /// settings say; result in `refine_a`.
    fn shape_alpha(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        base: Params,
        settings: &Settings,
        (w, h): (u32, u32),
        mask_size: (u32, u32),
    ) {
        let plan = refine::plan(settings, (w, h), mask_size);
        let (rw, rh) = (plan.width, plan.height);
        let format = wgpu::TextureFormat::Rgba8Unorm;
        ensure_pair(&self.gpu.device, [&mut self.refine_a, &mut self.refine_b], (rw, rh), format);
        let (a, b) = (self.refine_a.as_ref().unwrap(), self.refine_b.as_ref().unwrap());
        let size = [rw as f32, rh as f32];
        let refine = Inputs {
            image: Some(&self.frame.as_ref().unwrap().view),
            coefficients: Some(&self.coefficients.as_ref().unwrap().view),
            ..Default::default()
        };
        self.pass(encoder, Pass::RefineMask, Slot::Refine, Params { target_size: size, ..base }, a, refine);
        let steps = |k: f32| [[k / size[0], 0.0], [0.0, k / size[1]]];
        if plan.grow_taps != 0.0 {
            let s = steps(plan.grow_step);
            let grow = |step| Params { texel_step: step, target_size: size, grow: plan.grow_taps, ..base };
            self.pass(encoder, Pass::Grow, Slot::GrowHorizontal, grow(s[0]), b, Inputs::alpha(a));
            self.pass(encoder, Pass::Grow, Slot::GrowVertical, grow(s[1]), a, Inputs::alpha(b));
        }
        if plan.feather_sigma > 0.0 {
            let s = steps(plan.feather_step);
            let feather = |step| Params { texel_step: step, target_size: size, sigma: plan.feather_sigma, ..base };
            self.pass(encoder, Pass::Feather, Slot::FeatherHorizontal, feather(s[0]), b, Inputs::image(a));
            self.pass(encoder, Pass::Feather, Slot::FeatherVertical, feather(s[1]), a, Inputs::image(b));
        }
    }

    /// Background-weighted downsample, then a horizontal and a vertical Gaussian pass; result in `blurred`.
    fn blur(&mut self, encoder: &mut wgpu::CommandEncoder, base: Params, strength: u32, (w, h): (u32, u32)) {
        let plan = blur::plan(strength, w, h);
        let (bw, bh) = (plan.width, plan.height);
        let format = wgpu::TextureFormat::Rgba16Float;
        ensure_pair(&self.gpu.device, [&mut self.blur_a, &mut self.blur_b], (bw, bh), format);
        let usage = wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING;
        ensure(&self.gpu.device, &mut self.blurred, bw, bh, RGBA8, usage);
        let (a, b) = (self.blur_a.as_ref().unwrap(), self.blur_b.as_ref().unwrap());
        let blurred = self.blurred.as_ref().unwrap();
        let size = [bw as f32, bh as f32];
        let down = Params { footprint: [1.0 / size[0], 1.0 / size[1]], target_size: size, ..base };
        let weighted = Inputs {
            image: Some(&self.frame.as_ref().unwrap().view),
            mask: Some(&self.mask.as_ref().unwrap().view),
            ..Default::default()
        };
        let downsample = if plan.downscale >= 8 { Pass::BlurDownsampleWide } else { Pass::BlurDownsample };
        self.pass(encoder, downsample, Slot::BlurDownsample, down, a, weighted);
        let gauss = |step| Params { texel_step: step, target_size: size, sigma: plan.sigma, ..base };
        self.pass(encoder, Pass::Blur, Slot::BlurHorizontal, gauss([1.0 / size[0], 0.0]), b, Inputs::image(a));
        let vertical = gauss([0.0, 1.0 / size[1]]);
        self.pass(encoder, Pass::BlurNormalize, Slot::BlurVertical, vertical, blurred, Inputs::image(b));
    }

    fn pass(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pass: Pass,
        slot: Slot,
        params: Params,
        target: &Target,
        inputs: Inputs<'_>,
    ) {
        let timed = self.timing.borrow().is_some();
        if timed {
            self.flush(encoder);
        }
        let started = Instant::now();
        let uniform = &self.uniforms[slot as usize];
        self.gpu.queue.write_buffer(uniform, 0, bytemuck::bytes_of(&params));
        let placeholder = &self.placeholder.view;
        let view = |v: Option<&wgpu::TextureView>| v.unwrap_or(placeholder).clone();
        let (image, mask, background) = (view(inputs.image), view(inputs.mask), view(inputs.background));
        let (coefficients, alpha) = (view(inputs.coefficients), view(inputs.alpha));
        let bind_group = self.gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(pass.entry_point()),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::TextureView(&image) },
                wgpu::BindGroupEntry { binding: 2, resource: wgpu::BindingResource::TextureView(&mask) },
                wgpu::BindGroupEntry { binding: 3, resource: wgpu::BindingResource::TextureView(&background) },
                wgpu::BindGroupEntry { binding: 4, resource: wgpu::BindingResource::Sampler(&self.sampler) },
                wgpu::BindGroupEntry { binding: 5, resource: wgpu::BindingResource::TextureView(&coefficients) },
                wgpu::BindGroupEntry { binding: 6, resource: wgpu::BindingResource::TextureView(&alpha) },
            ],
        });
        let mut rp = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some(pass.entry_point()),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &target.view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        rp.set_pipeline(&self.pipelines[&pass]);
        rp.set_bind_group(0, &bind_group, &[]);
        rp.draw(0..3, 0..1);
        drop(rp);
        if timed {
            self.flush(encoder);
            if let Some(t) = self.timing.borrow_mut().as_mut() {
                t.passes.push((pass, (target.width, target.height), started.elapsed()));
            }
        }
    }

    /// Submits what `encoder` holds and waits for the GPU (pass timing only).
    fn flush(&self, encoder: &mut wgpu::CommandEncoder) {
        let done = std::mem::replace(encoder, self.gpu.device.create_command_encoder(&Default::default()));
        self.gpu.queue.submit([done.finish()]);
        self.gpu.device.poll(wgpu::PollType::wait_indefinitely()).expect("GPU finished");
    }

    /// Submits `encoder` plus a copy of the chosen target into the readback buffer, waits, and returns the
    /// pixels without row padding.
    fn read_back(&mut self, mut encoder: wgpu::CommandEncoder, which: Which) -> Vec<u8> {
        let target = match which {
            Which::Analysis => self.analysis.as_ref(),
            Which::Output => self.output.as_ref(),
        }
        .unwrap();
        let (w, h) = (target.width, target.height);
        let padded = (w * 4).next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
        let size = u64::from(padded) * u64::from(h);
        if self.readback.as_ref().is_none_or(|b| b.size() < size) {
            self.readback = Some(self.gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("readback"),
                size,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
        }
        let buffer = self.readback.as_ref().unwrap();
        encoder.copy_texture_to_buffer(
            target.texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer,
                layout: wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(padded), rows_per_image: Some(h) },
            },
            wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
        );
        self.gpu.queue.submit([encoder.finish()]);
        let slice = buffer.slice(..size);
        slice.map_async(wgpu::MapMode::Read, |r| r.expect("readback mapping"));
        self.gpu.device.poll(wgpu::PollType::wait_indefinitely()).expect("GPU finished");
        let mut out = Vec::with_capacity((w * h * 4) as usize);
        {
            let data = slice.get_mapped_range().expect("mapped readback");
            for row in data.chunks(padded as usize).take(h as usize) {
                out.extend_from_slice(&row[..(w * 4) as usize]);
            }
        }
        buffer.unmap();
        out
    }
}

enum Which {
    Analysis,
    Output,
}

/// Image mode without a picture: the frame as it is (the plugin shows the input unchanged).
fn frame_rgba_passthrough(c: &mut Compositor) -> Vec<u8> {
    let frame = c.frame.as_ref().unwrap();
    let (w, h) = (frame.width, frame.height);
    let usage = wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC;
    ensure(&c.gpu.device, &mut c.output, w, h, wgpu::TextureFormat::Rgba8Unorm, usage);
    let mut encoder = c.gpu.device.create_command_encoder(&Default::default());
    encoder.copy_texture_to_texture(
        c.frame.as_ref().unwrap().texture.as_image_copy(),
        c.output.as_ref().unwrap().texture.as_image_copy(),
        wgpu::Extent3d { width: w, height: h, depth_or_array_layers: 1 },
    );
    c.read_back(encoder, Which::Output)
}

fn make_target(
    device: &wgpu::Device,
    width: u32,
    height: u32,
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> Target {
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: None,
        size: wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: usage | wgpu::TextureUsages::TEXTURE_BINDING,
        view_formats: &[],
    });
    let view = texture.create_view(&Default::default());
    Target { texture, view, width, height }
}

/// The target in `slot`, (re)created only when its size changes.
fn ensure<'a>(
    device: &wgpu::Device,
    slot: &'a mut Option<Target>,
    width: u32,
    height: u32,
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> &'a Target {
    if slot.as_ref().is_none_or(|t| (t.width, t.height) != (width, height)) {
        *slot = Some(make_target(device, width, height, format, usage | wgpu::TextureUsages::COPY_SRC));
    }
    slot.as_ref().unwrap()
}

/// Two intermediate targets of one size and format that passes render into and read from in turn.
fn ensure_pair(device: &wgpu::Device, pair: [&mut Option<Target>; 2], (w, h): (u32, u32), format: wgpu::TextureFormat) {
    let usage = wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING;
    for slot in pair {
        ensure(device, slot, w, h, format, usage);
    }
}

fn write_texture(queue: &wgpu::Queue, target: &Target, data: &[u8], bytes_per_pixel: u32) {
    queue.write_texture(
        target.texture.as_image_copy(),
        data,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(target.width * bytes_per_pixel),
            rows_per_image: Some(target.height),
        },
        wgpu::Extent3d { width: target.width, height: target.height, depth_or_array_layers: 1 },
    );
}
