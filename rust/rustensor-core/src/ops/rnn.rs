//! The LSTM and GRU cells' pointwise math as core ops: one kernel per time step for the gate
//! nonlinearities and the state update (`cpu_backend/rnn.rs`, `wgsl/rnn.wgsl`), recorded as one
//! node whose backward is one kernel too. The matmuls stay outside (the caller's `x W_ihᵀ` for
//! all steps at once and `h W_hhᵀ` per step), so this replaces the ten or so small ops of a
//! step, and their saved tensors, with one.
//!
//! Under `create_graph` the backward is written in differentiable tensor ops instead, so higher
//! order gradients work as elsewhere.
use crate::backprop::{is_grad_enabled, record, GradFn, Saved};
use crate::cpu_backend::rnn::CellKind;
use crate::error::fmt_shape;
use crate::op::UnaryOp;
use crate::ops::{empty, same_device};
use crate::{bail, DType, Result, Tensor};

/// Checks that `ts` are 2-d float tensors of one dtype and device with `rows` rows and the
/// widths `kind` expects in units of `h`.
fn check(op: &str, ts: &[&Tensor], widths: &[usize], names: &[&str]) -> Result<(usize, usize)> {
    same_device(op, ts)?;
    let first = ts[0];
    if !first.dtype().is_float() {
        bail!(Type, "{op}: expected floating-point tensors, got {}", first.dtype().name());
    }
    for (t, name) in ts.iter().zip(names) {
        if t.dtype() != first.dtype() {
            bail!(Runtime, "{op}: expected {name} of dtype {}, got {}", first.dtype().name(), t.dtype().name());
        }
        if t.ndim() != 2 {
            bail!(Runtime, "{op}: expected {name} to be 2-d, got {}", fmt_shape(t.shape()));
        }
    }
    let rows = first.shape()[0];
    let w0 = widths[0];
    if !first.shape()[1].is_multiple_of(w0) {
        bail!(Runtime, "{op}: {} has {} columns, not a multiple of {w0}", names[0], first.shape()[1]);
    }
    let h = first.shape()[1] / w0;
    for ((t, &w), name) in ts.iter().zip(widths).zip(names) {
        if t.shape() != [rows, w * h] {
            bail!(Runtime, "{op}: expected {name} of shape [{rows}, {}], got {}", w * h, fmt_shape(t.shape()));
        }
    }
    Ok((rows, h))
}

/// Whether `t`'s rows can be handed to the kernels as they are: unit stride inside a row and a
/// non-negative row stride.
fn rows_ok(t: &Tensor) -> bool {
    let (sh, st) = (t.shape(), &t.layout().strides);
    (st[1] == 1 || sh[1] <= 1) && st[0] >= 0
}

/// Runs one cell pass of `kind` into `outs` (fresh, or disjoint rows of a fresh buffer).
fn cell_into(kind: CellKind, ins: &[&Tensor], outs: &[&Tensor], rows: usize, h: usize) -> Result<()> {
    if rows * h == 0 {
        return Ok(());
    }
    let owned: Vec<Tensor> = ins.iter().map(|t| if rows_ok(t) { Ok((*t).clone()) } else { t.contiguous_owned() }).collect::<Result<_>>()?;
    let si: Vec<_> = owned.iter().map(|t| t.strided()).collect();
    let so: Vec<_> = outs.iter().map(|t| t.strided()).collect();
    crate::kernels::rnn_cell(ins[0].dtype(), kind, &si, &so, rows, h)
}

/// Runs one cell pass into fresh contiguous outputs (float16/bfloat16 computed in float32).
fn launch(kind: CellKind, ins: &[&Tensor], rows: usize, h: usize) -> Result<Vec<Tensor>> {
    let dt = ins[0].dtype();
    if matches!(dt, DType::F16 | DType::BF16) {
        let wide = ins.iter().map(|t| t.to_dtype(DType::F32)).collect::<Result<Vec<_>>>()?;
        let refs: Vec<&Tensor> = wide.iter().collect();
        let outs = launch(kind, &refs, rows, h)?;
        return outs.iter().map(|t| t.to_dtype(dt)).collect();
    }
    let (_, wo) = kind.widths();
    let outs = wo.iter().map(|&w| empty(&[rows, w * h], dt, ins[0].device())).collect::<Result<Vec<_>>>()?;
    cell_into(kind, ins, &outs.iter().collect::<Vec<_>>(), rows, h)?;
    Ok(outs)
}

