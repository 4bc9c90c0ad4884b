"""The command line refuses bad numbers and levels with the rule, and prints its versions."""

from __future__ import annotations

import platform
from importlib import metadata

import pytest

from durable_ext.host.cli import build_parser, main


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["start", "--port", "99999"], "argument --port: must be a whole number from 0 to 65535, not 99999"),
        (["start", "--port", "-1"], "--port: must be a whole number from 0 to 65535, not -1"),
        (["start", "--port", "http"], "--port: must be a whole number from 0 to 65535, not 'http'"),
        (["start", "--workers", "0"], "--workers: must be a whole number from 1 to 128, not 0"),
        (["start", "--workers", "2.5"], "--workers: must be a whole number from 1 to 128, not '2.5'"),
        (["start", "--log-level", "loud"], "--log-level: must be one of DEBUG, INFO, WARNING, ERROR"),
        (["durable", "get-instances", "--top", "0"], "--top: must be a whole number, 1 or more, not 0"),
    ],
)
def test_bad_numbers_exit_2_naming_option_and_range(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_good_values_pass() -> None:
    args = build_parser().parse_args(["start", "--port", "0", "--workers", "4", "--log-level", "debug"])
    assert (args.port, args.workers, args.log_level) == (0, 4, "DEBUG")
    assert build_parser().parse_args(["start", "--port", " 65535 "]).port == 65535


def test_version_names_durable_ext_the_sdk_and_python(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.splitlines() == [
        f"durable-ext {metadata.version('durable-ext')}",
        f"azure-functions-durable {metadata.version('azure-functions-durable')}",
        f"Python {platform.python_version()}",
    ]
