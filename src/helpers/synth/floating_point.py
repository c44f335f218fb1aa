"""One floating-point path for the generator on every x86-64 machine, so ``make data`` writes the same bytes.

The generator's searches are chaotic: a move is kept or refused on the last printed digit of a p-value, so one
unit in the last place anywhere changes every later step.  NumPy, OpenBLAS and glibc's libm each pick their
kernels at start-up from the CPU's instruction sets (AVX2, FMA, AVX-512), and their results differ in the last
bits: seed 004 regenerated on an AVX-512 machine hit 41 of its 110 targets instead of the committed 44 (and
39 with the AVX2 kernels).  :func:`helpers.synth.reconstruct.main` therefore runs the generation in a child
process whose environment pins every library to its baseline kernels (:data:`PINNED_ENVIRONMENT`); it must be
set before NumPy is imported, hence the child.  Other architectures (e.g. aarch64) get a different but
equally deterministic stream; the committed data are the x86-64 stream.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path

#: marks the child process (so it does not start another)
PINNED_FLAG = "HCC_BOOK_PINNED_FLOATING_POINT"

#: the environment of the generation: NumPy's SIMD dispatch off (its x86-64-v2 baseline only), OpenBLAS on one
#: thread with its generic kernels, glibc's libm without its FMA/AVX2 variants of exp, log and pow
PINNED_ENVIRONMENT = {
    "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Prescott",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2,-FMA,-FMA4,-AVX512F",
}


def pinned() -> bool:
    """Whether this process runs with :data:`PINNED_ENVIRONMENT` (or on an architecture it does not apply to)."""
    return os.environ.get(PINNED_FLAG) == "1" or platform.machine().lower() not in ("x86_64", "amd64")


def pinned_environment(base: dict | None = None) -> dict:
    """``base`` (default: this process's environment) with the pinned settings, the child's flag, and this
    package's source folder first on ``PYTHONPATH`` (so the child imports the same ``helpers``)."""
    env = dict(os.environ if base is None else base)
    user_tunables = env.get("GLIBC_TUNABLES", "")
    env.update(PINNED_ENVIRONMENT)
    env["GLIBC_TUNABLES"] = merged_tunables(user_tunables)
    env[PINNED_FLAG] = "1"
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


def merged_tunables(user: str) -> str:
    """The pinned ``GLIBC_TUNABLES`` after the user's own tunables (colon-separated ``name=value``), so a setting
    such as ``glibc.malloc.arena_max=2`` survives; a user ``glibc.cpu.hwcaps`` is replaced, since it is what the
    pin decides."""
    pinned_value = PINNED_ENVIRONMENT["GLIBC_TUNABLES"]
    pinned_names = {t.split("=", 1)[0] for t in pinned_value.split(":")}
    kept = [t for t in user.split(":") if t and t.split("=", 1)[0] not in pinned_names]
    return ":".join([*kept, pinned_value])
