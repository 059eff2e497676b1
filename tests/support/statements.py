"""What the `statements` fixture yields: SQL statements sent through the test engine."""

from dataclasses import dataclass


@dataclass
class StatementCounter:
    count: int = 0