impl Tensor {
    /// One LSTM step's pointwise math: `self` holds the gate pre-activations (rows, 4h) in
    /// torch's order [i | f | g | o], `c` the previous cell state (rows, h). Returns
    /// (rows, 2h) = [h' | c'] with c' = σ(f) c + σ(i) tanh(g) and h' = σ(o) tanh(c').
    pub fn lstm_cell(&self, c: &Tensor) -> Result<Tensor> {
        let (rows, h) = check("lstm_cell", &[self, c], &[4, 1], &["gates", "cx"])?;
        let out = launch(CellKind::LstmForward, &[self, c], rows, h)?.remove(0);
        Ok(record(out, "LstmCellBackward0", &[self, c], |o, w| GradFn::LstmCell {
            gates: Saved::input(self),
            c: Saved::input(c),
            out: Saved::output(o, w),
        }))
    }

    /// One GRU step's pointwise math: `self` = W_ih x + b_ih and `hg` = W_hh h + b_hh, both
    /// (rows, 3h) in torch's order [r | z | n], and the previous state `hx` (rows, h). Returns
    /// h' = n + z (hx - n) with r, z = σ(x + h) and n = tanh(x_n + r h_n).
    pub fn gru_cell(&self, hg: &Tensor, hx: &Tensor) -> Result<Tensor> {
        let (rows, h) = check("gru_cell", &[self, hg, hx], &[3, 3, 1], &["input gates", "hidden gates", "hx"])?;
        let out = launch(CellKind::GruForward, &[self, hg, hx], rows, h)?.remove(0);
        Ok(record(out, "GruCellBackward0", &[self, hg, hx], |_, _| GradFn::GruCell {
            xg: Saved::input(self),
            hg: Saved::input(hg),
            hx: Saved::input(hx),
        }))
    }
}

impl Tensor {
    /// One direction of an LSTM layer over a whole sequence, as one recorded op: `self` holds
    /// the input projections x W_ihᵀ + b_ih + b_hh of every step (T, B, 4h), `h0`/`c0` the
    /// initial states (B, h), `w_hh` the hidden weights (4h, h); `reverse` runs from the last
    /// step to the first. Returns (T, B, 2h): [h_t | c_t] of each step, so the output is
    /// `[..., :h]` and the final states are the last-run step's halves.
    ///
    /// Per step one matmul and one cell kernel, no graph; the backward runs the recurrence
    /// backwards in the same way and the hidden weights' gradient is one matmul over all
    /// steps (instead of a matmul and an accumulation per step).
    pub fn lstm_layer(&self, h0: &Tensor, c0: &Tensor, w_hh: &Tensor, reverse: bool) -> Result<Tensor> {
        let (t_len, b, h) = check_layer("lstm_layer", self, 4, &[(h0, "hx"), (c0, "cx")], w_hh)?;
        let hc = empty(&[t_len, b, 2 * h], self.dtype(), self.device())?;
        let mut gates = Vec::with_capacity(t_len);
        {
            let _ng = crate::backprop::GradModeGuard::new(false);
            let wt = w_hh.t()?;
            let mut prev: Option<Tensor> = None;
            for &t in &order(t_len, reverse) {
                let (hp, cp) = match &prev {
                    None => (h0.clone(), c0.clone()),
                    Some(p) => (cols(p, 0, h)?, cols(p, 1, h)?),
                };
                let g = hp.matmul(&wt)?;
                g.add_inplace_raw(&self.select(0, t as i64)?)?;
                let out = hc.select(0, t as i64)?;
                cell_into(CellKind::LstmForward, &[&g, &cp], &[&out], b, h)?;
                gates.push(g);
                prev = Some(out);
            }
        }
        if !is_grad_enabled() || ![self, h0, c0, w_hh].iter().any(|t| t.requires_grad()) {
            return Ok(hc);
        }
        Ok(record(hc, "LstmBackward0", &[self, h0, c0, w_hh], |o, wk| GradFn::LstmLayer {
            xp: Saved::input(self),
            h0: Saved::input(h0),
            c0: Saved::input(c0),
            w: Saved::input(w_hh),
            hc: Saved::output(o, wk),
            gates,
            reverse,
        }))
    }
}

