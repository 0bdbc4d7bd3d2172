"""The spatial and attention functions of ``rustensor.nn.functional``, gathered in one namespace.

functional.py star-imports this module; the code lives by concept in _conv (convolution,
unfold/fold), _padding, _pooling, _resample and _attention, with _spatial_util for what they share."""

from ._attention import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._padding import *  # noqa: F401,F403
from ._pooling import *  # noqa: F401,F403
from ._resample import *  # noqa: F401,F403

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_unpool1d", "max_unpool2d", "max_unpool3d", "channel_shuffle",
    "avg_pool1d", "avg_pool2d", "avg_pool3d", "lp_pool1d", "lp_pool2d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices",
    "pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
    "pixel_shuffle", "pixel_unshuffle", "unfold", "fold", "affine_grid", "grid_sample",
    "scaled_dot_product_attention", "multi_head_attention_forward",
]
