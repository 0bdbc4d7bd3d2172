//! The op tables: every elementwise op defined once (name, aliases, dtype rule, CPU kernel,
//! WGSL expression, backward formula, what it saves); everything else reads them.
//!
//! Each family is one `macro_rules!` invocation. The macro turns the rows into the op enum
//! and into exhaustive `match`es (names, dtype rules, per-dtype CPU kernels, WGSL, backward),
//! so a new row is the whole change and a missing column is a compile error, not a silent
//! fallback. A column written `none` means "no such kernel/backward": the op layer rejects
//! that dtype before dispatch (so CPU and GPU raise the same error), and a `none` backward
//! means the op records no graph node.
use crate::backprop::Saved;
use crate::cpu_backend::elementwise::{map1, map2, Strided};
use crate::cpu_backend::math::{Float, Int};
use crate::{bail, f16, DType, Element, Result, Scalar, Tensor};

/// How a unary op's result dtype follows its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryRule {
    /// Integer and bool inputs compute in float32 (torch: `exp(int_tensor)` is float32).
    Float,
    /// The result keeps the input dtype.
    Keep,
    /// A predicate: the result is bool.
    Pred,
}

/// How a binary op's compute dtype follows the promoted operand dtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryRule {
    /// Computes in the promoted dtype.
    Arith,
    /// As `Arith`, but two bools compute in int64 (torch: `True // True` is int64).
    NoBool,
    /// Integer and bool operands compute in float32 (true division, atan2, xlogy).
    Float,
    /// Computes in the promoted dtype; the result is bool (comparisons, logical ops).
    Cmp,
}

/// Which tensors a unary op's backward reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saves {
    Input,
    Output,
    Nothing,
}

/// Which tensors a binary op's backward reads (bit set of `SAVE_A`, `SAVE_B`, `SAVE_OUT`).
pub mod saves {
    pub const NONE: u8 = 0;
    pub const A: u8 = 1;
    pub const B: u8 = 2;
    pub const AB: u8 = 3;
    pub const OUT: u8 = 4;
    pub const ABO: u8 = 7;
}

/// What a unary backward formula sees: the incoming gradient and the saved tensors.
pub(crate) struct UnCtx<'a> {
    pub g: &'a Tensor,
    pub(crate) x: &'a Option<Saved>,
    pub(crate) out: &'a Option<Saved>,
    pub(crate) name: &'a str,
}

impl UnCtx<'_> {
    fn get(&self, s: &Option<Saved>, what: &str) -> Result<Tensor> {
        match s {
            Some(s) => s.get(self.name),
            None => bail!(Runtime, "internal error: {} did not save its {what} (please report)", self.name),
        }
    }
    pub fn x(&self) -> Result<Tensor> {
        self.get(self.x, "input")
    }
    pub fn out(&self) -> Result<Tensor> {
        self.get(self.out, "output")
    }
}

/// What a binary backward formula sees; `need_a`/`need_b` say which gradients anyone reads.
pub(crate) struct BinCtx<'a> {
    pub g: &'a Tensor,
    pub(crate) a: &'a Option<Saved>,
    pub(crate) b: &'a Option<Saved>,
    pub(crate) out: &'a Option<Saved>,
    pub(crate) name: &'a str,
    pub need_a: bool,
    pub need_b: bool,
}

impl BinCtx<'_> {
    fn get(&self, s: &Option<Saved>, what: &str) -> Result<Tensor> {
        match s {
            Some(s) => s.get(self.name),
            None => bail!(Runtime, "internal error: {} did not save {what} (please report)", self.name),
        }
    }
    pub fn a(&self) -> Result<Tensor> {
        self.get(self.a, "its first input")
    }
    pub fn b(&self) -> Result<Tensor> {
        self.get(self.b, "its second input")
    }
    pub fn out(&self) -> Result<Tensor> {
        self.get(self.out, "its output")
    }
    /// `f()` when `need` (the gradient is read), else no work.
    pub fn when(&self, need: bool, f: impl FnOnce() -> Result<Tensor>) -> Result<Option<Tensor>> {
        if need {
            f().map(Some)
        } else {
            Ok(None)
        }
    }
}

fn scalar_like(t: &Tensor, v: f64) -> Result<Tensor> {
    Tensor::scalar_operand(Scalar::Float(v), t.dtype(), t.device())
}

fn zero_where(mask: &Tensor, t: &Tensor) -> Result<Tensor> {
    Tensor::where_(mask, &scalar_like(t, 0.0)?, t)
}

// ---- helpers the table macros expand to (one rule per column shape) ----

macro_rules! opt_str {
    (none) => {
        None
    };
    ($s:literal) => {
        Some($s)
    };
}

macro_rules! is_some {
    (none) => {
        false
    };
    ($($t:tt)+) => {
        true
    };
}

/// The output element type of a unary kernel under its rule.
macro_rules! un_out {
    (Pred, $T:ty) => {
        bool
    };
    ($r:ident, $T:ty) => {
        $T
    };
}

macro_rules! un_kernel {
    ($name:literal, $r:ident, $T:ty, none, $out:ident, $a:ident) => {
        bail!(Runtime, "internal error: {} has no kernel for {} (please report)", $name, <$T as crate::Element>::DTYPE.name())
    };
    ($name:literal, $r:ident, $T:ty, ($f:expr), $out:ident, $a:ident) => {
        map1::<$T, un_out!($r, $T), _>($out, $a, $f)
    };
}

macro_rules! un_backward {
    ($name:literal, none, $c:ident) => {
        bail!(Runtime, "internal error: {} is not differentiable but was recorded (please report)", $name)
    };
    ($name:literal, ($f:expr), $c:ident) => {{
        let f: fn(&UnCtx) -> Result<Tensor> = $f;
        f($c)
    }};
}

/// Binary kernels: comparisons write bool, the rest their compute type.
macro_rules! bin_kernel {
    ($name:literal, $r:ident, $T:ty, none, $out:ident, $a:ident, $b:ident) => {
        bail!(Runtime, "internal error: {} has no kernel for {} (please report)", $name, <$T as crate::Element>::DTYPE.name())
    };
    ($name:literal, Cmp, $T:ty, ($f:expr), $out:ident, $a:ident, $b:ident) => {
        map2::<$T, bool, _>($out, $a, $b, $f)
    };
    ($name:literal, $r:ident, $T:ty, ($f:expr), $out:ident, $a:ident, $b:ident) => {
        map2::<$T, $T, _>($out, $a, $b, $f)
    };
}

/// float16 runs comparisons on the halves themselves (exact); arithmetic widens to float32
/// first (cpu_backend::elementwise::binary), so only `Cmp` rows reach this.
macro_rules! half_cmp {
    ($name:literal, Cmp, ($f:expr), $out:ident, $a:ident, $b:ident) => {
        map2::<f16, bool, _>($out, $a, $b, $f)
    };
    ($name:literal, $r:ident, $f:tt, $out:ident, $a:ident, $b:ident) => {
        bail!(Runtime, "internal error: {} reached the float16 comparison kernel (please report)", $name)
    };
}

