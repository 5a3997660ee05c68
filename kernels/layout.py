"""Plain constants shared by the kernels and the host code, importable without numba: outcome codes of a
centrifuge run, the layout of the kernels' parameter vector, and the Philox streams (one per purpose).

The host side (``exosim.methods``, ``exosim.engine``) fills parameter vectors and reads outcomes through these
names, so planning a protocol never imports numba.
"""
# random-number streams: the second Philox key word (kernels/philox.py)
STREAM_DIAMETER = 1
STREAM_DENSITY = 2
STREAM_SPIN = 3
STREAM_BRIDGE = 4
STREAM_FILTER = 5      # filtration: the pore a particle meets and what happens there
STREAM_ARRIVAL = 6     # filtration: when a particle reaches the membrane (share of the feed filtered by then)
STREAM_MECHANICS = 7   # a vesicle's reduced volume, bending modulus, lysis tension (7, 8, 9)
STREAM_DAMAGE = 10     # pellet compaction damage: one uniform per particle, stream 10 + (step << 8)
STREAM_ADSORB = 11     # dead-end filtration: whether a retained vesicle adsorbs, stream 11 + (step << 8)

# outcome of a centrifuge run for one particle
SUPERNATANT = 0
PELLET = 1
RESIDUAL = 2
PELLET_LOST = 3

# parameter vector layout
P_RHO_MEDIUM = 0   # medium density [kg/m^3]
P_VISCOSITY = 1    # medium viscosity [Pa s]
P_TEMPERATURE = 2  # [K]
P_BROWNIAN = 3     # 1.0: Brownian motion on; 0.0: deterministic sedimentation
P_LOSS = 4         # probability that a pelleted particle is lost on the wall at resuspension
P_ABSORB = 5       # 1.0: pellet wall absorbs; 0.0: it reflects (sedimentation equilibrium)
P_R_MENISCUS = 6   # meniscus radius [m]
P_R_MAX = 7        # swinging bucket: tube bottom radius [m]
P_R_RESIDUAL = 8   # swinging bucket: radius beyond which liquid is residual [m]
P_T_RESIDUAL = 9   # fixed angle: axial position beyond which liquid is residual [m]
P_R_TOP = 10       # fixed angle: radius of the tube axis at the tube top [m]
P_SIN = 11         # fixed angle: sin and cos of the tube angle to the rotation axis
P_COS = 12
P_LENGTH = 13      # fixed angle: tube axis length [m]
P_RADIUS = 14      # fixed angle: tube inner radius [m]
P_RECORD = 15      # 1.0: write the final position
P_TAB_R0 = 16      # gradient: radius of the first column of the medium tables [m]
P_TAB_DR = 17      # gradient: radial spacing of the medium tables [m]
P_TAB_DT = 18      # gradient: time between rows of the medium tables [s]
P_START_LO = 19    # gradient: the loaded zone, radii [m] between which particles start
P_START_HI = 20
P_START_N = 21     # gradient: start radii at equal volume steps in row 1 of the geometry table (<= 2: uniform in r)
P_DOSE = 22        # 1.0: write each pelleted particle's remaining integral of omega^2 dt [rad^2/s] (pellet dose)
N_PARAMS = 23

# filtration (kernels/filtration.py): outcome of one arrival at a membrane
F_PASSED = 0
F_RETAINED = 1
F_PLUGGED = 2
F_DEPOSITED = 3
F_DAMAGED = 4          # a vesicle that ruptured in the pore

# filtration parameter vector
PF_TEMPERATURE = 0   # [K]
PF_VISCOSITY = 1     # [Pa s]
PF_VELOCITY = 2      # mean velocity in a pore of radius r is PF_VELOCITY * r^2 [1/(m s)] (Hagen-Poiseuille)
PF_LENGTH = 3        # pore length [m]
PF_DEPOSIT = 4       # probability that a passing particle deposits in the pore
PF_PRESSURE = 5      # pressure drop across the membrane [Pa] (what pushes a vesicle into a pore)
NF_PARAMS = 6
# per-particle mechanics (columns of the kernels' mechanics array; NaN for rigid particles)
M_REDUCED_VOLUME = 0
M_BENDING = 1        # [J]
M_LYSIS = 2          # [N/m]
M_AREA_MODULUS = 3   # [N/m]
M_OSMOTIC = 4        # osmotically active share of its volume [1] (water it can lose at a pore)
N_MECH = 5

# a well-mixed retentate at a membrane (kernels/filtration.py, retentate_fate: tangential flow, a stirred cell, a
# centrifugal concentrator): outcome, parameter vector, then NSEG segments of SEG_WIDTH values each
T_RETAINED = 0
T_PASSED = 1
T_DAMAGED = 2
T_ADSORBED = 3
PT_TEMPERATURE = 0   # [K]
PT_VISCOSITY = 1     # [Pa s]
PT_LENGTH = 2        # pore length [m]
PT_ADSORPTION = 3    # adsorption rate of retained vesicles per unit exposure [1]
PT_SHEAR_STRESS = 4  # peak shear stress on the particles [Pa]
PT_MT_MODEL = 5      # mass transfer: kernels/polarisation.py MT_POWER or MT_NATURAL
PT_MT_COEFF = 6      # MT_POWER: k = PT_MT_COEFF D^PT_MT_POWER [m/s]
PT_MT_POWER = 7
PT_MT_LENGTH = 8     # MT_NATURAL: membrane height [m]
PT_NU = 9            # kinematic viscosity [m^2/s]
PT_NSEG = 10         # number of segments of the process that follow
NT_PARAMS = 11
SEG_EXPOSURE = 0     # filtrate volume per retentate volume in the segment (d ln V, or diavolumes) [1]
SEG_FLUX = 1         # permeate flux [m/s]
SEG_PRESSURE = 2     # pressure drop across the membrane itself, eta R_m J [Pa] (what pushes a vesicle into a pore)
SEG_GROUP = 3        # MT_NATURAL: a |d_rho| L^3 / eta [m^2/s]
SEG_WIDTH = 4
