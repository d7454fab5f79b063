"""``resnet-deploy serve`` and ``resnet-deploy triton-repo``: parse, call one library function, print."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

import click

from resnet_deploy.checks import parse_int
from resnet_deploy.cli._common import Output, check_out, escape, output_options


class _Int(click.ParamType):
    """An integer option whose bad values give a one-line ``error:`` (exit 2), not click's usage block."""

    name = "integer"

    def __init__(self, option: str, minimum: int, maximum: int) -> None:
        self.option, self.minimum, self.maximum = option, minimum, maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        number = parse_int(value, self.option, minimum=self.minimum, maximum=self.maximum)
        return self.minimum if number is None else number  # click never converts a missing value


@click.command("serve")
@click.argument("artifact", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0 = all).")
@click.option("--http-port", type=_Int("--http-port", 0, 65535), default=8000, show_default=True,
              help="HTTP/REST port (0 = any free port).")
@click.option("--grpc-port", type=_Int("--grpc-port", 0, 65535), default=8001, show_default=True,
              help="gRPC port (0 = any free port).")
@click.option("--metrics-port", type=_Int("--metrics-port", 0, 65535), default=8002, show_default=True,
              help="Prometheus metrics port (0 = any free port).")
@click.option("--backend", default="auto", show_default=True,
              help="Backend spec, e.g. onnxruntime, onnxruntime:int8-cpu, openvino, tensorrt.")
@click.option("--max-batch", type=_Int("--max-batch", 1, 4096), default=32, show_default=True,
              help="Largest batch the dynamic batcher forms.")
@click.option("--instances", type=_Int("--instances", 1, 64), default=1, show_default=True,
              help="Model instances, each with its own Predictor (batches in flight at once).")
@click.option("--max-queue-delay-us", type=_Int("--max-queue-delay-us", 0, 10_000_000), default=500,
              show_default=True, help="How long a request may wait for others to batch with.")
@click.option("--model-name", default="resnet", show_default=True,
              help="Tensor model name; the image model is <name>_image.")
@click.option("--top-k", type=_Int("--top-k", 1, 1000), default=5, show_default=True,
              help="Size of the topk_* outputs.")
@click.option("--threads", type=_Int("--threads", 1, 1024), default=None,
              help="CPU threads per instance (default: cores / instances).")
@click.option("--log-file", type=click.Path(path_type=Path), default=None,
              help="Write Triton's server log here instead of stdout (stderr with --json).")
@click.option("--log-verbose", type=_Int("--log-verbose", 0, 3), default=0, help="Triton log verbosity.")
@output_options
def serve(artifact: Path, out: Output, **options: Any) -> None:
    """Serve ARTIFACT over HTTP and gRPC (KServe v2) with Triton, via PyTriton.

    Two models: <name> takes preprocessed float32 NCHW tensors ("input"),
    <name>_image takes encoded image bytes ("image", BYTES, one per batch item)
    and preprocesses them as the manifest says. Both return logits,
    probabilities, topk_indices, topk_scores and topk_labels. Health:
    /v2/health/ready; metadata: /v2/models/<name>; metrics: :8002/metrics.
    SIGTERM or Ctrl-C stops it after in-flight requests finish.

    \b
    Example:
      resnet-deploy serve artifacts/resnet18 --max-batch 16 --instances 2
      curl localhost:8000/v2/models/resnet
    """
    from resnet_deploy.serve.pytriton_server import ServeConfig
    from resnet_deploy.serve.pytriton_server import serve as run_server

    cfg = ServeConfig(**options)

    # PyTriton prints Triton's log with print() from a reader thread, in chunks that need not end a
    # line; with --json, stdout carries the JSON alone and that log goes to stderr.
    json_out = sys.stdout

    def ready(server: Any) -> None:
        summary = server.summary()
        if out.as_json:
            click.echo(json.dumps({"status": "ready", **summary}), file=json_out)
            return
        out.markup(f"[green]serving[/green] {escape(str(artifact))} on {summary['backend']}")
        out.info(f"  HTTP    {summary['http']}    gRPC {summary['grpc']}    metrics {summary['metrics']}")
        out.info(f"  tensors POST {summary['http']}/v2/models/{server.model_name}/infer  (input: "
                 f"{server.spec.input_name} FP32 [N,{server.spec.channels},{server.spec.size},{server.spec.size}])")
        out.info(f"  images  POST {summary['http']}/v2/models/{server.image_model_name}/infer  (input: image BYTES [N,1])")
        out.info("  stop with Ctrl-C or SIGTERM")

    from resnet_deploy.serve.signals import EARLY

    EARLY.install()  # no-op when main() already did; serve() called another way still gets it
    with contextlib.redirect_stdout(sys.stderr) if out.as_json else contextlib.nullcontext():
        server = run_server(artifact, cfg, on_ready=ready, stop=EARLY)
    if server is not None and out.as_json:
        click.echo(json.dumps({"status": "stopped", "image_batches": server.image_stats.to_dict()}), file=json_out)
    elif server is not None:
        out.info(server.image_stats.line())
    out.info("stopped" if EARLY.signum is None else f"stopped ({signal.Signals(EARLY.signum).name})")
    if EARLY.exit_code:
        sys.exit(EARLY.exit_code)  # 130 after Ctrl-C (click's Exit is swallowed by standalone_mode=False)


