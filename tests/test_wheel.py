"""The package as a user installs it: a wheel built from this checkout, installed into a fresh virtual
environment outside the repo, finds its shipped configs and instruments and runs on the embedded model."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.subprocess]
TIMEOUT = 1800  # generous: a loaded 2-core machine must not fail this test, only a broken package


def setuptools_major() -> int:
    try:
        import setuptools
    except ImportError:
        return 0
    return int(setuptools.__version__.split(".")[0])


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    # the installed setuptools builds it when it is new enough; otherwise pip fetches the build backend
    isolation = [] if setuptools_major() < 68 else ["--no-build-isolation"]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", str(dist), str(REPO)],
                   check=True, capture_output=True, timeout=TIMEOUT)
    (wheel,) = dist.glob("persona_bench-*.whl")
    env_dir = root / "venv"
    # system site-packages: torch, transformers and the model package are reused, not downloaded again
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    py = env_dir / "bin" / "python"
    # --ignore-installed: a persona-bench already in the system site-packages (an editable checkout) must
    # neither stand in for the wheel nor be touched
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", str(wheel)], check=True,
                   capture_output=True, timeout=TIMEOUT)
    work = root / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}"
    return {"wheel": wheel, "py": py, "cli": env_dir / "bin" / "persona-bench", "cwd": work, "env": env}


def cli(installed, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(installed["cli"]), *args], cwd=installed["cwd"], env=installed["env"],
                          capture_output=True, text=True, timeout=TIMEOUT)


def test_the_wheel_carries_configs_inventories_and_surveys(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    for wanted in ("bench/conf/config.yaml", "bench/conf/model/smollm2.yaml", "bench/conf/persona/traits.yaml",
                   "bench/inventories/bfi.yaml", "bench/inventories/README.md", "bench/surveys/atp_w92.yaml",
                   "bench/leaderboard/templates/index.html.j2"):
        assert wanted in names, wanted


def test_installed_package_is_the_wheel_not_the_checkout(installed):
    out = subprocess.run([str(installed["py"]), "-c", "import bench, bench.resources as r; print(bench.__file__); "
                          "print(r.CONF_DIR)"], cwd=installed["cwd"], env=installed["env"], capture_output=True,
                         text=True, timeout=TIMEOUT, check=True).stdout.split()
    assert all(str(REPO) not in line and "site-packages" in line for line in out), out


def test_ls_lists_the_shipped_instruments(installed):
    proc = cli(installed, "ls")
    assert proc.returncode == 0, proc.stderr
    for name in ("bfi", "ipip120", "mbti", "atp_w92", "traits", "smollm2", "psych_bfi"):
        assert name in proc.stdout


def test_validate_a_shipped_and_a_broken_file(installed, tmp_path):
    shipped = subprocess.run([str(installed["py"]), "-c", "import bench.resources as r; print(r.INVENTORY_DIR)"],
                             cwd=installed["cwd"], env=installed["env"], capture_output=True, text=True,
                             timeout=TIMEOUT, check=True).stdout.strip()
    ok = cli(installed, "validate", f"{shipped}/bfi.yaml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: broken\nname: Broken\nversion: 1\nsource: me\nlicence: CC0\nkind: likert\n"
                      "scale: {values: [1, 2], labels: [no]}\ntraits: {E: Extraversion}\nscoring: mean\n"
                      "items:\n  - {id: e1, trait: X, keyed: '+', text: I talk.}\n")
    bad = cli(installed, "validate", str(broken))
    assert bad.returncode == 2
    assert str(broken) in bad.stdout + bad.stderr and "Traceback" not in bad.stdout + bad.stderr


def test_a_two_item_run_on_the_embedded_model(installed, tmp_path):
    proc = cli(installed, "run", "max_items=2", "repetitions=1", "temperatures=[0.0]", "option_orders=[original]",
               "templates=[describe]", f"results_dir={tmp_path}", "progress=false")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (run_dir,) = tmp_path.iterdir()
    import pandas as pd

    responses = pd.read_parquet(run_dir / "responses.parquet")
    assert len(responses) == 2 and set(responses["item_id"]) == {"bfi_01", "bfi_02"}
    assert responses["label_mass"].between(0.5, 1.0).all()
    provenance = (run_dir / "provenance.json").read_text()
    assert '"persona-bench": "0.1.0"' in provenance
