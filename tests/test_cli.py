"""The CLI shell: light imports, help text with exit codes, one-line errors."""

import subprocess
import sys


def test_help_lists_exit_codes_and_is_light():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from mmvideo.cli import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'Exit codes' in r.output\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'ray', 'onnxruntime') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_command_is_usage_error():
    proc = subprocess.run([sys.executable, "-m", "mmvideo", "no-such-command"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "No such command" in proc.stderr
