"""The README's two commands are the contract with a newcomer: they must exist, be the
first commands shown, and be what CI runs."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _first_code_block(text: str) -> str:
    return re.search(r"```(?:sh|bash)?\n(.*?)```", text, re.DOTALL).group(1)


def test_the_first_commands_in_the_readme_are_make_run_and_make_test():
    block = _first_code_block((ROOT / "README.md").read_text())
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip() and not line.startswith(" ")]
    assert commands == ["make run", "make test"]


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test\b", script, re.MULTILINE)


def test_make_run_installs_migrates_seeds_and_serves():
    plan = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"}
    ).stdout
    steps = ["manage.py migrate", "manage.py seed_demo", "manage.py runserver 127.0.0.1:8000"]
    positions = [plan.find(step) for step in steps]
    assert all(p >= 0 for p in positions), plan
    assert positions == sorted(positions)


def test_every_operator_command_in_the_readme_exists():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"python manage\.py (\w+)", readme))
    commands = {p.stem for p in (ROOT / "admincenter" / "management" / "commands").glob("*.py")}
    assert documented <= commands | {"migrate", "check", "runserver", "collectstatic"}, documented - commands
    assert {"create_organization", "sso_connection", "provisioning", "scim_token", "seed_demo", "audit"} <= documented
