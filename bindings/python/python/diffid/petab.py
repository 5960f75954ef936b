"""PEtab problems: load a problem of the systems-biology benchmark format and fit it.

PEtab describes a fitting problem as an SBML model plus tables of experimental conditions,
measurements, observables and parameters (https://petab.readthedocs.io). ``load`` reads one
with the ``petab`` library and python-libsbml (``pip install petab python-libsbml``),
translates the SBML model to DiffSL, and builds a diffid problem whose objective is PEtab's
negative log-likelihood, evaluated in Rust:

>>> problem = diffid.petab.load("Boehm_JProteomeRes2014/Boehm_JProteomeRes2014.yaml")
>>> problem.parameters()              # the estimated parameters, in the table's order
>>> problem.evaluate(problem.nominal())   # on the PEtab scale (log10 where the table says)
>>> runs = problem.optimise(starts=100)

What is translated:

* SBML: compartments, parameters, species (concentrations — each reaction's rate divided by
  the volume of the species' compartment — or amounts), reactions, assignment rules, rate
  rules, initial assignments, function definitions (inlined), ``piecewise`` and relations
  (through ``heaviside``), the time symbol. Events, algebraic rules, delays and fast reactions
  are refused with an error naming the construct.
* Conditions: a condition's value for a parameter or compartment sets that input; for a
  species, its initial value. A measurement's ``preequilibrationConditionId`` starts its
  experiment from the steady state under that condition (Newton's method, integration as the
  fallback; the simulation condition's inputs take over at time 0; exact gradients through
  the steady state). Re-initialising a species after pre-equilibration, and setting an
  input to an estimated parameter during it, are refused with an error naming them.
* Steady-state measurements (``time`` = ``inf``) are the steady state under the simulation
  condition, reached from its initial values.
* Observables: formulas of species and parameters (``observableParameter…`` placeholders set
  per measurement), with ``lin``/``log``/``log10`` transformations and normal or Laplace noise;
  noise formulas that are a placeholder, a number or a parameter (σ per row), or any formula
  of them (a model output).
* Parameters: ``lin``/``log``/``log10`` scales; estimated ones are fitted within their bounds
  (searched on a log scale where the table says log or log10), the others fixed at their
  nominal values. Objective priors (``objectivePriorType``/``objectivePriorParameters``,
  all eight PEtab types) become the parameters' diffid priors for sampling; where none is
  given, PEtab's default (uniform on the parameter scale within the bounds: log-uniform for
  log/log10 parameters). ``evaluate`` stays the negative log-likelihood (AMICI's
  convention); ``log_prior`` gives the priors' term of PEtab's objective.
  ``initializationPriorType`` is not read: multi-start draws are uniform on the parameter
  scale within the bounds.

DiffSL reads ``_`` as index notation, so identifiers are renamed (``k_phos`` → ``kphos``);
``to_diffsl`` shows the generated model and the renaming.
"""

from __future__ import annotations

import ast
import math
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import diffid

__all__ = ["PetabProblem", "load", "to_diffsl"]

_RESERVED = {
    "t", "u", "dudt", "F", "M", "out", "in", "stop", "reset", "exp", "log", "log10", "sqrt",
    "abs", "sin", "cos", "tan", "pow", "heaviside", "sigmoid", "tanh", "sinh", "cosh",
    "arcsinh", "arccosh", "min", "max", "N",
}


class PetabError(diffid.BuildError):
    """A PEtab problem that cannot be loaded: the file, row and id are named."""


def _require():
    try:
        import libsbml  # noqa: F401
        from petab import v1  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "diffid.petab needs the petab library and python-libsbml: "
            "pip install petab python-libsbml"
        ) from e


# ------------------------------------------------------------------------------------------
# names


class _Names:
    """SBML/PEtab ids to DiffSL-safe, unique names."""

    def __init__(self):
        self.to_diffsl: dict[str, str] = {}
        self._used: set[str] = set(_RESERVED)

    def __call__(self, sid: str) -> str:
        if sid in self.to_diffsl:
            return self.to_diffsl[sid]
        base = re.sub(r"[^A-Za-z0-9]", "", sid) or "x"
        if not base[0].isalpha():
            base = "p" + base
        name, k = base, 1
        while name in self._used:
            k += 1
            name = f"{base}{k}"
        self._used.add(name)
        self.to_diffsl[sid] = name
        return name


# ------------------------------------------------------------------------------------------
# SBML math to DiffSL


def _num(v: float) -> str:
    if math.isinf(v) or math.isnan(v):
        raise PetabError(f"the model contains the number {v}, which DiffSL cannot express")
    text = repr(float(v))
    return f"({text})" if text.startswith("-") else text


def _power(base: str, exponent_node, exponent: str) -> str:
    """`base^exponent`: a small integer power as a product (cheaper than `pow`, and exact
    for a negative base), else `pow`."""
    import libsbml as L

    if exponent_node.getType() == L.AST_INTEGER and exponent_node.getInteger() in (2, 3, 4):
        return "(" + " * ".join([base] * exponent_node.getInteger()) + ")"
    if exponent_node.getType() in (L.AST_REAL, L.AST_REAL_E) and exponent_node.getReal() in (2.0, 3.0):
        return "(" + " * ".join([base] * int(exponent_node.getReal())) + ")"
    return f"pow({base}, {exponent})"


