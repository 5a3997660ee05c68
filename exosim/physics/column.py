"""The liquid of a spinning tube seen along the radius: the area A(r) [m^2] of the surface at distance r [m] from
the rotation axis (a cylinder about the axis) inside the tube, and the volumes it implies. SI units.

During a spin every isodensity surface of a gradient is such a cylinder, so a 1-D description in r holds for the
medium (the Lamm equation with face areas A(r)) and for a particle's radial coordinate, whose Fokker-Planck
equation in a column of varying section is dc/dt = -(1/A) d/dr [A (f c - D dc/dr)]: the radial position then
obeys dr = (f + D d ln A/dr) dt + sqrt(2 D) dW (the D d ln A/dr term is the geometric drift that keeps
Brownian particles uniform in volume, not in r; Gardiner, Stochastic Methods, 4th ed., sec. 4.3 on
Fokker-Planck equations in curvilinear coordinates).

- Swinging bucket: a cylinder of constant section along the radius (``constant``), as the differential spins model
  it; A = tube volume / (r_max - r_min).
- Fixed angle: a flat-ended cylinder of radius R tilted by theta from the rotation axis (``fixed_angle``,
  physics.rotors.FixedAngleTube). At height-free coordinates (t along the axis, e across it in the plane of the
  rotation axis, y out of that plane) a point lies at x = r_top + t sin(theta) + e cos(theta) in that plane and at
  radius sqrt(x^2 + y^2). The surface r = const meets the disk e^2 + y^2 <= R^2 at x = sqrt(r^2 - y^2), along a
  segment of length (1 / sin theta) |{e: e^2 <= R^2 - y^2, 0 <= t(e) <= L}| (t(e) = (x - r_top - e cos theta) /
  sin theta), and the cylinder's area element is (r / x) dy dz, so

      A(r) = (1 / sin theta) int_{-R}^{R} (r / x) |[(x - r_top - L sin theta) / cos theta, (x - r_top) / cos theta]
             cap [-sqrt(R^2 - y^2), sqrt(R^2 - y^2)]| dy,

  integrated by Gauss-Legendre in y = R sin(phi) (smooth at the rim). Its integral over r is the tube's volume
  pi R^2 L (tests/test_column.py checks it and the meniscus against an independent point-cloud count).

Volumes are integrated from a table of A on a fine radial grid (trapezoid rule; exact for the constant section).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FINE_POINTS = 4097     # radial table of A(r)
GAUSS_POINTS = 96      # Gauss-Legendre nodes of the integral over y


@dataclass(frozen=True)
class Column:
    """A(r) tabulated at increasing ``radii`` [m] from the tube's innermost to its outermost point."""

    radii: np.ndarray      # [m]
    area: np.ndarray       # [m^2]
    beyond: np.ndarray     # volume [m^3] between each radius and the outermost point
    uniform: bool = False  # constant section (A the same everywhere)

    @classmethod
    def from_area(cls, radii, area, uniform: bool = False) -> Column:
        r = np.asarray(radii, dtype=np.float64)
        a = np.asarray(area, dtype=np.float64)
        seg = 0.5 * (a[1:] + a[:-1]) * np.diff(r)
        beyond = np.concatenate([np.cumsum(seg[::-1])[::-1], [0.0]])
        return cls(r, a, beyond, uniform)

    @classmethod
    def constant(cls, r_min: float, r_max: float, volume: float) -> Column:
        """A cylinder of constant section holding ``volume`` [m^3] between r_min and r_max [m]."""
        return cls.from_area([r_min, r_max], [volume / (r_max - r_min)] * 2, uniform=True)

    @property
    def r_max(self) -> float:
        return float(self.radii[-1])

    @property
    def volume(self) -> float:
        return float(self.beyond[0])

    def volume_beyond(self, r):
        """Volume [m^3] of the tube farther than r [m] from the axis (the liquid column below a meniscus at r)."""
        if self.uniform:
            return self.area[0] * np.clip(self.radii[-1] - np.asarray(r, dtype=np.float64), 0.0, None)
        return np.interp(r, self.radii, self.beyond)

    def radius_at_volume(self, volume):
        """Radius [m] of a meniscus with ``volume`` [m^3] of liquid beyond it (inverse of ``volume_beyond``)."""
        v = np.asarray(volume, dtype=np.float64)
        if self.uniform:
            return self.radii[-1] - v / self.area[0]
        return np.interp(v, self.beyond[::-1], self.radii[::-1])

    def cell_volumes(self, edges) -> np.ndarray:
        """Volume [m^3] between consecutive ``edges`` [m] (increasing)."""
        v = self.volume_beyond(np.asarray(edges, dtype=np.float64))
        return v[:-1] - v[1:]

    def area_at(self, r) -> np.ndarray:
        """A [m^2] at radii r [m] (linear interpolation; 0 outside the tube)."""
        return np.interp(r, self.radii, self.area, left=0.0, right=0.0) if not self.uniform else \
            np.full(np.shape(r), self.area[0])

    def log_area_slope(self, r) -> np.ndarray:
        """d ln A / dr [1/m] at radii r [m] (0 for a constant section): the geometric drift per unit D."""
        r = np.asarray(r, dtype=np.float64)
        if self.uniform:
            return np.zeros_like(r)
        h = 0.5 * float(np.min(np.diff(self.radii)))
        lo = np.maximum(r - h, self.radii[0])
        hi = np.minimum(r + h, self.radii[-1])
        a_lo = np.maximum(self.area_at(lo), 1e-300)
        a_hi = np.maximum(self.area_at(hi), 1e-300)
        return (np.log(a_hi) - np.log(a_lo)) / (hi - lo)

    def start_quantiles(self, lo: float, hi: float, n: int) -> np.ndarray:
        """``n`` radii [m] at equal volume steps from lo to hi [m]: the inverse volume CDF of a particle placed
        uniformly in the liquid between them (a kernel interpolates it)."""
        v_lo, v_hi = self.volume_beyond(lo), self.volume_beyond(hi)
        return np.asarray(self.radius_at_volume(np.linspace(v_lo, v_hi, n)), dtype=np.float64)


