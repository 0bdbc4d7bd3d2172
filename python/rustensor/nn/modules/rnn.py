"""Recurrent layers: RNN (tanh/relu), LSTM (with projections), GRU and their cells, with
torch's parameter names, layout, gate order and initialisation (owner: nn-spatial).

Per layer and direction the input projection of every time step is one matmul. An LSTM
direction without projections, or a GRU direction, without packed masks (float32/float64) is
then one core op over the whole sequence (`_lstm_layer`/`_gru_layer`: per step a matmul and
the fused cell kernel, with a backward through time in Rust); otherwise each step is one matmul with the hidden weights and one core
op for the gate math and the state update (`_lstm_cell`/`_gru_cell`, with a one-kernel
backward on either device). PackedSequence inputs run on the padded batch with a per-step mask that
freezes finished sequences, which gives torch's outputs and final states.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ... import _rustensor as _C
from ... import empty, float32, float64
from .. import init
from ...amp.autocast_mode import is_autocast_enabled
from .._attention import _dropout
from .._spatial_util import _autocast
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, _long, _np, pad_packed_sequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
# the dtypes the whole-layer LSTM op takes (others run step by step)
_LAYER_DTYPES = (float32, float64)


def _zeros(shape, like):
    z = _C._full(list(shape), 0.0, like.dtype)
    return z if like.device.type == "cpu" else z.to(like.device)


def _stack(ts, dim=0):
    from ... import stack

    return stack(ts, dim)


def _cat(ts, dim=0):
    from ... import cat

    return cat(ts, dim)


def _lstm_step(xg, h, c, w_hh_t, b_hh, w_hr_t, H):
    """One LSTM step; `w_hh_t`/`w_hr_t` are the transposed hidden and projection weights.
    The gate math and state update are one core op (`_lstm_cell`) with a one-kernel backward."""
    g = xg + h @ w_hh_t
    if b_hh is not None:
        g = g + b_hh
    hc = _C._lstm_cell(g, c)
    h, c = hc[:, :H], hc[:, H:]
    if w_hr_t is not None:
        h = h @ w_hr_t
    return h, c


def _gru_step(xg, h, w_hh_t, b_hh, H):
    """One GRU step: the hidden projection here, the gate math as one core op (`_gru_cell`)."""
    gh = h @ w_hh_t
    if b_hh is not None:
        gh = gh + b_hh
    return _C._gru_cell(xg, gh, h)


def _rnn_step(xg, h, w_hh_t, b_hh, relu):
    g = xg + h @ w_hh_t
    if b_hh is not None:
        g = g + b_hh
    return g.relu() if relu else g.tanh()


class RNNBase(Module):
    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                     "bidirectional", "proj_size"]

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool)):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}"
            )
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input_size = input_size if layer == 0 else real_hidden_size * num_directions
                params = [
                    Parameter(empty((gate_size, layer_input_size), device=device, dtype=dtype)),
                    Parameter(empty((gate_size, real_hidden_size), device=device, dtype=dtype)),
                ]
                names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    params += [Parameter(empty((gate_size,), device=device, dtype=dtype)),
                               Parameter(empty((gate_size,), device=device, dtype=dtype))]
                    names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    params.append(Parameter(empty((proj_size, hidden_size), device=device, dtype=dtype)))
                    names.append("weight_hr_l{}{}")
                suffix = "_reverse" if direction == 1 else ""
                names = [n.format(layer, suffix) for n in names]
                for name, p in zip(names, params):
                    setattr(self, name, p)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self):
        return [getattr(self, n, None) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, w) for w in ws] for ws in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op: the weights are used where they are (torch compacts them for cuDNN)."""

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    def __setstate__(self, state):
        super().__setstate__(state)
        if "proj_size" not in self.__dict__:
            self.proj_size = 0

    # ------------------------------------------------------------------------------------

    def _name(self):
        return "LSTM" if self.mode == "LSTM" else ("GRU" if self.mode == "GRU" else "RNN")

    def _check_input(self, input, batch_sizes):
        expected = 2 if batch_sizes is not None else 3
        if input.dim() != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.dim()}")
        if self.input_size != input.shape[-1]:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {input.shape[-1]}"
            )

    @staticmethod
    def _check_hidden(hx, expected, msg="Expected hidden size {}, got {}"):
        if tuple(hx.shape) != tuple(expected):
            raise RuntimeError(msg.format(tuple(expected), list(hx.shape)))

    def _run(self, x, h0, c0, lengths):
        """x (T, B, I) time-major; h0/c0 (L*D, B, *); lengths: host array or None.
        Returns (output (T, B, D*H'), h_n, c_n)."""
        T, B = x.shape[0], x.shape[1]
        D = 2 if self.bidirectional else 1
        H = self.hidden_size
        masks = None
        if lengths is not None:
            m = np.arange(T)[:, None] < np.asarray(lengths)[None, :]
            # (T, B, 1) bools on the device, one per step; a finished sequence keeps its state
            masks = _long(m.astype(np.int64), x.device).bool().unsqueeze(-1)
        layer_input = x
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                names = self._all_weights[layer * D + d]
                w = {n.split("_l")[0]: getattr(self, n) for n in names}
                w_ih, w_hh = w["weight_ih"], w["weight_hh"]
                b_ih, b_hh = w.get("bias_ih"), w.get("bias_hh")
                w_hr = w.get("weight_hr")
                w_ih, w_hh, b_ih, b_hh, w_hr = _autocast(w_ih, w_hh, b_ih, b_hh, w_hr)
                xg = layer_input @ w_ih.t()
                if b_ih is not None:
                    # b_hh is constant over time: folded into the precomputed projection,
                    # except for GRU where it sits inside r * (W_hn h + b_hn)
                    xg = xg + (b_ih + b_hh if self.mode != "GRU" else b_ih)
                    step_b_hh = b_hh if self.mode == "GRU" else None
                else:
                    step_b_hh = None
                k = layer * D + d
                h = h0[k]
                c = c0[k] if c0 is not None else None
                if self.mode == "LSTM" and w_hr is None and masks is None and xg.dtype in _LAYER_DTYPES:
                    # the whole direction as one core op: (T, B, 2H) of [h_t | c_t]
                    hcs = _C._lstm_layer(xg, h, c, w_hh, d == 1)
                    last = hcs[0 if d == 1 else T - 1]
                    hs.append(last[:, :H])
                    cs.append(last[:, H:])
                    outs.append(hcs[:, :, :H])
                    continue
                if self.mode == "GRU" and masks is None and xg.dtype in _LAYER_DTYPES:
                    ys_d = _C._gru_layer(xg, h, w_hh, step_b_hh, d == 1)
                    hs.append(ys_d[0 if d == 1 else T - 1])
                    outs.append(ys_d)
                    continue
                w_hh_t = w_hh.t()
                w_hr_t = w_hr.t() if w_hr is not None else None
                steps = range(T - 1, -1, -1) if d == 1 else range(T)
                ys = [None] * T
                for t in steps:
                    xt = xg[t]
                    if self.mode == "LSTM":
                        hn, cn = _lstm_step(xt, h, c, w_hh_t, step_b_hh, w_hr_t, H)
                    elif self.mode == "GRU":
                        hn, cn = _gru_step(xt, h, w_hh_t, step_b_hh, H), None
                    else:
                        hn, cn = _rnn_step(xt, h, w_hh_t, step_b_hh, self.mode == "RNN_RELU"), None
                    if masks is not None:
                        mt = masks[t]
                        hn = hn.where(mt, h)
                        if cn is not None:
                            cn = cn.where(mt, c)
                    h, c = hn, cn
                    ys[t] = h
                hs.append(h)
                if c is not None:
                    cs.append(c)
                outs.append(_stack(ys, 0) if T else _zeros((0, B, h.shape[-1]), x))
            layer_input = outs[0].contiguous() if D == 1 else _cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = _dropout(layer_input, self.dropout)
        return layer_input, _stack(hs, 0), (_stack(cs, 0) if cs else None)

    def forward(self, input, hx=None):
        name = self._name()
        is_lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        batch_sizes = None
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            self._check_input(data, batch_sizes)
            padded, lengths_t = pad_packed_sequence(
                PackedSequence(data, batch_sizes, None, None), batch_first=False)
            x = padded
            lengths = _np(lengths_t).astype(np.int64)
            unbatched = False
        else:
            sorted_indices = unsorted_indices = None
            if input.dim() not in (2, 3):
                tensor_word = " tensor" if name == "RNN" else ""
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D{tensor_word} instead")
            unbatched = input.dim() == 2
            x = input.unsqueeze(1 if not self.batch_first else 0) if unbatched else input
            if self.batch_first:
                x = x.transpose(0, 1)
            lengths = None
            self._check_input(x, None)
        D = 2 if self.bidirectional else 1
        B = x.shape[1]
        real = self.proj_size if self.proj_size > 0 else self.hidden_size
        if hx is None:
            h0 = _zeros((self.num_layers * D, B, real), x)
            c0 = _zeros((self.num_layers * D, B, self.hidden_size), x) if is_lstm else None
        else:
            if is_lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise RuntimeError("LSTM expects hx to be a tuple (h_0, c_0)")
                h0, c0 = hx
                if unbatched:
                    if h0.dim() != 2 or c0.dim() != 2:
                        raise RuntimeError(
                            f"For unbatched 2-D input, hx and cx should also be 2-D but got ({h0.dim()}-D, "
                            f"{c0.dim()}-D) tensors"
                        )
                    h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
                elif not packed and (h0.dim() != 3 or c0.dim() != 3):
                    raise RuntimeError(
                        f"For batched 3-D input, hx and cx should also be 3-D but got ({h0.dim()}-D, "
                        f"{c0.dim()}-D) tensors"
                    )
            else:
                h0, c0 = hx, None
                if unbatched:
                    if h0.dim() != 2:
                        raise RuntimeError(
                            f"For unbatched 2-D input, hx should also be 2-D but got {h0.dim()}-D tensor")
                    h0 = h0.unsqueeze(1)
                elif not packed and h0.dim() != 3:
                    raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {h0.dim()}-D tensor")
            if sorted_indices is not None:
                h0 = h0.index_select(1, sorted_indices)
                if c0 is not None:
                    c0 = c0.index_select(1, sorted_indices)
            exp_h = (self.num_layers * D, B, real)
            if is_lstm:
                self._check_hidden(h0, exp_h, "Expected hidden[0] size {}, got {}")
                self._check_hidden(c0, (self.num_layers * D, B, self.hidden_size), "Expected hidden[1] size {}, got {}")
            else:
                self._check_hidden(h0, exp_h)
        if x.shape[0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        w0 = self.weight_ih_l0
        if x.dtype != w0.dtype and not is_autocast_enabled():
            raise ValueError(
                f"RNN input dtype ({x.dtype}) does not match weight dtype ({w0.dtype}). Convert input: "
                f"input.to({w0.dtype}), or convert model: model.to({x.dtype})"
            )
        x, h0, c0 = _autocast(x, h0, c0)
        out, hn, cn = self._run(x, h0, c0, lengths)
        if packed:
            from ..utils.rnn import _pack_index

            T = out.shape[0]
            bs, idx = _pack_index(np.sort(lengths)[::-1], B)
            data_out = out.reshape([T * B, out.shape[-1]]).index_select(0, _long(idx, out.device))
            output = PackedSequence(data_out, batch_sizes, sorted_indices, unsorted_indices)
            if unsorted_indices is not None:
                hn = hn.index_select(1, unsorted_indices)
                if cn is not None:
                    cn = cn.index_select(1, unsorted_indices)
        else:
            output = out.transpose(0, 1) if self.batch_first else out
            if unbatched:
                output = output.squeeze(0 if self.batch_first else 1)
                hn = hn.squeeze(1)
                if cn is not None:
                    cn = cn.squeeze(1)
        return (output, (hn, cn)) if is_lstm else (output, hn)


class RNN(RNNBase):
    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(RNNBase):
    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, proj_size=0):
        if proj_size:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype)


