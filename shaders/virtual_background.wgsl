// Virtual Background for `vbg` (wgpu): the twin of virtual_background.effect, pass for pass and formula for
// formula, so offline renders, evaluations and benchmarks show what OBS shows. Change both together.
//   fs_downscale         the frame to the model's input size (area average, no aliasing)
//   fs_guided_fit        per mask texel, the guided filter's local fit probability = a . colour + b, at the mask's size
//   fs_guided_mean       those fits averaged over the same window
//   fs_refine_mask       the person's opacity at (half) output size: the averaged fits applied to the
//                        full-resolution frame's colours (fast guided filter), then threshold and softness
//   fs_grow              one direction of a separable max (grow) or min (shrink) on that opacity
//   fs_stabilize         that opacity blended with the previous frame's where the picture did not change
//   fs_copy              the frame at the opacity's size, kept to tell still pixels from moving ones next frame
//   fs_blur_downsample   the frame shrunk for blurring, weighted by how surely each pixel is background
//   fs_blur              one direction of a separable Gaussian (the background blur, and feathering)
//   fs_composite_*       the person over the blurred frame, a picture, a colour, or transparency

struct Params {
    mask_uv_scale: vec2<f32>,  // crops mask padding (1,1 here: wgpu needs no row padding)
    bg_uv_scale: vec2<f32>,    // picture coordinates = uv * bg_uv_scale + bg_uv_offset (image fit)
    bg_uv_offset: vec2<f32>,
    footprint: vec2<f32>,      // one output pixel, in input texture coordinates (downscaling)
    texel_step: vec2<f32>,     // one blur tap, in texture coordinates
    target_size: vec2<f32>,    // size of the pass's output, to turn pixel positions into uv
    mask_size: vec2<f32>,      // the mask's size in texels
    _pad0: vec2<f32>,
    color: vec4<f32>,          // background colour, also Contain's border
    threshold: f32,            // probability at the middle of the person's edge
    softness: f32,             // width of the edge ramp, in probability
    sigma: f32,                // Gaussian sigma, in taps
    edge_refine: f32,          // 1: guided-filter upsampling, 0: plain bilinear
    grow: f32,                 // fs_grow: radius in taps, > 0 grows the person, < 0 shrinks it
    light_wrap: f32,           // share of background light spilled onto the person's edge
    temporal: f32,             // fs_stabilize: how much a still pixel keeps of its previous opacity
    _pad1: f32,
};

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var image: texture_2d<f32>;
@group(0) @binding(2) var mask: texture_2d<f32>;
@group(0) @binding(3) var background: texture_2d<f32>;
@group(0) @binding(4) var linear_clamp: sampler;
@group(0) @binding(5) var guide: texture_2d<f32>;   // the frame at the mask's resolution (what the model saw)
@group(0) @binding(6) var alpha: texture_2d<f32>;   // the refined person opacity (R)
@group(0) @binding(7) var previous: texture_2d<f32>;        // fs_stabilize: previous frame at the opacity's size
@group(0) @binding(8) var previous_alpha: texture_2d<f32>;  // fs_stabilize: previous stabilized opacity
@group(0) @binding(9) var coefficients: texture_2d<f32>;    // fs_refine_mask: averaged fit, a in RGB, b in A

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

fn probability(uv: vec2<f32>) -> f32 {
    return sample(mask, uv * p.mask_uv_scale).r;
}

// Edge-aware upsampling by a fast guided filter (He et al. 2010, 2015). In each 5x5 window of mask texels the
// probability is fitted as a linear function of the colour of the frame at the mask's size (fs_guided_fit); the
// fits covering a texel are averaged (fs_guided_mean) and applied to the full-resolution colours (here), so the
// mask's edge lands on the picture's edges at output resolution while flat regions keep the model's value.
fn refined_probability(uv: vec2<f32>) -> f32 {
    if (p.edge_refine < 0.5) {
        return probability(uv);
    }
    let fit = sample(coefficients, uv);
    return dot(fit.rgb, sample(image, uv).rgb) + fit.a;
}

