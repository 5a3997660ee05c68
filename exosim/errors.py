"""Errors that reach the user as one line: the file, the field and what is wrong."""


class ConfigError(Exception):
    """Bad input. ``str(err)`` is the one line the command line prints: ``FILE: FIELD: PROBLEM``."""

    def __init__(self, file: str, field: str, problem: str):
        super().__init__(file, field, problem)
        self.file = str(file)
        self.field = field
        self.problem = problem

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.problem}"
