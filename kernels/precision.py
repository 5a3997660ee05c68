"""Precision of the step kernels: float64 as written, float32 generated from the same source files.

The float64 kernels are the modules of this package as they stand. The float32 kernels are those same source
files, compiled a second time as modules of the package ``exosim.kernels.f32`` after one rewrite of their syntax
tree (``SinglePrecision``):

- every float literal ``c`` becomes ``float32(c)`` and ``math.pi`` becomes ``float32(math.pi)``;
- every ``float(x)`` becomes ``float32(x)`` (source code writes ``float(n)`` where an integer joins float
  arithmetic: numba would otherwise promote float32 with int64 to float64);
- the module flag ``SINGLE = False`` becomes ``SINGLE = True`` (a compile-time constant: a kernel may take
  another branch in single precision, e.g. ``philox.uniform_open`` keeps 24 random bits so that its value stays
  inside (0, 1)).

What must stay float64 in both says so in the source by ``wide(x)`` (``numpy.float64``, untouched by the
rewrite): run time and the time left in a segment of the gradient kernel (a float32 clock stops advancing once a
step is below its last bit, about 1 ms at 10^4 s), and the pellet dose integral. tests/test_precision.py compiles
the float32 kernels and reads their LLVM IR: no other double-precision arithmetic is left.

Only the step-loop kernels are specialised (``SPECIALISED``: centrifugation in swinging-bucket and fixed-angle
tubes, density gradients). Sampling, filtration and TFF kernels evaluate closed forms once per particle (no step
loop, no measurable device time) and stay float64; their results are stored in the run's float type.
"""
from __future__ import annotations

import ast
import math  # noqa: F401  (the rewritten modules' math.pi)
import sys
import threading
import types
from pathlib import Path

import numpy as np

PACKAGE = __name__.rpartition(".")[0]          # exosim.kernels
SINGLE_PACKAGE = f"{PACKAGE}.f32"
FOLDER = Path(__file__).resolve().parent
# modules rewritten for float32, in import order; the others are shared with the float64 package
SPECIALISED = ("osmosis", "philox", "formulas", "spin", "gradient", "cpu", "gpu")
# modules the rewritten ones import as they are (float64 kernels that are not specialised, plain constants)
SHARED = ("constants", "layout", "cache", "_cuda", "precision", "sampling", "polarisation", "filtration")

wide = np.float64  # a value kept in double precision in both specialisations


class SinglePrecision(ast.NodeTransformer):
    """The float32 rewrite of a kernel module (module docstring)."""

    @staticmethod
    def _single(node):
        return ast.copy_location(ast.Call(ast.Name("_single", ast.Load()), [node], []), node)

    def visit_Constant(self, node):
        if isinstance(node.value, float):
            return self._single(node)
        return node

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id == "math" and node.attr == "pi":
            return self._single(node)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "float":
            node.func = ast.Name("_single", ast.Load())
        return node

    def visit_Assign(self, node):
        if (len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "SINGLE"
                and isinstance(node.value, ast.Constant)):
            node.value = ast.Constant(True)
            return node
        self.generic_visit(node)
        return node


_BUILD = threading.Lock()
_built = None  # the complete package, once built


def _single_package():
    """The package ``exosim.kernels.f32`` with every specialised module rewritten and loaded (once; threads that
    ask while it is built wait for it: the package is in sys.modules before its modules, for their imports)."""
    global _built
    if _built is not None:
        return _built
    with _BUILD:
        if _built is None:
            _built = _build_single_package()
    return _built


def _build_single_package():
    parent = sys.modules[PACKAGE]
    pkg = types.ModuleType(SINGLE_PACKAGE, "float32 specialisation of the step kernels (kernels/precision.py)")
    pkg.__path__ = []
    pkg.__package__ = SINGLE_PACKAGE
    pkg.KernelSet = parent.KernelSet
    sys.modules[SINGLE_PACKAGE] = pkg
    try:
        for name in SHARED:
            shared = __import__(f"{PACKAGE}.{name}", fromlist=["_"])
            sys.modules[f"{SINGLE_PACKAGE}.{name}"] = shared
            setattr(pkg, name, shared)
        for name in SPECIALISED:
            path = FOLDER / f"{name}.py"
            tree = SinglePrecision().visit(ast.parse(path.read_text(), str(path)))
            ast.fix_missing_locations(tree)
            mod = types.ModuleType(f"{SINGLE_PACKAGE}.{name}")
            mod.__file__ = str(path)
            mod.__package__ = SINGLE_PACKAGE
            mod._single = np.float32
            sys.modules[mod.__name__] = mod
            exec(compile(tree, str(path), "exec"), mod.__dict__)
            setattr(pkg, name, mod)
    except BaseException:
        for key in [k for k in sys.modules if k == SINGLE_PACKAGE or k.startswith(SINGLE_PACKAGE + ".")]:
            del sys.modules[key]
        raise
    return pkg


def step_module(name: str, bits: int):
    """The kernel module ``name`` (one of SPECIALISED) in ``bits`` (32 or 64) precision."""
    if bits == 64:
        return __import__(f"{PACKAGE}.{name}", fromlist=["_"])
    if bits == 32:
        return getattr(_single_package(), name)
    raise ValueError(f"precision must be 32 or 64 bits, got {bits}")
