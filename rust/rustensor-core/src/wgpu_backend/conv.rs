//! GPU 2-d convolution (see `wgsl/conv.wgsl`): im2col into a column matrix, then the tiled
//! matmul; the input gradient is a matmul then col2im, the weight gradient one matmul per group.
use super::{bindings, cast, gpu, grid, i32_word, matmul, render, Buffer, Operand};
use crate::cpu_backend::conv::Geom;
use crate::layout::Layout;
use crate::{bail, DType, Result};
use std::sync::Arc;

const TEMPLATE: &str = include_str!("wgsl/conv.wgsl");
const OP: &str = "conv2d (gpu)";

/// The parameter words: thread count, geometry, then X and Y (offset + 4 strides) and the bias.
fn params(threads: usize, g: &Geom, x: Option<&Layout>, y: Option<&Layout>, b: Option<&Layout>) -> Result<Vec<u32>> {
    let geo = [g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.oh, g.ow, g.stride[0], g.stride[1], g.pad[0], g.pad[1], g.dilation[0], g.dilation[1], g.groups];
    let mut p = vec![i32_word(OP, threads as isize)?];
    for v in geo {
        p.push(i32_word(OP, v as isize)?);
    }
    // X at 17, Y at 22
    for l in [x, y] {
        match l {
            Some(l) if l.strides.len() == 4 => {
                p.push(i32_word(OP, l.offset as isize)?);
                for &s in &l.strides {
                    p.push(i32_word(OP, s)?);
                }
            }
            _ => p.extend([0; 5]),
        }
    }
    match b {
        Some(b) => {
            p.push(i32_word(OP, b.offset as isize)?);
            p.push(i32_word(OP, b.strides.first().copied().unwrap_or(1))?);
        }
        None => p.extend([0; 2]),
    }
    Ok(p)
}

fn ld(b: &str, off: &str) -> String {
    format!("bitcast<f32>({b}[{off}])")
}

/// Runs one body over `threads` threads; an auto-derived pipeline layout holds only the
/// bindings the shader uses, so `bufs` lists exactly those.
fn run(key: &str, body: &str, bufs: &[&Arc<Buffer>], p: &[u32], threads: usize) -> Result<()> {
    if threads == 0 {
        return Ok(());
    }
    let g_ = gpu()?;
    let pipe = g_.pipeline(key, || render(TEMPLATE, &[("BINDINGS", bindings(&vec![DType::F32; bufs.len()], false)), ("BODY", body.to_string())]))?;
    g_.dispatch(pipe, bufs, p, grid(threads)?)
}

fn k_of(g: &Geom) -> usize {
    (g.c / g.groups) * g.kh * g.kw
}

fn nl(g: &Geom) -> usize {
    g.n * g.oh * g.ow
}

fn alloc(n: usize) -> Result<Arc<Buffer>> {
    gpu()?.alloc((n.max(1) * 4) as u64)
}

fn f32op<'a>(buf: &'a Arc<Buffer>, layout: &'a Layout) -> Operand<'a> {
    Operand { buf, layout, dtype: DType::F32 }
}

/// The column matrix of `x`, [G, K, N, L] contiguous.
fn im2col(x: &Operand, g: &Geom) -> Result<Arc<Buffer>> {
    let n = g.groups * k_of(g) * nl(g);
    let cols = alloc(n)?;
    let p = params(n, g, Some(x.layout), None, None)?;
    let body = format!(
        "    let l = i % L; var r = i / L; let n = r % N; r = r / N; let k = r % K; let gr = r / K;
    let b = k % KW; let a = (k / KW) % KH; let ci = gr * cg + k / (KW * KH);
    let ow = l % OW; let oh = l / OW;
    let hh = i32(oh * S0 + a * D0) - P0;
    let ww = i32(ow * S1 + b * D1) - P1;
    var v = 0.0;
    if (hh >= 0 && hh < i32(H) && ww >= 0 && ww < i32(W)) {{ v = {xv}; }}
    B2[i] = bitcast<u32>(v);",
        xv = ld("B1", "at4(17u, n, ci, u32(hh), u32(ww))"),
    );
    run("conv2d:im2col", &body, &[x.buf, &cols], &p, n)?;
    Ok(cols)
}

/// `gy` ([N, O, OH, OW], any strides) copied to [G, O/G, N, OH, OW] contiguous.
fn grouped(gy: &Operand, g: &Geom) -> Result<(Arc<Buffer>, Layout)> {
    let og = g.o / g.groups;
    let s = &gy.layout.strides;
    let shape = vec![g.groups, og, g.n, g.oh, g.ow];
    let src = Layout { shape: shape.clone(), strides: vec![og as isize * s[1], s[1], s[0], s[2], s[3]], offset: gy.layout.offset };
    let dst = Layout::contiguous(&shape);
    let buf = alloc(dst.numel())?;
    cast(f32op(&buf, &dst), Operand { buf: gy.buf, layout: &src, dtype: DType::F32 })?;
    Ok((buf, dst))
}

fn contiguous_weight(w: &Operand) -> Result<()> {
    if !w.layout.is_contiguous() {
        bail!(Runtime, "internal error: conv2d (gpu) expects a contiguous weight (please report)");
    }
    Ok(())
}

