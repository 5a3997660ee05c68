"""Rotor geometry: speed and relative centrifugal force, k-factor, meniscus radius, fixed-angle tube frame.

SI units: radii [m], angular speed omega [rad/s], volumes [m^3], angles [rad].
"""
import math
from dataclasses import dataclass

STANDARD_GRAVITY = 9.80665  # m/s^2, exact: standard acceleration of gravity (3rd CGPM, 1901)

K_FACTOR_CONSTANT = 2.533e11  # k = 2.533e11 ln(r_max/r_min) / rpm^2 with k in hours*svedberg (Beckman Coulter)


def rpm_to_omega(rpm: float) -> float:
    """Angular speed [rad/s] from revolutions per minute."""
    return rpm * 2.0 * math.pi / 60.0


def omega_to_rpm(omega: float) -> float:
    """Revolutions per minute from angular speed [rad/s]."""
    return omega * 60.0 / (2.0 * math.pi)


def rcf(omega: float, radius: float) -> float:
    """Relative centrifugal force omega^2 r / g0 [1] at radius [m] (physics.md)."""
    return omega * omega * radius / STANDARD_GRAVITY


def omega_for_rcf(rcf_value: float, radius: float) -> float:
    """Angular speed [rad/s] that gives relative centrifugal force rcf_value at radius [m]."""
    return math.sqrt(rcf_value * STANDARD_GRAVITY / radius)


def k_factor(r_min: float, r_max: float, rpm: float) -> float:
    """Clearing factor k = 2.533e11 ln(r_max / r_min) / rpm^2 (Beckman Coulter; physics.md).

    Pelleting time t [h] = k / s [S] for a swinging bucket at that speed. Radii [m] (only their ratio enters).
    """
    return K_FACTOR_CONSTANT * math.log(r_max / r_min) / (rpm * rpm)


def pelleting_time(r_min: float, r_max: float, omega: float, s: float) -> float:
    """Time [s] for a particle of sedimentation coefficient s [s] to travel from r_min to r_max [m]
    without diffusion: ln(r_max/r_min) / (s omega^2) (integral of dr / (s omega^2 r))."""
    return math.log(r_max / r_min) / (s * omega * omega)


def swinging_radius_at_volume(r_min: float, r_max: float, tube_volume: float, volume: float) -> float:
    """Radius [m] of the liquid surface when ``volume`` [m^3] sits at the bottom of a swinging-bucket tube whose
    nominal ``tube_volume`` spans r_min..r_max (a cylinder of constant cross-section along the radius)."""
    return r_max - (r_max - r_min) * volume / tube_volume


@dataclass(frozen=True)
class FixedAngleTube:
    """A fixed-angle tube as a flat-ended cylinder: the axis lies in the plane of the rotation axis, tilted by
    ``angle`` from it; the innermost point of its top rim is at r_min and the outermost point of its bottom rim
    at r_max (the rotor's published radii)."""

    angle: float      # [rad] from the rotation axis
    radius: float     # inner tube radius [m]
    r_top: float      # radius of the axis at the tube top [m]
    length: float     # axis length [m]

    @classmethod
    def from_rotor(cls, r_min: float, r_max: float, angle: float, diameter: float) -> "FixedAngleTube":
        """Tube frame from a rotor's r_min, r_max [m], tube angle [rad] and tube diameter [m]."""
        radius = diameter / 2.0
        r_top = r_min + radius * math.cos(angle)
        r_bottom = r_max - radius * math.cos(angle)
        length = (r_bottom - r_top) / math.sin(angle)
        if length <= 0:
            raise ValueError("tube diameter too large for the rotor's radii and angle")
        return cls(angle, radius, r_top, length)

    @property
    def volume(self) -> float:
        """Geometric volume [m^3] of the cylinder."""
        return math.pi * self.radius ** 2 * self.length

    def _grid_radii(self, n_axis: int = 400, n_disk: int = 400):
        """Horizontal radii [m] of an equal-volume grid of points filling the cylinder (sunflower disks)."""
        import numpy as np  # here, not at import: reading the rotor catalog needs no numpy
        t = (np.arange(n_axis) + 0.5) / n_axis * self.length
        k = np.arange(n_disk) + 0.5
        rho = self.radius * np.sqrt(k / n_disk)
        phi = k * math.pi * (3.0 - math.sqrt(5.0))
        e1 = rho * np.cos(phi)
        y = rho * np.sin(phi)
        x = self.r_top + t[:, None] * math.sin(self.angle) + e1[None, :] * math.cos(self.angle)
        return np.sqrt(x * x + y[None, :] ** 2).ravel()

    def meniscus_radius(self, fill_fraction: float) -> float:
        """Radius [m] of the free surface (a cylinder about the rotation axis) when ``fill_fraction`` of the tube
        volume is liquid, spinning: the liquid takes the part of the tube farthest from the axis."""
        if fill_fraction >= 1.0:  # a full tube: the innermost point of the top rim, r_min by construction
            return self.r_top - self.radius * math.cos(self.angle)
        import numpy as np

        return float(np.quantile(self._grid_radii(), 1.0 - fill_fraction))


def speed_profile(omega: float, duration: float, accel: float = 0.0, decel: float = 0.0,
                  max_step: float | None = None, ramp_segments: int = 8):
    """Segments (h [s], mean omega^2 over the segment [rad^2/s^2]) of one run: a linear ramp from rest to omega
    over ``accel`` s, ``duration`` s at omega, a linear ramp back to rest over ``decel`` s.

    Each segment carries the exact integral of omega^2 dt over it, so the deterministic drift
    ln(r1/r0) = s * integral(omega^2 dt) is exact whatever the segmentation (a linear ramp contributes omega^2 T / 3).
    ``max_step`` [s] splits segments longer than it (for convergence checks and for spatially varying media).
    Returns an array of shape (n, 2).
    """
    import numpy as np

    rows = []

    def split(total):
        n = 1 if not max_step else max(1, math.ceil(total / max_step - 1e-9))
        return n

    def ramp(t_ramp, up):
        n = max(ramp_segments, split(t_ramp))
        edges = np.linspace(0.0, t_ramp, n + 1)
        for t0, t1 in zip(edges[:-1], edges[1:]):
            # omega(t) = omega t / T on the way up; mean of omega^2 over [t0, t1]
            mean_w2 = omega ** 2 * (t1 ** 3 - t0 ** 3) / (3.0 * t_ramp ** 2 * (t1 - t0))
            rows.append((t1 - t0, mean_w2))
        if not up:
            rows[-n:] = rows[-n:][::-1]

    if accel > 0:
        ramp(accel, True)
    n = split(duration)
    rows.extend([(duration / n, omega ** 2)] * n)
    if decel > 0:
        ramp(decel, False)
    return np.array(rows, dtype=np.float64)