macro_rules! bin_backward {
    ($name:literal, none, $c:ident) => {
        bail!(Runtime, "internal error: {} is not differentiable but was recorded (please report)", $name)
    };
    ($name:literal, ($f:expr), $c:ident) => {{
        let f: fn(&BinCtx) -> Result<[Option<Tensor>; 2]> = $f;
        f($c)
    }};
}

macro_rules! unary_table {
    ($(
        $V:ident {
            name: $name:literal, aliases: [$($alias:literal),*], rule: $rule:ident,
            f: $f:tt, i: $i:tt, b: $b:tt,
            wgsl: ($wf:tt, $wi:tt, $wb:tt),
            grad: $grad:tt, saves: $saves:ident, bw: $bw:tt $(,)?
        }
    )*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum UnaryOp { $($V),* }

        impl UnaryOp {
            pub const ALL: &'static [UnaryOp] = &[$(UnaryOp::$V),*];
            pub fn name(self) -> &'static str {
                match self { $(UnaryOp::$V => $name),* }
            }
            /// Other torch names of the op (`negative`, `arcsin`, ...).
            pub fn aliases(self) -> &'static [&'static str] {
                match self { $(UnaryOp::$V => &[$($alias),*]),* }
            }
            pub fn rule(self) -> UnaryRule {
                match self { $(UnaryOp::$V => UnaryRule::$rule),* }
            }
            /// The autograd node's name; None: not differentiable (no node is recorded).
            pub fn grad_name(self) -> Option<&'static str> {
                match self { $(UnaryOp::$V => opt_str!($grad)),* }
            }
            pub fn saves(self) -> Saves {
                match self { $(UnaryOp::$V => Saves::$saves),* }
            }
            /// Whether a kernel exists for an input of dtype `dt` (after float promotion).
            pub fn has_kernel(self, dt: DType) -> bool {
                match self {
                    $(UnaryOp::$V => if dt.is_float() { is_some!($f) } else if dt == DType::Bool { is_some!($b) } else { is_some!($i) }),*
                }
            }
            /// The WGSL expression of `op(a)` for input dtype `dt` (None: no kernel).
            pub fn wgsl(self, dt: DType) -> Option<&'static str> {
                match self {
                    $(UnaryOp::$V => if dt.is_float() { opt_str!($wf) } else if dt == DType::Bool { opt_str!($wb) } else { opt_str!($wi) }),*
                }
            }
        }

        pub(crate) fn unary_cpu_float<T: Float>(op: UnaryOp, out: Strided, a: Strided) -> Result<()> {
            match op { $(UnaryOp::$V => un_kernel!($name, $rule, T, $f, out, a)),* }
            Ok(())
        }
        pub(crate) fn unary_cpu_int<T: Int>(op: UnaryOp, out: Strided, a: Strided) -> Result<()> {
            match op { $(UnaryOp::$V => un_kernel!($name, $rule, T, $i, out, a)),* }
            Ok(())
        }
        pub(crate) fn unary_cpu_bool(op: UnaryOp, out: Strided, a: Strided) -> Result<()> {
            match op { $(UnaryOp::$V => un_kernel!($name, $rule, bool, $b, out, a)),* }
            Ok(())
        }
        pub(crate) fn unary_backward(op: UnaryOp, c: &UnCtx) -> Result<Tensor> {
            match op { $(UnaryOp::$V => un_backward!($name, $bw, c)),* }
        }
    };
}

macro_rules! binary_table {
    ($(
        $V:ident {
            name: $name:literal, aliases: [$($alias:literal),*], rule: $rule:ident,
            f: $f:tt, i: $i:tt, b: $b:tt,
            wgsl: ($wf:tt, $wi:tt),
            grad: $grad:tt, saves: $saves:ident, bw: $bw:tt $(,)?
        }
    )*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum BinaryOp { $($V),* }

        impl BinaryOp {
            pub const ALL: &'static [BinaryOp] = &[$(BinaryOp::$V),*];
            pub fn name(self) -> &'static str {
                match self { $(BinaryOp::$V => $name),* }
            }
            pub fn aliases(self) -> &'static [&'static str] {
                match self { $(BinaryOp::$V => &[$($alias),*]),* }
            }
            pub fn rule(self) -> BinaryRule {
                match self { $(BinaryOp::$V => BinaryRule::$rule),* }
            }
            pub fn grad_name(self) -> Option<&'static str> {
                match self { $(BinaryOp::$V => opt_str!($grad)),* }
            }
            /// Bit set over `saves::A`, `saves::B`, `saves::OUT`.
            pub fn saves(self) -> u8 {
                match self { $(BinaryOp::$V => saves::$saves),* }
            }
            /// Whether a kernel exists for compute dtype `dt`.
            pub fn has_kernel(self, dt: DType) -> bool {
                match self {
                    $(BinaryOp::$V => if dt.is_float() { is_some!($f) } else if dt == DType::Bool { is_some!($b) } else { is_some!($i) }),*
                }
            }
            /// The WGSL expression of `a op b` in the compute type of `cdt` (bool words
            /// compute as integers).
            pub fn wgsl(self, cdt: DType) -> Option<&'static str> {
                match self {
                    $(BinaryOp::$V => if cdt.is_float() { opt_str!($wf) } else { opt_str!($wi) }),*
                }
            }
        }

        pub(crate) fn binary_cpu_float<T: Float>(op: BinaryOp, out: Strided, a: Strided, b: Strided) -> Result<()> {
            match op { $(BinaryOp::$V => bin_kernel!($name, $rule, T, $f, out, a, b)),* }
            Ok(())
        }
        pub(crate) fn binary_cpu_int<T: Int>(op: BinaryOp, out: Strided, a: Strided, b: Strided) -> Result<()> {
            match op { $(BinaryOp::$V => bin_kernel!($name, $rule, T, $i, out, a, b)),* }
            Ok(())
        }
        pub(crate) fn binary_cpu_bool(op: BinaryOp, out: Strided, a: Strided, b: Strided) -> Result<()> {
            match op { $(BinaryOp::$V => bin_kernel!($name, $rule, bool, $b, out, a, b)),* }
            Ok(())
        }
        pub(crate) fn binary_cpu_half_cmp(op: BinaryOp, out: Strided, a: Strided, b: Strided) -> Result<()> {
            match op { $(BinaryOp::$V => half_cmp!($name, $rule, $f, out, a, b)),* }
            Ok(())
        }
        pub(crate) fn binary_backward(op: BinaryOp, c: &BinCtx) -> Result<[Option<Tensor>; 2]> {
            match op { $(BinaryOp::$V => bin_backward!($name, $bw, c)),* }
        }
    };
}

use std::f64::consts::{FRAC_2_SQRT_PI, LN_10, LN_2, PI};