class _Math:
    """MathML (libsbml ASTNode) to DiffSL infix, with function definitions inlined."""

    def __init__(self, names: _Names, functions: dict[str, tuple[list[str], Any]], where: str):
        self.names = names
        self.functions = functions
        self.where = where

    def __call__(self, node, env: dict[str, str] | None = None) -> str:
        import libsbml as L

        env = env or {}
        t = node.getType()
        kids = [node.getChild(i) for i in range(node.getNumChildren())]
        c = lambda k: self(k, env)  # noqa: E731
        if t == L.AST_INTEGER:
            return _num(node.getInteger())
        if t in (L.AST_REAL, L.AST_REAL_E, L.AST_RATIONAL):
            return _num(node.getReal())
        if t == L.AST_NAME:
            n = node.getName()
            return env.get(n) or self.names(n)
        if t == L.AST_NAME_TIME:
            return "t"
        if t == L.AST_CONSTANT_PI:
            return _num(math.pi)
        if t == L.AST_CONSTANT_E:
            return _num(math.e)
        if t == L.AST_CONSTANT_TRUE:
            return "1.0"
        if t == L.AST_CONSTANT_FALSE:
            return "0.0"
        if t == L.AST_PLUS:
            return "(" + " + ".join(c(k) for k in kids) + ")" if kids else "0.0"
        if t == L.AST_MINUS:
            return f"(-{c(kids[0])})" if len(kids) == 1 else f"({c(kids[0])} - {c(kids[1])})"
        if t == L.AST_TIMES:
            return "(" + " * ".join(c(k) for k in kids) + ")" if kids else "1.0"
        if t == L.AST_DIVIDE:
            return f"({c(kids[0])} / {c(kids[1])})"
        if t in (L.AST_POWER, L.AST_FUNCTION_POWER):
            return _power(c(kids[0]), kids[1], c(kids[1]))
        if t == L.AST_FUNCTION_ROOT:
            if len(kids) == 1:
                return f"sqrt({c(kids[0])})"
            return f"pow({c(kids[1])}, 1.0 / {c(kids[0])})"
        unary = {
            L.AST_FUNCTION_EXP: "exp", L.AST_FUNCTION_LN: "log", L.AST_FUNCTION_ABS: "abs",
            L.AST_FUNCTION_SIN: "sin", L.AST_FUNCTION_COS: "cos", L.AST_FUNCTION_TAN: "tan",
            L.AST_FUNCTION_TANH: "tanh", L.AST_FUNCTION_SINH: "sinh", L.AST_FUNCTION_COSH: "cosh",
        }
        if t in unary:
            return f"{unary[t]}({c(kids[0])})"
        if t == L.AST_FUNCTION_LOG:
            if len(kids) == 1:
                return f"log10({c(kids[0])})"
            return f"(log({c(kids[1])}) / log({c(kids[0])}))"
        if t == L.AST_FUNCTION_PIECEWISE:
            # piecewise(v1, c1, v2, c2, ..., otherwise): nested c·v + (1 − c)·rest, with the
            # conditions as 0/1 indicators.
            pairs = [(kids[i], kids[i + 1]) for i in range(0, len(kids) - 1, 2)]
            rest = c(kids[-1]) if len(kids) % 2 == 1 else "0.0"
            for value, cond in reversed(pairs):
                ind = self._indicator(cond, env)
                rest = f"({ind} * {c(value)} + (1.0 - {ind}) * {rest})"
            return rest
        if t in (L.AST_RELATIONAL_GT, L.AST_RELATIONAL_GEQ, L.AST_RELATIONAL_LT,
                 L.AST_RELATIONAL_LEQ, L.AST_LOGICAL_AND, L.AST_LOGICAL_OR, L.AST_LOGICAL_NOT):
            return self._indicator(node, env)
        if t == L.AST_FUNCTION:
            name = node.getName()
            if name not in self.functions:
                raise PetabError(f"{self.where}: unknown function '{name}'")
            args, body = self.functions[name]
            inner = {a: c(k) for a, k in zip(args, kids)}
            return self(body, inner)
        if t == L.AST_FUNCTION_DELAY:
            raise PetabError(f"{self.where}: delays are not supported")
        raise PetabError(
            f"{self.where}: the MathML construct '{node.getName() or L.formulaToL3String(node)}' "
            "is not supported"
        )

    def _indicator(self, node, env) -> str:
        """A relation or logical expression as 0/1 (heaviside(0) = 1: ties count as true)."""
        import libsbml as L

        t = node.getType()
        kids = [node.getChild(i) for i in range(node.getNumChildren())]
        c = lambda k: self(k, env)  # noqa: E731
        if t in (L.AST_RELATIONAL_GT, L.AST_RELATIONAL_GEQ):
            return f"heaviside({c(kids[0])} - {c(kids[1])})"
        if t in (L.AST_RELATIONAL_LT, L.AST_RELATIONAL_LEQ):
            return f"heaviside({c(kids[1])} - {c(kids[0])})"
        if t == L.AST_LOGICAL_AND:
            return "(" + " * ".join(self._indicator(k, env) for k in kids) + ")"
        if t == L.AST_LOGICAL_OR:
            ind = [self._indicator(k, env) for k in kids]
            return "(1.0 - " + " * ".join(f"(1.0 - {i})" for i in ind) + ")"
        if t == L.AST_LOGICAL_NOT:
            return f"(1.0 - {self._indicator(kids[0], env)})"
        if t == L.AST_CONSTANT_TRUE:
            return "1.0"
        if t == L.AST_CONSTANT_FALSE:
            return "0.0"
        raise PetabError(f"{self.where}: the condition '{L.formulaToL3String(node)}' is not supported")


