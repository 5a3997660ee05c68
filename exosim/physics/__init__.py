"""Host-side physics and data: media, rotors, particles. SI units; no pint, no pydantic."""