// Opacity of the person at probability `prob`: a smooth step of width `softness` centred on `threshold`.
fn person_alpha(prob: f32) -> f32 {
    if (p.softness <= 0.0001) {
        return select(0.0, 1.0, prob >= p.threshold);
    }
    let t = clamp((prob - (p.threshold - 0.5 * p.softness)) / p.softness, 0.0, 1.0);
    return t * t * (3.0 - 2.0 * t);
}

fn refined_alpha(uv: vec2<f32>) -> f32 {
    return sample(alpha, uv).r;
}

// How much a pixel may contribute to the blurred background: none where any of the person is, so no
// person colour bleeds into the blur (no halo around them).
fn background_weight(uv: vec2<f32>) -> f32 {
    return 1.0 - smoothstep(0.0, 0.25, refined_alpha(uv));
}

// Light wrapping: background light spills onto the person's edge. The coarse mask is still below 1 for a
// few pixels inside the outline, which is where the spill shows.
fn wrapped(fg: vec3<f32>, bg: vec3<f32>, uv: vec2<f32>) -> vec3<f32> {
    return mix(fg, bg, p.light_wrap * (1.0 - clamp(probability(uv), 0.0, 1.0)));
}

// Offset of tap (x, y) of a 4x4 grid spread over one output pixel.
fn grid_offset(x: i32, y: i32) -> vec2<f32> {
    return (vec2<f32>(f32(x), f32(y)) + 0.5) / 4.0 - 0.5;
}

@fragment
fn fs_downscale(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    var sum = vec4<f32>(0.0);
    for (var y = 0; y < 4; y++) {
        for (var x = 0; x < 4; x++) {
            sum += sample(image, uv + grid_offset(x, y) * p.footprint);
        }
    }
    return sum / 16.0;
}

// Least-squares fit of probability = a . colour + b over the 5x5 mask texels around this one (texel_step: one
// texel). The colour covariance gets 0.001 on its diagonal (a colour spread of about 8/255): windows flatter
// than that keep their mean probability instead of amplifying noise.
@fragment
fn fs_guided_fit(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    var sum_c = vec3<f32>(0.0);
    var sum_cp = vec3<f32>(0.0);
    var sum_diag = vec3<f32>(0.0); // rr, gg, bb
    var sum_off = vec3<f32>(0.0);  // rg, rb, gb
    var sum_p = 0.0;
    for (var j = -2; j <= 2; j++) {
        for (var i = -2; i <= 2; i++) {
            let tuv = uv + vec2<f32>(f32(i), f32(j)) * p.texel_step;
            let c = sample(guide, tuv).rgb;
            let q = probability(tuv);
            sum_c += c;
            sum_p += q;
            sum_cp += c * q;
            sum_diag += c * c;
            sum_off += vec3<f32>(c.r * c.g, c.r * c.b, c.g * c.b);
        }
    }
    let mc = sum_c / 25.0;
    let mp = sum_p / 25.0;
    let cov = sum_cp / 25.0 - mc * mp;
    let d = sum_diag / 25.0 - mc * mc + 0.001;
    let o = sum_off / 25.0 - vec3<f32>(mc.r * mc.g, mc.r * mc.b, mc.g * mc.b);
    // Inverse of the symmetric covariance [[d.x o.x o.y] [o.x d.y o.z] [o.y o.z d.z]] by its adjugate.
    let i00 = d.y * d.z - o.z * o.z;
    let i01 = o.z * o.y - o.x * d.z;
    let i02 = o.x * o.z - d.y * o.y;
    let i11 = d.x * d.z - o.y * o.y;
    let i12 = o.x * o.y - d.x * o.z;
    let i22 = d.x * d.y - o.x * o.x;
    let det = d.x * i00 + o.x * i01 + o.y * i02;
    let a = vec3<f32>(i00 * cov.x + i01 * cov.y + i02 * cov.z,
                      i01 * cov.x + i11 * cov.y + i12 * cov.z,
                      i02 * cov.x + i12 * cov.y + i22 * cov.z) / det;
    return vec4<f32>(a, mp - dot(a, mc));
}