unary_table! {
    Neg { name: "neg", aliases: ["negative"], rule: Keep,
        f: (|x| -x), i: (|x| x.wneg()), b: none, wgsl: ("-a", "-a", none),
        grad: "NegBackward0", saves: Nothing, bw: (|c| c.g.neg()) }
    Abs { name: "abs", aliases: ["absolute"], rule: Keep,
        f: (|x| x.abs()), i: (|x| x.wabs()), b: (|x| x), wgsl: ("abs(a)", "abs(a)", "a"),
        grad: "AbsBackward0", saves: Input, bw: (|c| c.g.mul(&c.x()?.unary(UnaryOp::Sign)?)) }
    Sign { name: "sign", aliases: [], rule: Keep,
        f: (|x| x.signum0()), i: (|x| x.sign()), b: (|x| x), wgsl: ("sign_f(a)", "sign(a)", "a"),
        grad: "SignBackward0", saves: Nothing, bw: (|c| Tensor::zeros_like(c.g)) }
    Square { name: "square", aliases: [], rule: Keep,
        f: (|x| x * x), i: (|x| x.wmul(x)), b: none, wgsl: ("a * a", "a * a", none),
        grad: "PowBackward0", saves: Input, bw: (|c| c.g.mul(&c.x()?.mul_scalar(2.0)?)) }
    Relu { name: "relu", aliases: [], rule: Keep,
        f: (|x| if x > T::ZERO || x.is_nan() { x } else { T::ZERO }), i: (|x| if x > T::ZERO { x } else { T::ZERO }), b: (|x| x),
        wgsl: ("select(a, 0.0, a < 0.0)", "max(a, 0)", "a"),
        grad: "ReluBackward0", saves: Input,
        bw: (|c| Tensor::where_(&c.x()?.binary_scalar(BinaryOp::Gt, Scalar::Float(0.0), false)?, c.g, &scalar_like(c.g, 0.0)?)) }
    Exp { name: "exp", aliases: [], rule: Float, f: (|x| x.exp()), i: none, b: none, wgsl: ("exp_f(a)", none, none),
        grad: "ExpBackward0", saves: Output, bw: (|c| c.g.mul(&c.out()?)) }
    Exp2 { name: "exp2", aliases: [], rule: Float, f: (|x| x.exp2()), i: none, b: none, wgsl: ("exp2_f(a)", none, none),
        grad: "Exp2Backward0", saves: Output, bw: (|c| c.g.mul(&c.out()?.mul_scalar(LN_2)?)) }
    Expm1 { name: "expm1", aliases: [], rule: Float, f: (|x| x.exp_m1()), i: none, b: none, wgsl: ("expm1_f(a)", none, none),
        grad: "Expm1Backward0", saves: Output, bw: (|c| c.g.mul(&c.out()?.add_scalar(1.0)?)) }
    Log { name: "log", aliases: [], rule: Float, f: (|x| x.ln()), i: none, b: none, wgsl: ("log_f(a)", none, none),
        grad: "LogBackward0", saves: Input, bw: (|c| c.g.div(&c.x()?)) }
    Log1p { name: "log1p", aliases: [], rule: Float, f: (|x| x.ln_1p()), i: none, b: none, wgsl: ("log1p_f(a)", none, none),
        grad: "Log1PBackward0", saves: Input, bw: (|c| c.g.div(&c.x()?.add_scalar(1.0)?)) }
    Log2 { name: "log2", aliases: [], rule: Float, f: (|x| x.ln() * T::from_f64(std::f64::consts::LOG2_E)), i: none, b: none,
        wgsl: ("log_f(a) * 1.4426950408889634", none, none),
        grad: "Log2Backward0", saves: Input, bw: (|c| c.g.div(&c.x()?.mul_scalar(LN_2)?)) }
    Log10 { name: "log10", aliases: [], rule: Float, f: (|x| x.ln() * T::from_f64(std::f64::consts::LOG10_E)), i: none, b: none,
        wgsl: ("log_f(a) * 0.4342944819032518", none, none),
        grad: "Log10Backward0", saves: Input, bw: (|c| c.g.div(&c.x()?.mul_scalar(LN_10)?)) }
    Sqrt { name: "sqrt", aliases: [], rule: Float, f: (|x| x.sqrt()), i: none, b: none, wgsl: ("sqrt_f(a)", none, none),
        grad: "SqrtBackward0", saves: Output, bw: (|c| c.g.div(&c.out()?.mul_scalar(2.0)?)) }
    Rsqrt { name: "rsqrt", aliases: [], rule: Float, f: (|x| T::ONE / x.sqrt()), i: none, b: none, wgsl: ("rsqrt_f(a)", none, none),
        grad: "RsqrtBackward0", saves: Output, bw: (|c| { let o = c.out()?; c.g.mul(&o.mul(&o)?.mul(&o)?.mul_scalar(-0.5)?) }) }
    Reciprocal { name: "reciprocal", aliases: [], rule: Float, f: (|x| T::ONE / x), i: none, b: none, wgsl: ("1.0 / a", none, none),
        grad: "ReciprocalBackward0", saves: Output, bw: (|c| { let o = c.out()?; c.g.mul(&o.mul(&o)?.neg()?) }) }
    Sin { name: "sin", aliases: [], rule: Float, f: (|x| x.sin()), i: none, b: none, wgsl: ("sin(a)", none, none),
        grad: "SinBackward0", saves: Input, bw: (|c| c.g.mul(&c.x()?.unary(UnaryOp::Cos)?)) }
    Cos { name: "cos", aliases: [], rule: Float, f: (|x| x.cos()), i: none, b: none, wgsl: ("cos(a)", none, none),
        grad: "CosBackward0", saves: Input, bw: (|c| c.g.mul(&c.x()?.unary(UnaryOp::Sin)?.neg()?)) }
    Tan { name: "tan", aliases: [], rule: Float, f: (|x| x.tan()), i: none, b: none, wgsl: ("tan(a)", none, none),
        grad: "TanBackward0", saves: Output, bw: (|c| { let o = c.out()?; c.g.mul(&o.mul(&o)?.add_scalar(1.0)?) }) }
    Asin { name: "asin", aliases: ["arcsin"], rule: Float, f: (|x| x.asin()), i: none, b: none, wgsl: ("asin_f(a)", none, none),
        grad: "AsinBackward0", saves: Input, bw: (|c| { let x = c.x()?; c.g.div(&x.mul(&x)?.neg()?.add_scalar(1.0)?.sqrt()?) }) }
    Acos { name: "acos", aliases: ["arccos"], rule: Float, f: (|x| x.acos()), i: none, b: none, wgsl: ("acos_f(a)", none, none),
        grad: "AcosBackward0", saves: Input, bw: (|c| { let x = c.x()?; c.g.div(&x.mul(&x)?.neg()?.add_scalar(1.0)?.sqrt()?)?.neg() }) }
    Atan { name: "atan", aliases: ["arctan"], rule: Float, f: (|x| x.atan()), i: none, b: none, wgsl: ("atan_f(a)", none, none),
        grad: "AtanBackward0", saves: Input, bw: (|c| { let x = c.x()?; c.g.div(&x.mul(&x)?.add_scalar(1.0)?) }) }
    Sinh { name: "sinh", aliases: [], rule: Float, f: (|x| x.sinh()), i: none, b: none, wgsl: ("sinh_f(a)", none, none),
        grad: "SinhBackward0", saves: Input, bw: (|c| c.g.mul(&c.x()?.unary(UnaryOp::Cosh)?)) }
    Cosh { name: "cosh", aliases: [], rule: Float, f: (|x| x.cosh()), i: none, b: none, wgsl: ("cosh_f(a)", none, none),
        grad: "CoshBackward0", saves: Input, bw: (|c| c.g.mul(&c.x()?.unary(UnaryOp::Sinh)?)) }
    Tanh { name: "tanh", aliases: [], rule: Float, f: (|x| x.tanh()), i: none, b: none, wgsl: ("tanh_f(a)", none, none),
        grad: "TanhBackward0", saves: Output, bw: (|c| { let o = c.out()?; c.g.mul(&o.mul(&o)?.neg()?.add_scalar(1.0)?) }) }
    Asinh { name: "asinh", aliases: ["arcsinh"], rule: Float, f: (|x| x.asinh()), i: none, b: none, wgsl: ("asinh_f(a)", none, none),
        grad: "AsinhBackward0", saves: Input, bw: (|c| { let x = c.x()?; c.g.div(&x.mul(&x)?.add_scalar(1.0)?.sqrt()?) }) }
    Acosh { name: "acosh", aliases: ["arccosh"], rule: Float, f: (|x| x.acosh()), i: none, b: none, wgsl: ("acosh_f(a)", none, none),
        grad: "AcoshBackward0", saves: Input, bw: (|c| { let x = c.x()?; c.g.div(&x.mul(&x)?.add_scalar(-1.0)?.sqrt()?) }) }
    Atanh { name: "atanh", aliases: ["arctanh"], rule: Float, f: (|x| x.atanh()), i: none, b: none, wgsl: ("atanh_f(a)", none, none),
        grad: "AtanhBackward0", saves: Input, bw: (|c| { let x = c.x()?; c.g.div(&x.mul(&x)?.neg()?.add_scalar(1.0)?) }) }
    Sigmoid { name: "sigmoid", aliases: [], rule: Float,
        // 0.5 * (1 + tanh(x/2)) would be exact too; this form vectorises with the fast exp
        // and stays finite: exp(-x) overflows to inf only where the answer is 0.
        f: (|x| T::ONE / (T::ONE + (-x).exp())), i: none, b: none, wgsl: ("sigmoid_f(a)", none, none),
        grad: "SigmoidBackward0", saves: Output, bw: (|c| { let o = c.out()?; c.g.mul(&o.mul(&o.neg()?.add_scalar(1.0)?)?) }) }
    Logit { name: "logit", aliases: [], rule: Float, f: (|x| (x / (T::ONE - x)).ln()), i: none, b: none, wgsl: ("log_f(a / (1.0 - a))", none, none),
        grad: "LogitBackward0", saves: Input, bw: (|c| { let x = c.x()?; c.g.div(&x.mul(&x.neg()?.add_scalar(1.0)?)?) }) }
    Erf { name: "erf", aliases: [], rule: Float, f: (|x| x.erf()), i: none, b: none, wgsl: ("erf_f(a)", none, none),
        grad: "ErfBackward0", saves: Input,
        bw: (|c| { let x = c.x()?; c.g.mul(&x.mul(&x)?.neg()?.exp()?.mul_scalar(FRAC_2_SQRT_PI)?) }) }
    Erfc { name: "erfc", aliases: [], rule: Float, f: (|x| x.erfc()), i: none, b: none, wgsl: ("erfc_f(a)", none, none),
        grad: "ErfcBackward0", saves: Input,
        bw: (|c| { let x = c.x()?; c.g.mul(&x.mul(&x)?.neg()?.exp()?.mul_scalar(-FRAC_2_SQRT_PI)?) }) }
    Erfinv { name: "erfinv", aliases: [], rule: Float, f: (|x| x.erfinv()), i: none, b: none, wgsl: ("erfinv_f(a)", none, none),
        grad: "ErfinvBackward0", saves: Output,
        bw: (|c| { let o = c.out()?; c.g.mul(&o.mul(&o)?.exp()?.mul_scalar(PI.sqrt() / 2.0)?) }) }
    Lgamma { name: "lgamma", aliases: [], rule: Float, f: (|x| x.lgamma()), i: none, b: none, wgsl: ("lgamma_f(a)", none, none),
        grad: "LgammaBackward0", saves: Input, bw: (|c| c.g.mul(&c.x()?.unary(UnaryOp::Digamma)?)) }
    Digamma { name: "digamma", aliases: [], rule: Float, f: (|x| x.digamma()), i: none, b: none, wgsl: ("digamma_f(a)", none, none),
        grad: "DigammaBackward0", saves: Input,
        // polygamma(1, x) through the differentiable binary op, so gradgrad works
        bw: (|c| c.g.mul(&c.x()?.binary_scalar(BinaryOp::Polygamma, Scalar::Float(1.0), false)?)) }
    Sinc { name: "sinc", aliases: [], rule: Float, f: (|x| x.sinc()), i: none, b: none, wgsl: ("sinc_f(a)", none, none),
        grad: "SincBackward0", saves: Input,
        bw: (|c| {
            // d/dx sin(pi x)/(pi x) = (cos(pi x) - sinc(x)) / x, and 0 at x = 0
            let x = c.x()?;
            let d = x.mul_scalar(PI)?.unary(UnaryOp::Cos)?.sub(&x.unary(UnaryOp::Sinc)?)?.div(&x)?;
            c.g.mul(&zero_where(&x.binary_scalar(BinaryOp::Eq, Scalar::Float(0.0), false)?, &d)?)
        }) }
    Deg2rad { name: "deg2rad", aliases: [], rule: Float, f: (|x| x * T::from_f64(PI / 180.0)), i: none, b: none,
        wgsl: ("a * 0.017453292519943295", none, none),
        grad: "Deg2RadBackward0", saves: Nothing, bw: (|c| c.g.mul_scalar(PI / 180.0)) }
    Rad2deg { name: "rad2deg", aliases: [], rule: Float, f: (|x| x * T::from_f64(180.0 / PI)), i: none, b: none,
        wgsl: ("a * 57.29577951308232", none, none),
        grad: "Rad2DegBackward0", saves: Nothing, bw: (|c| c.g.mul_scalar(180.0 / PI)) }
    Floor { name: "floor", aliases: [], rule: Keep, f: (|x| x.floor()), i: (|x| x), b: (|x| x), wgsl: ("floor(a)", "a", "a"),
        grad: "FloorBackward0", saves: Nothing, bw: (|c| Tensor::zeros_like(c.g)) }
    Ceil { name: "ceil", aliases: [], rule: Keep, f: (|x| x.ceil()), i: (|x| x), b: (|x| x), wgsl: ("ceil(a)", "a", "a"),
        grad: "CeilBackward0", saves: Nothing, bw: (|c| Tensor::zeros_like(c.g)) }
    Round { name: "round", aliases: [], rule: Keep, f: (|x| x.round_even()), i: (|x| x), b: (|x| x), wgsl: ("round(a)", "a", "a"),
        grad: "RoundBackward0", saves: Nothing, bw: (|c| Tensor::zeros_like(c.g)) }
    Trunc { name: "trunc", aliases: ["fix"], rule: Keep, f: (|x| x.trunc()), i: (|x| x), b: (|x| x), wgsl: ("trunc(a)", "a", "a"),
        grad: "TruncBackward0", saves: Nothing, bw: (|c| Tensor::zeros_like(c.g)) }
    Frac { name: "frac", aliases: [], rule: Keep, f: (|x| x - x.trunc()), i: none, b: none, wgsl: ("a - trunc(a)", none, none),
        grad: "FracBackward0", saves: Nothing, bw: (|c| Ok(c.g.clone())) }
    IsNan { name: "isnan", aliases: [], rule: Pred, f: (|x| x.is_nan()), i: (|_| false), b: (|_| false),
        wgsl: ("i32(isnan_f(a))", "0", "0"), grad: none, saves: Nothing, bw: none }
    IsInf { name: "isinf", aliases: [], rule: Pred, f: (|x| x.is_infinite()), i: (|_| false), b: (|_| false),
        wgsl: ("i32(isinf_f(a))", "0", "0"), grad: none, saves: Nothing, bw: none }
    IsFinite { name: "isfinite", aliases: [], rule: Pred, f: (|x| !x.is_nan() && !x.is_infinite()), i: (|_| true), b: (|_| true),
        wgsl: ("i32(isfinite_f(a))", "1", "1"), grad: none, saves: Nothing, bw: none }
    Signbit { name: "signbit", aliases: [], rule: Pred, f: (|x| x.sign_bit()), i: (|x| x < T::ZERO), b: (|_| false),
        wgsl: ("i32((bitcast<u32>(a) >> 31u) == 1u)", "i32(a < 0)", "0"), grad: none, saves: Nothing, bw: none }
    LogicalNot { name: "logical_not", aliases: [], rule: Pred, f: (|x| x == T::ZERO), i: (|x| x == T::ZERO), b: (|x| !x),
        wgsl: ("i32(a == 0.0)", "i32(a == 0)", "i32(a == 0)"), grad: none, saves: Nothing, bw: none }
    BitNot { name: "bitwise_not", aliases: [], rule: Keep, f: none, i: (|x| x.bitnot()), b: (|x| !x),
        wgsl: (none, "~a", "1 - a"), grad: none, saves: Nothing, bw: none }
}

