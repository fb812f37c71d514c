"""The package's floors (README "Layout", ARCHITECTURE.md): a module imports kssl only from the floors
below its own, or from its own package. Lazy imports inside functions count too."""

import ast
import pathlib

import kssl

# Lowest first. Same number = the same floor; two packages of one floor do not import each other.
FLOORS = {"checks": 0, "training": 1, "layers": 2, "ops": 3, "zoo": 3, "core": 4, "losses": 4,
          "data": 5, "backbones": 5, "eval": 6, "methods": 6, "cli": 7}
# The short public names (kssl.datasets, kssl.augment, ...) and the package each stands for.
ALIASES = {"datasets": "data", "text": "data", "audio": "data", "language": "data", "augment": "layers",
           "color": "layers", "corrupt": "layers", "heads": "layers", "momentum": "layers", "clustering": "ops",
           "pretext": "ops", "distribute": "training", "files": "training"}
ROOT = pathlib.Path(kssl.__file__).parent


def _imported_packages(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"kssl.{a.name}" for a in node.names] if node.module == "kssl" else [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "kssl" and len(parts) > 1 and parts[1] != "__version__":
                yield node.lineno, ALIASES.get(parts[1], parts[1])


def test_every_module_imports_only_from_lower_floors():
    offences, unknown = [], []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        own = parts[0][:-3] if len(parts) == 1 else parts[0]
        if own == "__init__":  # the top-level package re-exports everything
            continue
        if own not in FLOORS:
            unknown.append(str(path))
            continue
        for line, package in _imported_packages(path):
            if package == own:
                continue
            if package not in FLOORS:
                unknown.append(f"{path}:{line} -> {package}")
            elif FLOORS[package] >= FLOORS[own]:
                offences.append(f"{path.relative_to(ROOT)}:{line} imports kssl.{package} (floor {FLOORS[package]}) "
                                f"from floor {FLOORS[own]}")
    assert not unknown, f"modules or packages with no floor (add them to FLOORS and README's layout): {unknown}"
    assert not offences, "\n".join(offences)


def test_the_check_can_fail(tmp_path):
    """Negative control: an upward import is found."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from kssl.methods import registry\n")
    assert list(_imported_packages(module)) == [(2, "methods")]
