//! Reverse-mode autograd: graph nodes, saved tensors, grad mode, and the backward engine.
//!
//! Each differentiable op on inputs that require grad creates a [`Node`] holding a
//! [`GradFn`] (what it saved) and edges to its inputs' nodes; leaves get an AccumulateGrad
//! node. `backward` counts dependencies once, then runs nodes in reverse topological order.
//! The graph is owned by the tensors that reach it, so it dies with them.
use crate::ops::view::ViewFn;
use crate::tensor::{Tensor, TensorImpl};
use crate::{bail, DType, Error, Result};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

pub type Hook = Arc<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;
/// A backward written outside the engine (Python's `autograd.Function`): from the gradient
/// of one output and the function's saved outputs (re-attached to their nodes, so a
/// differentiable backward builds higher-order graphs), one gradient or none per input.
pub type CustomBackward = Arc<dyn Fn(&Tensor, &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> + Send + Sync>;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops record graph nodes on this thread (`torch.is_grad_enabled()`).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}
pub fn set_grad_enabled(on: bool) -> bool {
    GRAD_ENABLED.with(|g| g.replace(on))
}

/// Restores the previous grad mode when dropped.
pub struct GradModeGuard(bool);
impl GradModeGuard {
    pub fn new(on: bool) -> Self {
        GradModeGuard(set_grad_enabled(on))
    }
}
impl Drop for GradModeGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.0);
    }
}

/// A tensor an op kept for its backward, with the version it had then.
pub struct Saved {
    t: Tensor,
    version: u64,
    /// Set when the saved tensor is the op's own output: re-attached on unpack so that
    /// higher-order graphs see it, without a strong cycle node -> output -> node.
    output_of: Option<Weak<Node>>,
}

impl Saved {
    pub fn input(t: &Tensor) -> Saved {
        Saved { t: t.clone(), version: t.version(), output_of: None }
    }
    pub fn output(t: &Tensor, node: &Weak<Node>) -> Saved {
        Saved { t: t.detach(), version: t.version(), output_of: Some(node.clone()) }
    }
    pub fn numel(&self) -> usize {
        self.t.numel()
    }
    pub fn get(&self, node_name: &str) -> Result<Tensor> {
        let now = self.t.version();
        if now != self.version {
            bail!(
                Runtime,
                "one of the variables needed for gradient computation has been modified by an inplace operation: [{} {:?}], which is used by {node_name}, is at version {now}; expected version {} instead. Hint: the backtrace further above shows the operation that failed to compute its gradient. The variable in question was changed in there or anywhere later. Good luck!",
                self.t.dtype().name(),
                self.t.shape(),
                self.version
            );
        }
        match &self.output_of {
            None => Ok(self.t.clone()),
            Some(w) => {
                let t = self.t.detach();
                if let Some(n) = w.upgrade() {
                    t.set_grad_fn(n);
                }
                Ok(t)
            }
        }
    }
}

