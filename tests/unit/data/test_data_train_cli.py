"""``resnet-deploy train-sample``: help, JSON output, reuse of the cache."""

from __future__ import annotations

import json

from click.testing import CliRunner

from resnet_deploy.cli import cli


def test_help_has_an_example():
    res = CliRunner().invoke(cli, ["train-sample", "--help"])
    assert res.exit_code == 0 and "Example:" in res.output and "--preset" in res.output


def test_json_reports_checkpoint_and_accuracy(tiny_demo_model):
    root = tiny_demo_model.directory.parent
    res = CliRunner().invoke(cli, ["train-sample", "--preset", "tiny", "--cache-dir", str(root), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["cached"] is True
    assert data["checkpoint"] == str(tiny_demo_model.checkpoint)
    assert data["accuracy"] == tiny_demo_model.accuracy


def test_bad_preset_is_a_usage_error():
    res = CliRunner().invoke(cli, ["train-sample", "--preset", "huge"])
    assert res.exit_code == 2
