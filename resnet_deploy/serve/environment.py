"""The process environment a Triton server needs, and the ports it will bind.

PyTriton starts ``tritonserver`` as a child process, and that server starts one
Python-backend stub per model instance. The stub links against ``libpython``;
on machines where the interpreter is not the system one (pyenv, conda) the
dynamic loader can pick the *system* libpython while the stub then imports the
interpreter's standard library, which fails in odd ways (e.g. ``'_thread.RLock'
object has no attribute '_recursion_count'``). Putting the interpreter's own
library directory first on ``LD_LIBRARY_PATH`` *before* the server starts fixes
it for every child. That is done here, in the project, so users never have to
touch their shell.

Ports: Triton binds three (HTTP, gRPC, metrics). Checking them up front turns
"address already in use" deep in the server log into a one-line error, and port
0 means "pick a free one", which tests use to run on loopback side by side.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from resnet_deploy.errors import ResNetDeployError

_LOOPBACK = "127.0.0.1"


def python_libdir() -> Path | None:
    """The running interpreter's libpython directory, if it ships a shared libpython."""
    libdir = sysconfig.get_config_var("LIBDIR")
    if not libdir or not os.path.isdir(libdir):
        return None
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    if any(Path(libdir).glob(f"libpython{ver}*.so*")):
        return Path(libdir)
    return None


def prepare_triton_environment(environ: dict[str, str] | None = None) -> list[str]:
    """Prepend the interpreter's lib dir to ``LD_LIBRARY_PATH`` (idempotent).

    Must run before PyTriton spawns ``tritonserver``: children inherit
    ``os.environ`` at spawn time. Also puts this interpreter's directory first on
    ``PATH``: the Python-backend stub embeds the base interpreter, which finds a
    virtual environment (and so our packages) only through the ``python3`` it
    sees on ``PATH``, so a venv that was not activated would be invisible.
    Returns the resulting library search path entries.
    """
    env = os.environ if environ is None else environ
    bindir = os.path.dirname(sys.executable)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != bindir]
    env["PATH"] = os.pathsep.join([bindir, *path])
    current = [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    libdir = python_libdir()
    if libdir is not None:
        wanted = str(libdir)
        current = [wanted] + [p for p in current if p != wanted]
        env["LD_LIBRARY_PATH"] = os.pathsep.join(current)
    return current


def client_host(host: str) -> str:
    """Where a local client should connect for a server bound to ``host``."""
    return _LOOPBACK if host in ("", "0.0.0.0") else ("::1" if host == "::" else host)


def find_free_port(host: str = _LOOPBACK) -> int:
    """A TCP port the OS reports free on ``host`` right now (the kernel picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    """True if nothing listens on (host, port); TIME_WAIT leftovers do not count.

    A host this machine cannot bind at all is a user error, not a busy port.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except socket.gaierror as exc:
            raise ResNetDeployError(f"--host '{host}' is not a valid address; use 127.0.0.1 or 0.0.0.0") from exc
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            if exc.errno == errno.EACCES:
                raise ResNetDeployError(
                    f"no permission to bind port {port} on {host}; use a port above 1023"
                ) from exc
            raise ResNetDeployError(
                f"cannot bind {host}:{port} ({exc.strerror}); use 127.0.0.1, 0.0.0.0 or an address of this machine"
            ) from exc
    return True


def resolve_ports(host: str, ports: dict[str, int]) -> dict[str, int]:
    """Check every named port is free on ``host``; replace 0 by a free port.

    ``ports`` maps a role ("http", "grpc", "metrics") to a port number. Raises a
    one-line error naming the role and the option to change.
    """
    out: dict[str, int] = {}
    for role, port in ports.items():
        if port == 0:
            for _ in range(20):  # avoid handing two roles the same fresh port
                candidate = find_free_port(host)
                if candidate not in out.values():
                    break
            out[role] = candidate
            continue
        if port in out.values():
            raise ResNetDeployError(
                f"--{role}-port {port} is also used for another endpoint; give each endpoint its own port"
            )
        if not port_is_free(host, port):
            raise ResNetDeployError(
                f"port {port} on {host} is already in use ({role}); stop what uses it or pass --{role}-port"
            )
        out[role] = port
    return out


def triton_server_env(instances: int) -> dict[str, str]:
    """Environment for the Triton server PyTriton spawns (and its Python-backend stubs).

    ``TRITON_PARALLEL_INSTANCE_LOADING=0`` (read by Triton's core): create a
    model's instances one after another. The Python backend otherwise starts
    them all at once, and PyTriton's proxy needs instance 0 to be serving its
    handshake socket before instance 1 asks it for the connection settings;
    started together, instance 1 may find the socket file bound but not yet
    listening ("Connection refused") or not there within its 1 s, the model
    fails to load (and Triton exits). With 4 instances pinned to one core it
    failed 3 of 8 starts with PyTriton's default lifecycle and 1 of 6 with the
    local model store; with serial loading 0 of 8 (and of every later run).

    ``PYTRITON_NO_TENSORSTORE=1`` with several instances: PyTriton's default
    transport is a shared-memory tensor store that the *first* instance starts
    (a spawned helper process) while the others wait a hard-coded 1 s for it;
    on a busy machine that start takes longer and loading fails. The base64
    transport needs no start-up.
    """
    env = {"TRITON_PARALLEL_INSTANCE_LOADING": "0"}
    if instances > 1:
        env["PYTRITON_NO_TENSORSTORE"] = "1"
    return env


@contextlib.contextmanager
def triton_environment(instances: int) -> Iterator[None]:
    """Set ``triton_server_env`` while binding and starting, then restore.

    PyTriton reads ``PYTRITON_NO_TENSORSTORE`` at bind time, and the server and
    stubs it spawns in ``run()`` inherit ``os.environ`` at that moment.
    """
    wanted = triton_server_env(instances)
    old = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