binary_table! {
    Add { name: "add", aliases: [], rule: Arith, f: (|x, y| x + y), i: (|x, y| x.wadd(y)), b: (|x, y| x | y),
        wgsl: ("a + b", "a + b"), grad: "AddBackward0", saves: NONE, bw: (|c| Ok([Some(c.g.clone()), Some(c.g.clone())])) }
    Sub { name: "sub", aliases: ["subtract"], rule: NoBool, f: (|x, y| x - y), i: (|x, y| x.wsub(y)), b: none,
        wgsl: ("a - b", "a - b"), grad: "SubBackward0", saves: NONE,
        bw: (|c| Ok([Some(c.g.clone()), c.when(c.need_b, || c.g.neg())?])) }
    Mul { name: "mul", aliases: ["multiply"], rule: Arith, f: (|x, y| x * y), i: (|x, y| x.wmul(y)), b: (|x, y| x & y),
        wgsl: ("a * b", "a * b"), grad: "MulBackward0", saves: AB,
        bw: (|c| Ok([c.when(c.need_a, || c.g.mul(&c.b()?))?, c.when(c.need_b, || c.g.mul(&c.a()?))?])) }
    Div { name: "div", aliases: ["divide", "true_divide"], rule: Float, f: (|x, y| x / y), i: none, b: none,
        wgsl: ("a / b", none), grad: "DivBackward0", saves: AB,
        bw: (|c| {
            let bv = c.b()?;
            Ok([
                c.when(c.need_a, || c.g.div(&bv))?,
                c.when(c.need_b, || c.g.mul(&c.a()?)?.div(&bv.mul(&bv)?)?.neg())?,
            ])
        }) }
    FloorDiv { name: "floor_divide", aliases: [], rule: NoBool, f: (|x, y| (x / y).floor()), i: (|x, y| x.floordiv(y)), b: none,
        wgsl: ("floordiv_f(a, b)", "floordiv_i(a, b)"), grad: none, saves: NONE, bw: none }
    Rem { name: "remainder", aliases: [], rule: NoBool, f: (|x, y| x.rem_py(y)), i: (|x, y| x.rem_py(y)), b: none,
        wgsl: ("rem_f(a, b)", "rem_i(a, b)"), grad: "RemainderBackward0", saves: AB,
        bw: (|c| Ok([
            Some(c.g.clone()),
            c.when(c.need_b, || c.g.mul(&c.a()?.binary(BinaryOp::FloorDiv, &c.b()?)?)?.neg())?,
        ])) }
    Fmod { name: "fmod", aliases: [], rule: Arith, f: (|x, y| x.fmod(y)), i: (|x, y| x.trem(y)), b: none,
        wgsl: ("fmod_f(a, b)", "trem_i(a, b)"), grad: "FmodBackward0", saves: AB,
        bw: (|c| Ok([
            Some(c.g.clone()),
            c.when(c.need_b, || c.g.mul(&c.a()?.div(&c.b()?)?.unary(UnaryOp::Trunc)?)?.neg())?,
        ])) }
    Pow { name: "pow", aliases: [], rule: NoBool, f: (|x, y| x.powf(y)), i: (|x, y| x.wpow(y)), b: none,
        wgsl: ("pow_f(a, b)", "pow_i(a, b)"), grad: "PowBackward1", saves: ABO, bw: (pow_backward) }
    Maximum { name: "maximum", aliases: [], rule: Arith, f: (|x, y| x.max_nan(y)), i: (|x, y| if x > y { x } else { y }), b: (|x, y| x | y),
        wgsl: ("fmax_nan(a, b)", "max(a, b)"), grad: "MaximumBackward0", saves: AB, bw: (|c| extreme_backward(c, BinaryOp::Gt)) }
    Minimum { name: "minimum", aliases: [], rule: Arith, f: (|x, y| x.min_nan(y)), i: (|x, y| if x < y { x } else { y }), b: (|x, y| x & y),
        wgsl: ("fmin_nan(a, b)", "min(a, b)"), grad: "MinimumBackward0", saves: AB, bw: (|c| extreme_backward(c, BinaryOp::Lt)) }
    Atan2 { name: "atan2", aliases: ["arctan2"], rule: Float, f: (|x, y| x.atan2(y)), i: none, b: none,
        wgsl: ("atan2(a, b)", none), grad: "Atan2Backward0", saves: AB,
        bw: (|c| {
            let (av, bv) = (c.a()?, c.b()?);
            let den = av.mul(&av)?.add(&bv.mul(&bv)?)?;
            Ok([c.when(c.need_a, || c.g.mul(&bv.div(&den)?))?, c.when(c.need_b, || c.g.mul(&av.neg()?.div(&den)?))?])
        }) }
    Copysign { name: "copysign", aliases: [], rule: Float, f: (|x, y| x.copysign(y)), i: none, b: none,
        wgsl: ("copysign_f(a, b)", none), grad: "CopysignBackward0", saves: ABO,
        bw: (|c| {
            // torch: the gradient is the sign change out / a, and 0 where a = 0
            let av = c.a()?;
            let az = av.binary_scalar(BinaryOp::Eq, Scalar::Float(0.0), false)?;
            Ok([
                c.when(c.need_a, || c.g.mul(&zero_where(&az, &c.out()?.div(&av)?)?))?,
                c.when(c.need_b, || Tensor::zeros_like(c.g))?,
            ])
        }) }
    Hypot { name: "hypot", aliases: [], rule: Arith, f: (|x, y| x.hypot(y)), i: none, b: none,
        wgsl: ("hypot_f(a, b)", none), grad: "HypotBackward0", saves: ABO,
        bw: (|c| {
            let o = c.out()?;
            Ok([c.when(c.need_a, || c.g.mul(&c.a()?)?.div(&o))?, c.when(c.need_b, || c.g.mul(&c.b()?)?.div(&o))?])
        }) }
    Logaddexp { name: "logaddexp", aliases: [], rule: Arith, f: (|x, y| x.logaddexp(y)), i: none, b: none,
        wgsl: ("logaddexp_f(a, b)", none), grad: "LogaddexpBackward0", saves: AB,
        bw: (|c| {
            let (av, bv) = (c.a()?, c.b()?);
            let w = |p: &Tensor, q: &Tensor| c.g.div(&q.sub(p)?.exp()?.add_scalar(1.0)?);
            Ok([c.when(c.need_a, || w(&av, &bv))?, c.when(c.need_b, || w(&bv, &av))?])
        }) }
    Logaddexp2 { name: "logaddexp2", aliases: [], rule: Arith, f: (|x, y| x.logaddexp2(y)), i: none, b: none,
        wgsl: ("logaddexp2_f(a, b)", none), grad: "Logaddexp2Backward0", saves: AB,
        bw: (|c| {
            let (av, bv) = (c.a()?, c.b()?);
            let w = |p: &Tensor, q: &Tensor| c.g.div(&q.sub(p)?.unary(UnaryOp::Exp2)?.add_scalar(1.0)?);
            Ok([c.when(c.need_a, || w(&av, &bv))?, c.when(c.need_b, || w(&bv, &av))?])
        }) }
    // polygamma(n, x) as x._polygamma(n): n is a Python int (checked >= 0 in Python), so the
    // row is internal and torch.polygamma / Tensor.polygamma are written by hand
    Polygamma { name: "_polygamma", aliases: [], rule: Float, f: (|x, n| x.polygamma(n)), i: none, b: none,
        wgsl: ("polygamma_f(a, b)", none), grad: "PolygammaBackward0", saves: AB,
        bw: (|c| Ok([c.when(c.need_a, || c.g.mul(&c.a()?.binary(BinaryOp::Polygamma, &c.b()?.add_scalar(1.0)?)?))?, None])) }
    Xlogy { name: "xlogy", aliases: [], rule: Float, f: (|x, y| x.xlogy(y)), i: none, b: none,
        wgsl: ("xlogy_f(a, b)", none), grad: "XlogyBackward0", saves: AB,
        bw: (|c| {
            let (av, bv) = (c.a()?, c.b()?);
            Ok([
                // torch: xlogy(a != 0, b), so 0 where a = 0 unless b is NaN
                c.when(c.need_a, || c.g.mul(&av.binary_scalar(BinaryOp::Ne, Scalar::Float(0.0), false)?.to_dtype(av.dtype())?.binary(BinaryOp::Xlogy, &bv)?))?,
                c.when(c.need_b, || c.g.mul(&av)?.div(&bv))?,
            ])
        }) }
    Eq { name: "eq", aliases: [], rule: Cmp, f: (|x, y| x == y), i: (|x, y| x == y), b: (|x, y| x == y),
        wgsl: ("i32(a == b)", "i32(a == b)"), grad: none, saves: NONE, bw: none }
    Ne { name: "ne", aliases: ["not_equal"], rule: Cmp, f: (|x, y| x != y), i: (|x, y| x != y), b: (|x, y| x != y),
        wgsl: ("i32(a != b)", "i32(a != b)"), grad: none, saves: NONE, bw: none }
    Lt { name: "lt", aliases: ["less"], rule: Cmp, f: (|x, y| x < y), i: (|x, y| x < y), b: (|x, y| !x & y),
        wgsl: ("i32(a < b)", "i32(a < b)"), grad: none, saves: NONE, bw: none }
    Le { name: "le", aliases: ["less_equal"], rule: Cmp, f: (|x, y| x <= y), i: (|x, y| x <= y), b: (|x, y| !x | y),
        wgsl: ("i32(a <= b)", "i32(a <= b)"), grad: none, saves: NONE, bw: none }
    Gt { name: "gt", aliases: ["greater"], rule: Cmp, f: (|x, y| x > y), i: (|x, y| x > y), b: (|x, y| x & !y),
        wgsl: ("i32(a > b)", "i32(a > b)"), grad: none, saves: NONE, bw: none }
    Ge { name: "ge", aliases: ["greater_equal"], rule: Cmp, f: (|x, y| x >= y), i: (|x, y| x >= y), b: (|x, y| x | !y),
        wgsl: ("i32(a >= b)", "i32(a >= b)"), grad: none, saves: NONE, bw: none }
    LogicalAnd { name: "logical_and", aliases: [], rule: Cmp, f: (|x, y| x.to_bool() && y.to_bool()), i: (|x, y| x.to_bool() && y.to_bool()), b: (|x, y| x & y),
        wgsl: ("i32((a != 0.0) && (b != 0.0))", "i32((a != 0) && (b != 0))"), grad: none, saves: NONE, bw: none }
    LogicalOr { name: "logical_or", aliases: [], rule: Cmp, f: (|x, y| x.to_bool() || y.to_bool()), i: (|x, y| x.to_bool() || y.to_bool()), b: (|x, y| x | y),
        wgsl: ("i32((a != 0.0) || (b != 0.0))", "i32((a != 0) || (b != 0))"), grad: none, saves: NONE, bw: none }
    LogicalXor { name: "logical_xor", aliases: [], rule: Cmp, f: (|x, y| x.to_bool() != y.to_bool()), i: (|x, y| x.to_bool() != y.to_bool()), b: (|x, y| x ^ y),
        wgsl: ("i32((a != 0.0) != (b != 0.0))", "i32((a != 0) != (b != 0))"), grad: none, saves: NONE, bw: none }
    BitAnd { name: "bitwise_and", aliases: [], rule: Arith, f: none, i: (|x, y| x.bitand(y)), b: (|x, y| x & y),
        wgsl: (none, "a & b"), grad: none, saves: NONE, bw: none }
    BitOr { name: "bitwise_or", aliases: [], rule: Arith, f: none, i: (|x, y| x.bitor(y)), b: (|x, y| x | y),
        wgsl: (none, "a | b"), grad: none, saves: NONE, bw: none }
    BitXor { name: "bitwise_xor", aliases: [], rule: Arith, f: none, i: (|x, y| x.bitxor(y)), b: (|x, y| x ^ y),
        wgsl: (none, "a ^ b"), grad: none, saves: NONE, bw: none }
    Shl { name: "bitwise_left_shift", aliases: [], rule: Arith, f: none, i: (|x, y| x.shl(y)), b: none,
        wgsl: (none, "shl_i(a, b)"), grad: none, saves: NONE, bw: none }
    Shr { name: "bitwise_right_shift", aliases: [], rule: Arith, f: none, i: (|x, y| x.shr(y)), b: none,
        wgsl: (none, "shr_i(a, b)"), grad: none, saves: NONE, bw: none }
}

