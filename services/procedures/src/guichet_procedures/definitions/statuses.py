"""A procedure's statuses as its administration defines them: the graph of allowed moves.

The first status is the one a request gets at submission. The checks at load make the graph
usable: every move leads to a status that exists, an end status leads nowhere, every other status
leads somewhere, every status can be reached from the first, and at most one status asks the
citizen for something (the correction status).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol


class StatusNode(Protocol):
    """What the graph needs of a status (`model.Status`)."""

    @property
    def code(self) -> str: ...
    @property
    def next(self) -> tuple[str, ...]: ...
    @property
    def end(self) -> bool: ...
    @property
    def asks_citizen(self) -> bool: ...
    @property
    def cancellable(self) -> bool: ...


def graph_problems(statuses: Sequence[StatusNode], report: Callable[[str, str], None]) -> None:
    """Reports (path, message) for each way the graph is not usable."""
    if not statuses:
        report("statuses", "an online procedure needs at least one status")
        return
    codes: dict[str, int] = {}
    for index, status in enumerate(statuses):
        if status.code in codes:
            report(f"statuses[{index}].code", f"duplicate status {status.code!r}")
        codes.setdefault(status.code, index)
    for index, status in enumerate(statuses):
        here = f"statuses[{index}]"
        for target in status.next:
            if target not in codes:
                report(f"{here}.next", f"no status {target!r}")
            elif target == status.code:
                report(f"{here}.next", f"{status.code!r} cannot move to itself")
        if len(set(status.next)) != len(status.next):
            report(f"{here}.next", "a status is listed twice")
        if status.end and status.next:
            report(f"{here}.next", f"{status.code!r} is an end status: it moves nowhere")
        if not status.end and not status.next:
            report(f"{here}.next", f"{status.code!r} is not an end status: say where it moves")
        if status.end and status.asks_citizen:
            report(f"{here}.asks_citizen", "an end status cannot ask the citizen for something")
    asking = [status.code for status in statuses if status.asks_citizen]
    if len(asking) > 1:
        report("statuses", f"at most one status asks the citizen; here: {', '.join(asking)}")
    if statuses[0].end:
        report("statuses[0].end", "the first status (at submission) cannot be an end status")
    if not any(status.end for status in statuses):
        report("statuses", "no end status: a request could never be closed")
    reached = _reachable(statuses)
    for index, status in enumerate(statuses):
        if status.code not in reached:
            report(
                f"statuses[{index}]", f"{status.code!r} cannot be reached from {statuses[0].code!r}"
            )


def _reachable(statuses: Sequence[StatusNode]) -> set[str]:
    moves = {status.code: status.next for status in statuses}
    reached = {statuses[0].code}
    pending = [statuses[0].code]
    while pending:
        for target in moves.get(pending.pop(), ()):
            if target in moves and target not in reached:
                reached.add(target)
                pending.append(target)
    return reached


@dataclass(frozen=True)
class StatusGraph:
    """The statuses of one version, as the requests' rules ask about them."""

    statuses: tuple[StatusNode, ...]

    @cached_property
    def _by_code(self) -> Mapping[str, StatusNode]:
        return {status.code: status for status in self.statuses}

    @property
    def initial(self) -> str:
        """The status given at submission."""
        return self.statuses[0].code

    @property
    def correction(self) -> str | None:
        """The status that asks the citizen for something, if the procedure has one."""
        return next((s.code for s in self.statuses if s.asks_citizen), None)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def status(self, code: str) -> StatusNode:
        """Raises KeyError for a code the procedure does not have."""
        return self._by_code[code]

    def can_move(self, current: str, target: str) -> bool:
        return current in self._by_code and target in self._by_code[current].next

    def is_end(self, code: str) -> bool:
        return self._by_code[code].end

    def asks_citizen(self, code: str) -> bool:
        return self._by_code[code].asks_citizen

    def cancellable(self, code: str) -> bool:
        return self._by_code[code].cancellable
