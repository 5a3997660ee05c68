"""Separation methods, one module each. A method turns a validated step and the particle state into kernel
calls and books every particle's fate."""