# ---------------------------------------------------------------------------------------------
# cells

class RNNCellBase(Module):
    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty((num_chunks * hidden_size,), device=device, dtype=dtype))
            self.bias_hh = Parameter(empty((num_chunks * hidden_size,), device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _prepare(self, input, hx, n_states):
        """(batched input, [batched states], unbatched?) with torch's checks."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        states = None if hx is None else (list(hx) if n_states == 2 else [hx])
        unbatched = input.dim() == 1
        if unbatched:
            input = input.unsqueeze(0)
            if states is not None:
                states = [s.unsqueeze(0) for s in states]
        for i, s in enumerate(states or []):
            if s.dim() != 2:
                raise RuntimeError(f"Expected 2D hidden{i} (batch x hidden_size), but got {s.dim()}D tensor")
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected {self.input_size}")
        if states is None:
            states = [_zeros((input.shape[0], self.hidden_size), input) for _ in range(n_states)]
        for i, s in enumerate(states):
            if s.shape[0] != input.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{i} batch size {s.shape[0]}")
            if s.shape[1] != self.hidden_size:
                raise RuntimeError(
                    f"hidden{i} has inconsistent hidden_size: got {s.shape[1]}, expected {self.hidden_size}")
        return input, states, unbatched

    def _weights(self, x, states):
        """Inputs, states and weights in autocast's dtype when a region is active."""
        r = _autocast(x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, *states)
        x, w_ih, w_hh, b_ih, b_hh = r[:5]
        xg = x @ w_ih.t()
        return (xg if b_ih is None else xg + b_ih), w_hh.t(), b_hh, list(r[5:])


class RNNCell(RNNCellBase):
    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        x, states, unbatched = self._prepare(input, hx, 1)
        xg, w_hh_t, b_hh, (h,) = self._weights(x, states)
        h = _rnn_step(xg, h, w_hh_t, b_hh, self.nonlinearity == "relu")
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        x, states, unbatched = self._prepare(input, hx, 2)
        xg, w_hh_t, b_hh, (h, c) = self._weights(x, states)
        h, c = _lstm_step(xg, h, c, w_hh_t, b_hh, None, self.hidden_size)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        x, states, unbatched = self._prepare(input, hx, 1)
        xg, w_hh_t, b_hh, (h,) = self._weights(x, states)
        h = _gru_step(xg, h, w_hh_t, b_hh, self.hidden_size)
        return h.squeeze(0) if unbatched else h