/// What each op saved for its backward. One variant per differentiable primitive.
pub enum GradFn {
    /// Every op of the binary table; its row says what is saved and the formula.
    Binary { op: crate::op::BinaryOp, a: Option<Saved>, b: Option<Saved>, out: Option<Saved> },
    /// Every op of the unary table.
    Unary { op: crate::op::UnaryOp, x: Option<Saved>, out: Option<Saved> },
    Clamp { x: Saved, min: Option<f64>, max: Option<f64> },
    /// addcmul/addcdiv/lerp: all three inputs saved, and the scalar.
    Ternary { op: crate::op::TernaryOp, value: f64, a: Saved, b: Saved, c: Saved },
    Where { cond: Tensor, a: Vec<usize>, b: Vec<usize> },
    Cast { from: DType },
    /// A copy across devices; the gradient goes back to the source device.
    ToDevice { device: crate::Device },
    Identity,
    ZeroGrad,
    Scatter { dim: usize, index: Tensor },
    Sum { shape: Vec<usize>, dims: Vec<usize>, keepdim: bool },
    Prod { x: Saved, out: Saved, dims: Vec<usize>, keepdim: bool },
    /// max/min/amax/amin: gradient shared evenly among tied extremes.
    Extreme { x: Saved, out: Saved, dims: Vec<usize>, keepdim: bool },
    /// max(dim)/min(dim): gradient goes to the returned index.
    ExtremeDim { shape: Vec<usize>, indices: Tensor, dim: usize, keepdim: bool },
    Softmax { out: Saved, dim: usize },
    LogSoftmax { out: Saved, dim: usize },
    Cumsum { dim: usize },
    Cumprod { x: Saved, out: Saved, dim: usize },
    Logcumsumexp { x: Saved, out: Saved, dim: usize },
    /// cummax/cummin: the gradient goes to the element each index names.
    CumExtreme { shape: Vec<usize>, indices: Tensor, dim: usize },
    Matmul { a: Saved, b: Saved },
    Reshape { shape: Vec<usize> },
    Permute { dims: Vec<usize> },
    Expand { shape: Vec<usize> },
    View { shape: Vec<usize>, view: ViewFn },
    ViewScatter { view: ViewFn },
    Index { shape: Vec<usize>, dims: Vec<usize>, indices: Vec<Tensor> },
    IndexPutAcc { dims: Vec<usize>, indices: Vec<Tensor> },
    IndexPut { dims: Vec<usize>, indices: Vec<Tensor>, values_shape: Vec<usize> },
    Gather { shape: Vec<usize>, dim: usize, index: Tensor },
    ScatterAdd { dim: usize, index: Tensor },
    Cat { dim: usize, sizes: Vec<usize> },
    /// A user-defined backward (`autograd.Function`); `outputs` is shared by the nodes of
    /// all the function's outputs and holds those its backward asked to keep.
    Custom { f: CustomBackward, inputs: usize, outputs: Arc<Mutex<Vec<Option<Saved>>>> },
    /// ctc_loss per sequence: the kernel's gradient, scaled by each loss's incoming gradient.
    Ctc { grad: Tensor },
    /// conv2d: inputs are (input, weight[, bias]); the backward runs three kernels.
    /// A fused LSTM cell step (`ops/rnn.rs`): gates and c in, [h' | c'] out.
    LstmCell { gates: Saved, c: Saved, out: Saved },
    /// A whole LSTM layer direction (`ops/rnn.rs`): the gate pre-activations of each step in
    /// run order are kept for the backward.
    LstmLayer { xp: Saved, h0: Saved, c0: Saved, w: Saved, hc: Saved, gates: Vec<Tensor>, reverse: bool },
    /// A whole GRU layer direction: the hidden projections of each step in run order.
    GruLayer { xp: Saved, h0: Saved, w: Saved, b: Option<Saved>, hs: Saved, hg: Vec<Tensor>, reverse: bool },
    /// Layer/RMS/group normalisation (`ops/norm.rs`): inputs are (x[, weight][, bias]); the
    /// per-row mean and 1/std of the forward are kept.
    Norm { x: Saved, w: Option<Saved>, has_bias: bool, mean: Tensor, rstd: Tensor, geom: crate::cpu_backend::norm::NormGeom, wshape: Vec<usize> },
    /// Per-row cross-entropy of logits (`ops/xent.rs`): the targets, the (constant) class
    /// weights and each row's log-sum-exp are kept.
    Xent { x: Saved, target: Tensor, w: Option<Tensor>, lse: Tensor, geom: crate::cpu_backend::xent::XentGeom },
    /// A fused GRU cell step: input and hidden projections and the previous state in.
    GruCell { xg: Saved, hg: Saved, hx: Saved },
    Conv2d { input: Saved, weight: Saved, has_bias: bool, geom: crate::cpu_backend::conv::Geom },
    /// conv2d's input gradient as a function of (weight, grad): double backward.
    Conv2dGradInput { weight: Saved, grad: Saved, geom: crate::cpu_backend::conv::Geom },
    /// conv2d's weight gradient as a function of (input, grad): double backward.
    Conv2dGradWeight { input: Saved, grad: Saved, geom: crate::cpu_backend::conv::Geom },
}

