"""Lesson 01, tensors and autograd: the lesson's code blocks as one runnable script.

The lesson (../shared/seed/, in Korean) is written for PyTorch 2.x; here every
block runs on rustensor through `import rustensor as torch`, and prints what it
computes. Where the lesson leaves a placeholder (`MyModel()`, `input_data`) a
tiny function stands in. The torch.compile and torch.func parts are guarded:
when rustensor lacks them the script says so and goes on.

    python examples/lesson01_tensors_autograd.py
"""

import numpy as np

import rustensor as torch


def section(title):
    print()
    print(f"=== {title} ===")


def try_block(what, fn):
    """Run an optional part of the lesson; report instead of failing when it is missing."""
    try:
        fn()
    except (AttributeError, ImportError, NotImplementedError) as exc:
        print(f"[note] {what} is not available in this build: {type(exc).__name__}: {exc}")


torch.manual_seed(0)
np.random.seed(0)

# --------------------------------------------------------------------------
section("2. NumPy vs PyTorch tensors: creation")
# NumPy
np_arr = np.array([1, 2, 3])
np_zeros = np.zeros((3, 4))
np_rand = np.random.randn(3, 4)

# PyTorch
pt_tensor = torch.tensor([1, 2, 3])
pt_zeros = torch.zeros(3, 4)
pt_rand = torch.randn(3, 4)
print("pt_tensor =", pt_tensor)
print("pt_zeros =", pt_zeros)
print("pt_rand.shape =", pt_rand.shape, "dtype =", pt_rand.dtype)
print("np_zeros.dtype =", np_zeros.dtype, "vs pt_zeros.dtype =", pt_zeros.dtype)

section("2. Conversion")
# NumPy -> PyTorch (shares memory with np_arr)
tensor = torch.from_numpy(np_arr)
# PyTorch -> NumPy (CPU tensors only)
array = tensor.numpy()
print("tensor =", tensor)
print("array =", array)
np_arr[0] = 100
print("after np_arr[0] = 100, tensor =", tensor, "(from_numpy shares memory)")

# --------------------------------------------------------------------------
section("3. Autograd: basic use")
# requires_grad=True turns on gradient tracking
x = torch.tensor([2.0], requires_grad=True)
y = x**2 + 3 * x + 1  # y = x^2 + 3x + 1

# backward pass (computes dy/dx)
y.backward()

# the gradient
print(x.grad)  # tensor([7.])  dy/dx = 2x + 3 = 2*2 + 3 = 7

section("3. Gradients accumulate; reset them")
y = x**2 + 3 * x + 1
y.backward()
print("after a second backward:", x.grad)  # tensor([14.])
x.grad.zero_()  # a training loop always resets them
print("after x.grad.zero_():", x.grad)  # tensor([0.])

# --------------------------------------------------------------------------
section("4. Operations and broadcasting")
a = torch.tensor([[1, 2], [3, 4]], dtype=torch.float32)
b = torch.tensor([[5, 6], [7, 8]], dtype=torch.float32)

c = a + b  # elementwise sum
print("a + b =", c)
c = a * b  # elementwise (Hadamard) product
print("a * b =", c)
c = a @ b  # matrix product
print("a @ b =", c)
c = torch.matmul(a, b)  # matrix product
print("torch.matmul(a, b) =", c)

# broadcasting
a = torch.tensor([[1], [2], [3]])  # (3, 1)
b = torch.tensor([10, 20, 30])  # (3,)
c = a + b  # (3, 3)
print("(3, 1) + (3,) =", c)
print("shape:", c.shape)

# --------------------------------------------------------------------------
section("5. GPU")
# is a GPU available?
if torch.cuda.is_available():
    device = torch.device("cuda")
else:
    device = torch.device("cpu")
print("device:", device)

# move a tensor to the device
x = torch.randn(1000, 1000)
x_gpu = x.to(device)
# or, only when there is a GPU (x.cuda() raises without one, in torch too)
if torch.cuda.is_available():
    x_gpu = x.cuda()

# compute on that device
y_gpu = x_gpu @ x_gpu

