//! Elementwise GPU kernels: unary, binary, where, cast/copy and fill, over any strides.
use super::{bindings, collapse, conv, gpu, grid, i32_word, load, render, store, Operand};
use crate::layout::Layout;
use crate::op::{BinaryOp, TernaryOp, UnaryOp};
use crate::{bail, DType, Result, Scalar};
use std::sync::Arc;

// special.wgsl goes first: the op table's WGSL expressions call its functions
const TEMPLATE: &str = concat!(include_str!("wgsl/special.wgsl"), include_str!("wgsl/elementwise.wgsl"));

/// The op table's WGSL expression; the op layer has already rejected dtypes without one.
fn expr_of(name: &str, e: Option<&'static str>, dt: DType) -> Result<&'static str> {
    match e {
        Some(e) => Ok(e),
        None => bail!(Runtime, "internal error: {name} has no GPU kernel for {} (please report)", dt.name()),
    }
}

/// Records one elementwise kernel; `ins` are already broadcast to `out`'s shape.
fn launch(key: String, body: String, out: Operand, ins: &[Operand], scalar: u32) -> Result<()> {
    let n = out.layout.numel();
    if n == 0 {
        return Ok(());
    }
    // An input sharing the output's buffer through another layout would race: stage it.
    if ins.iter().any(|x| Arc::ptr_eq(x.buf, out.buf) && x.layout != out.layout) {
        let tmp = super::runtime::gpu()?.alloc((n * super::elem_bytes(out.dtype)?) as u64)?;
        let tl = Layout::contiguous(&out.layout.shape);
        let t = Operand { buf: &tmp, layout: &tl, dtype: out.dtype };
        launch(key.clone(), body.clone(), t, ins, scalar)?;
        return cast(out, t);
    }
    let g = gpu()?;
    let nops = ins.len() + 1;
    let mut strides: Vec<&[isize]> = vec![&out.layout.strides];
    strides.extend(ins.iter().map(|x| x.layout.strides.as_slice()));
    let (shape, cs) = collapse(&out.layout.shape, &strides);
    let rank = shape.len();
    let mut mask = 0u32;
    for (k, s) in cs.iter().enumerate() {
        if rank == 0 || (rank == 1 && s[0] == 1) {
            mask |= 1 << k;
        }
    }
    let op = "gpu elementwise";
    let mut p: Vec<u32> = vec![i32_word(op, n as isize)?, rank as u32, mask, scalar];
    p.extend(shape.iter().map(|&s| s as u32));
    let offsets = std::iter::once(out.layout.offset).chain(ins.iter().map(|x| x.layout.offset));
    for (off, s) in offsets.zip(&cs) {
        p.push(i32_word(op, off as isize)?);
        for &st in s {
            p.push(i32_word(op, st)?);
        }
    }
    let allmask = (1u32 << nops) - 1;
    let dts: Vec<DType> = std::iter::once(out.dtype).chain(ins.iter().map(|x| x.dtype)).collect();
    let pipe = g.pipeline(&format!("ew:{key}"), || {
        render(
            TEMPLATE,
            &[
                ("BINDINGS", bindings(&dts, false)),
                ("NOPS", nops.to_string()),
                ("ALLMASK", allmask.to_string()),
                ("BODY", body),
            ],
        )
    })?;
    let mut bufs = vec![out.buf];
    bufs.extend(ins.iter().map(|x| x.buf));
    g.dispatch(pipe, &bufs, &p, grid(n)?)
}

fn loads(ins: &[(DType, &str)]) -> String {
    ins.iter()
        .enumerate()
        .map(|(k, (dt, name))| format!("    let {name} = {};\n", load(*dt, &format!("B{}", k + 2), &format!("offs[{}]", k + 1))))
        .collect()
}

pub fn binary(op: BinaryOp, cdt: DType, out: Operand, a: Operand, b: Operand) -> Result<()> {
    let odt = out.dtype;
    let rdt = op.out_dtype(cdt);
    let expr = conv(if rdt == DType::Bool { DType::I32 } else { cdt }, odt, expr_of(op.name(), op.wgsl(cdt), cdt)?);
    let body = format!("{}    {}\n", loads(&[(cdt, "a"), (cdt, "b")]), store(odt, "B1", "o", &expr));
    launch(format!("bin:{op:?}:{cdt:?}:{odt:?}:{:?}:{:?}", a.dtype, b.dtype), body, out, &[a, b], 0)
}

pub fn unary(op: UnaryOp, dt: DType, out: Operand, a: Operand) -> Result<()> {
    let odt = out.dtype;
    let rdt = op.out_dtype(dt);
    let expr = conv(if rdt == DType::Bool { DType::I32 } else { dt }, odt, expr_of(op.name(), op.wgsl(dt), dt)?);
    let body = format!("{}    {}\n", loads(&[(dt, "a")]), store(odt, "B1", "o", &expr));
    launch(format!("un:{op:?}:{dt:?}:{odt:?}"), body, out, &[a], 0)
}

/// Copies `a` into `out` converting dtypes (also a plain strided copy).
pub fn cast(out: Operand, a: Operand) -> Result<()> {
    let expr = conv(a.dtype, out.dtype, "a");
    let body = format!("{}    {}\n", loads(&[(a.dtype, "a")]), store(out.dtype, "B1", "o", &expr));
    launch(format!("cast:{:?}:{:?}", a.dtype, out.dtype), body, out, &[a], 0)
}

pub fn fill(out: Operand, value: Scalar) -> Result<()> {
    let (bits, v) = if out.dtype.is_float() {
        ((value.to_f64() as f32).to_bits(), "bitcast<f32>(P[3])")
    } else {
        let i = match value {
            Scalar::Bool(b) => b as i64,
            Scalar::Int(i) => i,
            Scalar::Float(f) => f as i64,
        };
        let i = if out.dtype == DType::Bool { (i != 0) as i64 } else { i };
        (i as i32 as u32, "bitcast<i32>(P[3])")
    };
    let body = format!("    {}\n", store(out.dtype, "B1", "o", v));
    launch(format!("fill:{:?}", out.dtype), body, out, &[], bits)
}

/// `out = cond ? a : b`; `a` and `b` share `out`'s dtype.
pub fn where_(out: Operand, c: Operand, a: Operand, b: Operand) -> Result<()> {
    let body = format!(
        "{}    {}\n",
        loads(&[(c.dtype, "c"), (a.dtype, "a"), (b.dtype, "b")]),
        store(out.dtype, "B1", "o", &format!("select(b, a, c != {})", if c.dtype.is_float() { "0.0" } else { "0" }))
    );
    launch(format!("where:{:?}:{:?}", c.dtype, out.dtype), body, out, &[c, a, b], 0)
}

/// `out = op(a, b, c; v)`: all four of the compute dtype; the scalar travels as its bits.
pub fn ternary(op: TernaryOp, dt: DType, v: f64, out: Operand, a: Operand, b: Operand, c: Operand) -> Result<()> {
    let (bits, vexpr) = if dt.is_float() {
        ((v as f32).to_bits(), "bitcast<f32>(P[3])")
    } else {
        (v as i64 as i32 as u32, "bitcast<i32>(P[3])")
    };
    let body = format!(
        "{}    let v = {vexpr};\n    {}\n",
        loads(&[(a.dtype, "a"), (b.dtype, "b"), (c.dtype, "c")]),
        store(out.dtype, "B1", "o", &format!("({})", op.wgsl(dt)))
    );
    launch(format!("tern:{op:?}:{dt:?}:{:?}", out.dtype), body, out, &[a, b, c], bits)
}