pub enum NodeKind {
    /// AccumulateGrad of a leaf.
    Leaf(Arc<TensorImpl>),
    /// `None` once a backward without `retain_graph` has freed the saved tensors.
    Op(Mutex<Option<GradFn>>),
}

pub struct Node {
    pub name: &'static str,
    renamed: std::sync::OnceLock<&'static str>,
    pub kind: NodeKind,
    pub next: Vec<Option<Arc<Node>>>,
    pub(crate) hooks: Mutex<Vec<Hook>>,
    pub(crate) retained: Mutex<Option<Weak<TensorImpl>>>,
    /// Shape and dtype of the output whose gradient arrives here.
    pub out_shape: Vec<usize>,
    pub out_dtype: DType,
}

/// What a dropped node still owns that can reach further nodes: its edges and its saved state.
type GraphParts = (Vec<Option<Arc<Node>>>, Option<GradFn>, Vec<Hook>);

thread_local! {
    /// Set while the outermost node drop on this thread runs: nested node drops hand their
    /// parts here instead of dropping them, so freeing a chain takes constant stack.
    static DROP_QUEUE: std::cell::RefCell<Option<Vec<GraphParts>>> = const { std::cell::RefCell::new(None) };
}

impl Drop for Node {
    fn drop(&mut self) {
        // A graph of 150,000 chained ops (a loss accumulated in a Python loop) dropped
        // recursively overflowed the stack (issue 16); edges, saved tensors and hooks all lead
        // back here, so deferring them in every node drop makes the whole free iterative.
        let saved = match &mut self.kind {
            NodeKind::Op(m) => match m.get_mut() {
                Ok(v) => v.take(),
                Err(e) => e.into_inner().take(),
            },
            NodeKind::Leaf(_) => None,
        };
        let hooks = std::mem::take(match self.hooks.get_mut() {
            Ok(v) => v,
            Err(e) => e.into_inner(),
        });
        let parts: GraphParts = (std::mem::take(&mut self.next), saved, hooks);
        let outermost = DROP_QUEUE.try_with(|q| {
            let mut q = q.borrow_mut();
            match q.as_mut() {
                Some(v) => {
                    v.push(parts);
                    None
                }
                None => {
                    *q = Some(Vec::new());
                    Some(parts)
                }
            }
        });
        let Ok(Some(first)) = outermost else {
            // queued for the outermost drop, or (thread-local storage already gone at thread
            // exit) dropped here recursively as before
            return;
        };
        let mut cur = Some(first);
        while let Some(p) = cur.take() {
            drop(p);
            cur = DROP_QUEUE.with(|q| q.borrow_mut().as_mut().and_then(|v| v.pop()));
        }
        DROP_QUEUE.with(|q| *q.borrow_mut() = None);
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(e) => e.into_inner(),
    }
}

impl Node {
    pub fn add_hook(&self, h: Hook) {
        lock(&self.hooks).push(h);
    }
    pub fn retain(&self, t: &Tensor) {
        *lock(&self.retained) = Some(Arc::downgrade(&t.0));
    }
    /// torch's name for the node type, e.g. `MulBackward0`.
    pub fn type_name(&self) -> &'static str {
        self.renamed.get().copied().unwrap_or(self.name)
    }
    /// Gives a node the name of a torch overload (e.g. tensor ** scalar is PowBackward0).
    pub(crate) fn rename(&self, name: &'static str) {
        let _ = self.renamed.set(name);
    }
}

