"""Bundled configuration data (rotors, media, samples, protocols), installed as exosim.configs."""
