"""The CLI's Output is the Reporter library code talks to: plain text in, styled and escaped out."""

from __future__ import annotations

import pytest

from resnet_deploy.cli._common import Output
from resnet_deploy.reporter import NoteKeeper, Reporter, as_reporter


def _out() -> Output:
    out = Output()
    out.console.width = 400  # one line per message
    out.console.no_color = True
    return out


def test_output_is_a_reporter_and_prints_library_text_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    out = _out()
    assert isinstance(out, Reporter) and as_reporter(out) is out
    out.info("shape [N,3,S,S] in /data/[bold]x")  # would be eaten as markup if not escaped
    out.note("calibrating on the built-in sample set")
    out.warn("requested 32 eval images but x.npy has 3")
    with out.status("Exporting [onnx]"):
        pass
    with out.progress("Calibrating [minmax]", total=2) as advance:
        advance(2)
    err = capsys.readouterr().err
    assert "shape [N,3,S,S] in /data/[bold]x" in err
    assert "note: calibrating on the built-in sample set" in err
    assert "warning: requested 32 eval images but x.npy has 3" in err
    assert "✓ Exporting [onnx]" in err and "Calibrating [minmax]" in err


def test_quiet_output_says_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    out = Output(quiet=True)
    out.info("x")
    out.note("y")
    out.warn("z")
    with out.status("s"):
        pass
    assert capsys.readouterr() == ("", "")


def test_note_keeper_forwards_and_keeps_notes() -> None:
    said: list[str] = []
    keeper = NoteKeeper(as_reporter(said.append))
    keeper.info("step")
    keeper.note("n1")
    keeper.warn("w")
    with keeper.status("s"), keeper.progress("p", total=3) as advance:
        advance(1)
    assert keeper.notes == ["n1"]
    assert said == ["step", "note: n1", "warning: w", "s"]


def test_tables_keep_their_full_width_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """A CI log or `cmd 2> log.txt` gets whole cells, not 80-column squeezed ones ("model.…")."""
    from rich.table import Table

    out = Output()  # pytest captures stderr: not a terminal
    assert not out.console.is_terminal
    table = Table(title="quantized models")
    for name in ("file", "agreement with FP32", "notes"):
        table.add_column(name)
    long_path = "artifacts/resnet50-imagenet-finetuned/model.int8-tensorrt.onnx"
    table.add_row(long_path, "99.50 %", "calibrated on 512 images of /data/imagenet/val (minmax), 53/53 convs int8")
    out.table(table)
    out.info("x" * 150)  # a long line stays one line
    err = capsys.readouterr().err
    assert long_path in err and "agreement with FP32" in err and "…" not in err
    assert ("x" * 150) in err.splitlines()