impl Tensor {
    /// The node a gradient for this tensor flows into (its grad_fn, or its AccumulateGrad).
    pub(crate) fn grad_edge(&self) -> Option<Arc<Node>> {
        if !self.requires_grad() {
            return None;
        }
        let mut m = self.meta();
        if let Some(f) = &m.grad_fn {
            return Some(f.clone());
        }
        if let Some(a) = m.accumulator.upgrade() {
            return Some(a);
        }
        let a = Arc::new(Node {
            name: "AccumulateGrad",
            renamed: std::sync::OnceLock::new(),
            kind: NodeKind::Leaf(self.0.clone()),
            next: vec![],
            hooks: Mutex::new(vec![]),
            retained: Mutex::new(None),
            out_shape: self.shape().to_vec(),
            out_dtype: self.dtype(),
        });
        m.accumulator = Arc::downgrade(&a);
        Some(a)
    }

    /// Registers a gradient hook (`register_hook`): it may return a replacement gradient.
    pub fn register_hook(&self, h: Hook) -> Result<()> {
        if !self.requires_grad() {
            bail!(Runtime, "cannot register a hook on a tensor that doesn't require gradient");
        }
        match self.grad_fn() {
            Some(n) => n.add_hook(h),
            None => self.meta().hooks.push(h),
        }
        Ok(())
    }

    pub fn retain_grad(&self) -> Result<()> {
        if !self.requires_grad() {
            bail!(Runtime, "can't retain_grad on Tensor that has requires_grad=False");
        }
        if let Some(n) = self.grad_fn() {
            n.retain(self);
            self.meta().retains_grad = true;
        }
        Ok(())
    }
}

/// Records `out` as produced by `name` from `inputs` when grad mode is on and any input
/// requires grad. `make` builds the saved state; it gets the node's weak self for outputs.
pub(crate) fn record(
    out: Tensor,
    name: &'static str,
    inputs: &[&Tensor],
    make: impl FnOnce(&Tensor, &Weak<Node>) -> GradFn,
) -> Tensor {
    if !is_grad_enabled() || !inputs.iter().any(|t| t.requires_grad()) {
        return out;
    }
    if !out.dtype().is_float() {
        return out;
    }
    let next: Vec<Option<Arc<Node>>> = inputs.iter().map(|t| t.grad_edge()).collect();
    let node = Arc::new_cyclic(|w| Node {
        name,
        renamed: std::sync::OnceLock::new(),
        kind: NodeKind::Op(Mutex::new(Some(make(&out, w)))),
        next,
        hooks: Mutex::new(vec![]),
        retained: Mutex::new(None),
        out_shape: out.shape().to_vec(),
        out_dtype: out.dtype(),
    });
    out.set_grad_fn(node);
    out
}

/// Records `outs` (fresh tensors with no history) as computed from `inputs` by one function:
/// output `i` gets a node whose backward is `fs[i]`, and is kept for every backward when
/// `keep[i]`. `name` is the grad_fn's type name (`MyFnBackward`). Outputs come back unchanged
/// when nothing requires grad or grad mode is off.
pub fn record_custom(outs: Vec<Tensor>, name: &str, inputs: &[&Tensor], fs: Vec<CustomBackward>, keep: &[bool]) -> Vec<Tensor> {
    let (name, n) = (intern(name), inputs.len());
    let saved: Arc<Mutex<Vec<Option<Saved>>>> = Arc::new(Mutex::new((0..outs.len()).map(|_| None).collect()));
    outs.into_iter()
        .zip(fs)
        .enumerate()
        .map(|(i, (out, f))| {
            let shared = saved.clone();
            let kept = keep.get(i).copied().unwrap_or(false);
            record(out, name, inputs, move |o, w| {
                if kept {
                    if let Some(slot) = lock(&shared).get_mut(i) {
                        *slot = Some(Saved::output(o, w));
                    }
                }
                GradFn::Custom { f, inputs: n, outputs: shared }
            })
        })
        .collect()
}

/// A `&'static` copy of a name, made once per distinct name (custom Function class names:
/// few, and kept for the process, as torch keeps its node type names).
fn intern(name: &str) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = lock(&NAMES);
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.push(n);
    n
}

/// What a backward pass does with the gradients that reach leaves.
pub enum Sink<'a> {
    /// `tensor.backward()`: add into each leaf's `.grad`.
    Accumulate,
    /// `autograd.grad(...)`: collect the gradient for these tensors' nodes, touch no `.grad`.
    Capture(&'a [Tensor]),
}