// The fits of every window that covers this texel, averaged (a 5x5 box over fs_guided_fit's output).
@fragment
fn fs_guided_mean(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    var sum = vec4<f32>(0.0);
    for (var j = -2; j <= 2; j++) {
        for (var i = -2; i <= 2; i++) {
            sum += sample(image, uv + vec2<f32>(f32(i), f32(j)) * p.texel_step);
        }
    }
    return sum / 25.0;
}

@fragment
fn fs_refine_mask(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let a = person_alpha(refined_probability(uv_at(pos)));
    return vec4<f32>(a, a, a, a);
}

@fragment
fn fs_grow(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    let radius = abs(p.grow);
    var a = refined_alpha(uv);
    for (var i = -10; i <= 10; i++) {
        if (abs(f32(i)) <= radius) {
            let b = refined_alpha(uv + f32(i) * p.texel_step);
            a = select(min(a, b), max(a, b), p.grow > 0.0);
        }
    }
    return vec4<f32>(a, a, a, a);
}

// Motion-adaptive temporal smoothing at output resolution: a pixel whose colour changed by 20/255 or more
// takes the new opacity at once, a still one keeps `temporal` of the previous.
@fragment
fn fs_stabilize(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    let a = refined_alpha(uv);
    let d = abs(sample(image, uv).rgb - sample(previous, uv).rgb);
    let motion = clamp(max(d.r, max(d.g, d.b)) * (255.0 / 20.0), 0.0, 1.0);
    let s = mix(a, sample(previous_alpha, uv).r, p.temporal * (1.0 - motion));
    return vec4<f32>(s, s, s, s);
}

@fragment
fn fs_copy(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    return sample(image, uv_at(pos));
}

@fragment
fn fs_blur_downsample(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv0 = uv_at(pos);
    var sum = vec4<f32>(0.0);
    for (var y = 0; y < 4; y++) {
        for (var x = 0; x < 4; x++) {
            let uv = uv0 + grid_offset(x, y) * p.footprint;
            let w = background_weight(uv);
            sum += vec4<f32>(sample(image, uv).rgb * w, w);
        }
    }
    return sum / 16.0;
}

@fragment
fn fs_blur(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    var sum = vec4<f32>(0.0);
    var total = 0.0;
    for (var i = -8; i <= 8; i++) {
        let w = exp(-0.5 * f32(i * i) / (p.sigma * p.sigma));
        sum += sample(image, uv + f32(i) * p.texel_step) * w;
        total += w;
    }
    return sum / total;
}

@fragment
fn fs_composite_blur(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    let fg = sample(image, uv);
    let b = sample(background, uv);
    // Weighted average of nearby background pixels; deep inside the person there are none, and the
    // person covers that spot anyway.
    let bg = mix(fg.rgb, b.rgb / max(b.a, 0.0001), clamp(b.a * 50.0, 0.0, 1.0));
    return vec4<f32>(mix(bg, fg.rgb, refined_alpha(uv)), fg.a);
}

@fragment
fn fs_composite_image(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    let fg = sample(image, uv);
    let buv = uv * p.bg_uv_scale + p.bg_uv_offset;
    let pic = sample(background, buv);
    let inside = buv.x >= 0.0 && buv.x <= 1.0 && buv.y >= 0.0 && buv.y <= 1.0;
    let bg = select(p.color.rgb, mix(p.color.rgb, pic.rgb, pic.a), inside);
    return vec4<f32>(mix(bg, wrapped(fg.rgb, bg, uv), refined_alpha(uv)), fg.a);
}

@fragment
fn fs_composite_color(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    let fg = sample(image, uv);
    return vec4<f32>(mix(p.color.rgb, wrapped(fg.rgb, p.color.rgb, uv), refined_alpha(uv)), fg.a);
}

@fragment
fn fs_composite_transparent(@builtin(position) pos: vec4<f32>) -> @location(0) vec4<f32> {
    let uv = uv_at(pos);
    let fg = sample(image, uv);
    return vec4<f32>(fg.rgb, fg.a * refined_alpha(uv));
}
