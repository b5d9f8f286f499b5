"""Test integrity and unfinished work: what an attempt's change did to the tests, the gates'
own files and the code it touched (docs/trust.md). Pure functions over file texts and gate
results; the engine reads the files and acts on the findings."""

from overseer.integrity.check import IntegrityPolicy, check_integrity
from overseer.integrity.placeholders import find_placeholders

__all__ = ["IntegrityPolicy", "check_integrity", "find_placeholders"]
