//! Element types, Python scalars, and torch's type-promotion rules.
use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    U8,
    I8,
    I16,
    I32,
    I64,
    F16,
    BF16,
    F32,
    F64,
}

/// The three promotion categories torch uses: a higher category wins across operand groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Bool,
    Int,
    Float,
}

impl DType {
    pub const ALL: [DType; 10] = [DType::Bool, DType::U8, DType::I8, DType::I16, DType::I32, DType::I64, DType::F16, DType::BF16, DType::F32, DType::F64];

    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }
    pub fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }
    pub fn is_int(self) -> bool {
        matches!(self, DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64)
    }
    pub fn is_signed(self) -> bool {
        !matches!(self, DType::Bool | DType::U8)
    }
    pub fn category(self) -> Category {
        match self {
            DType::Bool => Category::Bool,
            DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => Category::Int,
            DType::F16 | DType::BF16 | DType::F32 | DType::F64 => Category::Float,
        }
    }
    /// torch's name: `float32`, `int64`, ...
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }
    pub fn from_name(name: &str) -> Result<DType> {
        Ok(match name {
            "bool" => DType::Bool,
            "uint8" => DType::U8,
            "int8" => DType::I8,
            "int16" | "short" => DType::I16,
            "int32" | "int" => DType::I32,
            "int64" | "long" => DType::I64,
            "float16" | "half" => DType::F16,
            "bfloat16" => DType::BF16,
            "float32" | "float" => DType::F32,
            "float64" | "double" => DType::F64,
            _ => return Err(Error::Type(format!("unsupported dtype '{name}'"))),
        })
    }
    /// torch's `promote_types`: the smallest dtype holding both operands' values. The enum
    /// order is that lattice except where neither side covers the other: an unsigned and a
    /// signed integer meet in the next wider signed one (uint8 + int8 -> int16).
    pub fn promote(self, other: DType) -> DType {
        let (lo, hi) = if self <= other { (self, other) } else { (other, self) };
        if lo == DType::U8 && hi.is_int() && hi.is_signed() && hi.size() == 1 {
            return DType::I16;
        }
        // float16 and bfloat16 each have range or precision the other lacks
        if lo == DType::F16 && hi == DType::BF16 {
            return DType::F32;
        }
        hi
    }
}

/// A Python number taking part in an op. It only widens the result's category, never
/// its width inside the category (torch: `float32_tensor * 2.5` stays float32).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Scalar {
    pub fn category(self) -> Category {
        match self {
            Scalar::Bool(_) => Category::Bool,
            Scalar::Int(_) => Category::Int,
            Scalar::Float(_) => Category::Float,
        }
    }
    /// The dtype a tensor made from this scalar gets (`torch.tensor(2.5)` is float32).
    pub fn default_dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => DType::F32,
        }
    }
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
        }
    }
    pub fn to_i64(self) -> i64 {
        match self {
            Scalar::Bool(b) => b as i64,
            Scalar::Int(i) => i,
            Scalar::Float(f) => f as i64,
        }
    }
    pub fn is_zero(self) -> bool {
        self.to_f64() == 0.0
    }
}

/// Operand description for [`result_type`]: a tensor with dims, a 0-d tensor, or a Python scalar.
#[derive(Clone, Copy, Debug)]
pub enum Operand {
    Dim(DType),
    ZeroDim(DType),
    Scalar(Category),
}

fn category_default(c: Category) -> DType {
    match c {
        Category::Bool => DType::Bool,
        Category::Int => DType::I64,
        Category::Float => DType::F32,
    }
}

/// torch's `result_type`: dimensioned tensors decide unless a lower-priority group
/// (0-d tensors, then Python scalars) brings a higher category.
pub fn result_type(ops: &[Operand]) -> DType {
    let mut dim: Option<DType> = None;
    let mut zero: Option<DType> = None;
    let mut wrapped: Option<DType> = None;
    let upd = |slot: &mut Option<DType>, d: DType| {
        *slot = Some(match *slot {
            None => d,
            Some(s) => s.promote(d),
        })
    };
    for op in ops {
        match *op {
            Operand::Dim(d) => upd(&mut dim, d),
            Operand::ZeroDim(d) => upd(&mut zero, d),
            Operand::Scalar(c) => upd(&mut wrapped, category_default(c)),
        }
    }
    fn combine(higher: Option<DType>, lower: Option<DType>) -> Option<DType> {
        match (higher, lower) {
            (None, l) => l,
            (h, None) => h,
            (Some(h), Some(l)) => {
                if h.is_float() {
                    Some(h)
                } else if h == DType::Bool || l.category() > h.category() {
                    // A higher category from a lower-priority group: take that category's
                    // dtype of the lower group (e.g. int tensor + 0-d float64 tensor -> float64).
                    Some(h.promote(l))
                } else {
                    Some(h)
                }
            }
        }
    }
    combine(dim, combine(zero, wrapped)).unwrap_or(DType::F32)
}

