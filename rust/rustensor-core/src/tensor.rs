//! The tensor handle: shared storage + a layout + autograd metadata.
use crate::backprop::{Hook, Node};
use crate::layout::{checked_numel, Layout};
use crate::storage::{CpuStorage, Device, Storage};
use crate::{bail, DType, Element, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

#[derive(Default)]
pub struct AutogradMeta {
    pub grad: Option<Tensor>,
    pub grad_fn: Option<Arc<Node>>,
    pub retains_grad: bool,
    /// Hooks of a leaf; a non-leaf keeps its hooks on its grad_fn node.
    pub hooks: Vec<Hook>,
    /// The leaf's AccumulateGrad node, shared by every graph that uses the leaf.
    pub accumulator: Weak<Node>,
    /// A user-visible name for messages (e.g. "output 0 of MulBackward0").
    pub is_leaf_requiring_grad: bool,
}

pub struct TensorImpl {
    pub(crate) id: usize,
    pub(crate) storage: Arc<Storage>,
    pub(crate) layout: Layout,
    pub(crate) dtype: DType,
    /// Fast flag: a leaf that requires grad, or a tensor with a grad_fn.
    pub(crate) requires_grad: AtomicBool,
    pub(crate) meta: Mutex<AutogradMeta>,
    /// A view (at any depth) of a leaf that requires grad: in-place writes through it are refused.
    pub(crate) view_of_grad_leaf: bool,
    /// A view (at any depth) of a tensor that required grad: `detach_()` is refused on it.
    pub(crate) grad_view: bool,
    /// Bumped by every in-place write; autograd compares it with the value saved at record
    /// time. Shared by a tensor, its views and `detach()`; `.data` gets its own, as in torch,
    /// so writes through `.data` are not checked.
    pub(crate) version: Arc<AtomicU64>,
}

/// A cheap-to-clone handle; clones are the same tensor (same id, same autograd state).
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorImpl>);

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

impl Tensor {
    pub(crate) fn from_parts(storage: Arc<Storage>, layout: Layout) -> Tensor {
        Tensor::with_version(storage, layout, Arc::new(AtomicU64::new(0)))
    }

    fn with_version(storage: Arc<Storage>, layout: Layout, version: Arc<AtomicU64>) -> Tensor {
        let dtype = storage.dtype;
        Tensor(Arc::new(TensorImpl {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            storage,
            layout,
            dtype,
            requires_grad: AtomicBool::new(false),
            meta: Mutex::new(AutogradMeta::default()),
            view_of_grad_leaf: false,
            grad_view: false,
            version,
        }))
    }

    pub fn from_cpu_storage(data: CpuStorage, dtype: DType, shape: &[usize]) -> Tensor {
        Tensor::from_parts(Arc::new(Storage::cpu(data, dtype)), Layout::contiguous(shape))
    }

    /// A tensor over existing storage with an arbitrary layout; the caller checked bounds.
    pub fn from_storage_layout(storage: Arc<Storage>, layout: Layout) -> Result<Tensor> {
        if let Some((lo, hi)) = layout.span() {
            let n = storage.capacity();
            if lo < 0 || hi as usize >= n {
                bail!(Runtime, "as_strided: view [{lo}, {hi}] is out of bounds for storage of size {n}");
            }
        }
        Ok(Tensor::from_parts(storage, layout))
    }

    pub fn from_vec<T: Element>(v: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        let n = checked_numel("tensor", shape)?;
        if n != v.len() {
            bail!(Runtime, "tensor: {} values cannot fill shape {:?}", v.len(), shape);
        }
        Ok(Tensor::from_cpu_storage(CpuStorage::from_vec(v), T::DTYPE, shape))
    }

    pub fn zeros(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
        let n = checked_numel("zeros", shape)?;
        match device {
            Device::Cpu => Ok(Tensor::from_cpu_storage(CpuStorage::zeros(n, dtype)?, dtype, shape)),
            Device::Gpu(_) => {
                let t = crate::ops::empty(shape, dtype, device)?;
                crate::kernels::fill(t.strided(), dtype, crate::Scalar::Int(0))?;
                Ok(t)
            }
        }
    }

    pub fn id(&self) -> usize {
        self.0.id
    }
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }
    pub fn strides(&self) -> &[isize] {
        &self.0.layout.strides
    }
    pub fn ndim(&self) -> usize {
        self.0.layout.shape.len()
    }
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    pub fn device(&self) -> Device {
        self.0.storage.device()
    }
    pub fn storage(&self) -> &Arc<Storage> {
        &self.0.storage
    }
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    pub fn storage_offset(&self) -> usize {
        self.0.layout.offset
    }
    /// Address of the first element (CPU), as torch's `data_ptr()`.
    pub fn data_ptr(&self) -> usize {
        self.0.storage.cpu_ptr() as usize + self.0.layout.offset * self.0.dtype.size()
    }
    pub fn same_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }
    pub fn version(&self) -> u64 {
        self.0.version.load(Ordering::Relaxed)
    }
    /// Records an in-place write (seen by this tensor, its views and its `detach()`es).
    pub(crate) fn bump_version(&self) {
        self.0.version.fetch_add(1, Ordering::Relaxed);
    }

    // ---- autograd metadata ----
    pub(crate) fn meta(&self) -> MutexGuard<'_, AutogradMeta> {
        match self.0.meta.lock() {
            Ok(g) => g,
            Err(e) => e.into_inner(),
        }
    }
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }
    pub fn grad_fn(&self) -> Option<Arc<Node>> {
        self.meta().grad_fn.clone()
    }
    pub fn is_leaf(&self) -> bool {
        self.meta().grad_fn.is_none()
    }
    /// Sets requires_grad on a leaf (torch's rules: non-leaves and non-float dtypes refuse).
    pub fn set_requires_grad(&self, flag: bool) -> Result<()> {
        let mut m = self.meta();
        if m.grad_fn.is_some() {
            bail!(
                Runtime,
                "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
            );
        }
        if flag && !self.dtype().is_float() {
            bail!(Runtime, "only Tensors of floating point dtype can require gradients (got {})", self.dtype().name());
        }
        m.is_leaf_requiring_grad = flag;
        self.0.requires_grad.store(flag, Ordering::Relaxed);
        Ok(())
    }
    pub fn grad(&self) -> Option<Tensor> {
        self.meta().grad.clone()
    }
    pub fn set_grad(&self, g: Option<Tensor>) -> Result<()> {
        if let Some(g) = &g {
            if g.shape() != self.shape() {
                bail!(
                    Runtime,
                    "assigned grad has data of a different size: {:?} vs the tensor's {:?}",
                    g.shape(),
                    self.shape()
                );
            }
            if g.dtype() != self.dtype() {
                bail!(Runtime, "assigned grad has data of a different type ({} vs {})", g.dtype().name(), self.dtype().name());
            }
        }
        self.meta().grad = g;
        Ok(())
    }
    pub fn retains_grad(&self) -> bool {
        self.meta().retains_grad
    }
    pub(crate) fn set_grad_fn(&self, node: Arc<Node>) {
        self.meta().grad_fn = Some(node);
        self.0.requires_grad.store(true, Ordering::Relaxed);
    }

    /// A new handle on the same storage and layout, outside any graph (`detach()`).
    pub fn detach(&self) -> Tensor {
        Tensor::with_version(self.0.storage.clone(), self.0.layout.clone(), self.0.version.clone())
    }
    /// `.data`: as `detach()`, but with its own version counter, so autograd does not see
    /// writes through it (torch's semantics; `detach()` is the checked form).
    pub fn data(&self) -> Tensor {
        Tensor::from_parts(self.0.storage.clone(), self.0.layout.clone())
    }
    /// `detach_()`: this tensor leaves its graph and becomes a leaf that does not require grad.
    /// A view of a tensor that requires grad cannot (its base's graph would still reach it).
    pub fn detach_(&self) -> Result<()> {
        if self.0.grad_view {
            bail!(Runtime, "Can't detach views in-place. Use detach() instead.");
        }
        let mut m = self.meta();
        m.grad_fn = None;
        m.is_leaf_requiring_grad = false;
        self.0.requires_grad.store(false, Ordering::Relaxed);
        Ok(())
    }
    /// A view of this tensor with a new layout over the same storage (autograd is the caller's).
    pub(crate) fn with_layout(&self, layout: Layout) -> Tensor {
        let flag = self.0.view_of_grad_leaf || (self.requires_grad() && self.is_leaf());
        Tensor(Arc::new(TensorImpl {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            storage: self.0.storage.clone(),
            layout,
            dtype: self.0.dtype,
            requires_grad: AtomicBool::new(false),
            meta: Mutex::new(AutogradMeta::default()),
            view_of_grad_leaf: flag,
            grad_view: self.0.grad_view || self.requires_grad(),
            version: self.0.version.clone(),
        }))
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor(shape={:?}, dtype={}, device={})", self.shape(), self.dtype().name(), self.device().name())
    }
}
