"""A 1-D finite-volume solver of the Lamm equation in a spinning tube: sedimentation and diffusion of one solute
(a density-gradient medium's sucrose, iodixanol or CsCl) or of one particle population, as a partial
differential equation. SI units throughout: radii [m], time [s], omega^2 [rad^2/s^2], s [s], D [m^2/s].

The equation (Lamm 1929, Ark. Mat. Astr. Fys. 21B(2):1; docs/reference/physics.md), in conservation form,

    dc/dt = -(1 / r^k) d/dr [ r^k J ],      J = s omega(t)^2 r c - D dc/dr,      r_meniscus <= r <= r_bottom,

with k = 1 for a **sector** (the analytical ultracentrifuge's cell: Lamm's own equation, the cross-section grows
as r), k = 0 for a **tube** of constant cross-section, and, for any other tube, a ``physics.column.Column`` whose
section A(r) replaces r^k (a fixed-angle tube: dc/dt = -(1/A) d/dr [A J]) (a swinging-bucket tube as exosim's Monte Carlo models
it: ``dr = s omega^2 r dt + sqrt(2 D) dW`` along the tube, whose Fokker-Planck equation is the k = 0 form).
The two differ at first order, not in a detail: the sector dilutes a plateau as exp(-2 s int omega^2 dt), the
tube as exp(-s int omega^2 dt), and the pelleted fraction of a uniform start without diffusion is
(r_b^2 / (r_b^2 - r_m^2)) (1 - e^{-2 lambda}) in a sector against (r_b / (r_b - r_m)) (1 - e^{-lambda}) in a tube
(Livshits et al. 2015, Sci Rep 5:17319), lambda = s int omega^2 dt. Every entry point therefore takes
``geometry`` explicitly, with no default.

Boundaries: no flux at the meniscus; at the bottom either no flux (``"reflecting"``: material piles up, as a
gradient solute does) or ``"absorbing"`` (c = 0 at the wall, a first-passage pellet: what crosses is tallied as
pelleted and never comes back).

Discretisation
--------------
- Finite volumes (the sector-geometry form of e.g. Schuck 1998, Biophys J 75:1503, with volumes instead of
  finite elements): cells between ``edges``; cell i holds the average c_i over a volume V_i = int r^k dr
  (per unit sector angle and height for the sector, per unit cross-section area for the tube); face fluxes are
  multiplied by the face area r_f^k. Every face flux leaves one cell and enters the next, so the total
  sum(c_i V_i) + pelleted is conserved to rounding.
- Face fluxes by exponential fitting (Scharfetter & Gummel 1969, IEEE Trans Electron Devices 16:64; Il'in 1969;
  Allen & Southwell 1955): between nodes x_i < x_{i+1} (cell midpoints) at distance h, with the drift
  v = s omega^2 r_f and D taken at the face,

      J = (D / h) [ B(-Pe) c_i - B(Pe) c_{i+1} ],   Pe = v h / D,   B(x) = x / (e^x - 1),

  exact for constant v and D between the two nodes. It is central differencing at small cell Peclet numbers and
  upwinding at large ones (D -> 0 gives J = v c_upwind), with positive coefficients for any Peclet number
  (an M-matrix: no oscillations in space). Uniform c gives J = v c exactly, so a plateau is exact in space, and
  at sedimentation equilibrium (constant s, D, uniform cells) the discrete profile is the exact
  exp(s omega^2 r^2 / (2 D)) at the nodes. At an absorbing bottom the last node is coupled to c = 0 at the wall,
  half a cell away.
- Time: TR-BDF2 (Bank et al. 1985, IEEE Trans Electron Devices 32:1992; Hosea & Shampine 1996, Appl Numer Math
  20:21), gamma = 2 - sqrt(2): a trapezoidal stage then a BDF2 stage, second order and L-stable; each stage is
  one tridiagonal solve (LAPACK gttrf/gttrs through scipy.linalg.lapack). The trapezoidal stage can undershoot
  where a cell empties within a step; a step that produces a concentration below -1e-9 x max(c) is redone with
  backward Euler (first order, positivity-preserving with these fluxes), counted in ``LammResult.n_fallback``.
- Step size: dt <= courant x min_i tau_i, tau_i = V_i / (sum of the cell's outflow coefficients), the time in
  which the cell would empty by drift and diffusion (the cell crossing time h / |v| when drift dominates,
  h^2 / (2 D) when diffusion does); ``max_dt`` caps it. Segments of the speed profile and ``save_times`` are
  hit exactly. Errors: second order in dt; second order in h where diffusion resolves a boundary (cell Peclet
  number |v| h / D below ~1); where drift dominates, the upwind limit smears a moving boundary with a numerical
  diffusion |v| h / 2. Its variance, once the boundary has moved from r_m to R, is h R (R - r_m) / r_m
  (tube and sector; tests/test_lamm.py checks the consequence to 2 %): sigma = 13 mm at the bottom of an
  SW 41 Ti tube with 100 cells. A
  pelleted fraction is unaffected while the boundary is far from the bottom (the pellet then receives the exact
  plateau), but when the boundary reaches the bottom it is short by c_p A_b sigma / (sqrt(2 pi) V), which falls
  only as sqrt(h): 2.6 % at 100 cells, 0.7 % at 1600 cells in a full SW 41 Ti tube (uniform start, physical
  diffusion negligible, as for vesicles). Refine the grid (or prefer the Monte Carlo, which has no such error)
  there.
- Concentration-dependent s(c, r) and D(c, r) are evaluated at the faces on c_f = (c_i + c_{i+1}) / 2 (the wall
  value 0 at an absorbing bottom) from the profile at the start of each stage (linearised, "lagged"
  coefficients, first order in dt); ``iterations`` > 0 re-solves each stage with coefficients from its own
  result (Picard), which restores second order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Union

import numpy as np

GEOMETRIES = {"sector": 1, "tube": 0}
BOTTOMS = ("absorbing", "reflecting")
GAMMA = 2.0 - math.sqrt(2.0)   # TR-BDF2 stage fraction (L-stable choice)
NEGATIVE_TOL = 1e-9            # a step giving c < -NEGATIVE_TOL * max(c) is redone with backward Euler

Coefficient = Union[float, Callable[[np.ndarray, np.ndarray], np.ndarray]]


def uniform_edges(r_meniscus: float, r_bottom: float, n_cells: int) -> np.ndarray:
    """Edges [m] of ``n_cells`` equal cells from the meniscus r_meniscus [m] to the bottom r_bottom [m]."""
    if not 0.0 < r_meniscus < r_bottom:
        raise ValueError("need 0 < r_meniscus < r_bottom")
    if n_cells < 2:
        raise ValueError("need at least 2 cells")
    return np.linspace(r_meniscus, r_bottom, int(n_cells) + 1)


def cell_volumes(edges: np.ndarray, geometry) -> np.ndarray:
    """Volume int r^k dr of each cell: (r1^2 - r0^2) / 2 [m^2] for a sector (per unit angle and height), r1 - r0 [m]
    for a tube (per unit cross-section area), int A dr [m^3] for a Column. ``edges`` [m], increasing."""
    if not isinstance(geometry, str):
        return geometry.cell_volumes(edges)
    k = _power(geometry)
    e = np.asarray(edges, dtype=np.float64)
    return 0.5 * (e[1:] ** 2 - e[:-1] ** 2) if k == 1 else np.diff(e)


def amount(edges: np.ndarray, c: np.ndarray, geometry: str) -> float:
    """Amount sum(c_i V_i) in the column (units of c times those of ``cell_volumes``); c a scalar or per cell."""
    v = cell_volumes(edges, geometry)
    return float(np.dot(np.broadcast_to(np.asarray(c, dtype=np.float64), v.shape), v))


@dataclass
class LammResult:
    """Result of ``solve``. Amounts are in units of c times those of ``cell_volumes`` (per unit sector angle and
    height, or per unit tube cross-section); divide by ``total`` for fractions of the initial amount."""

    edges: np.ndarray          # [m]
    geometry: str
    c: np.ndarray              # final cell averages (units of c0)
    pelleted: float            # amount that crossed an absorbing bottom
    total: float               # initial amount sum(c0 V)
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))       # save_times [s] from the run's start
    profiles: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # c at each save time, (n_times, n)
    pelleted_at: np.ndarray = field(default_factory=lambda: np.zeros(0))  # pelleted amount at each save time
    n_steps: int = 0           # time steps taken
    n_fallback: int = 0        # steps redone with backward Euler (oscillation check)

    @property
    def centers(self) -> np.ndarray:
        """Cell midpoints [m]."""
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def volumes(self) -> np.ndarray:
        """Cell volumes (see ``cell_volumes``)."""
        return cell_volumes(self.edges, self.geometry)

    @property
    def pelleted_fraction(self) -> float:
        """Share [1] of the initial amount that crossed an absorbing bottom."""
        return self.pelleted / self.total

    @property
    def remaining(self) -> float:
        """Amount still in the column at the end."""
        return float(np.dot(self.c, self.volumes))


def _power(geometry: str) -> int:
    try:
        return GEOMETRIES[geometry]
    except KeyError:
        raise ValueError(f"geometry must be one of {sorted(GEOMETRIES)}, not {geometry!r}") from None


def _bernoulli(x: np.ndarray) -> np.ndarray:
    """B(x) = x / (e^x - 1) for x >= 0 (B(0) = 1; B(x) -> x e^{-x}, underflowing to 0 for large x)."""
    out = np.ones_like(x)
    small = x < 1e-8
    out[small] = 1.0 - 0.5 * x[small]
    big = ~small
    with np.errstate(over="ignore"):
        out[big] = x[big] / np.expm1(x[big])
    return out


def _coefficient(value: Coefficient, c: np.ndarray, r: np.ndarray, name: str) -> np.ndarray:
    if callable(value):
        out = np.broadcast_to(np.asarray(value(c, r), dtype=np.float64), r.shape)
    else:
        out = np.full(r.shape, float(value))
    if name == "D" and np.any(out < 0):
        raise ValueError("D must be >= 0")
    return out


class _Operator:
    """The semi-discrete operator M c = V dc/dt at fixed coefficients: face fluxes F_f = A_f (a_f c_L - b_f c_R),
    a and b the exponentially fitted coefficients [m/s], A_f = r_f^k the face area."""

    def __init__(self, grid: "_Grid", c: np.ndarray, w2: float, s: Coefficient, D: Coefficient):
        g = grid
        c_face = np.empty(g.n_faces)
        c_face[: g.n - 1] = 0.5 * (c[:-1] + c[1:])
        if g.absorbing:
            c_face[-1] = 0.5 * c[-1]  # the wall value is 0
        s_f = _coefficient(s, c_face, g.r_face, "s")
        D_f = _coefficient(D, c_face, g.r_face, "D")
        v = s_f * w2 * g.r_face
        speed = np.abs(v)
        diff = np.zeros_like(v)                     # (D / h) B(|Pe|): 0 when D = 0
        pos = D_f > 0
        pe = np.full_like(v, np.inf)
        pe[pos] = speed[pos] * g.h_face[pos] / D_f[pos]
        fin = pos & np.isfinite(pe)
        diff[fin] = D_f[fin] / g.h_face[fin] * _bernoulli(pe[fin])
        a = (np.maximum(v, 0.0) + diff) * g.area   # times face area
        b = (np.maximum(-v, 0.0) + diff) * g.area
        self.a, self.b, self.grid = a, b, grid
        n = g.n
        # outflow coefficient of each cell: through its outer face (a) and its inner face (b)
        out = np.zeros(n)
        out[: n - 1] += a[: n - 1]
        out[1:] += b[: n - 1]
        if g.absorbing:
            out[-1] += a[-1]
        self.outflow = out
        self._lu = {}

    def apply(self, c: np.ndarray) -> np.ndarray:
        """M c: net inflow into each cell."""
        n = self.grid.n
        flux = self.a[: n - 1] * c[:-1] - self.b[: n - 1] * c[1:]
        out = np.zeros(n)
        out[:-1] -= flux
        out[1:] += flux
        if self.grid.absorbing:
            out[-1] -= self.a[-1] * c[-1]
        return out

    def pellet_rate(self, c: np.ndarray) -> float:
        """Flux into an absorbing bottom (amount per second)."""
        return float(self.a[-1] * c[-1]) if self.grid.absorbing else 0.0

    def solve(self, kappa: float, rhs: np.ndarray) -> np.ndarray:
        """x with (V - kappa M) x = rhs: LAPACK's tridiagonal LU (gttrf, kept per kappa: with constant coefficients
        a segment's steps reuse it) and gttrs. The same LAPACK solve as scipy.linalg.solve_banded without its
        per-call checks, which cost more than the solve at these sizes."""
        lu = self._lu.get(kappa)
        if lu is None:
            from scipy.linalg import lapack  # scipy imported only when a solve runs

            n = self.grid.n
            du = -kappa * self.b[: n - 1]
            dl = -kappa * self.a[: n - 1]
            d = self.grid.volumes + kappa * self.outflow
            dl, d, du, du2, ipiv, info = lapack.dgttrf(dl, d, du)
            if info != 0:
                raise np.linalg.LinAlgError(f"tridiagonal factorisation failed (info {info})")
            lu = self._lu[kappa] = (lapack.dgttrs, dl, d, du, du2, ipiv)
        gttrs, dl, d, du, du2, ipiv = lu
        x, info = gttrs(dl, d, du, du2, ipiv, rhs)
        if info != 0:
            raise np.linalg.LinAlgError(f"tridiagonal solve failed (info {info})")
        return x


@dataclass
class _Grid:
    edges: np.ndarray
    geometry: object   # "sector", "tube" or a Column
    absorbing: bool

    def __post_init__(self):
        e = self.edges
        self.n = len(e) - 1
        self.volumes = cell_volumes(e, self.geometry)
        x = 0.5 * (e[1:] + e[:-1])
        # interior faces, then the bottom face when it absorbs (the wall, half a cell from the last node)
        self.r_face = e[1:-1].copy()
        self.h_face = np.diff(x)
        if self.absorbing:
            self.r_face = np.append(self.r_face, e[-1])
            self.h_face = np.append(self.h_face, e[-1] - x[-1])
        self.n_faces = len(self.r_face)
        if isinstance(self.geometry, str):
            self.area = self.r_face ** _power(self.geometry)
        else:
            self.area = np.asarray(self.geometry.area_at(self.r_face), dtype=np.float64)


def solve(edges, c0, segments, s: Coefficient, D: Coefficient, *, geometry: str, bottom: str = "absorbing",
          courant: float = 1.0, max_dt: float | None = None, save_times=None, iterations: int = 0) -> LammResult:
    """Integrate the Lamm equation through a speed profile.

    Args:
      edges: cell edges [m], increasing, from the meniscus to the bottom (``uniform_edges`` or any array).
      c0: initial cell averages (any unit; scalar for uniform), shape (n_cells,).
      segments: array (n, 2) of (duration h [s], mean omega^2 over the segment [rad^2/s^2]) as returned by
        ``exosim.physics.rotors.speed_profile``; omega^2 is taken constant within a segment (the segment carries the
        exact integral of omega^2 dt).
      s: sedimentation coefficient [s], a float or a vectorised callable s(c, r) of face concentrations (units of
        c0) and face radii [m]; negative for material lighter than the medium (it floats).
      D: diffusion coefficient [m^2/s] (>= 0), a float or a callable D(c, r) likewise.
      geometry: ``"sector"`` (cell volume r dr: Lamm's equation, analytical-ultracentrifuge cells), ``"tube"``
        (constant cross-section: exosim's swinging-bucket tube and its Monte Carlo), or a ``physics.column.Column``
        (section A(r) [m^2]; amounts then in units of c times m^3).
      bottom: ``"absorbing"`` (c = 0 at the wall; the outflow is tallied in ``pelleted``) or ``"reflecting"``.
      courant: step-size control [1]: dt <= courant x the shortest cell emptying time (module docstring).
        1 keeps the time error below the spatial one for moving boundaries; for a run to equilibrium much
        larger values are fine (L-stable; the steady state does not depend on dt).
      max_dt: optional cap on the step [s].
      save_times: optional increasing times [s] from the start of the run at which to keep the profile.
      iterations: Picard re-solves of each stage with updated coefficients (only for callable s or D).

    Returns: LammResult (final c, pelleted amount, initial total, saved profiles, step counts).
    """
    if isinstance(geometry, str):
        _power(geometry)
    if bottom not in BOTTOMS:
        raise ValueError(f"bottom must be one of {BOTTOMS}, not {bottom!r}")
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 3 or np.any(np.diff(edges) <= 0) or edges[0] <= 0:
        raise ValueError("edges must be an increasing array of at least 3 positive radii")
    grid = _Grid(edges, geometry, bottom == "absorbing")
    c = np.array(np.broadcast_to(np.asarray(c0, dtype=np.float64), (grid.n,)))
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
    if np.any(segments[:, 0] < 0) or np.any(segments[:, 1] < 0):
        raise ValueError("segment durations and omega^2 must be >= 0")
    if courant <= 0:
        raise ValueError("courant must be > 0")
    save = np.zeros(0) if save_times is None else np.asarray(save_times, dtype=np.float64).ravel()
    t_end = float(np.sum(segments[:, 0]))
    if np.any(np.diff(save) < 0) or np.any(save < 0) or np.any(save > t_end * (1 + 1e-12)):
        raise ValueError("save_times must be increasing and within the run")
    nonlinear = callable(s) or callable(D)
    iters = int(iterations) if nonlinear else 0

    total = float(np.dot(c, grid.volumes))
    pelleted = 0.0
    profiles, pellet_at = [], []
    i_save = 0
    n_steps = n_fallback = 0
    t = 0.0

    def record_until(time):
        nonlocal i_save
        while i_save < len(save) and save[i_save] <= time * (1 + 1e-12) + 1e-300:
            profiles.append(c.copy())
            pellet_at.append(pelleted)
            i_save += 1

    record_until(t)
    for h, w2 in segments:
        t_seg_end = t + h
        op = None
        while t < t_seg_end * (1 - 1e-14) and h > 0:
            if op is None or nonlinear:  # constant coefficients: one operator per segment
                op = _Operator(grid, c, w2, s, D)
            horizon = t_seg_end
            if i_save < len(save) and save[i_save] < horizon:
                horizon = save[i_save]
            left = horizon - t
            tau = np.min(grid.volumes / np.maximum(op.outflow, 1e-300))  # shortest cell emptying time [s]
            rule = min(left, courant * tau, max_dt or math.inf)
            dt = left / math.ceil(left / rule * (1 - 1e-12))
            c_new, dp = _tr_bdf2(grid, op, c, dt, w2, s, D, iters)
            if np.min(c_new) < -NEGATIVE_TOL * max(np.max(np.abs(c)), 1e-300):
                c_new, dp = _backward_euler(grid, op, c, dt, w2, s, D, iters)
                n_fallback += 1
            c, pelleted = c_new, pelleted + dp
            t = t + dt if horizon - (t + dt) > 1e-12 * horizon else horizon
            n_steps += 1
            record_until(t)
        t = max(t, t_seg_end)
    record_until(t * (1 + 1e-12))
    n_saved = len(profiles)
    return LammResult(edges=edges, geometry=geometry, c=c, pelleted=pelleted, total=total,
                      times=save[:n_saved].copy(),
                      profiles=np.array(profiles) if profiles else np.zeros((0, grid.n)),
                      pelleted_at=np.array(pellet_at), n_steps=n_steps, n_fallback=n_fallback)


def _stage(grid, rhs, kappa, op, w2, s, D, iters):
    """Solve (V - kappa M) x = rhs with M from ``op``, then ``iters`` Picard re-solves with M evaluated at x.
    Returns x and the operator of the last solve (the one the pellet tally must use, for conservation)."""
    x = op.solve(kappa, rhs)
    for _ in range(iters):
        op = _Operator(grid, x, w2, s, D)
        x = op.solve(kappa, rhs)
    return x, op


def _tr_bdf2(grid, op0, c, dt, w2, s, D, iters):
    """One TR-BDF2 step; returns (c_new, pelleted amount during the step)."""
    g = GAMMA
    k1 = 0.5 * g * dt
    rhs1 = grid.volumes * c + k1 * op0.apply(c)
    c_mid, op1 = _stage(grid, rhs1, k1, op0, w2, s, D, iters)
    dp1 = k1 * (op0.pellet_rate(c) + op1.pellet_rate(c_mid))
    k2 = (1.0 - g) / (2.0 - g) * dt
    rhs2 = grid.volumes * (c_mid / g - (1.0 - g) ** 2 / g * c) / (2.0 - g)
    op_mid = _Operator(grid, c_mid, w2, s, D) if (callable(s) or callable(D)) else op0
    c_new, op2 = _stage(grid, rhs2, k2, op_mid, w2, s, D, iters)
    # mass balance of the two stages: m_new = m - dp1 / (g (2 - g)) - k2 P(c_new)
    dp = dp1 / (g * (2.0 - g)) + k2 * op2.pellet_rate(c_new)
    return c_new, dp


def _backward_euler(grid, op0, c, dt, w2, s, D, iters):
    """One backward-Euler step (positivity-preserving); returns (c_new, pelleted amount during the step)."""
    rhs = grid.volumes * c
    c_new, op = _stage(grid, rhs, dt, op0, w2, s, D, iters)
    return c_new, dt * op.pellet_rate(c_new)


def pelleted_fraction(r_meniscus: float, r_bottom: float, segments, s: float, D: float, *, geometry: str,
                      n_cells: int = 400, courant: float = 1.0, max_dt: float | None = None) -> float:
    """Share [1] of one population, uniform at the start in a homogeneous medium, that reaches the bottom
    (pellet) during a run: ``solve`` with c0 = 1 on ``uniform_edges(r_meniscus, r_bottom, n_cells)``.

    Args: radii [m]; segments (h [s], mean omega^2 [rad^2/s^2]) from ``rotors.speed_profile``; s [s]; D [m^2/s];
    geometry ``"tube"`` for exosim's swinging-bucket tube (what its Monte Carlo simulates) or ``"sector"``.
    As in exosim's Monte Carlo, a particle with s <= 0 (lighter than the medium) is never pelleted: the bottom
    reflects it. Estimate the discretisation error by comparing with twice ``n_cells``.
    """
    if s <= 0:
        return 0.0
    edges = uniform_edges(r_meniscus, r_bottom, n_cells)
    return solve(edges, 1.0, segments, s, D, geometry=geometry, bottom="absorbing", courant=courant,
                 max_dt=max_dt).pelleted_fraction