# ------------------------------------------------------------------------------------------
# PEtab formulas (sympy-like text) to DiffSL


def _formula(text: str, resolve, where: str) -> str:
    """A PEtab formula (observable or noise) as DiffSL; `resolve(id)` names an identifier."""
    src = str(text).strip().replace("^", "**")
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as e:
        raise PetabError(f"{where}: cannot parse the formula '{text}': {e.msg}") from None

    def conv(n) -> str:
        if isinstance(n, ast.Expression):
            return conv(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)):
            return _num(n.value)
        if isinstance(n, ast.Name):
            return resolve(n.id)
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            return f"({'-' if isinstance(n.op, ast.USub) else ''}{conv(n.operand)})"
        if isinstance(n, ast.BinOp):
            a, b = conv(n.left), conv(n.right)
            ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
            if type(n.op) in ops:
                return f"({a} {ops[type(n.op)]} {b})"
            if isinstance(n.op, ast.Pow):
                if isinstance(n.right, ast.Constant) and n.right.value in (2, 3, 4):
                    return "(" + " * ".join([a] * int(n.right.value)) + ")"
                return f"pow({a}, {b})"
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            f = n.func.id
            args = [conv(a) for a in n.args]
            table = {"exp": "exp", "log": "log", "ln": "log", "log10": "log10", "sqrt": "sqrt",
                     "abs": "abs", "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh"}
            if f in table and len(args) == 1:
                return f"{table[f]}({args[0]})"
            if f == "log" and len(args) == 2:
                return f"(log({args[0]}) / log({args[1]}))"
            if f == "pow" and len(args) == 2:
                return f"pow({args[0]}, {args[1]})"
        raise PetabError(f"{where}: the formula '{text}' uses '{ast.unparse(n)}', which is not supported")

    return conv(tree)