@click.command("triton-repo")
@click.argument("artifact", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", default=Path("model_repository"), metavar="PATH", callback=check_out,
              show_default=True, help="Model repository directory to write.")
@click.option("--backend", metavar="onnxruntime|openvino|tensorrt", default="onnxruntime", show_default=True,
              help="Triton backend for the network.")
@click.option("--precision", metavar="fp32|int8|fp16", default="fp32", show_default=True,
              help="Which artifact file (int8: model.int8-cpu.onnx on CPU, model.int8-tensorrt.onnx on GPU).")
@click.option("--max-batch", type=_Int("--max-batch", 1, 4096), default=None,
              help="max_batch_size (default: the engine profile's max for tensorrt, else 32).")
@click.option("--instances", type=_Int("--instances", 1, 256), default=1, show_default=True,
              help="instance_group count.")
@click.option("--dynamic-batching/--no-dynamic-batching", default=True, show_default=True,
              help="Add a dynamic_batching block.")
@click.option("--max-queue-delay-us", type=_Int("--max-queue-delay-us", 0, 10_000_000), default=100,
              show_default=True, help="dynamic_batching max_queue_delay_microseconds.")
@click.option("--kind", metavar="cpu|gpu", default=None,
              help="KIND_CPU or KIND_GPU (default: gpu for tensorrt, else cpu).")
@click.option("--model-name", default="resnet", show_default=True, help="Name of the network model.")
@click.option("--no-preprocess", is_flag=True, help="Skip the <name>_preprocess model and <name>_ensemble.")
@click.option("--force", is_flag=True, help="Replace an existing --out directory.")
@click.option("--float-input", is_flag=True,
              help="Ship the float-input ONNX even when the artifact has a raw-pixel (uint8 NHWC) twin.")
@output_options
def triton_repo(artifact: Path, out: Output, out_dir: Path, no_preprocess: bool, float_input: bool,
                **options: Any) -> None:
    """Write a Triton model repository for ARTIFACT (config.pbtxt + model files).

    Adds a Python-backend <name>_preprocess model (image bytes -> tensor, per the
    manifest) and an ensemble <name>_ensemble so clients can send encoded
    images. Run it with the Triton container (see docs/serving.md).

    \b
    Example:
      resnet-deploy triton-repo artifacts/resnet18 --out model_repository \\
          --backend onnxruntime --precision int8 --kind gpu --max-batch 32
      docker run --gpus all -p8000:8000 -p8001:8001 -p8002:8002 \\
          -v $PWD/model_repository:/models nvcr.io/nvidia/tritonserver:<yy.mm>-py3 \\
          tritonserver --model-repository=/models
    """
    from resnet_deploy.serve.triton_repo import RepoConfig, write_triton_repo

    cfg = RepoConfig(out=out_dir, preprocess=not no_preprocess, raw=not float_input, **options)
    with out.status(f"writing Triton model repository {out_dir}"):
        result = write_triton_repo(artifact, cfg)

    def human() -> None:
        out.info(f"{result.out}: {result.backend} {result.precision} on {result.kind}, "
                 f"max_batch_size {result.max_batch}, from {result.source}")
        for name, files in result.models.items():
            out.info(f"  {name}/  " + "  ".join(files))

    out.result(result.to_dict(), human)

