"""One small registry: built-ins and user plugins register through the same call.

Lookups of an unknown name raise a `GankitError` listing the valid names. An entry may carry `info`,
what the object says about itself (a model family's fields, what an objective's D outputs), readable
without building anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from gankit.errors import GankitError

T = TypeVar("T")


class Registry(Generic[T]):
    """A validated name -> object mapping, each entry with a one-line description."""

    def __init__(self, kind: str):
        self.kind = kind  # e.g. "dataset", used in error messages
        self._entries: dict[str, tuple[T, str, object]] = {}

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

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise GankitError(
                f"unknown {self.kind} {name!r}; valid choices: {', '.join(self.names())}"
            )
        return self._entries[name][0]

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
        return name in self._entries