fn key(n: &Arc<Node>) -> usize {
    Arc::as_ptr(n) as usize
}

fn accumulate(slot: &mut Option<Tensor>, g: Tensor) -> Result<()> {
    *slot = Some(match slot.take() {
        None => g,
        Some(old) => old.add(&g)?,
    });
    Ok(())
}

/// Runs backward from `roots` (each with its seed gradient). Returns, for `Sink::Capture`,
/// the gradient of each requested tensor (None when unreachable).
pub fn run_backward(
    roots: &[(Tensor, Tensor)],
    sink: Sink,
    retain_graph: bool,
    create_graph: bool,
) -> Result<Vec<Option<Tensor>>> {
    let _mode = GradModeGuard::new(create_graph);
    let mut root_nodes = vec![];
    for (t, g) in roots {
        match t.grad_edge() {
            Some(n) => root_nodes.push((n, g.clone())),
            None => bail!(Runtime, "element 0 of tensors does not require grad and does not have a grad_fn"),
        }
    }
    // Capture targets: the node whose incoming gradient is the tensor's gradient.
    let mut targets: HashMap<usize, Vec<usize>> = HashMap::new();
    if let Sink::Capture(ts) = &sink {
        for (i, t) in ts.iter().enumerate() {
            match t.grad_edge() {
                Some(n) => targets.entry(key(&n)).or_default().push(i),
                None => bail!(Runtime, "One of the differentiated Tensors does not require grad"),
            }
        }
    }
    // Dependency counts over the reachable graph.
    let mut deps: HashMap<usize, usize> = HashMap::new();
    let mut nodes: HashMap<usize, Arc<Node>> = HashMap::new();
    let mut stack: Vec<Arc<Node>> = root_nodes.iter().map(|(n, _)| n.clone()).collect();
    while let Some(n) = stack.pop() {
        if nodes.insert(key(&n), n.clone()).is_some() {
            continue;
        }
        for m in n.next.iter().flatten() {
            *deps.entry(key(m)).or_insert(0) += 1;
            stack.push(m.clone());
        }
    }
    let mut grads: HashMap<usize, Option<Tensor>> = HashMap::new();
    // gradient buffers this pass allocated itself, so it may add into them in place
    let mut owned: std::collections::HashSet<usize> = std::collections::HashSet::new();
    for (n, g) in &root_nodes {
        accumulate(grads.entry(key(n)).or_insert(None), g.clone())?;
    }
    let mut captured: Vec<Option<Tensor>> = match &sink {
        Sink::Capture(ts) => vec![None; ts.len()],
        Sink::Accumulate => vec![],
    };
    let mut ready: Vec<Arc<Node>> = vec![];
    for (n, _) in &root_nodes {
        if deps.get(&key(n)).copied().unwrap_or(0) == 0 && !ready.iter().any(|r| Arc::ptr_eq(r, n)) {
            ready.push(n.clone());
        }
    }
    while let Some(node) = ready.pop() {
        let k = key(&node);
        let Some(mut grad) = grads.remove(&k).flatten() else {
            // no gradient reached this node: its inputs get none from it
            for m in node.next.iter().flatten() {
                release(&mut deps, m, &mut ready);
            }
            continue;
        };
        let hooks: Vec<Hook> = lock(&node.hooks).clone();
        for h in hooks {
            if let Some(g2) = h(&grad)? {
                grad = g2;
            }
        }
        if let NodeKind::Leaf(leaf) = &node.kind {
            let hooks: Vec<Hook> = Tensor(leaf.clone()).meta().hooks.clone();
            for h in hooks {
                if let Some(g2) = h(&grad)? {
                    grad = g2;
                }
            }
        }
        let retained = lock(&node.retained).as_ref().and_then(|w| w.upgrade());
        if let Some(t) = retained {
            let t = Tensor(t);
            let g = if create_graph { grad.clone() } else { grad.detach() };
            let mut m = t.meta();
            accumulate(&mut m.grad, g)?;
        }
        if let Some(idx) = targets.get(&k) {
            for &i in idx {
                accumulate(&mut captured[i], grad.clone())?;
            }
        }
        match &node.kind {
            NodeKind::Leaf(leaf) => {
                if let Sink::Accumulate = sink {
                    accumulate_leaf(&Tensor(leaf.clone()), grad, create_graph)?;
                }
            }
            NodeKind::Op(f) => {
                let mut guard = lock(f);
                let Some(gf) = guard.as_ref() else {
                    bail!(
                        Runtime,
                        "Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if you need to access saved tensors after calling backward."
                    );
                };
                // A view's gradient (x[t], s[..., :H]) is added straight into its input's
                // gradient buffer: materialising zeros of the whole input per view made an RNN
                // over T steps write T full-size tensors (issue 15). Not when recording a graph.
                if let (false, GradFn::View { shape, view }, [Some(m)]) = (create_graph, gf, node.next.as_slice()) {
                    if shape.as_slice() == m.out_shape.as_slice() && grad.dtype() == m.out_dtype {
                        let (shape, view, m) = (shape.clone(), view.clone(), m.clone());
                        if !retain_graph {
                            *guard = None;
                        }
                        drop(guard);
                        let slot = grads.entry(key(&m)).or_insert(None);
                        let buf = match slot.take() {
                            Some(old) if owned.contains(&key(&m)) => old,
                            Some(old) => old.contiguous_owned()?,
                            None => Tensor::zeros(&shape, grad.dtype(), grad.device())?,
                        };
                        buf.with_layout(view.apply(buf.layout())?).add_inplace_raw(&grad)?;
                        *slot = Some(buf);
                        owned.insert(key(&m));
                        release(&mut deps, &m, &mut ready);
                        continue;
                    }
                }
                let in_grads = gf.backward(node.name, &grad, &node)?;
                if !retain_graph {
                    *guard = None;
                }
                drop(guard);
                for (m, g) in node.next.iter().zip(in_grads) {
                    let Some(m) = m else { continue };
                    if let Some(g) = g {
                        let g = if g.shape() != m.out_shape.as_slice() { g.sum_to(&m.out_shape)? } else { g };
                        let g = if g.dtype() != m.out_dtype { g.to_dtype(m.out_dtype)? } else { g };
                        let slot = grads.entry(key(m)).or_insert(None);
                        // a sum is a fresh tensor; a first gradient may be shared (a seed, a saved value)
                        if slot.is_some() {
                            owned.insert(key(m));
                        } else {
                            owned.remove(&key(m));
                        }
                        accumulate(slot, g)?;
                    }
                    release(&mut deps, m, &mut ready);
                }
            }
        }
    }
    Ok(captured)
}