/// The steps in the order the recurrence runs them.
fn order(t_len: usize, reverse: bool) -> Vec<usize> {
    if reverse {
        (0..t_len).rev().collect()
    } else {
        (0..t_len).collect()
    }
}

/// The gradients of [`Tensor::lstm_layer`] for (xp, h0, c0, w_hh). `gates` are the forward's
/// gate pre-activations in run order; under create_graph they are recomputed with
/// differentiable ops from the inputs and the (re-attached) output instead.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lstm_layer_backward(
    name: &str,
    g: &Tensor,
    xp: &Saved,
    h0: &Saved,
    c0: &Saved,
    w: &Saved,
    hc: &Saved,
    gates: &[Tensor],
    reverse: bool,
) -> Result<Vec<Option<Tensor>>> {
    let (xp, h0, c0, w, hc) = (xp.get(name)?, h0.get(name)?, c0.get(name)?, w.get(name)?, hc.get(name)?);
    let (t_len, b, h) = (hc.shape()[0], hc.shape()[1], hc.shape()[2] / 2);
    let g = g.to_dtype(hc.dtype())?;
    let diff = differentiable(&[&g, &xp, &h0, &c0, &w]);
    let run = order(t_len, reverse);
    let prev = |p: usize, k: i64| -> Result<Tensor> {
        match p {
            0 => Ok(if k == 0 { h0.clone() } else { c0.clone() }),
            _ => cols(&hc.select(0, run[p - 1] as i64)?, k, h),
        }
    };
    let mut dgs: Vec<Option<Tensor>> = vec![None; t_len];
    let mut carry: Option<(Tensor, Tensor)> = None;
    let wt = w.t()?;
    for p in (0..t_len).rev() {
        let t = run[p] as i64;
        let mut ghc = g.select(0, t)?;
        if let Some((dh, dc)) = &carry {
            ghc = ghc.add(&Tensor::cat(&[dh.clone(), dc.clone()], 1)?)?;
        }
        let gt = if diff { xp.select(0, t)?.add(&prev(p, 0)?.matmul(&wt)?)? } else { gates[p].clone() };
        let [dg, dc] = lstm_cell_grads(&gt, &prev(p, 1)?, &hc.select(0, t)?, &ghc, b, h)?;
        carry = Some((dg.matmul(&w)?, dc));
        dgs[t as usize] = Some(dg);
    }
    let dgs: Vec<Tensor> = dgs.into_iter().flatten().collect();
    let dxp = Tensor::stack(&dgs, 0)?;
    let hs = cols(&hc.reshape(&[t_len * b, 2 * h])?, 0, h)?.reshape(&[t_len, b, h])?;
    let dw = dxp.reshape(&[t_len * b, 4 * h])?.mt()?.matmul(&previous_states(&hs, &h0, reverse)?)?;
    let (dh0, dc0) = carry.map(|(a, c)| (Some(a), Some(c))).unwrap_or((None, None));
    Ok(vec![Some(dxp), dh0, dc0, Some(dw)])
}

fn sig(t: &Tensor) -> Result<Tensor> {
    t.unary(UnaryOp::Sigmoid)
}

fn tanh(t: &Tensor) -> Result<Tensor> {
    t.unary(UnaryOp::Tanh)
}

/// `1 - t`.
fn one_minus(t: &Tensor) -> Result<Tensor> {
    t.neg()?.add_scalar(1.0)
}

/// Column block `k` (h wide) of a 2-d tensor.
fn cols(t: &Tensor, k: i64, h: usize) -> Result<Tensor> {
    t.narrow(1, k * h as i64, h as i64)
}

/// Whether the backward must itself be differentiable (create_graph with a graph to extend).
fn differentiable(ts: &[&Tensor]) -> bool {
    is_grad_enabled() && ts.iter().any(|t| t.requires_grad())
}

