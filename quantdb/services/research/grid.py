"""Parameter grids for sweeps: ``k=start:stop:step`` (stop included), ``k=a,b,c``, constraints.

A grid is the Cartesian product of named value lists, in the order the names were given,
filtered by constraints such as ``"fast<slow"`` or ``"slow >= 2*fast, fast <= 50"``. The
result is a :class:`Grid`: one NumPy column per parameter (*paired* values, row ``i`` is the
``i``-th parameter set), the layout :mod:`quantdb.kernels.signals` reads.

Constraints are parsed by a tiny recursive-descent parser (never ``eval``):

``constraint := comparison (("," | "and" | "&") comparison)*``
``comparison := expr (op expr)+`` with ``op`` in ``< <= > >= == !=`` (chained as in Python)
``expr := term (("+" | "-") term)*``; ``term := factor (("*" | "/") factor)*``
``factor := number | name | "-" factor | "(" expr ")"``

and evaluated on whole columns at once.

Examples
--------
>>> g = build_grid([parse_grid_spec("fast=5:15:5"), parse_grid_spec("slow=10,20")],
...                constraints=["fast<slow"])
>>> g.rows()
[{'fast': 5, 'slow': 10}, {'fast': 5, 'slow': 20}, {'fast': 10, 'slow': 20}, {'fast': 15, 'slow': 20}]
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from quantdb.errors import ArgumentError

__all__ = [
    "Constraint",
    "Grid",
    "GridError",
    "build_grid",
    "parse_constraint",
    "parse_grid_spec",
]

MAX_COMBOS = 50_000_000


class GridError(ArgumentError):
    """A ``--grid`` or ``--constraint`` text cannot be read (exit code 2)."""


# ----------------------------------------------------------------------------- grid specs
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _number(text: str, spec: str) -> Decimal:
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        msg = f"grid {spec!r}: {text.strip()!r} is not a number"
        raise GridError(msg) from None
    if not d.is_finite():
        msg = f"grid {spec!r}: {text.strip()!r} is not a finite number"
        raise GridError(msg)
    return d


def _plain(values: list[Decimal]) -> list[int] | list[float]:
    if all(v == v.to_integral_value() for v in values):
        return [int(v) for v in values]
    return [float(v) for v in values]


def parse_grid_spec(spec: str, /) -> tuple[str, list[int] | list[float]]:
    """Parse one ``--grid`` value: ``name=start:stop:step`` (stop included) or ``name=a,b,c``.

    Decimal arithmetic, so ``x=0.1:0.3:0.1`` gives exactly ``[0.1, 0.2, 0.3]``. Whole numbers
    stay ``int``. ``name=v`` is a single value; ``start:stop`` steps by 1.

    Raises
    ------
    GridError
        on a malformed spec, a step <= 0, stop < start, or more than 1,000,000 values.

    Examples
    --------
    >>> parse_grid_spec("fast=5:20:5")
    ('fast', [5, 10, 15, 20])
    >>> parse_grid_spec("k=1.5, 2, 2.5")
    ('k', [1.5, 2.0, 2.5])
    """
    if "=" not in spec:
        msg = f"grid {spec!r}: expected name=start:stop:step or name=a,b,c (e.g. fast=5:100:5)"
        raise GridError(msg)
    name, _, body = spec.partition("=")
    name = name.strip()
    if not _NAME.match(name):
        msg = f"grid {spec!r}: parameter name must be an identifier, got {name!r}"
        raise GridError(msg)
    body = body.strip()
    if not body:
        msg = f"grid {spec!r}: no values after '='"
        raise GridError(msg)
    if ":" in body:
        parts = body.split(":")
        if len(parts) not in (2, 3):
            msg = f"grid {spec!r}: a range is start:stop or start:stop:step"
            raise GridError(msg)
        start, stop = _number(parts[0], spec), _number(parts[1], spec)
        step = _number(parts[2], spec) if len(parts) == 3 else Decimal(1)
        if step <= 0:
            msg = f"grid {spec!r}: step must be > 0, got {step}"
            raise GridError(msg)
        if stop < start:
            msg = f"grid {spec!r}: stop {stop} is below start {start}"
            raise GridError(msg)
        count = int((stop - start) // step) + 1
        if count > 1_000_000:
            msg = f"grid {spec!r}: {count} values; at most 1,000,000 per parameter"
            raise GridError(msg)
        values = [start + i * step for i in range(count)]
    else:
        values = [_number(v, spec) for v in body.split(",") if v.strip()]
        if len(set(values)) != len(values):
            msg = f"grid {spec!r}: a value is repeated"
            raise GridError(msg)
    return name, _plain(values)


# ----------------------------------------------------------------------------- constraints
_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|([A-Za-z_]\w*)|(<=|>=|==|!=|<|>|[-+*/(),&]))")
_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
    "==": np.equal, "!=": np.not_equal,
}  # fmt: skip


def _tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            msg = f"constraint {text!r}: cannot read {text[pos:].strip()[:12]!r} at position {pos}"
            raise GridError(msg)
        num, name, op = m.groups()
        if num is not None:
            out.append(("num", num))
        elif name is not None:
            out.append(("op", "and") if name == "and" else ("name", name))
        else:
            out.append(("op", "and" if op in (",", "&") else op))
        pos = m.end()
    return out


Node = tuple[Any, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _fail(self, what: str) -> GridError:
        tok = self._peek()
        got = "the end" if tok is None else repr(tok[1])
        return GridError(f"constraint {self.text!r}: expected {what}, got {got}")

    def _accept(self, *ops: str) -> str | None:
        tok = self._peek()
        if tok is not None and tok[0] == "op" and tok[1] in ops:
            self.i += 1
            return tok[1]
        return None

    def parse(self) -> list[Node]:
        if not self.tokens:
            raise self._fail("a comparison such as fast<slow")
        comparisons = [self._comparison()]
        while self._accept("and"):
            comparisons.append(self._comparison())
        if self._peek() is not None:
            raise self._fail("',' or 'and' between comparisons")
        return comparisons

    def _comparison(self) -> Node:
        operands = [self._expr()]
        ops: list[str] = []
        while (op := self._accept(*_OPS)) is not None:
            ops.append(op)
            operands.append(self._expr())
        if not ops:
            raise self._fail("a comparison operator (<, <=, >, >=, ==, !=)")
        return ("cmp", tuple(ops), tuple(operands))

    def _expr(self) -> Node:
        node = self._term()
        while (op := self._accept("+", "-")) is not None:
            node = ("bin", op, node, self._term())
        return node

    def _term(self) -> Node:
        node = self._factor()
        while (op := self._accept("*", "/")) is not None:
            node = ("bin", op, node, self._factor())
        return node

    def _factor(self) -> Node:
        tok = self._peek()
        if tok is None:
            raise self._fail("a number, a parameter name or '('")
        kind, value = tok
        if kind == "num":
            self.i += 1
            return ("num", float(value))
        if kind == "name":
            self.i += 1
            return ("name", value)
        if self._accept("-"):
            return ("neg", self._factor())
        if self._accept("("):
            node = self._expr()
            if not self._accept(")"):
                raise self._fail("')'")
            return node
        raise self._fail("a number, a parameter name or '('")


def _names(node: Node) -> set[str]:
    kind = node[0]
    if kind == "name":
        return {node[1]}
    if kind == "num":
        return set()
    if kind == "neg":
        return _names(node[1])
    if kind == "bin":
        return _names(node[2]) | _names(node[3])
    return set().union(*(_names(n) for n in node[2]))


def _eval(node: Node, env: Mapping[str, np.ndarray]) -> Any:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "name":
        return env[node[1]]
    if kind == "neg":
        return -_eval(node[1], env)
    if kind == "bin":
        a, b = _eval(node[2], env), _eval(node[3], env)
        op = node[1]
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.true_divide(a, b)
    ops, operands = node[1], node[2]
    values = [_eval(o, env) for o in operands]
    out = np.ones(np.broadcast(*[np.asarray(v) for v in values]).shape, dtype=np.bool_)
    for op, a, b in zip(ops, values, values[1:], strict=False):
        out &= _OPS[op](a, b)
    return out


@dataclass(frozen=True)
class Constraint:
    """A parsed constraint: ``mask(columns)`` tells which parameter sets satisfy it."""

    text: str
    comparisons: tuple[Node, ...]

    @property
    def names(self) -> set[str]:
        """The parameter names the constraint mentions."""
        return set().union(*(_names(c) for c in self.comparisons))

    def mask(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Boolean mask over the parameter sets (all comparisons must hold).

        Raises
        ------
        GridError
            when the constraint names a parameter that is not in the grid.
        """
        missing = sorted(self.names - set(columns))
        if missing:
            msg = (
                f"constraint {self.text!r} names {', '.join(missing)}, not in the grid "
                f"(parameters: {', '.join(columns) or 'none'})"
            )
            raise GridError(msg)
        n = len(next(iter(columns.values()))) if columns else 1
        out = np.ones(n, dtype=np.bool_)
        for c in self.comparisons:
            out &= np.broadcast_to(_eval(c, columns), (n,))
        return out