fn release(deps: &mut HashMap<usize, usize>, m: &Arc<Node>, ready: &mut Vec<Arc<Node>>) {
    if let Some(c) = deps.get_mut(&key(m)) {
        *c -= 1;
        if *c == 0 {
            ready.push(m.clone());
        }
    }
}

fn accumulate_leaf(leaf: &Tensor, grad: Tensor, create_graph: bool) -> Result<()> {
    if !create_graph {
        // Check and update under the leaf's lock: threads running backward on graphs that
        // share a leaf lost gradients between reading `.grad` and storing it (issue 16). Grad
        // mode is off here, so nothing below records a node or takes another leaf's lock.
        let mut m = leaf.meta();
        match &m.grad {
            None => {
                m.grad = Some(grad.detach().contiguous_owned()?);
                return Ok(());
            }
            Some(old) if !old.requires_grad() => {
                let _ng = GradModeGuard::new(false);
                return old.add_inplace_raw(&grad);
            }
            Some(_) => {}
        }
    }
    let existing = leaf.meta().grad.clone();
    match existing {
        None => {
            // the first gradient is stored as is (detached unless building a higher-order graph)
            let g = if create_graph { grad } else { grad.detach().contiguous_owned()? };
            leaf.meta().grad = Some(g);
        }
        Some(old) => {
            if create_graph || old.requires_grad() {
                let sum = old.add(&grad)?;
                leaf.meta().grad = Some(sum);
            } else {
                // in place, as torch: `x.grad` keeps its identity across backward calls
                let _ng = GradModeGuard::new(false);
                old.add_inplace_raw(&grad)?;
            }
        }
    }
    Ok(())
}