/// `y = conv2d(x, w) (+ bias)`; `w` and `y` contiguous.
pub fn conv2d(x: Operand, w: Operand, bias: Option<Operand>, y: Operand, g: &Geom) -> Result<()> {
    contiguous_weight(&w)?;
    let (og, k, nl) = (g.o / g.groups, k_of(g), nl(g));
    let cols = im2col(&x, g)?;
    // per group: (og x K) @ (K x N*L) into [G, og, N*L]
    let t = alloc(g.o * nl)?;
    let (lt, lw, lc) = (
        Layout::contiguous(&[g.groups, og, nl]),
        Layout { shape: vec![g.groups, og, k], strides: vec![(og * k) as isize, k as isize, 1], offset: w.layout.offset },
        Layout::contiguous(&[g.groups, k, nl]),
    );
    matmul(f32op(&t, &lt), Operand { buf: w.buf, layout: &lw, dtype: DType::F32 }, f32op(&cols, &lc))?;
    let n = g.n * g.o * g.oh * g.ow;
    let p = params(n, g, None, Some(y.layout), bias.as_ref().map(|b| b.layout))?;
    let add = if bias.is_some() { format!("v = v + {};", ld("B3", "u32(pi(27u) + i32(o) * pi(28u))")) } else { String::new() };
    let body = format!(
        "    let l = i % L; var r = i / L; let o = r % O; let n = r / O;
    var v = bitcast<f32>(B1[(o * N + n) * L + l]);
    {add}
    B2[at4(22u, n, o, l / OW, l % OW)] = bitcast<u32>(v);"
    );
    match bias {
        Some(b) => run("conv2d:unpermute:bias", &body, &[&t, y.buf, b.buf], &p, n),
        None => run("conv2d:unpermute", &body, &[&t, y.buf], &p, n),
    }
}

/// `dx = col2im(wᵀ·gy)`.
pub fn conv2d_grad_input(w: Operand, gy: Operand, dx: Operand, g: &Geom) -> Result<()> {
    contiguous_weight(&w)?;
    let (og, k, nl) = (g.o / g.groups, k_of(g), nl(g));
    let (gt, lg) = grouped(&gy, g)?;
    let lg = Layout { shape: vec![g.groups, og, nl], strides: vec![(og * nl) as isize, nl as isize, 1], offset: lg.offset };
    // per group: (K x og) @ (og x N*L) into [G, K, N*L]
    let gc = alloc(g.groups * k * nl)?;
    let (lgc, lwt) = (
        Layout::contiguous(&[g.groups, k, nl]),
        Layout { shape: vec![g.groups, k, og], strides: vec![(og * k) as isize, 1, k as isize], offset: w.layout.offset },
    );
    matmul(f32op(&gc, &lgc), Operand { buf: w.buf, layout: &lwt, dtype: DType::F32 }, f32op(&gt, &lg))?;
    let n = g.n * g.c * g.h * g.w;
    let p = params(n, g, Some(dx.layout), None, None)?;
    let body = "    let x = i % W; var r = i / W; let y = r % H; r = r / H; let ci = r % C; let n = r / C;
    let gr = ci / cg; let c = ci % cg;
    var acc = 0.0;
    for (var a = 0u; a < KH; a = a + 1u) {
        let t = i32(y) + P0 - i32(a * D0);
        if (t < 0 || t % i32(S0) != 0) { continue; }
        let oh = u32(t) / S0;
        if (oh >= OH) { continue; }
        for (var b = 0u; b < KW; b = b + 1u) {
            let u = i32(x) + P1 - i32(b * D1);
            if (u < 0 || u % i32(S1) != 0) { continue; }
            let ow = u32(u) / S1;
            if (ow >= OW) { continue; }
            let k = (c * KH + a) * KW + b;
            acc = acc + bitcast<f32>(B1[((gr * K + k) * N + n) * L + oh * OW + ow]);
        }
    }
    B2[at4(17u, n, ci, y, x)] = bitcast<u32>(acc);";
    run("conv2d:col2im", body, &[&gc, dx.buf], &p, n)
}

/// `dw = Σₙ gy·colsᵀ`: one (og x N*L) @ (N*L x K) product per group; `dw` contiguous.
pub fn conv2d_grad_weight(x: Operand, gy: Operand, dw: Operand, g: &Geom) -> Result<()> {
    contiguous_weight(&dw)?;
    let (og, k, nl) = (g.o / g.groups, k_of(g), nl(g));
    let cols = im2col(&x, g)?;
    let (gt, _) = grouped(&gy, g)?;
    let (lg, lct, lw) = (
        Layout::contiguous(&[g.groups, og, nl]),
        Layout { shape: vec![g.groups, nl, k], strides: vec![(k * nl) as isize, 1, nl as isize], offset: 0 },
        Layout { shape: vec![g.groups, og, k], strides: vec![(og * k) as isize, k as isize, 1], offset: dw.layout.offset },
    );
    matmul(Operand { buf: dw.buf, layout: &lw, dtype: DType::F32 }, f32op(&gt, &lg), f32op(&cols, &lct))
}

/// `db = Σ gy` over the batch and the output plane, one thread per channel.
pub fn conv2d_grad_bias(gy: Operand, db: Operand, g: &Geom) -> Result<()> {
    let p = params(g.o, g, None, Some(gy.layout), Some(db.layout))?;
    let body = "    let o = i;
    var acc = 0.0;
    for (var n = 0u; n < N; n = n + 1u) {
        for (var oh = 0u; oh < OH; oh = oh + 1u) {
            for (var ow = 0u; ow < OW; ow = ow + 1u) {
                acc = acc + bitcast<f32>(B1[at4(22u, n, o, oh, ow)]);
            }
        }
    }
    B2[u32(pi(27u) + i32(o) * pi(28u))] = bitcast<u32>(acc);";
    run("conv2d:grad_bias", body, &[gy.buf, db.buf], &p, g.o)
}