/// (d gates, d c) of one LSTM step for the incoming gradient `g` of [h' | c']: the fused
/// kernel, or differentiable ops when a graph is being recorded.
fn lstm_cell_grads(gt: &Tensor, ct: &Tensor, ot: &Tensor, g: &Tensor, rows: usize, h: usize) -> Result<[Tensor; 2]> {
    if !differentiable(&[g, gt, ct]) {
        let mut r = launch(CellKind::LstmBackward, &[gt, ct, ot, g], rows, h)?;
        let dc = r.pop();
        return match (r.pop(), dc) {
            (Some(dg), Some(dc)) => Ok([dg, dc]),
            _ => bail!(Runtime, "internal: lstm_cell backward returned too few gradients"),
        };
    }
    let (si, sf, tg, so) = (sig(&cols(gt, 0, h)?)?, sig(&cols(gt, 1, h)?)?, tanh(&cols(gt, 2, h)?)?, sig(&cols(gt, 3, h)?)?);
    let cn = sf.mul(ct)?.add(&si.mul(&tg)?)?;
    let t = tanh(&cn)?;
    let (gh, gc) = (cols(g, 0, h)?, cols(g, 1, h)?);
    let d = gc.add(&gh.mul(&so)?.mul(&one_minus(&t.mul(&t)?)?)?)?;
    let di = d.mul(&tg)?.mul(&si)?.mul(&one_minus(&si)?)?;
    let df = d.mul(ct)?.mul(&sf)?.mul(&one_minus(&sf)?)?;
    let dg = d.mul(&si)?.mul(&one_minus(&tg.mul(&tg)?)?)?;
    let dout = gh.mul(&t)?.mul(&so)?.mul(&one_minus(&so)?)?;
    Ok([Tensor::cat(&[di, df, dg, dout], 1)?, d.mul(&sf)?])
}

/// (d gates, d c) of [`Tensor::lstm_cell`] for the incoming gradient `g` of [h' | c'].
pub(crate) fn lstm_cell_backward(name: &str, g: &Tensor, gates: &Saved, c: &Saved, out: &Saved) -> Result<Vec<Option<Tensor>>> {
    let (gt, ct, ot) = (gates.get(name)?, c.get(name)?, out.get(name)?);
    let (rows, h) = (ct.shape()[0], ct.shape()[1]);
    let g = g.to_dtype(gt.dtype())?;
    let [dg, dc] = lstm_cell_grads(&gt, &ct, &ot, &g, rows, h)?;
    Ok(vec![Some(dg), Some(dc)])
}

/// (d xg, d hg, d hx) of one GRU step for the incoming gradient `g` of h': the fused kernel,
/// or differentiable ops when a graph is being recorded.
fn gru_cell_grads(xt: &Tensor, ht: &Tensor, hp: &Tensor, g: &Tensor, rows: usize, h: usize) -> Result<[Tensor; 3]> {
    if !differentiable(&[g, xt, ht, hp]) {
        let mut r = launch(CellKind::GruBackward, &[xt, ht, hp, g], rows, h)?;
        let (dh, dhg, dx) = (r.pop(), r.pop(), r.pop());
        return match (dx, dhg, dh) {
            (Some(a), Some(b), Some(c)) => Ok([a, b, c]),
            _ => bail!(Runtime, "internal: gru_cell backward returned too few gradients"),
        };
    }
    let r = sig(&cols(xt, 0, h)?.add(&cols(ht, 0, h)?)?)?;
    let z = sig(&cols(xt, 1, h)?.add(&cols(ht, 1, h)?)?)?;
    let hn = cols(ht, 2, h)?;
    let n = tanh(&cols(xt, 2, h)?.add(&r.mul(&hn)?)?)?;
    let dn = g.mul(&one_minus(&z)?)?.mul(&one_minus(&n.mul(&n)?)?)?;
    let dr = dn.mul(&hn)?.mul(&r)?.mul(&one_minus(&r)?)?;
    let dz = g.mul(&hp.sub(&n)?)?.mul(&z)?.mul(&one_minus(&z)?)?;
    let dx = Tensor::cat(&[dr.clone(), dz.clone(), dn.clone()], 1)?;
    let dhg = Tensor::cat(&[dr, dz, dn.mul(&r)?], 1)?;
    Ok([dx, dhg, g.mul(&z)?])
}

