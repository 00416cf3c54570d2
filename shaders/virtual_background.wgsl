// Virtual Background for `vbg` (wgpu): the twin of virtual_background.effect, pass for pass and formula for
// formula, so offline renders, evaluations and benchmarks show what OBS shows. Change both together.
//   fs_downscale             the frame, or the crop of it around the person, to the model's input size
//                            (bilinear taps, each averaging 2x2 texels)
//   fs_refine_mask           the person's opacity at (half) output size, only when grow or feather is set
//   fs_grow                  one direction of a separable max (grow) or min (shrink) on that opacity
//   fs_blur_downsample*      the frame shrunk for blurring, weighted by how surely each pixel is background
//   fs_blur                  one direction of a separable Gaussian (the background blur, and feathering)
//   fs_blur_normalize        the blur's last direction, divided by the background weight (8-bit result)
//   fs_composite_*           the person over the blurred frame, a picture, a colour, or transparency
// Colours are used as stored (sRGB-encoded), as OBS hands this filter its input; the worker fits the guided
// filter in the same values.

struct Params {
    mask_uv_scale: vec2<f32>,  // crops mask padding (1,1 here: wgpu needs no row padding)
    bg_uv_scale: vec2<f32>,    // picture coordinates = uv * bg_uv_scale + bg_uv_offset (image fit)
    bg_uv_offset: vec2<f32>,
    footprint: vec2<f32>,      // one output pixel, in input texture coordinates (downscaling)
    texel_step: vec2<f32>,     // one blur tap, in texture coordinates
    target_size: vec2<f32>,    // size of the pass's output, to turn pixel positions into uv
    color: vec4<f32>,          // background colour, also Contain's border
    threshold: f32,            // probability at the middle of the person's edge
    softness: f32,             // width of the edge ramp, in probability
    sigma: f32,                // Gaussian sigma, in taps
    alpha_ready: f32,          // 1: the opacity is in `alpha` (grow/feather), 0: from the coefficients
    grow: f32,                 // fs_grow: radius in taps, > 0 grows the person, < 0 shrinks it
    light_wrap: f32,           // share of background light spilled onto the person's edge
    crop_origin: vec2<f32>,    // the part of the frame the mask covers ("Follow the person"), in frame uv;
    crop_size: vec2<f32>,      // outside it is background. fs_downscale cuts the frame to it.
    _pad: vec2<f32>,
};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var image: texture_2d<f32>;         // the frame, or the previous pass
@group(0) @binding(2) var mask: texture_2d<f32>;          // smoothed person probability at the model's resolution
@group(0) @binding(3) var background: texture_2d<f32>;    // the blurred background (A = how much there was) or the picture
@group(0) @binding(4) var linear_clamp: sampler;
@group(0) @binding(5) var coefficients: texture_2d<f32>;  // the guided filter's averaged fit: a in RGB, b in A
@group(0) @binding(6) var alpha: texture_2d<f32>;         // the person's opacity (A), from fs_refine_mask/fs_grow/fs_blur

// One triangle that covers the whole target.
@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    let x = f32((i << 1u) & 2u);
    let y = f32(i & 2u);
    return vec4<f32>(x * 2.0 - 1.0, 1.0 - y * 2.0, 0.0, 1.0);
}

// Texture coordinates of this pixel's centre, top-left origin as in OBS.
fn uv_at(pos: vec4<f32>) -> vec2<f32> {
    return pos.xy / p.target_size;
}

fn sample(t: texture_2d<f32>, uv: vec2<f32>) -> vec4<f32> {
    return textureSampleLevel(t, linear_clamp, uv, 0.0);
}

// Mask coordinates of a frame position, and whether it lies in the crop the mask covers.
fn crop_uv(uv: vec2<f32>) -> vec2<f32> {
    return (uv - p.crop_origin) / p.crop_size;
}

fn in_crop(m: vec2<f32>) -> bool {
    return m.x >= 0.0 && m.x <= 1.0 && m.y >= 0.0 && m.y <= 1.0;
}

fn probability(uv: vec2<f32>) -> f32 {
    let m = crop_uv(uv);
    return select(0.0, sample(mask, m * p.mask_uv_scale).r, in_crop(m));
}