def _identifiers(text: str) -> set[str]:
    try:
        tree = ast.parse(str(text).strip().replace("^", "**"), mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - {
        "exp", "log", "ln", "log10", "sqrt", "abs", "sin", "cos", "tan", "tanh", "pow"
    }


# ------------------------------------------------------------------------------------------
# the model


@dataclass
class _Model:
    code: str
    names: dict[str, str]
    states: list[str]
    outputs: list[str] = field(default_factory=list)


def _is_nan(v) -> bool:
    try:
        return isinstance(v, float) and math.isnan(v)
    except TypeError:
        return False


def _translate(model, extra_inputs: dict[str, float], input_ids: set[str],
               species_inputs: set[str], outputs: list[tuple[str, str]], names: _Names,
               defaults: dict[str, float]) -> _Model:
    """The SBML `model` as DiffSL: every constant parameter and compartment an input (its value,
    or `defaults[id]`, as default), `extra_inputs` (PEtab-only parameters and placeholders)
    too, species of `species_inputs` starting at an input `init<species>`, and `outputs`
    (name, DiffSL expression) as `out_i`."""
    import libsbml as L

    where = "SBML model"
    if model.getNumEvents():
        raise PetabError(f"{where}: events ({model.getNumEvents()}) are not supported")
    for r in model.getListOfRules():
        if r.isAlgebraic():
            raise PetabError(f"{where}: algebraic rules are not supported")
    for r in model.getListOfReactions():
        if r.isSetFast() and r.getFast():
            raise PetabError(f"{where}: fast reaction '{r.getId()}' is not supported")
    functions = {}
    for f in model.getListOfFunctionDefinitions():
        lam = f.getMath()
        n = lam.getNumChildren()
        functions[f.getId()] = ([lam.getChild(i).getName() for i in range(n - 1)], lam.getChild(n - 1))
    mathc = _Math(names, functions, where)
    assigned = {r.getVariable(): r for r in model.getListOfRules() if r.isAssignment()}
    rated = {r.getVariable(): r for r in model.getListOfRules() if r.isRate()}
    initial = {a.getSymbol(): a for a in model.getListOfInitialAssignments()}

    inputs: list[tuple[str, float]] = []
    intermediates: list[tuple[str, str, set[str]]] = []  # (name, expr, depends on sbml ids)

    def deps(node) -> set[str]:
        out = set()
        if node is None:
            return out
        if node.getType() == L.AST_NAME:
            out.add(node.getName())
        for i in range(node.getNumChildren()):
            out |= deps(node.getChild(i))
        return out

    for comp in model.getListOfCompartments():
        cid = comp.getId()
        if cid in assigned or cid in rated or cid in initial:
            raise PetabError(f"{where}: compartment '{cid}' with a rule or initial assignment is not supported")
        inputs.append((cid, defaults.get(cid, comp.getSize() if comp.isSetSize() else 1.0)))
    for p in model.getListOfParameters():
        pid = p.getId()
        if pid in assigned:
            intermediates.append((pid, mathc(assigned[pid].getMath()), deps(assigned[pid].getMath())))
        elif pid in rated:
            raise PetabError(f"{where}: rate rule for parameter '{pid}' is not supported")
        elif pid in initial and pid not in input_ids:
            intermediates.append((pid, mathc(initial[pid].getMath()), deps(initial[pid].getMath())))
        else:
            value = defaults.get(pid, p.getValue() if p.isSetValue() else 0.0)
            inputs.append((pid, 0.0 if _is_nan(value) else value))
    for pid, value in extra_inputs.items():
        inputs.append((pid, value))

    species = list(model.getListOfSpecies())
    state_ids: list[str] = []
    state_init: dict[str, str] = {}
    constant_species: list[tuple[str, str]] = []
    for s in species:
        sid = s.getId()
        if sid in assigned:
            intermediates.append((sid, mathc(assigned[sid].getMath()), deps(assigned[sid].getMath())))
            continue
        if sid in species_inputs:
            init = names("init_" + sid)
            inputs.append(("init_" + sid, defaults.get(sid, 0.0)))
        elif sid in initial:
            init = mathc(initial[sid].getMath())
        elif s.isSetInitialConcentration():
            v = s.getInitialConcentration()
            init = _num(v) if not s.getHasOnlySubstanceUnits() else f"({_num(v)} * {names(s.getCompartment())})"
        elif s.isSetInitialAmount():
            v = s.getInitialAmount()
            init = _num(v) if s.getHasOnlySubstanceUnits() else f"({_num(v)} / {names(s.getCompartment())})"
        else:
            init = "0.0"
        if (s.getBoundaryCondition() or s.getConstant()) and sid not in rated:
            constant_species.append((sid, init))
        else:
            state_ids.append(sid)
            state_init[sid] = init

    # Right-hand sides.
    rhs = {sid: [] for sid in state_ids}
    for r in model.getListOfReactions():
        kl = r.getKineticLaw()
        if kl is None or kl.getMath() is None:
            raise PetabError(f"{where}: reaction '{r.getId()}' has no kinetic law")
        local = {}
        for lp in list(kl.getListOfParameters()) + list(kl.getListOfLocalParameters()):
            local[lp.getId()] = _num(lp.getValue())
        rate = mathc(kl.getMath(), local)
        for refs, sign in ((r.getListOfReactants(), -1.0), (r.getListOfProducts(), 1.0)):
            for ref in refs:
                sid = ref.getSpecies()
                if sid not in rhs:
                    continue
                if ref.isSetStoichiometryMath():
                    raise PetabError(f"{where}: stoichiometry math in reaction '{r.getId()}' is not supported")
                st = ref.getStoichiometry() if ref.isSetStoichiometry() else 1.0
                rhs[sid].append(f"{_num(sign * st)} * {rate}")
    for sid in state_ids:
        s = model.getSpecies(sid)
        terms = rhs[sid]
        if sid in rated:
            expr = mathc(rated[sid].getMath())
        elif not terms:
            expr = "0.0"
        else:
            expr = "(" + " + ".join(terms) + ")"
            if s is not None and not s.getHasOnlySubstanceUnits():
                expr = f"({expr} / {names(s.getCompartment())})"
        rhs[sid] = expr

    # Intermediates in dependency order.
    known = {pid for pid, _ in inputs} | set(state_ids) | {sid for sid, _ in constant_species}
    ordered, pending = [], list(intermediates)
    defined = set(known)
    while pending:
        progress = False
        for item in list(pending):
            if item[2] <= defined | set(functions) | {"time", "t"} or all(
                d in defined or d in functions for d in item[2]
            ):
                ordered.append(item)
                defined.add(item[0])
                pending.remove(item)
                progress = True
        if not progress:
            raise PetabError(
                f"{where}: assignment rules depend on each other in a cycle, or on unknown ids: "
                + ", ".join(p[0] for p in pending)
            )

    lines = ["in_i {"]
    lines += [f"  {names(pid)} = {_num(v)}," for pid, v in inputs]
    lines.append("}")
    for sid, init in constant_species:
        lines.append(f"{names(sid)} {{ {init} }}")
    lines.append("u_i {")
    lines += [f"  {names(sid)} = {state_init[sid]}," for sid in state_ids]
    lines.append("}")
    for name, expr, _ in ordered:
        lines.append(f"{names(name)} {{ {expr} }}")
    lines.append("F_i {")
    lines += [f"  {rhs[sid]}," for sid in state_ids]
    lines.append("}")
    if outputs:
        lines.append("out_i {")
        lines += [f"  {name} = {expr}," for name, expr in outputs]
        lines.append("}")
    return _Model("\n".join(lines) + "\n", dict(names.to_diffsl), state_ids,
                  [n for n, _ in outputs])


# ------------------------------------------------------------------------------------------
# the problem


_SCALES = {"lin", "log", "log10"}


class PetabProblem:
    """A PEtab problem built on a diffid problem: parameters on their PEtab scale."""

    def __init__(self, problem: diffid.Problem, ids: list[str], scales: list[str],
                 nominal: list[float], model: _Model, rows: list[tuple[str, int]],
                 n_rows: int, yaml: str, priors: list | None = None):
        self.problem = problem
        self._priors = priors or [(None, None)] * len(ids)
        self._ids = ids
        self._scales = scales
        self._nominal = np.asarray(nominal, dtype=float)
        self.model = model
        self._rows = rows
        self._n_rows = n_rows
        self.yaml = yaml

    def parameters(self) -> list[str]:
        """The estimated parameters' ids, in the parameter table's order."""
        return list(self._ids)

    def scales(self) -> list[str]:
        """Each estimated parameter's PEtab scale."""
        return list(self._scales)

    def nominal(self) -> np.ndarray:
        """The table's nominal values of the estimated parameters, on their PEtab scale."""
        return self.to_scale(self._nominal)

    def to_natural(self, x) -> np.ndarray:
        """`x` on the PEtab scale to natural units."""
        x = np.asarray(x, dtype=float)
        out = x.copy()
        for i, s in enumerate(self._scales):
            out[i] = math.exp(x[i]) if s == "log" else 10.0 ** x[i] if s == "log10" else x[i]
        return out

    def to_scale(self, x) -> np.ndarray:
        """`x` in natural units to the PEtab scale."""
        x = np.asarray(x, dtype=float)
        out = x.copy()
        for i, s in enumerate(self._scales):
            out[i] = math.log(x[i]) if s == "log" else math.log10(x[i]) if s == "log10" else x[i]
        return out

    def evaluate(self, x) -> float:
        """PEtab's negative log-likelihood at `x` (on the PEtab scale)."""
        return self.problem.evaluate(self.to_natural(x))

    def log_likelihood(self, x) -> float:
        """PEtab's log-likelihood at `x` (on the PEtab scale)."""
        return -self.evaluate(x)

    def log_prior(self, x) -> float:
        """The log-density of the parameter table's objective priors at `x` (on the PEtab
        scale), as PEtab defines it: ``parameterScale…`` priors are densities over the
        parameter on its scale, the others over its natural value; parameters without an
        objective prior add nothing. (Sampling uses the same priors as densities over the
        natural values, with PEtab's default — uniform on the parameter scale within the
        bounds — where the table gives none.)"""
        nat = self.to_natural(x)
        total = 0.0
        for (prior, jacobian), v in zip(self._priors, nat):
            if jacobian is None:
                continue
            total += prior.log_pdf(v)
            if jacobian == "log":
                total += math.log(v)
            elif jacobian == "log10":
                total += math.log(v * math.log(10.0))
        return total

    def priors(self) -> list:
        """Each estimated parameter's prior over its natural value (a diffid prior; None for
        a log-scaled parameter whose bounds admit no log-uniform default)."""
        return [prior for prior, _ in self._priors]

    def evaluate_gradient(self, x) -> np.ndarray:
        """The gradient of the negative log-likelihood with respect to `x` on the PEtab
        scale (exact: forward sensitivities and the chain rule)."""
        nat = self.to_natural(x)
        g = np.asarray(self.problem.evaluate_gradient(nat), dtype=float)
        for i, s in enumerate(self._scales):
            if s == "log":
                g[i] *= nat[i]
            elif s == "log10":
                g[i] *= nat[i] * math.log(10.0)
        return g

    def simulate_measurements(self, x) -> np.ndarray:
        """The simulated value of every measurement row, in the measurement table's order."""
        sims = self.problem.simulate_measurements(self.to_natural(x))
        out = np.empty(self._n_rows)
        for row, (experiment, k) in enumerate(self._rows):
            out[row] = sims[experiment][k]
        return out

    def optimise(self, *args, **kwargs):
        """`Problem.optimise` on the natural scale (results in natural units; map them with
        `to_scale`). `starts=N` draws log-uniformly where the table's scale is log/log10."""
        return self.problem.optimise(*args, **kwargs)

    def __repr__(self) -> str:
        return (f"PetabProblem({pathlib.Path(self.yaml).name}: {len(self._ids)} estimated "
                f"parameters, {len(self.problem.conditions())} experiments, "
                f"{self._n_rows} measurements)")


def _value_or_id(v):
    """A table cell: a float, or a string id (None when empty)."""
    if v is None or _is_nan(v):
        return None
    if isinstance(v, (int, float, np.floating, np.integer)):
        return float(v)
    text = str(v).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _split(cell) -> list:
    if cell is None or _is_nan(cell):
        return []
    if isinstance(cell, (int, float, np.floating)):
        return [float(cell)]
    return [_value_or_id(p) for p in str(cell).split(";") if str(p).strip()]


def _files(yaml_path: str) -> dict[str, Any]:
    """The problem's table file names, for error messages (generic names where a table is
    split over several files)."""
    import yaml

    try:
        with open(yaml_path, encoding="utf-8") as f:
            config = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError):
        config = {}
    problem = (config.get("problems") or [{}])[0] or {}

    def one(names, generic: str) -> str:
        names = [names] if isinstance(names, str) else list(names or [])
        return names[0] if len(names) == 1 else generic

    measurement_files = problem.get("measurement_files") or []
    return {
        "parameter": one(config.get("parameter_file"), "parameter table"),
        "condition": one(problem.get("condition_files"), "condition table"),
        "measurement": one(measurement_files, "measurement table"),
        "measurement_single": len(measurement_files) == 1,
    }


