//! The GPU backend: WGSL compute kernels driven through wgpu, over pooled device buffers.
//!
//! Kernels take (buffer, layout) operands like the CPU ones, so views, transposes and
//! broadcasts need no copies. Each kernel family is one `.wgsl` template in `wgsl/`; the Rust
//! side fills in the dtype-specific loads, stores and expression, and caches the pipeline.
mod conv;
mod elementwise;
mod index;
mod matmul;
mod norm;
mod xent;
mod optim;
mod pool;
mod reduce;
mod rnn;
pub mod runtime;
mod scan;

pub use conv::{conv2d, conv2d_grad_bias, conv2d_grad_input, conv2d_grad_weight};
pub use elementwise::{binary, cast, fill, ternary, unary, where_};
pub use index::{gather, scatter, take, put};
pub use matmul::matmul;
pub use norm::norm;
pub use xent::xent;
pub use optim::{fused_adam, fused_sgd};
pub use pool::max_pool2d;
pub use reduce::reduce;
pub use rnn::rnn_cell;
pub use scan::scan;
pub use runtime::{gpu, is_available, Buffer};

use crate::layout::Layout;
use crate::{bail, DType, Result};
use std::sync::Arc;

const COMMON: &str = include_str!("wgsl/common.wgsl");

include!("operand.rs");

/// Bytes per element on the GPU: bool and the 8/16-bit integers widen to a 32-bit word
/// each (WGSL has no byte or 16-bit integer stores without extensions), holding the value
/// already narrowed: every store wraps it (see [`store`]), so loads read plain i32 words and
/// every kernel computes in i32, whose arithmetic agrees with the narrow type's modulo 2^bits.
pub fn elem_bytes(dt: DType) -> Result<usize> {
    match dt {
        // bfloat16 too: a word holding the float32 bits already rounded to bfloat16, so
        // loads are plain float32 reads and only stores round
        DType::F32 | DType::I32 | DType::Bool | DType::U8 | DType::I8 | DType::I16 | DType::BF16 => Ok(4),
        DType::I64 => Ok(8),
        DType::F16 => {
            let g = gpu()?;
            if !g.f16 {
                bail!(
                    Type,
                    "float16 on the gpu needs an adapter with the shader-f16 feature, which {} lacks. Convert the tensor with .float() first.",
                    g.info.name
                );
            }
            Ok(2)
        }
        DType::F64 => bail!(
            Type,
            "Cannot convert a tensor of dtype float64 to the gpu device: WGSL has no 64-bit floats. Convert it with .float() first."
        ),
    }
}

/// The WGSL type a dtype computes in (int64 computes on its low word, bool as 0/1).
pub(crate) fn ctype(dt: DType) -> &'static str {
    if dt.is_float() {
        "f32"
    } else {
        "i32"
    }
}

/// WGSL reading element `off` (an i32 expression) of binding `b` as `ctype(dt)`.
pub(crate) fn load(dt: DType, b: &str, off: &str) -> String {
    match dt {
        DType::F32 | DType::F64 | DType::BF16 => format!("bitcast<f32>({b}[u32({off})])"),
        DType::F16 => format!("f32({b}[u32({off})])"),
        DType::I32 | DType::U8 | DType::I8 | DType::I16 => format!("bitcast<i32>({b}[u32({off})])"),
        DType::I64 => format!("bitcast<i32>({b}[2u * u32({off})])"),
        DType::Bool => format!("i32({b}[u32({off})] != 0u)"),
    }
}

/// WGSL statements storing `v` (of `ctype(dt)`) at element `off` of binding `b`.
pub(crate) fn store(dt: DType, b: &str, off: &str, v: &str) -> String {
    match dt {
        DType::F32 | DType::F64 | DType::I32 | DType::U8 | DType::I8 | DType::I16 | DType::BF16 => {
            format!("{b}[u32({off})] = {};", word(dt, v))
        }
        DType::F16 => format!("{b}[u32({off})] = f16({v});"),
        DType::I64 => format!(
            "{{ let v64 = {v}; {b}[2u * u32({off})] = bitcast<u32>(v64); {b}[2u * u32({off}) + 1u] = select(0u, 0xffffffffu, v64 < 0); }}"
        ),
        DType::Bool => format!("{b}[u32({off})] = u32({v} != 0);"),
    }
}