/// A Rust element type that can live in a tensor.
pub trait Element: Copy + Send + Sync + 'static + PartialEq + PartialOrd + Default + std::fmt::Debug {
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn to_i64(self) -> i64;
    fn to_bool(self) -> bool;
    fn from_f64(v: f64) -> Self;
    fn from_i64(v: i64) -> Self;
    fn from_bool(v: bool) -> Self;
    #[inline(always)]
    fn cast<U: Element>(self) -> U {
        match U::DTYPE {
            DType::F16 | DType::BF16 | DType::F32 | DType::F64 => U::from_f64(self.to_f64()),
            DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => U::from_i64(self.to_i64()),
            DType::Bool => U::from_bool(self.to_bool()),
        }
    }
    fn from_scalar(s: Scalar) -> Self {
        match s {
            Scalar::Bool(b) => Self::from_bool(b),
            Scalar::Int(i) => Self::from_i64(i),
            Scalar::Float(f) => Self::from_f64(f),
        }
    }
    fn to_scalar(self) -> Scalar {
        match Self::DTYPE {
            DType::Bool => Scalar::Bool(self.to_bool()),
            DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => Scalar::Int(self.to_i64()),
            _ => Scalar::Float(self.to_f64()),
        }
    }
}

macro_rules! impl_num_element {
    ($t:ty, $dt:expr) => {
        impl Element for $t {
            const DTYPE: DType = $dt;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn to_bool(self) -> bool {
                self != (0 as $t)
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                // through int64, so out-of-range floats wrap into the narrow integer types
                // as torch's x86 builds do (Rust's direct cast would saturate)
                if $dt.is_float() || $dt == DType::I64 { v as $t } else { v as i64 as $t }
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn from_bool(v: bool) -> Self {
                v as u8 as $t
            }
        }
    };
}
impl_num_element!(u8, DType::U8);
impl_num_element!(i8, DType::I8);
impl_num_element!(i16, DType::I16);
impl_num_element!(i32, DType::I32);
impl_num_element!(i64, DType::I64);
impl_num_element!(f32, DType::F32);
impl_num_element!(f64, DType::F64);

/// The two 16-bit floats convert through f32/f64 the same way.
macro_rules! impl_half_element {
    ($t:ty, $dt:expr) => {
        impl Element for $t {
            const DTYPE: DType = $dt;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self.to_f64()
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self.to_f32() as i64
            }
            #[inline(always)]
            fn to_bool(self) -> bool {
                self.to_f32() != 0.0
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                <$t>::from_f64(v)
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                <$t>::from_f64(v as f64)
            }
            #[inline(always)]
            fn from_bool(v: bool) -> Self {
                <$t>::from_f32(v as u8 as f32)
            }
        }
    };
}
impl_half_element!(half::f16, DType::F16);
impl_half_element!(half::bf16, DType::BF16);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn to_bool(self) -> bool {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    #[inline(always)]
    fn from_bool(v: bool) -> Self {
        v
    }
}

/// Runs `$body` with `$T` bound to the Rust type of `$dt`.
#[macro_export]
macro_rules! with_dtype {
    ($dt:expr, $T:ident, $body:expr) => {
        match $dt {
            $crate::DType::Bool => {
                type $T = bool;
                $body
            }
            $crate::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::F16 => {
                type $T = $crate::f16;
                $body
            }
            $crate::DType::BF16 => {
                type $T = $crate::bf16;
                $body
            }
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use DType::*;

    #[test]
    fn promotion_follows_torch() {
        // int tensor * 1.5 -> float32; float32 tensor * python float stays float32
        assert_eq!(result_type(&[Operand::Dim(I64), Operand::Scalar(Category::Float)]), F32);
        assert_eq!(result_type(&[Operand::Dim(F32), Operand::Scalar(Category::Float)]), F32);
        assert_eq!(result_type(&[Operand::Dim(I32), Operand::Scalar(Category::Int)]), I32);
        assert_eq!(result_type(&[Operand::Dim(Bool), Operand::Scalar(Category::Int)]), I64);
        assert_eq!(result_type(&[Operand::Dim(I32), Operand::Dim(I64)]), I64);
        // a 0-d float64 tensor does not widen a float32 tensor, but lifts an int one
        assert_eq!(result_type(&[Operand::Dim(F32), Operand::ZeroDim(F64)]), F32);
        assert_eq!(result_type(&[Operand::Dim(I64), Operand::ZeroDim(F64)]), F64);
        assert_eq!(result_type(&[Operand::ZeroDim(I32), Operand::Scalar(Category::Float)]), F32);
    }

    #[test]
    fn casts() {
        assert_eq!(2.7f64.cast::<i64>(), 2);
        assert!(3i32.cast::<bool>());
        assert_eq!(true.cast::<f32>(), 1.0);
    }
}
