"""In-place update primitives the optimizers share (torch's lerp_/addcmul_/addcdiv_), written over core ops."""

# The core has no fused lerp/addcmul/addcdiv yet, so each costs two or three elementwise calls;
# the rounding order follows torch's CPU kernels, so float64 results agree to the last bits
# and float32 results to an ulp or two.


def lerp_(a, b, w: float):
    """``a.lerp_(b, w)``: torch computes a + w*(b-a) for |w| < 0.5 and b - (b-a)*(1-w) otherwise."""
    if abs(w) < 0.5:
        return a.add_((b - a).mul_(w))
    d = (b - a).mul_(1.0 - w)
    return a.copy_(b - d)


def addcmul_(a, t1, t2, value: float = 1.0):
    """``a.addcmul_(t1, t2, value=value)``: a + value * t1 * t2."""
    return a.add_((t1 * value).mul_(t2) if value != 1 else t1 * t2)


def addcdiv_(a, t1, t2, value: float = 1.0):
    """``a.addcdiv_(t1, t2, value=value)``: a + value * (t1 / t2)."""
    q = t1 / t2
    return a.add_(q.mul_(value) if value != 1 else q)
