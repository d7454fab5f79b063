"""Serving: a PyTriton server on top of the runtime, and a Triton model repository writer.

``serve``/``start_server`` run a real Triton server (HTTP + gRPC, KServe v2)
in-process through PyTriton; ``write_triton_repo`` writes a standard model
repository for the Triton container. Nothing here imports PyTriton or
tritonclient until a server is started or a load test runs.
"""

from __future__ import annotations

from resnet_deploy.serve.pytriton_server import (
    RunningServer,
    ServeConfig,
    launch,
    serve,
    start_server,
)
from resnet_deploy.serve.triton_repo import RepoConfig, RepoResult, write_triton_repo

__all__ = [
    "RepoConfig",
    "RepoResult",
    "RunningServer",
    "ServeConfig",
    "launch",
    "serve",
    "start_server",
    "write_triton_repo",
]