def parse_constraint(text: str, /) -> Constraint:
    """Parse ``"fast<slow"``, ``"slow >= 2*fast and fast <= 50"``, ``"a < b < c"`` (no eval).

    Examples
    --------
    >>> c = parse_constraint("fast < slow, slow - fast >= 10")
    >>> c.mask({"fast": np.array([5, 5, 30]), "slow": np.array([10, 20, 20])}).tolist()
    [False, True, False]
    """
    return Constraint(text=text, comparisons=tuple(_Parser(text).parse()))


# ----------------------------------------------------------------------------- the grid
@dataclass(frozen=True)
class Grid:
    """Parameter sets as paired columns: ``columns[name][i]`` is set ``i``'s value of ``name``.

    ``axes`` keeps each parameter's full value list (before constraints), which the
    sensitivity and heatmap views use as the lattice of neighbours.
    """

    names: tuple[str, ...]
    columns: dict[str, np.ndarray]
    axes: dict[str, list[Any]]
    constraints: tuple[str, ...] = ()

    def __len__(self) -> int:
        return 0 if not self.names else int(self.columns[self.names[0]].shape[0])

    def rows(self) -> list[dict[str, Any]]:
        """Every parameter set as a dict of plain Python values."""
        cols = [self.columns[n].tolist() for n in self.names]
        return [dict(zip(self.names, vals, strict=True)) for vals in zip(*cols, strict=True)]

    def row(self, i: int) -> dict[str, Any]:
        """Parameter set ``i`` as a dict of plain Python values."""
        return {n: self.columns[n][i].item() for n in self.names}

    def take(self, index: np.ndarray | slice) -> Grid:
        """A sub-grid (a chunk) with the same names and axes."""
        return Grid(self.names, {n: self.columns[n][index] for n in self.names}, self.axes,
                    self.constraints)

    def to_json(self) -> str:
        """The grid's definition (axes and constraints), enough to rebuild it exactly."""
        return json.dumps({"axes": self.axes, "constraints": list(self.constraints)}, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> Grid:
        """Rebuild a grid from :meth:`to_json` (for ``--resume``)."""
        data = json.loads(text)
        return build_grid(list(data["axes"].items()), constraints=data.get("constraints", ()))


def build_grid(
    specs: Iterable[tuple[str, Sequence[Any]]] | Mapping[str, Sequence[Any]],
    /,
    *,
    constraints: Iterable[str | Constraint] = (),
) -> Grid:
    """The Cartesian product of the value lists (first name varies slowest), filtered.

    Raises
    ------
    GridError
        on a repeated name, an empty value list, an unknown name in a constraint, no
        parameter set left, or more than 50 million combinations.
    """
    items = list(specs.items()) if isinstance(specs, Mapping) else list(specs)
    names = [n for n, _ in items]
    if len(set(names)) != len(names):
        msg = f"grid parameter repeated: {', '.join(n for n in names if names.count(n) > 1)}"
        raise GridError(msg)
    for n, v in items:
        if len(v) == 0:
            msg = f"grid parameter {n!r} has no values"
            raise GridError(msg)
    total = 1
    for _, v in items:
        total *= len(v)
    if total > MAX_COMBOS:
        msg = f"grid has {total:,} combinations before constraints; at most {MAX_COMBOS:,}"
        raise GridError(msg)
    axes = {n: list(v) for n, v in items}
    if items:
        mesh = np.meshgrid(*[np.asarray(v) for _, v in items], indexing="ij")
        columns = {n: m.reshape(-1) for n, m in zip(names, mesh, strict=True)}
    else:
        columns = {}
    parsed = [c if isinstance(c, Constraint) else parse_constraint(c) for c in constraints]
    if parsed and columns:
        keep = np.ones(total, dtype=np.bool_)
        for c in parsed:
            keep &= c.mask(columns)
        columns = {n: col[keep] for n, col in columns.items()}
        if not keep.any():
            msg = f"no parameter set satisfies {' and '.join(c.text for c in parsed)}"
            raise GridError(msg)
    elif parsed:
        for c in parsed:
            c.mask(columns)  # names an unknown parameter
    return Grid(tuple(names), columns, axes, tuple(c.text for c in parsed))
