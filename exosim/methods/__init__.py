"""Separation methods, one module each, behind one small interface that the engine dispatches to.

A method module provides ``plan_step(index, step, volume, medium, previous, ctx)`` (everything that does not depend
on the particles, computed before any simulation; ConfigError when the step cannot work) and
``run_step(plan, particles, device, *, seed, temperature, brownian, max_step, chunk, progress)`` (kernel calls
and the booking of every particle's fate; it may return aggregates for the results). Adding a method is a new
module and one entry in ``METHODS``: the engine's loop does not change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module

# step kind -> module of this package
METHODS = {"centrifuge": "centrifuge", "wash": "centrifuge", "gradient": "gradient", "fractionate": "fractionate"}


def method(kind: str):
    """The module that plans and runs steps of ``kind``."""
    return import_module(f"{__name__}.{METHODS[kind]}")


@dataclass
class PlanContext:
    """What planning a step may consult: catalogs, the protocol's temperature [K] and the file it came from."""

    rotors: dict
    media: dict
    temperature: float
    source: str
    sample: object = None  # the validated sample (its populations)
    _gradient_media: dict | None = field(default=None, repr=False)

    @property
    def gradient_media(self) -> dict:
        """The gradient media catalog (loaded on first use: it needs scipy)."""
        if self._gradient_media is None:
            from ..physics.gradient_media import load_gradient_media
            self._gradient_media = load_gradient_media()
        return self._gradient_media
