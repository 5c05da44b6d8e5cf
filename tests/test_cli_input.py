"""What the command line says about an option value it cannot take: what is wrong with it, in its words."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from oihwatch.cli import cli


@pytest.mark.parametrize("args", [["harvest", "--since"], ["harvest", "--until"], ["digest", "--since"]], ids=" ".join)
@pytest.mark.parametrize(
    "value, said",
    [
        ("2026-13-01", "'2026-13-01' is not a real date (there is no month 13)"),
        ("2026-02-29", "'2026-02-29' is not a real date (February 2026 has 28 days)"),
        ("2026-11-31", "'2026-11-31' is not a real date (November 2026 has 30 days)"),
        ("last week", "'last week' is not a date: write YYYY-MM-DD, e.g. 2026-11-30"),
    ],
)
def test_a_date_that_does_not_exist_is_called_that_not_a_format_mismatch(tmp_path, args, value, said):
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "none.toml"), *args, value])
    assert result.exit_code == 2
    assert said in result.stderr and "does not match the format" not in result.stderr
