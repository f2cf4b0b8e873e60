"""The plan: gates cut into passes at every global gate.

With global gates at positions g1 < g2 < ... the run has one more pass than global gates:

    pass 0:  read -> validate -> gates before g1 -> g1.prepare
    global:  g1.resolve (all units)
    pass 1:  g1.apply -> gates between g1 and g2 -> g2.prepare
    ...
    pass P:  g_last.apply -> the remaining gates -> late columns -> tiers -> OUT/tier=K/part-U.parquet

Late columns (`Gate.late_fields`, e.g. the language gate's natural language) are computed
only for the rows that pass every gate, or right before the first gate that reads them.

Tier numbering: a document that first fails gate i gets tier i; one that passes every gate
gets tier G + b, where G is the number of gates and b the band the last gate gave it (0 when
the last gate has no bands). `tier_names` says what each number means.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codesieve.core.base import Gate


@dataclass
class Pass:
    """One pass over every unit: apply `resolved` (a global gate, already resolved), run the
    shard-local `gates`, then `prepare` the next global gate's keys."""

    index: int
    resolved: tuple[int, Gate] | None = None
    gates: list[tuple[int, Gate]] = field(default_factory=list)
    prepare: tuple[int, Gate] | None = None

    def applied(self) -> list[tuple[int, Gate]]:
        """The gates whose `apply` runs in this pass, in tier order."""
        return ([self.resolved] if self.resolved else []) + self.gates


def make_passes(gates: list[Gate]) -> list[Pass]:
    passes = [Pass(0)]
    for i, gate in enumerate(gates):
        if gate.is_global:
            passes[-1].prepare = (i, gate)
            passes.append(Pass(len(passes), resolved=(i, gate)))
        else:
            passes[-1].gates.append((i, gate))
    return passes


def late_points(gates: list[Gate], active: list[str] | None = None) -> dict[int, list[Gate]]:
    """Where each active gate's late columns (`Gate.late_fields`) are computed: before the
    first later active gate that `reads` one of them (key: that gate's index), else after
    the last gate, on the rows that pass every gate (key: len(gates))."""
    on = [active is None or g.name in active for g in gates]
    out: dict[int, list[Gate]] = {}
    for i, gate in enumerate(gates):
        late = set(gate.late_fields())
        if not late or not on[i]:
            continue
        readers = (j for j in range(i + 1, len(gates)) if on[j] and late & set(gates[j].reads))
        out.setdefault(next(readers, len(gates)), []).append(gate)
    return out


def tier_names(gates: list[Gate]) -> dict[int, str]:
    """What each tier number means: `failed:<gate>` below, `passed[:<band>]` at the top."""
    names = {i: f"failed:{g.name}" for i, g in enumerate(gates)}
    bands = gates[-1].band_names() if gates else []
    if not bands:
        names[len(gates)] = "passed"
    for b, band in enumerate(bands):
        names[len(gates) + b] = f"passed:{band}"
    return names


QUARANTINE_NAME = "quarantined:input"