/// (d xg, d hg, d hx) of [`Tensor::gru_cell`] for the incoming gradient `g` of h'.
pub(crate) fn gru_cell_backward(name: &str, g: &Tensor, xg: &Saved, hg: &Saved, hx: &Saved) -> Result<Vec<Option<Tensor>>> {
    let (xt, ht, hp) = (xg.get(name)?, hg.get(name)?, hx.get(name)?);
    let (rows, h) = (hp.shape()[0], hp.shape()[1]);
    let g = g.to_dtype(xt.dtype())?;
    Ok(gru_cell_grads(&xt, &ht, &hp, &g, rows, h)?.into_iter().map(Some).collect())
}

/// Checks the operands of a whole-layer op: (T > 0, B, gates * h) projections, (B, h) states
/// and a (gates * h, h) hidden weight of one float32/float64 dtype and device.
fn check_layer(op: &str, xp: &Tensor, gates: usize, states: &[(&Tensor, &str)], w: &Tensor) -> Result<(usize, usize, usize)> {
    let mut all: Vec<&Tensor> = vec![xp, w];
    all.extend(states.iter().map(|(t, _)| *t));
    same_device(op, &all)?;
    let sh = xp.shape();
    if sh.len() != 3 || !sh[2].is_multiple_of(gates) || sh[0] == 0 {
        bail!(Runtime, "{op}: expected input projections of shape (T > 0, B, {gates}h), got {}", fmt_shape(sh));
    }
    let (t_len, b, h) = (sh[0], sh[1], sh[2] / gates);
    if !matches!(xp.dtype(), DType::F32 | DType::F64) {
        bail!(Type, "{op}: expected float32 or float64 tensors, got {}", xp.dtype().name());
    }
    let mut want: Vec<(&Tensor, &str, Vec<usize>)> = states.iter().map(|(t, n)| (*t, *n, vec![b, h])).collect();
    want.push((w, "weight_hh", vec![gates * h, h]));
    for (t, name, shape) in want {
        if t.dtype() != xp.dtype() {
            bail!(Runtime, "{op}: expected {name} of dtype {}, got {}", xp.dtype().name(), t.dtype().name());
        }
        if t.shape() != shape.as_slice() {
            bail!(Runtime, "{op}: expected {name} of shape {}, got {}", fmt_shape(&shape), fmt_shape(t.shape()));
        }
    }
    Ok((t_len, b, h))
}

/// The hidden state each step saw, in time order, as (T * B, h): `hs` is (T, B, h) of the
/// outputs, `h0` the initial state.
fn previous_states(hs: &Tensor, h0: &Tensor, reverse: bool) -> Result<Tensor> {
    let (t_len, b, h) = (hs.shape()[0], hs.shape()[1], hs.shape()[2]);
    let h0e = h0.unsqueeze(0)?;
    let prev = match (t_len, reverse) {
        (1, _) => h0e,
        (_, false) => Tensor::cat(&[h0e, hs.narrow(0, 0, t_len as i64 - 1)?], 0)?,
        (_, true) => Tensor::cat(&[hs.narrow(0, 1, t_len as i64 - 1)?, h0e], 0)?,
    };
    prev.reshape(&[t_len * b, h])
}

