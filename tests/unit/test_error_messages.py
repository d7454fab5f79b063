"""Every user-facing error says both halves: "what was wrong; what to do".

Walks the package source with ``ast`` so that a new ``raise SomeError("...")``
without the "; what to do" half fails here, not in front of a user.
"""

from __future__ import annotations

import ast
from pathlib import Path

import resnet_deploy
from resnet_deploy import atomic, errors
from resnet_deploy.bench import worker

PACKAGE = Path(resnet_deploy.__file__).resolve().parent

# (file relative to the package, literal parts of the message) -> why it needs no "; " of its own.
ALLOWED: dict[tuple[str, str], str] = {
    ("runtime/validate.py", "item : "): "prefixes an InvalidInputError message that already has both halves",
    ("runtime/tensorrt.py", "execute_async_v3 failed during capture"): (
        "caught in _capture and turned into a note (CUDA graphs off); never shown as an error"
    ),
}

# Messages built by a helper (file, source of the first argument) -> where their "; what to do" is.
BUILT_ELSEWHERE: dict[tuple[str, str], str] = {
    ("runtime/tensorrt.py", "null_object_message('runtime', family_label(family), logger, exc)"): "trt_compat",
    ("runtime/tensorrt.py", "null_object_message('runtime', family_label(family), logger, None)"): "trt_compat",
    ("engines/builder_parts.py", "null_object_message('builder', label, logger, exc)"): "trt_compat",
    ("engines/builder_parts.py", "null_object_message('builder', label, logger, None)"): "trt_compat",
    ("export/parity.py", "describe_failure(key, metrics)"): "export/parity.py describe_failure",
    ("models/weights.py", "_mismatch_message(model, p, sd, missing, unexpected, mismatch)"): "_mismatch_message's hint",
    ("bench/config.py", "str(exc)"): "bench/scenarios.py parse_scenarios' ValueError text",
}


def _subclasses(cls: type) -> set[str]:
    names = {cls.__name__}
    for sub in cls.__subclasses__():
        names |= _subclasses(sub)
    return names


def _error_names(trees: dict[str, ast.Module]) -> set[str]:
    """Names of ResNetDeployError and every subclass, imported or only defined in the source."""
    names = _subclasses(errors.ResNetDeployError)
    assert {"WriteError", "LockedError", "WorkerCrashed"} <= names, (atomic, worker)
    grown = True
    while grown:  # classes defined in modules not imported here
        grown = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                    if bases & names:
                        names.add(node.name)
                        grown = True
    return names


def _literal_text(arg: ast.expr) -> str | None:
    """The literal parts of a str / f-string / str concatenation, else None (built elsewhere)."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr):
        return "".join(v.value for v in arg.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Add):
        left, right = _literal_text(arg.left), _literal_text(arg.right)
        if left is not None or right is not None:
            return (left or "") + (right or "")
    return None


def _raised_messages(elsewhere: bool = False) -> list[tuple[str, int, str, str]]:
    """(file, line, class, literal text) per raise; with ``elsewhere`` the non-literal ones (text = source)."""
    trees = {str(p.relative_to(PACKAGE)): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}
    names = _error_names(trees)
    found, built = [], []
    for rel, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
                continue
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in names:
                continue
            text = _literal_text(node.exc.args[0])
            found.append((rel, node.lineno, name, text if text is not None else ast.unparse(node.exc.args[0])))
            built.append(text is None)
    return [f for f, b in zip(found, built, strict=True) if b == elsewhere]


def test_walker_sees_the_raises() -> None:
    """Guard against a walker that silently finds nothing."""
    found = _raised_messages()
    assert len(found) > 100
    assert {"ConfigError", "ArtifactError", "DataError"} <= {name for _, _, name, _ in found}


def test_every_message_has_what_to_do() -> None:
    missing = [
        f"{rel}:{line} {name}: {text!r}"
        for rel, line, name, text in _raised_messages()
        if "; " not in text and (rel, text) not in ALLOWED
    ]
    assert not missing, "messages without '; what to do':\n" + "\n".join(missing)


def test_allow_list_is_current() -> None:
    """An allowed entry that no longer matches a raise must be removed, not kept as a loophole."""
    seen = {(rel, text) for rel, _, _, text in _raised_messages()}
    assert set(ALLOWED) <= seen, sorted(set(ALLOWED) - seen)


def test_messages_built_elsewhere_are_known() -> None:
    """A message from a variable or helper is not checked here: each such raise must be listed."""
    built = {(rel, src) for rel, _, _, src in _raised_messages(elsewhere=True)}
    assert built == set(BUILT_ELSEWHERE), (sorted(built - set(BUILT_ELSEWHERE)), sorted(set(BUILT_ELSEWHERE) - built))
