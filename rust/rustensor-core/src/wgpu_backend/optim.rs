//! GPU fused optimizer steps (see `wgsl/optim.wgsl`): one kernel per parameter, all of a
//! step recorded into the same submission.
use super::{bindings, gpu, grid, i32_word, load, render, store};
use crate::cpu_backend::optim::{AdamK, SgdK};
use crate::cpu_backend::Strided;
use crate::{bail, DType, Result};
use std::sync::Arc;

const TEMPLATE: &str = include_str!("wgsl/optim.wgsl");

fn buf<'a>(s: &Strided<'a>) -> Result<&'a Arc<super::Buffer>> {
    match s.gpu {
        Some(b) => Ok(b),
        None => bail!(Runtime, "internal: a CPU operand reached a GPU kernel"),
    }
}

fn params(op: &str, n: usize, flags: u32, ops: &[&Strided], consts: &[f32]) -> Result<Vec<u32>> {
    let mut p = vec![i32_word(op, n as isize)?, flags];
    for k in 0..5 {
        let off = ops.get(k).map(|s| s.layout.offset).unwrap_or(0);
        p.push(i32_word(op, off as isize)?);
    }
    p.extend(consts.iter().map(|c| c.to_bits()));
    Ok(p)
}

fn ld(k: usize) -> String {
    load(DType::F32, &format!("B{}", k + 1), &format!("off({k}u, i)"))
}

fn st(k: usize, v: &str) -> String {
    store(DType::F32, &format!("B{}", k + 1), &format!("off({k}u, i)"), v)
}

/// One Adam step of one parameter (float32); `wd_mode` 0 none, 1 coupled, 2 decoupled.
pub fn fused_adam(k: &AdamK<f32>, wd_mode: u8, p: Strided, g: Strided, m: Strided, v: Strided, mx: Option<Strided>) -> Result<()> {
    let n = p.layout.numel();
    if n == 0 {
        return Ok(());
    }
    let flags = match wd_mode {
        1 => 1,
        2 => 2,
        _ => 0,
    } | if mx.is_some() { 4 } else { 0 }
        | if k.small { 8 } else { 0 };
    let mxs = mx.unwrap_or(p);
    let ops = [&p, &g, &m, &v, &mxs];
    let consts = [k.sign, k.wd, k.decay, k.coeff, k.beta2, k.one_minus_beta2, k.bc2_sqrt, k.eps, k.neg_step_size];
    let pw = params("_fused_adam_ (gpu)", n, flags, &ops, &consts)?;
    let body = format!(
        "    var g = {g} * fw(7u);
    var p = {p};
    if ((flags & 1u) != 0u) {{ g = fma(p, fw(8u), g); }}
    if ((flags & 2u) != 0u) {{ p = p * fw(9u); }}
    let m0 = {m};
    let m = fma(fw(10u), g - m0, select(g, m0, (flags & 8u) != 0u));
    {sm}
    let v = fma(fw(12u) * g, g, {v} * fw(11u));
    {sv}
    var src = v;
    if ((flags & 4u) != 0u) {{
        src = fmax_nan({mx}, v);
        {smx}
    }}
    let denom = sqrt(src) / fw(13u) + fw(14u);
    {sp}",
        g = ld(1),
        p = ld(0),
        m = ld(2),
        sm = st(2, "m"),
        v = ld(3),
        sv = st(3, "v"),
        mx = ld(4),
        smx = st(4, "src"),
        sp = st(0, "p + fw(15u) * m / denom"),
    );
    let g_ = gpu()?;
    let pipe = g_.pipeline("optim:adam", || render(TEMPLATE, &[("BINDINGS", bindings(&[DType::F32; 5], false)), ("BODY", body)]))?;
    let bufs = [buf(&p)?, buf(&g)?, buf(&m)?, buf(&v)?, buf(&mxs)?];
    g_.dispatch(pipe, &bufs, &pw, grid(n)?)
}

/// One SGD step of one parameter (float32); `mbuf` is the momentum buffer and whether it is new.
pub fn fused_sgd(k: &SgdK<f32>, wd: bool, nesterov: bool, p: Strided, g: Strided, mbuf: Option<(Strided, bool)>) -> Result<()> {
    let n = p.layout.numel();
    if n == 0 {
        return Ok(());
    }
    let b = mbuf.map(|(s, _)| s).unwrap_or(p);
    let flags = (wd as u32) | if mbuf.is_some() { 2 } else { 0 } | if nesterov { 4 } else { 0 } | if mbuf.is_some_and(|(_, f)| f) { 8 } else { 0 };
    let ops = [&p, &g, &b];
    let consts = [k.sign, k.wd, k.momentum, k.one_minus_dampening, k.neg_lr];
    let pw = params("_fused_sgd_ (gpu)", n, flags, &ops, &consts)?;
    let body = format!(
        "    let p = {p};
    var g = {g} * fw(7u);
    if ((flags & 1u) != 0u) {{ g = fma(p, fw(8u), g); }}
    if ((flags & 2u) != 0u) {{
        var b = g;
        if ((flags & 8u) == 0u) {{ b = fma(g, fw(10u), {b} * fw(9u)); }}
        {sb}
        if ((flags & 4u) != 0u) {{ g = fma(b, fw(9u), g); }} else {{ g = b; }}
    }}
    {sp}",
        p = ld(0),
        g = ld(1),
        b = ld(2),
        sb = st(2, "b"),
        sp = st(0, "fma(g, fw(11u), p)"),
    );
    let g_ = gpu()?;
    let pipe = g_.pipeline("optim:sgd", || render(TEMPLATE, &[("BINDINGS", bindings(&[DType::F32; 3], false)), ("BODY", body)]))?;
    let bufs = [buf(&p)?, buf(&g)?, buf(&b)?];
    g_.dispatch(pipe, &bufs, &pw, grid(n)?)
}
