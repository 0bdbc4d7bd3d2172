"""AdaptiveLogSoftmaxWithLoss: the adaptive softmax of Grave et al. 2016
(https://arxiv.org/abs/1609.04309), with torch's submodule names so state_dicts load across."""

from __future__ import annotations

from collections import namedtuple
from typing import List, Sequence

import numpy as np

from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


def _index(arr: np.ndarray, like):
    from ... import tensor

    t = tensor(arr, dtype=None)
    return t if like.device.type == "cpu" else t.to(like.device)


class AdaptiveLogSoftmaxWithLoss(Module):
    """The classes are split at `cutoffs` into a shortlist, predicted by `head` together with
    one logit per cluster, and clusters each predicted by a low-rank `tail` (in_features →
    in_features // div_value**(i+1) → cluster size); log p(class) = log p(cluster) +
    log p(class | cluster)."""

    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int], div_value: float = 4.0,
                 head_bias: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted in an increasing order, "
                             "where each value is between 1 and n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs: List[int] = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, device=device, dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, device=device, dtype=dtype),
                                        Linear(hidden, size, bias=False, device=device, dtype=dtype)))

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for proj in self.tail:
            for lin in proj:
                lin.reset_parameters()

    def forward(self, input_, target_):
        from .. import functional as F

        if target_.ndim == 1:
            if input_.shape[0] != target_.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch dimension.")
            if input_.ndim != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with size {input_.shape}")
        elif target_.ndim == 0:
            if input_.ndim != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with size {input_.shape}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target_.ndim > 0
        input = input_ if batched else input_.unsqueeze(0)
        target = target_ if batched else target_.unsqueeze(0)
        if target.dtype.is_floating_point or target.dtype == bool:
            raise RuntimeError("gather(): Expected dtype int32/int64 for index")

        # which cluster each row falls in is integer bookkeeping: one read of the targets to
        # the host, then only the rows of each cluster go through its tail
        tgt = np.asarray(target.detach().cpu().numpy()).astype(np.int64)
        if tgt.size and (tgt.min() < 0 or tgt.max() >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                               f"[{int(tgt.min())}, {int(tgt.max())}] were found. ")
        cluster = np.searchsorted(np.asarray(self.cutoffs[:-1]), tgt, side="right")  # 0: the shortlist
        head_col = np.where(cluster == 0, tgt, self.shortlist_size + cluster - 1)

        head_logprob = F.log_softmax(self.head(input), dim=1)
        output = head_logprob.gather(1, _index(head_col, input).unsqueeze(1)).squeeze(1)
        for i in range(1, self.n_clusters + 1):
            rows = np.nonzero(cluster == i)[0]
            if rows.size == 0:
                continue
            rows_t = _index(rows, input)
            local = F.log_softmax(self.tail[i - 1](input.index_select(0, rows_t)), dim=1)
            rel = _index(tgt[rows] - self.cutoffs[i - 1], input)
            output = output.index_add(0, rows_t, local.gather(1, rel.unsqueeze(1)).squeeze(1))
        loss = (-output).mean()
        if not batched:
            output = output.squeeze(0)
        return _ASMoutput(output, loss)

    def _full_log_prob(self, input, head_output):
        from ... import cat
        from .. import functional as F

        head_logprob = F.log_softmax(head_output, dim=1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i, proj in enumerate(self.tail):
            col = self.shortlist_size + i
            parts.append(F.log_softmax(proj(input), dim=1) + head_logprob[:, col:col + 1])
        return cat(parts, 1)

    def log_prob(self, input):
        """Log-probabilities of every class, (N, n_classes); a 1-d input gives (n_classes,)
        (torch accepts only (N, in_features) here)."""
        if input.ndim == 1:
            return self.log_prob(input.unsqueeze(0)).squeeze(0)
        return self._full_log_prob(input, self.head(input))

    def predict(self, input):
        """argmax of log_prob, computed in full only for the rows whose best head logit is a
        cluster: a shortlist class that wins in the head wins overall, since every class of a
        cluster has at most its cluster's probability."""
        if input.ndim == 1:
            return self.predict(input.unsqueeze(0)).squeeze(0)
        head_output = self.head(input)
        pred = head_output.argmax(dim=1)
        far = np.nonzero(np.asarray(pred.detach().cpu().numpy()) >= self.shortlist_size)[0]
        if far.size == 0:
            return pred
        rows = _index(far, input)
        best = self._full_log_prob(input.index_select(0, rows), head_output.index_select(0, rows)).argmax(dim=1)
        return pred.index_copy(0, rows, best)