impl Tensor {
    /// One direction of a GRU layer over a whole sequence, as one recorded op: `self` holds
    /// x W_ihᵀ + b_ih of every step (T, B, 3h), `h0` the initial state (B, h), `w_hh` (3h, h)
    /// and `b_hh` (3h) the hidden weights. Returns the states (T, B, h); the final state is the
    /// last-run step's. Per step one matmul and the cell kernel; the backward runs the
    /// recurrence backwards and the weights' gradients are one matmul and one sum over steps.
    pub fn gru_layer(&self, h0: &Tensor, w_hh: &Tensor, b_hh: Option<&Tensor>, reverse: bool) -> Result<Tensor> {
        let op = "gru_layer";
        let (t_len, b, h) = check_layer(op, self, 3, &[(h0, "hx")], w_hh)?;
        if let Some(bias) = b_hh {
            same_device(op, &[self, bias])?;
            if bias.dtype() != self.dtype() || bias.shape() != [3 * h] {
                bail!(Runtime, "{op}: expected bias_hh of dtype {} and shape [{}], got {} {}", self.dtype().name(), 3 * h, bias.dtype().name(), fmt_shape(bias.shape()));
            }
        }
        let hs = empty(&[t_len, b, h], self.dtype(), self.device())?;
        let mut hg = Vec::with_capacity(t_len);
        {
            let _ng = crate::backprop::GradModeGuard::new(false);
            let wt = w_hh.t()?;
            let mut prev = h0.clone();
            for &t in &order(t_len, reverse) {
                let gh = prev.matmul(&wt)?;
                if let Some(bias) = b_hh {
                    gh.add_inplace_raw(bias)?;
                }
                let out = hs.select(0, t as i64)?;
                cell_into(CellKind::GruForward, &[&self.select(0, t as i64)?, &gh, &prev], &[&out], b, h)?;
                hg.push(gh);
                prev = out;
            }
        }
        let mut inputs = vec![self, h0, w_hh];
        inputs.extend(b_hh);
        if !is_grad_enabled() || !inputs.iter().any(|t| t.requires_grad()) {
            return Ok(hs);
        }
        Ok(record(hs, "GruBackward0", &inputs, |o, wk| GradFn::GruLayer {
            xp: Saved::input(self),
            h0: Saved::input(h0),
            w: Saved::input(w_hh),
            b: b_hh.map(Saved::input),
            hs: Saved::output(o, wk),
            hg,
            reverse,
        }))
    }
}

/// The gradients of [`Tensor::gru_layer`] for (xp, h0, w_hh[, b_hh]); `hg` are the forward's
/// hidden projections in run order (recomputed with differentiable ops under create_graph).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gru_layer_backward(
    name: &str,
    g: &Tensor,
    xp: &Saved,
    h0: &Saved,
    w: &Saved,
    b: Option<&Saved>,
    hs: &Saved,
    hg: &[Tensor],
    reverse: bool,
) -> Result<Vec<Option<Tensor>>> {
    let (xp, h0, w, hs) = (xp.get(name)?, h0.get(name)?, w.get(name)?, hs.get(name)?);
    let bias = b.map(|b| b.get(name)).transpose()?;
    let (t_len, bsz, h) = (hs.shape()[0], hs.shape()[1], hs.shape()[2]);
    let g = g.to_dtype(hs.dtype())?;
    let mut check: Vec<&Tensor> = vec![&g, &xp, &h0, &w];
    check.extend(bias.as_ref());
    let diff = differentiable(&check);
    let run = order(t_len, reverse);
    let prev = |p: usize| -> Result<Tensor> { if p == 0 { Ok(h0.clone()) } else { hs.select(0, run[p - 1] as i64) } };
    let (mut dxs, mut dhs): (Vec<Option<Tensor>>, Vec<Option<Tensor>>) = (vec![None; t_len], vec![None; t_len]);
    let mut carry: Option<Tensor> = None;
    let wt = w.t()?;
    for p in (0..t_len).rev() {
        let t = run[p] as i64;
        let mut gh = g.select(0, t)?;
        if let Some(c) = &carry {
            gh = gh.add(c)?;
        }
        let hp = prev(p)?;
        let ht = if diff {
            let m = hp.matmul(&wt)?;
            match &bias {
                Some(b) => m.add(b)?,
                None => m,
            }
        } else {
            hg[p].clone()
        };
        let [dx, dhg, dh] = gru_cell_grads(&xp.select(0, t)?, &ht, &hp, &gh, bsz, h)?;
        carry = Some(dh.add(&dhg.matmul(&w)?)?);
        dxs[t as usize] = Some(dx);
        dhs[t as usize] = Some(dhg);
    }
    let dxp = Tensor::stack(&dxs.into_iter().flatten().collect::<Vec<_>>(), 0)?;
    let dhg = Tensor::stack(&dhs.into_iter().flatten().collect::<Vec<_>>(), 0)?.reshape(&[t_len * bsz, 3 * h])?;
    let dw = dhg.mt()?.matmul(&previous_states(&hs, &h0, reverse)?)?;
    let mut out = vec![Some(dxp), carry, Some(dw)];
    if bias.is_some() {
        out.push(Some(dhg.sum_dims(&[0], false)?));
    }
    Ok(out)
}
