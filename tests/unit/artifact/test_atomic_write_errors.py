"""Out-of-space and read-only errors become one WriteError line naming the user's path and free space."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from resnet_deploy.atomic import WriteError, ensure_free, shown_path, staging_dir, write_failure


def test_enospc_anywhere_in_the_chain_is_a_write_error(tmp_path: Path) -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / ".art.tmp-abc" / "model.onnx"))
        except OSError as inner:
            raise RuntimeError("exporter failed") from inner
    except RuntimeError as exc:
        err = write_failure(exc, tmp_path)
    assert isinstance(err, WriteError) and err.exit_code == 2
    text = str(err)
    assert f"'{tmp_path / 'art' / 'model.onnx'}'" in text  # the published name, not the staging dir
    assert "No space left on device" in text and "free there" in text and "choose another --out" in text


@pytest.mark.parametrize("exc", [
    RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed"),
    OSError(errno.EROFS, "Read-only file system"),
    OSError(errno.EDQUOT, "Disk quota exceeded"),
])
def test_other_write_failures_are_recognised(exc: BaseException, tmp_path: Path) -> None:
    assert isinstance(write_failure(exc, tmp_path), WriteError)


@pytest.mark.parametrize("exc", [ValueError("bad"), OSError(errno.ENOENT, "No such file"), KeyError("x")])
def test_unrelated_errors_are_left_alone(exc: BaseException, tmp_path: Path) -> None:
    assert write_failure(exc, tmp_path) is None


def test_shown_path_hides_staging_and_work_dirs() -> None:
    assert shown_path("/a/.out.tmp-x1y2/model.pt2") == "/a/out/model.pt2"
    assert shown_path("/a/art/.tmp-quantize-zz/prepared.onnx") == "/a/art/prepared.onnx"
    assert shown_path("/a/b/c.onnx") == "/a/b/c.onnx"


def test_ensure_free_refuses_what_cannot_fit(tmp_path: Path) -> None:
    with pytest.raises(WriteError, match="not enough space to write model.pt2"):
        ensure_free(tmp_path, 1 << 62, "model.pt2")
    ensure_free(tmp_path, 1, "model.pt2")


def test_staging_dir_turns_enospc_into_one_line_and_removes_itself(tmp_path: Path) -> None:
    out = tmp_path / "art"
    with pytest.raises(WriteError, match="free space or choose another --out"), staging_dir(out):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []
