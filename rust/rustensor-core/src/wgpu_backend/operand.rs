// The types the engine sees of the GPU backend, shared by the backend and its stub
// (`include!`d by both, so the two cannot drift apart).

/// A tensor's memory on the GPU.
pub struct GpuStorage {
    pub buf: Arc<Buffer>,
    /// Bytes the tensor uses (the buffer may be larger: its pool size class).
    pub bytes: u64,
}

/// One operand of a GPU kernel: a buffer, the layout to read or write it through, its dtype.
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    pub buf: &'a Arc<Buffer>,
    pub layout: &'a Layout,
    pub dtype: DType,
}

/// The operands of a GPU normalisation launch (see `crate::backend::NormOperands`).
pub struct NormOps<'a> {
    pub x: Operand<'a>,
    pub w: Option<Operand<'a>>,
    pub b: Option<Operand<'a>>,
    pub gy: Option<Operand<'a>>,
    pub mean: Operand<'a>,
    pub rstd: Operand<'a>,
    pub out: Option<Operand<'a>>,
    pub dw: Option<Operand<'a>>,
    pub db: Option<Operand<'a>>,
}

/// The operands of a GPU cross-entropy launch (see `crate::backend::XentOperands`).
pub struct XentOps<'a> {
    pub x: Operand<'a>,
    pub target: Operand<'a>,
    pub w: Option<Operand<'a>>,
    pub lse: Operand<'a>,
    pub loss: Option<Operand<'a>>,
    pub g: Option<Operand<'a>>,
    pub gx: Option<Operand<'a>>,
}
