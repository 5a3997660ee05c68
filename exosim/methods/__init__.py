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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Protocol, Sample

# step kind -> module of this package
METHODS = {"centrifuge": "centrifuge", "wash": "centrifuge", "gradient": "gradient", "fractionate": "fractionate",
           "filter": "filtration", "tff": "tff"}


def method(kind: str):
    """The module that plans and runs steps of ``kind``."""
    return import_module(f"{__name__}.{METHODS[kind]}")


class RunsNoRotor:
    """What the steps table reads from a plan of a step that runs no rotor (filtration, fractionation): one
    "tube" (the whole material), no rotor runs, no speed. Class attributes: a plan's own fields override them."""

    tubes = 1
    runs = 0
    rotor = None
    duration = 0.0
    rcf_avg = 0.0
    rpm = 0.0

    @property
    def liquid_per_tube(self) -> float:
        return self.volume_in


@dataclass
class PlanContext:
    """What planning a step may consult: catalogs, the protocol's temperature [K] and the file it came from."""

    rotors: dict
    media: dict
    temperature: float
    source: str
    sample: object = None  # the validated sample (its populations)
    _gradient_media: dict | None = field(default=None, repr=False)
    _membranes: dict | None = field(default=None, repr=False)

    @property
    def membranes(self) -> dict:
        """The membrane catalog (loaded on first use)."""
        if self._membranes is None:
            from ..config import load_membranes
            self._membranes = load_membranes()
        return self._membranes

    @property
    def gradient_media(self) -> dict:
        """The gradient media catalog (loaded on first use: it needs scipy)."""
        if self._gradient_media is None:
            from ..physics.gradient_media import load_gradient_media
            self._gradient_media = load_gradient_media()
        return self._gradient_media


def plan_protocol(protocol: Protocol, sample: Sample, rotors=None, media=None, membranes=None) -> list:
    """Plan every step (tubes, runs, volumes, media) before any simulation; ConfigError if it cannot work.
    ``membranes``: a membrane catalog instead of the bundled one. Imports no numpy for centrifuge steps:
    ``exosim plan`` starts fast."""
    from ..config import load_media, load_rotors, protocol_rotors, source_of
    from ..errors import ConfigError
    catalog = {**(rotors or load_rotors()), **protocol_rotors(protocol)}
    ctx = PlanContext(catalog, media or load_media(), protocol.temperature, source_of(protocol),
                      sample, _membranes=membranes)
    volume = sample.volume
    medium = ctx.media[sample.medium]
    plans = []
    for i, step in enumerate(protocol.steps):
        module = method(step.kind)
        nxt = getattr(module, "NEXT_STEP", None)
        if nxt and (i + 1 == len(protocol.steps) or protocol.steps[i + 1].kind != nxt):
            raise ConfigError(ctx.source, f"steps[{i}].kind", f"a {step.kind} step needs a {nxt} step right after "
                                                             f"it (it leaves the particles at positions in the tube)")
        plan = module.plan_step(i, step, volume, medium, plans[-1] if plans else None, ctx)
        plans.append(plan)
        volume, medium = plan.volume_out, plan.medium_out
    return plans
