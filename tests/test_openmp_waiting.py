"""How OpenMP's idle threads wait: passive in the editor and as a library, a short spin in `train`."""

from __future__ import annotations

import os
import subprocess
import sys

from distill_tui import cli

PROBE = """
import os
import distill_tui
from distill_tui.threads import child_environment, openmp_waiting
print(os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT"), child_environment().get("OMP_WAIT_POLICY"))
print(openmp_waiting("training"), os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT"))
import torch
print(openmp_waiting("interactive"), os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT"))
"""


def probe(**env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_passive_by_default_a_short_spin_for_training_and_nothing_once_torch_is_loaded():
    assert probe() == [
        "PASSIVE None None",  # a child process (a trainer the editor starts) chooses its own
        "True None 10000",
        "False None 10000",  # too late: libgomp read its settings when torch loaded
    ]


def test_a_users_own_setting_is_kept_in_every_role_and_passed_on():
    # nothing is added beside it: libgomp lets GOMP_SPINCOUNT override OMP_WAIT_POLICY, so `train`'s short spin
    # would have undone a user's PASSIVE or ACTIVE
    assert probe(OMP_WAIT_POLICY="ACTIVE") == ["ACTIVE None ACTIVE", "True ACTIVE None", "False ACTIVE None"]
    assert probe(OMP_WAIT_POLICY="PASSIVE") == ["PASSIVE None PASSIVE", "True PASSIVE None", "False PASSIVE None"]
    assert probe(GOMP_SPINCOUNT="5") == ["None 5 None", "True None 5", "False None 5"]


def test_the_train_command_asks_for_training_waits_and_others_do_not(tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(cli, "openmp_waiting", asked.append)
    assert cli.main(["train", str(tmp_path / "missing"), "-o", str(tmp_path / "m.distill")]) == 2
    assert cli.main(["info", str(tmp_path / "missing.distill")]) == 2
    assert asked == ["training"]