_PRIORS = {
    "uniform": "Uniform", "normal": "Normal", "laplace": "Laplace",
    "logNormal": "LogNormal", "logLaplace": "LogLaplace",
}


def _prior(row, scale: str, lo: float, hi: float, where: str):
    """The diffid prior of an estimated parameter (over its natural value) and how PEtab's
    objective prior relates to its density: None where the table gives no objective prior
    (then the prior is PEtab's default, uniform on the parameter scale within the bounds,
    and adds nothing to PEtab's objective), "lin" where PEtab's density is over the natural
    value, or the scale ("log", "log10") whose Jacobian turns our density into PEtab's."""
    kind = _value_or_id(row.get("objectivePriorType"))
    on_scale = {"lin": lambda v: v, "log": math.log, "log10": math.log10}[scale]
    if kind is None:
        kind, given = "parameterScaleUniform", False
        if scale != "lin" and lo <= 0.0:
            return None, None  # no log-scale default on a non-positive range
        params = [on_scale(lo), on_scale(hi)]
    else:
        given = True
        params = _split(row.get("objectivePriorParameters"))
        if len(params) != 2 or not all(isinstance(v, float) for v in params):
            raise PetabError(f"{where}: objectivePriorType '{kind}' needs two numbers in "
                             f"objectivePriorParameters ('a;b'), got {params}")
    a, b = params
    if isinstance(kind, str) and kind.startswith("parameterScale"):
        family = kind[len("parameterScale"):]
        if family not in ("Uniform", "Normal", "Laplace"):
            raise PetabError(f"{where}: unknown objectivePriorType '{kind}'")
        if scale == "lin":
            prior = getattr(diffid, family)(a, b)
        else:
            k = 1.0 if scale == "log" else math.log(10.0)
            if family == "Uniform":
                prior = diffid.LogUniform(math.exp(k * a), math.exp(k * b))
            else:
                prior = getattr(diffid, "Log" + family)(k * a, k * b)
        jacobian = scale
    elif kind in _PRIORS:
        prior = getattr(diffid, _PRIORS[kind])(a, b)
        jacobian = "lin"
    else:
        raise PetabError(f"{where}: unknown objectivePriorType '{kind}'; PEtab's are "
                         f"{', '.join([*_PRIORS, 'parameterScaleUniform', 'parameterScaleNormal', 'parameterScaleLaplace'])}")
    return prior, (jacobian if given else None)