/// d(a^b): `b a^(b-1)` (0 where b = 0) and `a^b ln a` (0 where a = 0 and b >= 0; torch
/// leaves the -inf of `0^b` for b < 0).
fn pow_backward(c: &BinCtx) -> Result<[Option<Tensor>; 2]> {
    let (av, bv) = (c.a()?, c.b()?);
    if !c.need_b && bv.numel() == 1 {
        // constant exponent (`x ** 3`): plain scalar ops
        let e = bv.item_f64()?;
        let d = if e == 0.0 {
            Tensor::zeros_like(c.g)?
        } else if e == 1.0 {
            c.g.clone()
        } else if e == 2.0 {
            c.g.mul(&av)?.mul_scalar(2.0)?
        } else {
            c.g.mul(&av.binary_scalar(BinaryOp::Pow, Scalar::Float(e - 1.0), false)?)?.mul_scalar(e)?
        };
        return Ok([Some(d), None]);
    }
    let ga = c.when(c.need_a, || {
        let bm1 = bv.binary_scalar(BinaryOp::Sub, Scalar::Float(1.0), false)?;
        let d = bv.mul(&av.binary(BinaryOp::Pow, &bm1)?)?;
        let bz = bv.binary_scalar(BinaryOp::Eq, Scalar::Float(0.0), false)?;
        c.g.mul(&zero_where(&bz, &d)?)
    })?;
    let gb = c.when(c.need_b, || {
        let d = c.out()?.mul(&av.log()?)?;
        let az = av.binary_scalar(BinaryOp::Eq, Scalar::Float(0.0), false)?;
        let bnn = bv.binary_scalar(BinaryOp::Ge, Scalar::Float(0.0), false)?;
        c.g.mul(&zero_where(&az.binary(BinaryOp::LogicalAnd, &bnn)?, &d)?)
    })?;
    Ok([ga, gb])
}