/// The u32 word that stores `v` (of `ctype(dt)`) for a dtype held in one word per element:
/// the narrow integers wrap to their width (sign-extended for the signed ones), as torch's
/// integer overflow does.
pub(crate) fn word(dt: DType, v: &str) -> String {
    match dt {
        DType::U8 => format!("(bitcast<u32>({v}) & 0xffu)"),
        DType::I8 => format!("bitcast<u32>((({v}) << 24u) >> 24u)"),
        DType::I16 => format!("bitcast<u32>((({v}) << 16u) >> 16u)"),
        DType::Bool => format!("u32({v} != 0)"),
        DType::BF16 => format!("bf16_word({v})"),
        _ => format!("bitcast<u32>({v})"),
    }
}

/// WGSL converting `e` from `ctype(from)` to `ctype(to)` with torch's cast rules.
pub(crate) fn conv(from: DType, to: DType, e: &str) -> String {
    match (from.is_float(), to) {
        // a bit test: fast-math compilers (lavapipe's) fold `NaN != 0.0` to false, torch says true
        (true, DType::Bool) => format!("i32((bitcast<u32>(f32({e})) & 0x7fffffffu) != 0u)"),
        (false, DType::Bool) => format!("i32(({e}) != 0)"),
        (true, DType::F16 | DType::BF16 | DType::F32 | DType::F64) | (false, DType::I32 | DType::I64 | DType::U8 | DType::I8 | DType::I16) => e.to_string(),
        (true, _) => format!("i32({e})"),
        (false, _) => format!("f32({e})"),
    }
}

/// Storage bindings B1..Bn for operands of dtypes `dts`, all read_write so that an in-place op
/// may bind one buffer twice. Every dtype is addressed in 32-bit words except float16, which
/// is addressed by element (WGSL has no 16-bit stores into a word array).
pub(crate) fn bindings(dts: &[DType], atomic_first: bool) -> String {
    dts.iter()
        .enumerate()
        .map(|(k, &dt)| {
            let ty = match dt {
                _ if k == 0 && atomic_first => "array<atomic<u32>>",
                DType::F16 => "array<f16>",
                _ => "array<u32>",
            };
            format!("@group(0) @binding({}) var<storage, read_write> B{}: {ty};\n", k + 1, k + 1)
        })
        .collect()
}

/// Fills `{{KEY}}` placeholders of a template, after the shared helpers.
pub(crate) fn render(template: &str, subs: &[(&str, String)]) -> String {
    let mut s = String::with_capacity(COMMON.len() + template.len() + 512);
    // the f16 extension must be enabled before any declaration
    if subs.iter().any(|(_, v)| v.contains("array<f16>")) {
        s.push_str("enable f16;\n");
    }
    s.push_str(COMMON);
    s.push_str(template);
    for (k, v) in subs {
        s = s.replace(&format!("{{{{{k}}}}}"), v);
    }
    s
}

/// A 2-D grid of 256-thread workgroups covering `n` threads (x is capped by the adapter).
pub(crate) fn grid(n: usize) -> Result<[u32; 3]> {
    let groups = n.div_ceil(256);
    let maxx = gpu()?.limits.max_compute_workgroups_per_dimension as usize;
    if groups <= maxx {
        return Ok([groups as u32, 1, 1]);
    }
    let y = groups.div_ceil(maxx);
    if y > maxx {
        bail!(Runtime, "gpu: {n} elements exceed the largest launch this adapter allows");
    }
    Ok([maxx as u32, y as u32, 1])
}

/// Element offsets and strides as i32 words; a tensor the kernels index past 2^31 elements
/// is refused rather than wrapped.
pub(crate) fn i32_word(op: &str, v: isize) -> Result<u32> {
    match i32::try_from(v) {
        Ok(x) => Ok(x as u32),
        Err(_) => bail!(Runtime, "{op}: gpu kernels index at most 2^31 elements (got an offset or stride of {v})"),
    }
}

/// Merges dims that every operand can step through as one, and drops size-1 dims.
pub(crate) fn collapse(shape: &[usize], strides: &[&[isize]]) -> (Vec<usize>, Vec<Vec<isize>>) {
    let n = strides.len();
    let mut out_shape: Vec<usize> = vec![];
    let mut out_strides: Vec<Vec<isize>> = vec![vec![]; n];
    for (d, &s) in shape.iter().enumerate() {
        if s == 1 {
            continue;
        }
        if !out_shape.is_empty() && (0..n).all(|k| out_strides[k].last() == Some(&(strides[k][d] * s as isize))) {
            let m = out_shape.len() - 1;
            out_shape[m] *= s;
            for k in 0..n {
                out_strides[k][m] = strides[k][d];
            }
            continue;
        }
        out_shape.push(s);
        for k in 0..n {
            out_strides[k].push(strides[k][d]);
        }
    }
    (out_shape, out_strides)
}