def to_diffsl(yaml_path) -> str:
    """The DiffSL that `load(yaml_path)` generates for the problem's model."""
    return load(yaml_path).model.code


def load(yaml_path, *, solver: str | None = None, rtol: float | None = None,
         atol: float | None = None, parallel: bool | int | None = None) -> PetabProblem:
    """Loads the PEtab problem at `yaml_path` as a `PetabProblem` (see the module's
    documentation for what is supported). `solver`, `rtol` and `atol` set the ODE solver
    (default: diffid's automatic choice at rtol 1e-6, atol 1e-8); `parallel` is passed to
    `DiffsolBuilder.with_parallel` (default: all cores; a run's experiments of one point are
    spread over them)."""
    _require()
    from petab.v1 import Problem

    yaml_path = str(yaml_path)
    try:
        pp = Problem.from_yaml(yaml_path)
    except Exception as e:  # noqa: BLE001 - the petab library raises many kinds
        raise PetabError(f"{yaml_path}: cannot read the PEtab problem: {e}") from e
    if pp.sbml_model is None:
        raise PetabError(f"{yaml_path}: the problem has no SBML model")
    model = pp.sbml_model
    par = pp.parameter_df
    cond = pp.condition_df if pp.condition_df is not None else None
    meas = pp.measurement_df
    obs = pp.observable_df

    sbml_params = {p.getId() for p in model.getListOfParameters()}
    sbml_comps = {c.getId() for c in model.getListOfCompartments()}
    sbml_species = {s.getId() for s in model.getListOfSpecies()}

    files = _files(yaml_path)

    # Parameter table.
    ids, scales, nominal, bounds, priors = [], [], [], [], []
    fixed: dict[str, float] = {}
    for pid, row in par.iterrows():
        where = f"{files['parameter']}, parameter '{pid}'"
        scale = str(row.get("parameterScale", "lin") or "lin")
        if scale not in _SCALES:
            raise PetabError(f"{where}: unknown parameterScale '{scale}'")
        value = float(row["nominalValue"]) if not _is_nan(row.get("nominalValue")) else math.nan
        if int(row.get("estimate", 0)) == 1:
            ids.append(pid)
            scales.append(scale)
            nominal.append(value)
            lo, hi = float(row["lowerBound"]), float(row["upperBound"])
            bounds.append((lo, hi))
            priors.append(_prior(row, scale, lo, hi, where))
        else:
            fixed[pid] = value

    # Placeholders and PEtab-only parameters become inputs.
    names = _Names()
    extra: dict[str, float] = {}
    for oid, row in obs.iterrows():
        for text in (row["observableFormula"], row.get("noiseFormula", "")):
            for ident in _identifiers(text):
                if ident in sbml_params or ident in sbml_comps or ident in sbml_species:
                    continue
                extra.setdefault(ident, fixed.get(ident, 1.0))
    # (Parameters used only as a σ, or only in overrides, need not be inputs: only those the
    # formulas name.)

    # Conditions: which species get initial-value inputs.
    species_inputs: set[str] = set()
    condition_values: dict[str, dict[str, Any]] = {}
    if cond is not None:
        for cid, row in cond.iterrows():
            vals = {}
            for col, v in row.items():
                if col == "conditionName":
                    continue
                if col not in sbml_params and col not in sbml_comps and col not in sbml_species \
                        and col not in extra:
                    raise PetabError(f"{files['condition']}, condition '{cid}': column '{col}' "
                                     "names no parameter, compartment or species of the model")
                v = _value_or_id(v)
                if v is None:
                    continue
                if col in sbml_species:
                    species_inputs.add(col)
                vals[col] = v
            condition_values[cid] = vals

    defaults = {k: v for k, v in fixed.items() if not _is_nan(v)}
    for sid in species_inputs:
        s = model.getSpecies(sid)
        defaults.setdefault(sid, s.getInitialConcentration() if s.isSetInitialConcentration() else 0.0)
    input_ids = set(sbml_params) | set(extra) | set(ids)

    # Observables and noise as outputs.
    def resolve(ident: str, where: str) -> str:
        if ident in sbml_species or ident in sbml_params or ident in sbml_comps or ident in extra:
            return names(ident)
        raise PetabError(f"{where}: '{ident}' is not a species, parameter or placeholder of the problem")

    outputs: list[tuple[str, str]] = []
    noise_kind: dict[str, tuple[str, Any]] = {}
    for oid, row in obs.iterrows():
        where = f"observable table, '{oid}'"
        out_name = names("obs_" + oid)
        outputs.append((out_name, _formula(row["observableFormula"], lambda i: resolve(i, where), where)))
        noise = _value_or_id(row.get("noiseFormula"))
        if isinstance(noise, float):
            noise_kind[oid] = ("value", noise)
        elif isinstance(noise, str) and re.fullmatch(r"noiseParameter\d+_" + re.escape(oid), noise):
            noise_kind[oid] = ("placeholder", noise)
        elif isinstance(noise, str) and noise in ids:
            noise_kind[oid] = ("parameter", noise)
        else:
            sd_name = names("sd_" + oid)
            outputs.append((sd_name, _formula(noise, lambda i: resolve(i, where), where)))
            noise_kind[oid] = ("output", sd_name)

    translated = _translate(model, extra, input_ids, species_inputs, outputs, names, defaults)

    builder = diffid.DiffsolBuilder().with_diffsl(translated.code)
    if parallel is not None:
        builder = builder.with_parallel(parallel)
    if solver:
        builder = builder.with_solver(solver)
    if rtol is not None or atol is not None:
        builder = builder.with_tolerances(rtol if rtol is not None else 1e-6,
                                          atol if atol is not None else 1e-8)
    for oid, row in obs.iterrows():
        # An empty cell (NaN in the table) means PEtab's default.
        transform = _value_or_id(row.get("observableTransformation")) or "lin"
        dist = _value_or_id(row.get("noiseDistribution")) or "normal"
        builder = builder.with_noise_model(names("obs_" + oid), transform, dist)

    # Measurements grouped into experiments: condition × observable-parameter overrides.
    # An experiment is keyed by (simulation condition, pre-equilibration condition or None,
    # whether it measures the steady state); each key holds groups of rows whose observable
    # placeholders agree.
    experiments: dict[tuple, list[dict]] = {}
    rows: list[tuple[tuple, int]] = []
    for r, (_, m) in enumerate(meas.iterrows()):
        where = f"{files['measurement']}, line {r + 2}" if files["measurement_single"] \
            else f"measurement table, row {r + 1}"
        pre = _value_or_id(m.get("preequilibrationConditionId"))
        if pre is not None and (cond is None or str(pre) not in condition_values):
            raise PetabError(f"{where}: unknown pre-equilibration condition '{pre}'")
        pre = None if pre is None else str(pre)
        oid = m["observableId"]
        if oid not in obs.index:
            raise PetabError(f"{where}: unknown observable '{oid}'")
        cid = m["simulationConditionId"]
        if cond is not None and cid not in condition_values:
            raise PetabError(f"{where}: unknown condition '{cid}'")
        time = float(m["time"])
        steady = time == math.inf
        if math.isnan(time) or time < 0.0:
            raise PetabError(f"{where}: the time {time} is before the start of condition "
                             f"'{cid}' (0)")
        if steady:
            time = 0.0  # the steady state, measured at the start of a steady experiment
        obs_pars = tuple(_split(m.get("observableParameters")))
        noise_pars = _split(m.get("noiseParameters"))
        # This row's placeholder values (observable parameters are per observable, so rows of
        # several observables share one simulation of the condition).
        assignment = {}
        for n, v in enumerate(obs_pars, start=1):
            ph = f"observableParameter{n}_{oid}"
            if ph not in extra:
                raise PetabError(f"{where}: observable '{oid}' has no placeholder {ph}")
            if isinstance(v, str) and v not in ids:
                if v in fixed:
                    v = fixed[v]
                else:
                    raise PetabError(f"{where}: the observable parameter '{v}' names no parameter")
            assignment[names(ph)] = v
        # The first experiment of this condition whose placeholders agree, else a new one.
        groups = experiments.setdefault((cid, pre, steady), [])
        for g, exp in enumerate(groups):
            if all(exp["placeholders"].get(k, v) == v for k, v in assignment.items()):
                break
        else:
            groups.append({"rows": [], "placeholders": {}})
            g = len(groups) - 1
        exp = groups[g]
        exp["placeholders"].update(assignment)
        key = (cid, pre, steady, g)
        kind, what = noise_kind[oid]
        if kind != "placeholder":
            sigma = what  # a number, a parameter or the noise formula's output
        else:
            if len(noise_pars) != 1:
                raise PetabError(f"{where}: the noise formula of '{oid}' needs one noise parameter, "
                                 f"{len(noise_pars)} given")
            sigma = noise_pars[0]
            if isinstance(sigma, str) and sigma not in ids:
                if sigma in fixed:
                    sigma = fixed[sigma]
                else:
                    raise PetabError(f"{where}: the noise parameter '{sigma}' names no parameter")
        exp["rows"].append((time, names("obs_" + oid), float(m["measurement"]), sigma))
        rows.append((key, len(exp["rows"]) - 1))

    # Estimated parameters: DiffSL names; overrides naming them use the PEtab id.
    rename = {pid: names(pid) for pid in ids}
    exp_names = {}

    def input_name(col: str) -> str:
        # A condition column's input: a species column sets the species' initial value.
        return names("init_" + col if col in sbml_species else col)

    def condition_value(cid: str, v: Any) -> Any:
        # A condition cell: a number, a fixed parameter's value, or an estimated parameter's id.
        if isinstance(v, str):
            if v in fixed:
                return fixed[v]
            if v not in ids:
                raise PetabError(f"{files['condition']}, condition '{cid}': '{v}' names no "
                                 "parameter")
        return v

    def condition_overrides(cid: str) -> dict[str, Any]:
        return {input_name(col): condition_value(cid, v)
                for col, v in condition_values.get(cid, {}).items()}

    def default_value(col: str) -> float:
        # The value an input has where no condition sets it.
        if col in defaults:
            return defaults[col]
        if col in sbml_params:
            return model.getParameter(col).getValue()
        if col in sbml_comps:
            return model.getCompartment(col).getSize()
        return extra.get(col, 1.0)

    def pre_equilibration(pre: str, cid: str) -> dict[str, float]:
        # The steady state's inputs: the pre-equilibration condition's values, and the model's
        # own where only the simulation condition sets an input.
        ss = {}
        for col, v in condition_values[pre].items():
            v = condition_value(pre, v)
            if isinstance(v, str):
                raise PetabError(f"{files['condition']}, condition '{pre}': '{col}' is set to "
                                 f"the estimated parameter '{v}' in a pre-equilibration, which "
                                 "is not supported")
            ss[input_name(col)] = float(v)
        for col in condition_values.get(cid, {}):
            if col in sbml_species:
                raise PetabError(f"{files['condition']}, condition '{cid}': species '{col}' is "
                                 f"set after the pre-equilibration '{pre}'; re-initialising a "
                                 "species after pre-equilibration is not supported")
            if col not in condition_values[pre]:
                ss[names(col)] = float(default_value(col))
        return ss

    for (cid, pre, steady), groups in experiments.items():
        overrides = condition_overrides(cid)
        # A steady-state measurement is the steady state under the simulation condition
        # (PEtab's post-equilibration); a pre-equilibration finds the steady state under the
        # pre-equilibration condition before the simulation condition starts.
        steady_state = {} if steady else pre_equilibration(pre, cid) if pre is not None else None
        base = cid + (f" after {pre}" if pre is not None and not steady else "") \
            + (" at steady state" if steady else "")
        for g, exp in enumerate(groups):
            label = base if len(groups) == 1 else f"{base}#{g + 1}"
            exp_names[(cid, pre, steady, g)] = label
            measurements = [(t, o, v, rename.get(s_, s_) if isinstance(s_, str) else s_)
                            for t, o, v, s_ in exp["rows"]]
            both = {**overrides, **exp["placeholders"]}
            both = {inp: (rename[v] if isinstance(v, str) else v) for inp, v in both.items()}
            builder = builder.with_experiment(label, measurements, both, steady_state=steady_state)
    for pid, scale, value, (lo, hi), (prior, _) in zip(ids, scales, nominal, bounds, priors):
        start = value if math.isfinite(value) and lo <= value <= hi else (
            math.sqrt(lo * hi) if scale != "lin" and lo > 0 else 0.5 * (lo + hi))
        try:
            builder = builder.with_parameter(
                rename[pid], start, bounds=(lo, hi),
                transform="log" if scale != "lin" and lo >= 0 else None, prior=prior)
        except diffid.DiffidError as e:
            raise PetabError(f"{files['parameter']}, parameter '{pid}': {e}") from e
    try:
        problem = builder.build()
    except diffid.DiffidError as e:
        raise PetabError(f"{yaml_path}: {e}") from e
    row_map = [(exp_names[key], k) for key, k in rows]
    return PetabProblem(problem, ids, scales, nominal, translated, row_map, len(rows), yaml_path,
                        priors)