// Opacity of the person at probability `prob`: a smooth step of width `softness` centred on `threshold`.
fn person_alpha(prob: f32) -> f32 {
    if (p.softness <= 0.0001) {
        return select(0.0, 1.0, prob >= p.threshold);
    }
    let t = clamp((prob - (p.threshold - 0.5 * p.softness)) / p.softness, 0.0, 1.0);
    return t * t * (3.0 - 2.0 * t);
}

// The coefficients bilinearly interpolated between texel centres, edges clamped, as OBS's sampler does
// (by hand: 32-bit float textures need not be filterable in wgpu).
fn coefficients_at(uv: vec2<f32>) -> vec4<f32> {
    let size = vec2<i32>(textureDimensions(coefficients));
    let f = uv * vec2<f32>(size) - 0.5;
    let base = floor(f);
    let t = f - base;
    let hi = size - vec2<i32>(1, 1);
    let c0 = clamp(vec2<i32>(base), vec2<i32>(0, 0), hi);
    let c1 = clamp(vec2<i32>(base) + vec2<i32>(1, 1), vec2<i32>(0, 0), hi);
    let top = mix(textureLoad(coefficients, c0, 0), textureLoad(coefficients, vec2<i32>(c1.x, c0.y), 0), t.x);
    let bottom = mix(textureLoad(coefficients, vec2<i32>(c0.x, c1.y), 0), textureLoad(coefficients, c1, 0), t.x);
    return mix(top, bottom, t.y);
}

// The fast guided filter's last step: the worker's fit, bilinearly upsampled, applied to this pixel's colour.
fn guided_alpha(uv: vec2<f32>, rgb: vec3<f32>) -> f32 {
    let m = crop_uv(uv);
    if (!in_crop(m)) {
        return 0.0;
    }
    let fit = coefficients_at(m);
    return person_alpha(dot(fit.rgb, rgb) + fit.a);
}

fn person_opacity(uv: vec2<f32>, rgb: vec3<f32>) -> f32 {
    if (p.alpha_ready > 0.5) {
        return sample(alpha, uv).a;
    }
    return guided_alpha(uv, rgb);
}

// How much a pixel may contribute to the blurred background: none where any of the person is, so no
// person colour bleeds into the blur (no halo around them). At the blur's coarse size the mask suffices.
fn background_weight(uv: vec2<f32>) -> f32 {
    return 1.0 - smoothstep(0.0, 0.25, person_alpha(probability(uv)));
}

fn weighted_tap(uv: vec2<f32>) -> vec4<f32> {
    let w = background_weight(uv);
    return vec4<f32>(sample(image, uv).rgb * w, w);
}

// Light wrapping: background light spills onto the person's edge. The coarse mask is still below 1 for a
// few pixels inside the outline, which is where the spill shows.
fn wrapped(fg: vec3<f32>, bg: vec3<f32>, uv: vec2<f32>) -> vec3<f32> {
    if (p.light_wrap <= 0.0) {
        return fg;
    }
    return mix(fg, bg, p.light_wrap * (1.0 - clamp(probability(uv), 0.0, 1.0)));
}

// Four bilinear taps a quarter footprint from the centre: each averages 2x2 texels.
// The mean of four bilinear taps `q` from `uv` across and down: each averages 2x2 texels, so with `q` a
// quarter of a footprint they cover it.
fn box_average(uv: vec2<f32>, q: vec2<f32>) -> vec4<f32> {
    return 0.25 * (sample(image, uv + vec2<f32>(-q.x, -q.y)) + sample(image, uv + vec2<f32>(q.x, -q.y)) +
                   sample(image, uv + vec2<f32>(-q.x, q.y)) + sample(image, uv + vec2<f32>(q.x, q.y)));
}

@fragment
fn fs_downscale(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = p.crop_origin + uv_at(pos) * p.crop_size;
    return box_average(uv, 0.25 * p.footprint);
}

@fragment
fn fs_refine_mask(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    let a = guided_alpha(uv, sample(image, uv).rgb);
    return vec4<f32>(a, a, a, a);
}

@fragment
fn fs_grow(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    let radius = abs(p.grow);
    var a = sample(alpha, uv).a;
    for (var i = -10; i <= 10; i++) {
        if (abs(f32(i)) <= radius) {
            let b = sample(alpha, uv + f32(i) * p.texel_step).a;
            a = select(min(a, b), max(a, b), p.grow > 0.0);
        }
    }
    return vec4<f32>(a, a, a, a);
}