# bring the result back to the CPU
y_cpu = y_gpu.cpu()
print("y_cpu.shape:", y_cpu.shape, "device:", y_cpu.device)

# --------------------------------------------------------------------------
section("6. NumPy (derivative by hand) vs PyTorch (autograd)")
# f(x) = x^3 + 2x^2 - 5x + 3, f'(x) = 3x^2 + 4x - 5, f'(2) = 15


def f(x):
    return x**3 + 2 * x**2 - 5 * x + 3


def df(x):
    """Derivative computed by hand."""
    return 3 * x**2 + 4 * x - 5


x = 2.0
print(f"f({x}) = {f(x)}")
print(f"f'({x}) = {df(x)}")  # 15.0

x = torch.tensor([2.0], requires_grad=True)
y = x**3 + 2 * x**2 - 5 * x + 3
y.backward()
print(f"f({x.item()}) = {y.item()}")
print(f"f'({x.item()}) = {x.grad.item()}")  # 15.0

# --------------------------------------------------------------------------
section("7. Caveats: in-place operations")
x = torch.tensor([1.0], requires_grad=True)
try:
    x += 1  # in-place on a leaf that requires grad: an error, as in torch
except RuntimeError as exc:
    print("x += 1 ->", f"RuntimeError: {exc}")
x = x + 1  # a new tensor (safe)
print("x = x + 1 ->", x)


def model(x):
    """Stands in for the lesson's `model`."""
    return 2 * x + 1


section("7. Turning gradient tracking off")
# saves memory at inference time
with torch.no_grad():
    y = model(x)  # no gradient is computed
print("under no_grad:", y, "requires_grad =", y.requires_grad)

# or: x.requires_grad = False. Here x is the result of x + 1, not a leaf, and
# torch refuses to change the flag of a non-leaf; on a leaf it works.
try:
    x.requires_grad = False
except RuntimeError as exc:
    print("on a non-leaf ->", f"RuntimeError: {exc}")
leaf = torch.tensor([1.0], requires_grad=True)
leaf.requires_grad = False
print("on a leaf ->", leaf)

section("7. detach()")
# detach from the computation graph
y = x.detach()  # y does not track gradients
print("x =", x)
print("y = x.detach() =", y, "requires_grad =", y.requires_grad)

# --------------------------------------------------------------------------
section("8. PyTorch 2.x: torch.compile()")


def MyModel():
    """Stands in for the lesson's `MyModel()`: a tiny function of a tensor."""

    def forward(x):
        return torch.relu(x @ x.T).sum()

    return forward


input_data = torch.randn(4, 3)


def compile_demo():
    model = MyModel()
    # compile the model (PyTorch 2.0+)
    compiled_model = torch.compile(model)
    # used exactly like the original
    output = compiled_model(input_data)
    print("compiled_model(input_data) =", output)
    print("model(input_data)          =", model(input_data))

    # compile modes: default (balanced), maximum performance, less overhead
    model = torch.compile(model)
    model = torch.compile(MyModel(), mode="max-autotune")
    model = torch.compile(MyModel(), mode="reduce-overhead")
    # compiling takes time on the first call (warm up in production);
    # dynamic shapes may recompile, dynamic=True mitigates it
    model = torch.compile(MyModel(), dynamic=True)
    print("compile modes accepted: default, max-autotune, reduce-overhead, dynamic=True")


try_block("torch.compile", compile_demo)

section("8. torch.func (function transforms)")


def func_demo():
    from rustensor.func import grad, jacrev, vmap  # noqa: F401 (jacrev: as the lesson imports)

    # vmap: batch a function written for one example
    def single_fn(x):
        return x**2

    batched_fn = vmap(single_fn)
    result = batched_fn(torch.randn(10, 3))  # batched
    print("vmap(single_fn)(randn(10, 3)).shape =", result.shape)

    # grad: functional gradient
    def f(x):
        return (x**2).sum()

    grad_f = grad(f)
    x = torch.randn(3)
    print(grad_f(x))  # 2 * x
    print(2 * x)


try_block("torch.func", func_demo)

print()
print("done")
