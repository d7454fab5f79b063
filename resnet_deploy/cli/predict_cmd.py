"""``resnet-deploy predict``: classify image files with an artifact (no torch needed)."""

from __future__ import annotations

import os

import click

from resnet_deploy.checks import parse_int
from resnet_deploy.cli._common import Output, escape, output_options


@click.command("predict")
@click.argument("artifact", type=click.Path(path_type=str))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--top-k", "top_k", default="5", show_default=True, help="How many classes to show per image.")
@click.option(
    "--backend", default="auto", show_default=True,
    help="auto, a backend (onnxruntime, openvino, torch, tensorrt, ...) or backend:key (onnxruntime:fp32).",
)
@click.option("--threads", default=None, help="CPU threads for the backend (default: the backend's own).")
@click.option("--float-input", is_flag=True,
              help="Normalise here and run the float-input file even when the artifact has a raw-pixel twin.")
@click.option(
    "--exact-decode", is_flag=True, default=False,
    help="Decode every JPEG pixel (default: libjpeg's reduced scale that still covers the resize; faster, "
    "top-1 agrees >= 99 %).",
)
@output_options
def predict(
    artifact: str, images: tuple[str, ...], top_k: str, backend: str, threads: str | None, float_input: bool,
    exact_decode: bool, out: Output,
) -> None:
    """Classify images with an artifact and print the top-k classes per image.

    IMAGES are image files (JPEG, PNG, ...) or folders (searched recursively).
    Preprocessing (resize, crop, mean/std) comes from the artifact's manifest.
    With --backend auto the benchmark's selection is used when it was measured on
    this CPU, else TensorRT on a GPU, else the fastest CPU INT8 backend here (as
    recorded by export --int8/quantize on this CPU, or timed briefly at startup;
    RESNET_DEPLOY_AUTO_PROBE=0 turns that off).

    \b
    Example:
      resnet-deploy predict artifacts/resnet50 cat.jpg dog.png
      resnet-deploy predict artifacts/resnet50 photos/ --top-k 3 --backend onnxruntime:fp32
      resnet-deploy predict artifacts/resnet50 cat.jpg --json
    """
    from resnet_deploy.runtime.predict_files import predict_files

    k = parse_int(top_k, "--top-k", hint="pass e.g. 5")
    n_threads = parse_int(threads, "--threads", hint="pass e.g. 4, or leave it out")
    result = predict_files(
        artifact, list(images), top_k=k or 5, backend=backend, threads=n_threads, raw=not float_input,
        exact_decode=exact_decode,
    )

    def human() -> None:
        from rich.table import Table

        out.markup(f"backend: [bold]{escape(result.backend)}[/bold]")
        for p in result.predictions:
            table = Table(title=os.path.basename(p.source or "") or None, title_justify="left")
            table.add_column("#", justify="right")
            table.add_column("class")
            table.add_column("index", justify="right")
            table.add_column("probability", justify="right")
            for rank, (idx, prob) in enumerate(zip(p.indices, p.probabilities, strict=True), start=1):
                label = p.labels[rank - 1] if p.labels else str(idx)
                table.add_row(str(rank), label, str(idx), f"{prob:.4f}")
            out.table(table)

    out.result(result.to_list(), human)  # type: ignore[arg-type]