// Shrinking by up to 4: 2x2 bilinear taps cover the footprint (each averages 2x2 texels).
@fragment
fn fs_blur_downsample(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    let q = 0.25 * p.footprint;
    return 0.25 * (weighted_tap(uv + vec2<f32>(-q.x, -q.y)) + weighted_tap(uv + vec2<f32>(q.x, -q.y)) +
                   weighted_tap(uv + vec2<f32>(-q.x, q.y)) + weighted_tap(uv + vec2<f32>(q.x, q.y)));
}

// Shrinking by 8 or more: the footprint in 2x2 quarters, each averaged from 2x2 bilinear taps and weighted
// once (a quarter is about one mask texel wide).
@fragment
fn fs_blur_downsample_wide(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv0 = uv_at(pos);
    var sum = vec4<f32>(0.0);
    for (var qy = 0; qy < 2; qy++) {
        for (var qx = 0; qx < 2; qx++) {
            let centre = uv0 + (vec2<f32>(f32(qx), f32(qy)) - 0.5) * 0.5 * p.footprint;
            let rgb = box_average(centre, 0.125 * p.footprint).rgb;
            sum += vec4<f32>(rgb, 1.0) * background_weight(centre);
        }
    }
    return sum * 0.25;
}

// A 17-tap Gaussian in 9 fetches: the sampler's bilinear weights merge each pair of neighbouring taps.
fn gaussian(uv: vec2<f32>) -> vec4<f32> {
    var sum = sample(image, uv);
    var total = 1.0;
    let k = -0.5 / (p.sigma * p.sigma);
    for (var i = 1; i <= 7; i += 2) {
        let w1 = exp(k * f32(i * i));
        let w2 = exp(k * f32((i + 1) * (i + 1)));
        let w = w1 + w2;
        let offset = ((f32(i) * w1 + f32(i + 1) * w2) / w) * p.texel_step;
        sum += (sample(image, uv + offset) + sample(image, uv - offset)) * w;
        total += 2.0 * w;
    }
    return sum / total;
}

@fragment
fn fs_blur(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    return gaussian(uv_at(pos));
}

// The background blur's last direction: the weighted average divided by its weight, so the result fits in
// 8 bits (cheap for the composite to read); A says how much background there was to average.
@fragment
fn fs_blur_normalize(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let b = gaussian(uv_at(pos));
    return vec4<f32>(b.rgb / max(b.a, 0.0001), clamp(b.a * 50.0, 0.0, 1.0));
}

@fragment
fn fs_composite_blur(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    let fg = sample(image, uv);
    let b = sample(background, uv);
    // The average of nearby background pixels; deep inside the person there are none, and the person
    // covers that spot anyway.
    let bg = mix(fg.rgb, b.rgb, b.a);
    return vec4<f32>(mix(bg, fg.rgb, person_opacity(uv, fg.rgb)), fg.a);
}

@fragment
fn fs_composite_image(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    let fg = sample(image, uv);
    let buv = uv * p.bg_uv_scale + p.bg_uv_offset;
    let pic = sample(background, buv);
    let inside = buv.x >= 0.0 && buv.x <= 1.0 && buv.y >= 0.0 && buv.y <= 1.0;
    // The picture is premultiplied (as an OBS source drawn into a cleared texture is): the colour shows
    // through where it is transparent, and outside it (Contain's borders).
    let bg = select(p.color.rgb, pic.rgb + p.color.rgb * (1.0 - pic.a), inside);
    return vec4<f32>(mix(bg, wrapped(fg.rgb, bg, uv), person_opacity(uv, fg.rgb)), fg.a);
}

@fragment
fn fs_composite_color(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    let fg = sample(image, uv);
    return vec4<f32>(mix(p.color.rgb, wrapped(fg.rgb, p.color.rgb, uv), person_opacity(uv, fg.rgb)), fg.a);
}

@fragment
fn fs_composite_transparent(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    let fg = sample(image, uv);
    return vec4<f32>(fg.rgb, fg.a * person_opacity(uv, fg.rgb));
}