def fixed_angle_area(tube, r) -> np.ndarray:
    """A(r) [m^2] of a fixed-angle tube (physics.rotors.FixedAngleTube) at radii r [m] (module docstring)."""
    r = np.atleast_1d(np.asarray(r, dtype=np.float64))
    node, weight = np.polynomial.legendre.leggauss(GAUSS_POINTS)
    phi = 0.5 * math.pi * node                      # y = R sin(phi), dy = R cos(phi) dphi
    y = tube.radius * np.sin(phi)
    dy = tube.radius * np.cos(phi) * 0.5 * math.pi * weight
    half = tube.radius * np.cos(phi)                # half-width of the disk at y
    sin, cos = math.sin(tube.angle), math.cos(tube.angle)
    x = np.sqrt(np.clip(r[:, None] ** 2 - y[None, :] ** 2, 0.0, None))
    e_hi = np.minimum((x - tube.r_top) / cos, half)
    e_lo = np.maximum((x - tube.r_top - tube.length * sin) / cos, -half)
    seg = np.clip(e_hi - e_lo, 0.0, None) / sin
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(x > 0, r[:, None] / x, 0.0)
    return (factor * seg) @ dy


def fixed_angle(tube, n: int = FINE_POINTS) -> Column:
    """The Column of a fixed-angle tube, from its innermost to its outermost point."""
    r_in = tube.r_top - tube.radius * math.cos(tube.angle)
    r_out = tube.r_top + tube.length * math.sin(tube.angle) + tube.radius * math.cos(tube.angle)
    radii = np.linspace(r_in, r_out, n)
    return Column.from_area(radii, fixed_angle_area(tube, radii))