/// maximum/minimum: the winner takes the gradient, ties split it evenly.
fn extreme_backward(c: &BinCtx, wins: BinaryOp) -> Result<[Option<Tensor>; 2]> {
    let (av, bv) = (c.a()?, c.b()?);
    let w = av.binary(wins, &bv)?.to_dtype(c.g.dtype())?;
    let ties = av.binary(BinaryOp::Eq, &bv)?.to_dtype(c.g.dtype())?.mul_scalar(0.5)?;
    let wa = w.add(&ties)?;
    Ok([Some(c.g.mul(&wa)?), Some(c.g.mul(&wa.neg()?.add_scalar(1.0)?)?)])
}

impl UnaryOp {
    pub fn from_name(s: &str) -> Option<UnaryOp> {
        UnaryOp::ALL.iter().copied().find(|op| op.name() == s || op.aliases().contains(&s))
    }
    /// Whether integer inputs compute in float32.
    pub fn needs_float(self) -> bool {
        self.rule() == UnaryRule::Float
    }
    pub fn out_dtype(self, input: DType) -> DType {
        match self.rule() {
            UnaryRule::Pred => DType::Bool,
            UnaryRule::Float if !input.is_float() => DType::F32,
            UnaryRule::Float | UnaryRule::Keep => input,
        }
    }
}

