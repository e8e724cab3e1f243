"""One small registry: built-ins and user plugins register through the same call.

Lookups of an unknown name raise a `GankitError` listing the valid names. An entry may carry `info`,
what the object says about itself (a model family's fields, what an objective's D outputs), readable
without building anything. A parametric family (Amari's alpha-divergences) registers once with a
factory: `alpha-0.3` is built on its first lookup from the number after the family's prefix.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Generic, TypeVar

from gankit.errors import GankitError

T = TypeVar("T")


class Registry(Generic[T]):
    """A validated name -> object mapping, each entry with a one-line description."""

    def __init__(self, kind: str):
        self.kind = kind  # e.g. "dataset", used in error messages
        self._entries: dict[str, tuple[T, str, object]] = {}
        self._families: dict[str, tuple[Callable[[float], T], str, str]] = {}  # prefix -> (factory, text, domain)

    def register(self, name: str, description: str, info: object = None) -> Callable[[T], T]:
        """Decorator: `@DATASETS.register("ring8", "8 Gaussians on a circle")`."""

        def add(obj: T) -> T:
            self.add(name, obj, description, info)
            return obj

        return add

    def add(self, name: str, obj: T, description: str, info: object = None) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = (obj, description, info)

    def remove(self, name: str) -> None:
        """Unregister `name` (a plugin's or a test's entry); an unknown name raises as `get` does."""
        self.get(name)
        del self._entries[name]

    def add_family(self, prefix: str, factory: Callable[[float], T], description: str, *, domain: str = "") -> None:
        """Names `{prefix}-{number}` (e.g. `alpha-0.3`, `alpha--1`): `factory(number)` builds the entry on its
        first lookup and raises GankitError for a number outside the family. `description` has a `{}` for the
        number; `domain` ("0 < pi < 1") is listed with the family."""
        if prefix in self._families:
            raise ValueError(f"{self.kind} family {prefix!r} is already registered")
        self._families[prefix] = (factory, description, domain)

    def families(self) -> dict[str, str]:
        """{"alpha-<number>": description} for each parametric family."""
        return {f"{prefix}-<number>": description.format("<number>") + (f" ({domain})" if domain else "")
                for prefix, (_, description, domain) in self._families.items()}

    def get(self, name: str) -> T:
        if name not in self._entries and not self._build_member(name):
            choices = [*self.names(), *self.families()]
            raise GankitError(f"unknown {self.kind} {name!r}; valid choices: {', '.join(choices)}")
        return self._entries[name][0]

    def _build_member(self, name: str) -> bool:
        """Build and keep `name` when it is a family's member; False when no family claims it."""
        for prefix, (factory, description, _) in self._families.items():
            number = name[len(prefix) + 1:] if isinstance(name, str) and name.startswith(prefix + "-") else ""
            try:
                value = float(number)
            except ValueError:
                continue
            if not math.isfinite(value):
                continue
            self._entries[name] = (factory(value), description.format(number), None)
            return True
        return False

    def describe(self, name: str) -> str:
        self.get(name)
        return self._entries[name][1]

    def info(self, name: str) -> object:
        """What the entry says about itself (None when it was registered without)."""
        self.get(name)
        return self._entries[name][2]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except GankitError:
            return False
        return True
