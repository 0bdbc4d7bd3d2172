"""einsum by reduction to permute/reshape/batched matmul, folding operands left to right."""

from __future__ import annotations

from collections import Counter

from ._tensor import Tensor


def _diag_repeated(t: Tensor, sub: str):
    """Takes diagonals for letters repeated inside one operand ('ii' -> 'i')."""
    while True:
        c = Counter(sub)
        rep = next((ch for ch in sub if c[ch] > 1), None)
        if rep is None:
            return t, sub
        i = sub.index(rep)
        j = sub.index(rep, i + 1)
        if t.shape[i] != t.shape[j]:
            raise RuntimeError(
                f"einsum(): subscript {rep} is repeated for operand but the sizes don't match, {t.shape[i]} != {t.shape[j]}"
            )
        t = t.diagonal(0, i, j)
        sub = sub[:i] + sub[i + 1 : j] + sub[j + 1 :] + rep


def _sum_out(t: Tensor, sub: str, keep: set):
    dims = [i for i, ch in enumerate(sub) if ch not in keep]
    if dims:
        t = t.sum(dims)
        sub = "".join(ch for ch in sub if ch in keep)
    return t, sub


def _contract(a: Tensor, sa: str, b: Tensor, sb: str, keep: set):
    batch = [ch for ch in sa if ch in sb and ch in keep]
    contr = [ch for ch in sa if ch in sb and ch not in keep]
    left = [ch for ch in sa if ch not in sb]
    right = [ch for ch in sb if ch not in sa]
    size: dict = {}
    for ch, n in list(zip(sa, a.shape)) + list(zip(sb, b.shape)):
        if ch in size and size[ch] != n and 1 not in (size[ch], n):
            raise RuntimeError(f"einsum(): operands do not broadcast with remapped shapes for subscript '{ch}' ({size[ch]} vs {n})")
        size[ch] = max(size.get(ch, n), n)
    pa = a.permute(*[sa.index(ch) for ch in batch + left + contr])
    pb = b.permute(*[sb.index(ch) for ch in batch + contr + right])
    nb = [size[ch] for ch in batch]
    m = 1
    for ch in left:
        m *= size[ch]
    k = 1
    for ch in contr:
        k *= size[ch]
    n = 1
    for ch in right:
        n *= size[ch]
    pa = pa.expand(*(nb + [size[ch] for ch in left + contr])).reshape(*(nb + [m, k]))
    pb = pb.expand(*(nb + [size[ch] for ch in contr + right])).reshape(*(nb + [k, n]))
    out = pa.matmul(pb).reshape(*(nb + [size[ch] for ch in left + right]))
    return out, "".join(batch + left + right)


def _expand_ellipsis(eq: str, operands) -> str:
    """Replaces '...' by upper-case letters, aligned from the right so broadcast dims match."""
    lhs, arrow, out = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(operands):
        raise RuntimeError("einsum(): the number of operands does not match the equation")
    pool = "ZYXWVUTSRQPONMLKJIHGFEDCBA"
    widest = 0
    new = []
    for s, t in zip(subs, operands):
        if "..." in s:
            n = t.ndim - (len(s) - 3)
            if n < 0:
                raise RuntimeError("einsum(): the ellipsis covers a negative number of dimensions")
            widest = max(widest, n)
            s = s.replace("...", pool[:n][::-1])
        new.append(s)
    ell = pool[:widest][::-1]
    if arrow:
        out = out.replace("...", ell)
    else:
        c = Counter("".join(new))
        out = ell + "".join(sorted(ch for ch in c if c[ch] == 1 and ch not in ell))
    return ",".join(new) + "->" + out


def einsum(equation: str, *operands: Tensor) -> Tensor:
    eq = equation.replace(" ", "")
    if "..." in eq:
        eq = _expand_ellipsis(eq, operands)
    if "->" in eq:
        lhs, out = eq.split("->")
    else:
        lhs = eq
        c = Counter(lhs.replace(",", ""))
        out = "".join(sorted(ch for ch in c if c[ch] == 1))
    subs = lhs.split(",")
    if len(subs) != len(operands):
        raise RuntimeError(f"einsum(): more operands were provided than specified in the equation" if len(operands) > len(subs) else "einsum(): fewer operands were provided than specified in the equation")
    for s, t in zip(subs, operands):
        if len(s) != t.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(s)}) does not match the number of dimensions ({t.ndim}) for operand")
    terms = []
    for s, t in zip(subs, operands):
        t, s = _diag_repeated(t, s)
        terms.append((t, s))
    # letters still needed later: the output's and those of operands not yet folded
    t, s = terms[0]
    for idx in range(1, len(terms)):
        later = set(out).union(*[set(x[1]) for x in terms[idx + 1 :]])
        t2, s2 = terms[idx]
        t, s = _sum_out(t, s, later | set(s2))
        t2, s2 = _sum_out(t2, s2, later | set(s))
        t, s = _contract(t, s, t2, s2, later)
    t, s = _sum_out(t, s, set(out))
    if sorted(s) != sorted(out):
        raise RuntimeError(f"einsum(): output subscripts '{out}' do not match the operands")
    return t.permute(*[s.index(ch) for ch in out]) if s else t