impl BinaryOp {
    pub fn from_name(s: &str) -> Option<BinaryOp> {
        BinaryOp::ALL.iter().copied().find(|op| op.name() == s || op.aliases().contains(&s))
    }
    pub fn is_comparison(self) -> bool {
        self.rule() == BinaryRule::Cmp
    }
    /// The dtype the kernel computes in, given the promoted operand dtype.
    pub fn compute_dtype(self, promoted: DType) -> DType {
        match self.rule() {
            BinaryRule::Float if !promoted.is_float() => DType::F32,
            BinaryRule::NoBool if promoted == DType::Bool => DType::I64,
            BinaryRule::Float | BinaryRule::NoBool | BinaryRule::Arith | BinaryRule::Cmp => promoted,
        }
    }
    pub fn out_dtype(self, compute: DType) -> DType {
        if self.is_comparison() {
            DType::Bool
        } else {
            compute
        }
    }
}

/// torch's name for a dtype in "not implemented for" messages (`'Long'`, `'Float'`).
pub fn torch_type_name(dt: DType) -> &'static str {
    match dt {
        DType::Bool => "Bool",
        DType::U8 => "Byte",
        DType::I8 => "Char",
        DType::I16 => "Short",
        DType::I32 => "Int",
        DType::I64 => "Long",
        DType::F16 => "Half",
        DType::BF16 => "BFloat16",
        DType::F32 => "Float",
        DType::F64 => "Double",
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum,
    Prod,
    Max,
    Min,
    /// Index of the max (first occurrence), as int64.
    ArgMax,
    ArgMin,
    Any,
    All,
}

impl ReduceOp {
    pub fn name(self) -> &'static str {
        use ReduceOp::*;
        match self {
            Sum => "sum",
            Prod => "prod",
            Max => "max",
            Min => "min",
            ArgMax => "argmax",
            ArgMin => "argmin",
            Any => "any",
            All => "all",
        }
    }
}

