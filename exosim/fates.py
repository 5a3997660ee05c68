"""Where a particle can be after a step. PRODUCT is "still in the material the protocol carries on"."""
PLACES = ("product", "supernatant_discarded", "pellet_discarded", "wall_loss", "fraction_discarded",
          "filtrate_discarded", "retentate_discarded", "membrane_bound", "damaged")
(PRODUCT, SUPERNATANT_DISCARDED, PELLET_DISCARDED, WALL_LOSS, FRACTION_DISCARDED, FILTRATE_DISCARDED,
 RETENTATE_DISCARDED, MEMBRANE_BOUND, DAMAGED) = range(len(PLACES))
# DAMAGED: a vesicle that ruptured (its content lost); it no longer counts as an intact vesicle anywhere


def move(particles, mask, place: int, step: int, xp) -> None:
    """Book the particles selected by ``mask`` (device bool array) into ``place`` at protocol ``step``."""
    particles.fate = xp.where(mask, xp.int8(place), particles.fate)
    particles.fate_step = xp.where(mask, xp.int16(step), particles.fate_step)
