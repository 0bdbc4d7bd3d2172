//! GPU fused LSTM/GRU cell passes (see `wgsl/rnn.wgsl`): one thread per (row, unit).
use super::{bindings, gpu, grid, i32_word, render, Operand};
use crate::cpu_backend::rnn::CellKind;
use crate::{bail, DType, Result};

const TEMPLATE: &str = include_str!("wgsl/rnn.wgsl");

/// Element (r, gate * h + j) of binding `k` (`_width`, the row's units of `h`, documents the
/// operand; the row stride comes from the parameters).
fn ld(k: usize, _width: usize, gate: usize) -> String {
    format!("bitcast<f32>(B{}[at({k}u, r, {gate}u * h + j)])", k + 1)
}

fn st(k: usize, _width: usize, gate: usize, v: &str) -> String {
    format!("B{}[at({k}u, r, {gate}u * h + j)] = bitcast<u32>({v});", k + 1)
}

/// The GRU gates r (`rg`), z and n of the element from the projections in B1 and B2.
fn gru_gates() -> String {
    format!(
        "    let rg = sigmoid_f({} + {});
    let z = sigmoid_f({} + {});
    let hn = {};
    let n = tanh_f({} + rg * hn);",
        ld(0, 3, 0),
        ld(1, 3, 0),
        ld(0, 3, 1),
        ld(1, 3, 1),
        ld(1, 3, 2),
        ld(0, 3, 2)
    )
}

fn body(kind: CellKind) -> String {
    match kind {
        CellKind::LstmForward => format!(
            "    let cn = sigmoid_f({f}) * {c} + sigmoid_f({i}) * tanh_f({g});
    {sc}
    {sh}",
            i = ld(0, 4, 0),
            f = ld(0, 4, 1),
            g = ld(0, 4, 2),
            c = ld(1, 1, 0),
            sc = st(2, 2, 1, "cn"),
            sh = st(2, 2, 0, &format!("sigmoid_f({}) * tanh_f(cn)", ld(0, 4, 3))),
        ),
        CellKind::LstmBackward => format!(
            "    let si = sigmoid_f({i});
    let sf = sigmoid_f({f});
    let tg = tanh_f({g});
    let so = sigmoid_f({o});
    let t = tanh_f({cn});
    let gh = {gh};
    let d = {gc} + gh * so * (1.0 - t * t);
    {di}
    {df}
    {dg}
    {do_}
    {dc}",
            i = ld(0, 4, 0),
            f = ld(0, 4, 1),
            g = ld(0, 4, 2),
            o = ld(0, 4, 3),
            cn = ld(2, 2, 1),
            gh = ld(3, 2, 0),
            gc = ld(3, 2, 1),
            di = st(4, 4, 0, "d * tg * si * (1.0 - si)"),
            df = st(4, 4, 1, &format!("d * {} * sf * (1.0 - sf)", ld(1, 1, 0))),
            dg = st(4, 4, 2, "d * si * (1.0 - tg * tg)"),
            do_ = st(4, 4, 3, "gh * t * so * (1.0 - so)"),
            dc = st(5, 1, 0, "d * sf"),
        ),
        CellKind::GruForward => format!("{}\n    {}", gru_gates(), st(3, 1, 0, &format!("n + z * ({} - n)", ld(2, 1, 0)))),
        CellKind::GruBackward => format!(
            "{gates}
    let g = {g};
    let dn = g * (1.0 - z) * (1.0 - n * n);
    let dr = dn * hn * rg * (1.0 - rg);
    let dz = g * ({hp} - n) * z * (1.0 - z);
    {a}
    {b}
    {c}
    {d}
    {e}
    {f}
    {dh}",
            gates = gru_gates(),
            hp = ld(2, 1, 0),
            g = ld(3, 1, 0),
            a = st(4, 3, 0, "dr"),
            b = st(4, 3, 1, "dz"),
            c = st(4, 3, 2, "dn"),
            d = st(5, 3, 0, "dr"),
            e = st(5, 3, 1, "dz"),
            f = st(5, 3, 2, "dn * rg"),
            dh = st(6, 1, 0, "g * z"),
        ),
    }
}

/// One cell pass of `kind` over float32 operands (inputs then outputs), rows of unit stride.
pub fn rnn_cell(kind: CellKind, ins: &[Operand], outs: &[Operand], rows: usize, h: usize) -> Result<()> {
    let op = "rnn_cell (gpu)";
    let all: Vec<&Operand> = ins.iter().chain(outs).collect();
    let (wi, wo) = kind.widths();
    if ins.len() != wi.len() || outs.len() != wo.len() || all.iter().any(|o| o.dtype != DType::F32) {
        bail!(Runtime, "internal: {op} got {} inputs and {} outputs for {kind:?}", ins.len(), outs.len());
    }
    let n = rows * h;
    if n == 0 {
        return Ok(());
    }
    let mut p = vec![i32_word(op, n as isize)?, i32_word(op, h as isize)?];
    for k in 0..7 {
        p.push(i32_word(op, all.get(k).map(|o| o.layout.offset).unwrap_or(0) as isize)?);
    }
    for k in 0..7 {
        p.push(i32_word(op, all.get(k).map(|o| o.layout.strides[0]).unwrap_or(0))?);
    }
    let g = gpu()?;
    let key = match kind {
        CellKind::LstmForward => "rnn:lstm_fwd",
        CellKind::LstmBackward => "rnn:lstm_bwd",
        CellKind::GruForward => "rnn:gru_fwd",
        CellKind::GruBackward => "rnn:gru_bwd",
    };
    let dts = vec![DType::F32; all.len()];
    let pipe = g.pipeline(key, || render(TEMPLATE, &[("BINDINGS", bindings(&dts, false)), ("BODY", body(kind))]))?;
    let bufs: Vec<_> = all.iter().map(|o| o.buf).collect();
    g.dispatch(pipe, &bufs, &p, grid(n)?)
}