/// The scans along one dim (`cumsum`, `cumprod`, `cummax`, `cummin`, `logcumsumexp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScanOp {
    Sum,
    Prod,
    /// Also returns the index of the running max (the latest on ties, as torch).
    Max,
    Min,
    LogSumExp,
}

impl ScanOp {
    pub fn name(self) -> &'static str {
        match self {
            ScanOp::Sum => "cumsum",
            ScanOp::Prod => "cumprod",
            ScanOp::Max => "cummax",
            ScanOp::Min => "cummin",
            ScanOp::LogSumExp => "logcumsumexp",
        }
    }
    /// The values' dtype: sums and products of ints and bools are int64, as in torch.
    pub fn out_dtype(self, dt: DType) -> DType {
        match self {
            ScanOp::Sum | ScanOp::Prod if !dt.is_float() => DType::I64,
            _ => dt,
        }
    }
    pub fn has_indices(self) -> bool {
        matches!(self, ScanOp::Max | ScanOp::Min)
    }
    /// Whether the op has a kernel for `dt` (logcumsumexp is float only).
    pub fn has_kernel(self, dt: DType) -> bool {
        self != ScanOp::LogSumExp || dt.is_float()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_unique_and_resolve() {
        let mut seen = std::collections::HashSet::new();
        for &op in UnaryOp::ALL {
            for n in std::iter::once(op.name()).chain(op.aliases().iter().copied()) {
                assert!(seen.insert(n), "{n} named twice");
                assert_eq!(UnaryOp::from_name(n), Some(op));
            }
        }
        for &op in BinaryOp::ALL {
            for n in std::iter::once(op.name()).chain(op.aliases().iter().copied()) {
                assert!(seen.insert(n), "{n} named twice");
                assert_eq!(BinaryOp::from_name(n), Some(op));
            }
        }
    }

    #[test]
    fn every_kernel_has_a_gpu_expression_and_back() {
        // a dtype kind with a CPU kernel must have a WGSL one (float64 runs on the CPU only)
        for dt in [DType::F32, DType::I32, DType::Bool] {
            for &op in UnaryOp::ALL {
                assert_eq!(op.has_kernel(dt), op.wgsl(dt).is_some(), "{} for {}", op.name(), dt.name());
            }
            for &op in BinaryOp::ALL {
                if dt == DType::Bool && op.has_kernel(dt) {
                    // bool words compute with the integer expression
                    assert!(op.wgsl(dt).is_some(), "{} for bool", op.name());
                } else if dt != DType::Bool {
                    assert_eq!(op.has_kernel(dt), op.wgsl(dt).is_some(), "{} for {}", op.name(), dt.name());
                }
            }
        }
    }

    #[test]
    fn float_rule_ops_have_float_kernels_only() {
        for &op in UnaryOp::ALL {
            if op.rule() == UnaryRule::Float {
                assert!(op.has_kernel(DType::F32) && !op.has_kernel(DType::I64) && !op.has_kernel(DType::Bool), "{}", op.name());
                assert_eq!(op.out_dtype(DType::I64), DType::F32);
            }
        }
        for &op in BinaryOp::ALL {
            if op.rule() == BinaryRule::Float {
                assert_eq!(op.compute_dtype(DType::I32), DType::F32, "{}", op.name());
            }
        }
    }
}

/// The pointwise ops of three tensors and a scalar (`addcmul`, `addcdiv`, `lerp`). Each is
/// one kernel launch; the formulas keep torch's CPU order of rounding (see `ternary_float`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TernaryOp {
    /// `a + value * b * c`
    Addcmul,
    /// `a + value * b / c`
    Addcdiv,
    /// `a + c * (b - a)` for `|c| < 0.5`, else `b - (b - a) * (1 - c)` (the exact end points).
    Lerp,
}

impl TernaryOp {
    pub const ALL: [TernaryOp; 3] = [TernaryOp::Addcmul, TernaryOp::Addcdiv, TernaryOp::Lerp];

    pub fn name(self) -> &'static str {
        match self {
            TernaryOp::Addcmul => "addcmul",
            TernaryOp::Addcdiv => "addcdiv",
            TernaryOp::Lerp => "lerp",
        }
    }

    /// torch's kernel name in "not implemented for" messages.
    pub fn kernel_name(self, scalar_weight: bool) -> &'static str {
        match self {
            TernaryOp::Addcmul => "addcmul_cpu_out",
            TernaryOp::Addcdiv => "addcdiv_cpu_out",
            TernaryOp::Lerp if scalar_weight => "lerp_kernel_scalar",
            TernaryOp::Lerp => "lerp_kernel_tensor",
        }
    }

    pub fn grad_name(self, scalar_weight: bool) -> &'static str {
        match self {
            TernaryOp::Addcmul => "AddcmulBackward0",
            TernaryOp::Addcdiv => "AddcdivBackward0",
            TernaryOp::Lerp if scalar_weight => "LerpBackward0",
            TernaryOp::Lerp => "LerpBackward1",
        }
    }

    pub fn has_kernel(self, dt: DType) -> bool {
        match self {
            TernaryOp::Addcmul => dt != DType::Bool,
            TernaryOp::Addcdiv | TernaryOp::Lerp => dt.is_float(),
        }
    }

    /// The GPU expression over `a`, `b`, `c` and `v` (the scalar), in `ctype(dt)`.
    pub fn wgsl(self, dt: DType) -> &'static str {
        match self {
            // WGSL's fma is float-only
            TernaryOp::Addcmul if !dt.is_float() => "a + v * b * c",
            TernaryOp::Addcmul => "fma(v * b, c, a)",
            TernaryOp::Addcdiv => "a + v * b / c",
            TernaryOp::Lerp => "select(b - (b - a) * (1.0 - c), a + c * (b - a), abs(c) < 0.5)",
        }
    }
}

/// The float kernel of `op` with scalar `v`, rounded as torch's CPU kernels round (checked
/// bit for bit): lerp is one fused multiply-add `base + coeff * (b - a)`, addcmul fuses
/// its last multiply and add, addcdiv rounds after each operation.
#[inline(always)]
pub fn ternary_float<T: Float>(op: TernaryOp, v: T) -> impl Fn(T, T, T) -> T + Sync + Copy {
    let half = T::from_f64(0.5);
    move |a: T, b: T, c: T| match op {
        TernaryOp::Addcmul => (v * b).mul_add(c, a),
        TernaryOp::Addcdiv => a + v * b / c,
        TernaryOp::Lerp => {
            if c.abs() < half {
                c.mul_add(b - a, a)
            } else {
                (c - T::ONE).mul_add(b - a, b)
            }
        }
    }
}

/// addcmul on integers wraps as torch's does.
#[inline(always)]
pub fn ternary_int<T: Int>(v: T) -> impl Fn(T, T, T) -> T + Sync + Copy {
    move |a: T, b: T, c: T| a.wadd(v.wmul(b).wmul(c))
}