/// `tensor.backward(gradient, retain_graph, create_graph)`.
pub fn backward(t: &Tensor, gradient: Option<Tensor>, retain_graph: bool, create_graph: bool) -> Result<()> {
    if !t.requires_grad() {
        bail!(Runtime, "element 0 of tensors does not require grad and does not have a grad_fn");
    }
    let g = match gradient {
        Some(g) => {
            if g.shape() != t.shape() {
                bail!(
                    Runtime,
                    "Mismatch in shape: grad_output[0] has a shape of {:?} and output[0] has a shape of {:?}.",
                    g.shape(),
                    t.shape()
                );
            }
            g
        }
        None => {
            if t.numel() != 1 {
                bail!(Runtime, "grad can be implicitly created only for scalar outputs");
            }
            Tensor::ones_like(t)?
        }
    };
    crate::kernels::guarded("backward", || run_backward(&[(t.clone(), g)], Sink::Accumulate, retain_graph, create_graph)).map(|_| ())
}

/// `autograd.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)`.
pub fn grad(
    outputs: &[Tensor],
    inputs: &[Tensor],
    grad_outputs: Option<Vec<Option<Tensor>>>,
    retain_graph: bool,
    create_graph: bool,
    allow_unused: bool,
) -> Result<Vec<Option<Tensor>>> {
    let mut roots = vec![];
    for (i, o) in outputs.iter().enumerate() {
        let g = grad_outputs.as_ref().and_then(|v| v.get(i).cloned().flatten());
        let g = match g {
            Some(g) => g,
            None => {
                if o.numel() != 1 {
                    bail!(Runtime, "grad can be implicitly created only for scalar outputs");
                }
                Tensor::ones_like(o)?
            }
        };
        if !o.requires_grad() {
            bail!(Runtime, "element {i} of tensors does not require grad and does not have a grad_fn");
        }
        roots.push((o.clone(), g));
    }
    let res = crate::kernels::guarded("grad", || run_backward(&roots, Sink::Capture(inputs), retain_graph, create_graph))?;
    let mut out = vec![];
    for (i, g) in res.into_iter().enumerate() {
        match g {
            Some(g) => out.push(Some(g)),
            None if allow_unused => out.push(None),
            None => {
                return Err(Error::Runtime(format!(
                    "One of the differentiated Tensors (input {i}) appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior."
                )))
            }
        }
    }
    Ok(out)
}

/// Gradients of a broadcast op reduce back to each input's shape.
impl Tensor {
    pub fn sum_to(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let nd = self.ndim();
        let lead = nd.saturating_sub(shape.len());
        let mut dims = vec![];
        for d in 0..nd {
            if d < lead || (shape[d - lead] == 1 && self.shape()[d] != 1) {
                dims.push(d);
            }
        }
        let s = self.sum_dims(&dims, true)?;
        s.reshape(shape)
    }
}


#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn deep_graphs_drop_on_a_small_stack() {
        // recursive drops of 50,000 nodes (with saved inputs) overflowed 256 KiB long before
        let h = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let w = Tensor::from_vec(vec![1.0f32; 2], &[2]).unwrap();
                w.set_requires_grad(true).unwrap();
                let mut y = w.clone();
                for _ in 0..50_000 {
                    y = y.mul(&w).unwrap();
                }
                assert!(y.grad_fn().is_some());
                drop(y);
                let mut v = w.clone();
                for _ in 0..50_000 {
                    v = v.unsqueeze(0).unwrap().select(0, 0).unwrap();
                }
                drop(v);
            })
            .unwrap();
        h.join().unwrap();
    }
}
