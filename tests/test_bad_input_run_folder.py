"""Hostile run folders, on a real run of the embedded model: each case heals (same responses, scores and
metrics as the clean run, a bad part kept under parts/quarantine/) or stops with a named BenchError,
never a traceback, and nothing a user put there is lost or changed. A damaged part is checked where a rerun
checks it, in the store (on a copy of the one clean run); a handful of damages heal through whole reruns."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.errors import BenchError
from bench.pipelines.run import run
from bench.results.atomic import LinkInFolder
from bench.results.schema import RESPONSE_SCHEMA
from bench.results.store import PartQuarantined, RunStore
from tests.conftest import REPO, cli_in_process, compose

pytestmark = [pytest.mark.model]

ARGS = ("max_items=4", "repetitions=1", "temperatures=[0.0]", "templates=[describe]", "option_orders=[original]",
        "batch_size=2", "progress=false")  # two units of two rows
VOLATILE = ["git_commit"]
P0, P1 = "parts/part-000000.parquet", "parts/part-000001.parquet"


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    cfg = compose(*ARGS, f"results_dir={tmp_path_factory.mktemp('clean')}")
    return cfg, run(cfg, print_summary=False)


def forge_record(part: Path) -> None:
    """A record that matches the (hostile) part exactly, as someone copying files by hand might leave."""
    data = part.read_bytes()
    (part.parent / (part.name + ".json")).write_text(json.dumps(
        {"unit": int(part.stem.split("-")[1]), "rows": pq.ParquetFile(part).metadata.num_rows, "bytes": len(data),
         "sha256": hashlib.sha256(data).hexdigest()}))


def edit_record(d: Path, **change) -> None:
    path = d / (P1 + ".json")
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))


def other_schema(d: Path) -> None:
    pq.write_table(pa.table({"x": [1, 2], "y": ["a", "b"]}), d / P1)
    forge_record(d / P1)


def fewer_columns(d: Path) -> None:  # right keys, but a column of the responses is gone
    pq.write_table(pq.read_table(d / P1).drop_columns(["score"]), d / P1)
    forge_record(d / P1)


def duplicate_keys(d: Path) -> None:
    t = pq.read_table(d / P1)
    pq.write_table(pa.concat_tables([t, t]), d / P1)
    forge_record(d / P1)


def swapped(d: Path) -> None:  # unit 0's part and record, under unit 1's name
    shutil.copy(d / P0, d / P1)
    forge_record(d / P1)


def outside_plan(d: Path) -> None:
    shutil.copy(d / P0, d / "parts/part-000099.parquet")
    forge_record(d / "parts/part-000099.parquet")


def write(rel: str, data: bytes | str):
    def damage(d: Path) -> None:
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_bytes(data.encode() if isinstance(data, str) else data)
    return damage


def both(*steps):
    def damage(d: Path) -> None:
        for step in steps:
            step(d)
    return damage


def truncate(d: Path) -> None:
    data = (d / P1).read_bytes()
    (d / P1).write_bytes(data[: len(data) // 2])


def unlink(rel: str):
    return lambda d: (d / rel).unlink()


GARBAGE = bytes(range(256)) * 8
FOREIGN = {"parts/notes.txt": "mine", "parts/part-foo.parquet": GARBAGE, "parts/part-1.parquet": "x",
           "parts/.mine.abcdefgh.tmp": "mine", "parts/part-000001.parquet.bak": "old", "README.md": "# my notes",
           ".notes.csv.abcdefgh.tmp": "not a run file's temp", "notes.tmp": "x"}

# Damage to the parts (and the stale temp and foreign files around them), checked where a rerun checks it: the
# store's check-and-heal, called directly on a copy of the clean run (test_a_damaged_part_is_set_aside_and_the_
# others_kept). name -> (damage, the parts expected in quarantine (their records go with them), files that must be
# gone, files that must be kept as they were, the problem the warning must give for each quarantined part)
PART_CASES = {
    "zero_byte_part": (write(P1, b""), ["part-000001.parquet"], [], [], "bytes, its record says"),
    "garbage_named_part": (write(P1, GARBAGE), ["part-000001.parquet"], [], [], "bytes, its record says"),
    "part_without_record": (unlink(P1 + ".json"), ["part-000001.parquet"], [], [], "it has no record"),
    "record_not_json": (write(P1 + ".json", "{not json"), ["part-000001.parquet"], [], [], "is not valid JSON"),
    "record_not_an_object": (write(P1 + ".json", "[1, 2]"), ["part-000001.parquet"], [], [], "lacks rows and sha256"),
    "record_wrong_checksum": (lambda d: edit_record(d, sha256="0" * 64), ["part-000001.parquet"], [], [],
                              "differs from its record's"),
    "record_wrong_rows": (lambda d: edit_record(d, rows=3), ["part-000001.parquet"], [], [], "its record says 3"),
    "record_wrong_bytes": (lambda d: edit_record(d, bytes=1), ["part-000001.parquet"], [], [], "its record says 1"),
    "part_of_another_schema": (other_schema, ["part-000001.parquet"], [], [], "its columns are not those"),
    "part_missing_a_column": (fewer_columns, ["part-000001.parquet"], [], [], "its columns are not those"),
    "part_with_duplicate_keys": (duplicate_keys, ["part-000001.parquet"], [], [], "it repeats a key"),
    "part_of_another_unit": (swapped, ["part-000001.parquet"], [], [], "not the ones its unit of this run's plan"),
    "part_outside_the_plan": (outside_plan, ["part-000099.parquet"], [], [], "not the ones its unit of this run's plan"),
    "quarantine_name_taken": (both(write("parts/quarantine/part-000001.parquet", "earlier"), truncate),
                              ["part-000001.parquet"], [], ["parts/quarantine/part-000001.parquet"],
                              "bytes, its record says"),
    "record_without_part": (unlink(P1), [], [], [], None),
    "stale_part_temps": (both(write("parts/.part-000001.parquet.a1b2c3d4.tmp", GARBAGE),
                              write("parts/.part-000001.parquet.json.zz_9yy8x.tmp", "{")), [],
                         ["parts/.part-000001.parquet.a1b2c3d4.tmp", "parts/.part-000001.parquet.json.zz_9yy8x.tmp"], [],
                         None),
    "stale_responses_temp": (write(".responses.parquet.k3j4h5g6.tmp", GARBAGE[:100]), [],
                             [".responses.parquet.k3j4h5g6.tmp"], [], None),
    "stale_result_temps": (both(write(".metrics.json.qwertyui.tmp", "{"), write(".summary.md.asdfghjk.tmp", "#"),
                                write(".config.yaml.zxcvbnm1.tmp", "a: ["), write(".scores.parquet.12345678.tmp", "")),
                           [], [".metrics.json.qwertyui.tmp", ".summary.md.asdfghjk.tmp", ".config.yaml.zxcvbnm1.tmp",
                                ".scores.parquet.12345678.tmp"], [], None),
    "foreign_files_left_untouched": (both(*(write(k, v) for k, v in FOREIGN.items())), [], [], list(FOREIGN), None),
    "responses_garbage": (write("responses.parquet", GARBAGE), [], [], [], None),
}

# Whole reruns of the real run (what the store's check leads to: the bad unit recomputed, the same responses,
# scores and metrics as the clean run, the lock's holder record gone). kill -9 mid-run and mid-finalize:
# tests/test_run.py. name -> (damage, quarantined parts, files that must be gone, files kept as they were)
HEALED = {
    "truncated_part": (truncate, ["part-000001.parquet"], [], []),
    "every_part_gone": (both(unlink(P0), unlink(P1)), [], [], []),
    "metrics_garbage": (write("metrics.json", "{"), [], [], []),
    "stale_lock_of_a_dead_process": (both(write("run.lock", ""), write(
        "run.lock.json", json.dumps({"pid": 2 ** 22 + 7, "host": "gone", "since": "yesterday"}))), [], [], []),
}


def snapshot(d: Path, names) -> dict[str, bytes]:
    return {n: (d / n).read_bytes() for n in names}


def copy_of(clean_dir: Path, tmp: Path) -> Path:
    d = tmp / "results" / clean_dir.name
    shutil.copytree(clean_dir, d)
    return d


def quarantine_after(d: Path, quarantined: list[str]) -> set[str]:
    """What parts/quarantine/ should hold once the damaged folder `d` is healed: what it holds now, and each
    quarantined part and its record under a name not yet taken there (.1, .2, ...: nothing is overwritten)."""
    quarantine = d / "parts/quarantine"
    expect = set(os.listdir(quarantine)) if quarantine.is_dir() else set()
    for part in quarantined:
        for name in [part] + ([part + ".json"] if (d / "parts" / (part + ".json")).exists() else []):
            target, n = name, 0
            while target in expect:
                n += 1
                target = f"{name}.{n}"
            expect.add(target)
    return expect


def parts_contents(d: Path, gone) -> dict[str, Path]:
    return {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in (d / "parts").rglob("*")
            if p.is_file() and p.relative_to(d).as_posix() not in gone}


def check_healed_parts(d: Path, named: list[str], quarantined, gone, kept, expect, contents, before) -> None:
    """One warning naming every quarantined part (none when nothing was), the quarantine as expected, no file
    under parts/ lost (moved aside at most), the stale temps gone and the kept files as they were."""
    if quarantined:
        assert len(named) == 1 and all(q in named[0] for q in quarantined), named
    else:
        assert not named
    quarantine = d / "parts/quarantine"
    assert (set(os.listdir(quarantine)) if quarantine.is_dir() else set()) == expect
    after = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (d / "parts").rglob("*") if p.is_file()}
    lost = [str(p.relative_to(d)) for h, p in contents.items() if h not in after]
    assert not lost, f"lost: {lost}"
    for name in gone:
        assert not (d / name).exists(), name
    assert snapshot(d, kept) == before
    ours = [p for p in d.rglob("*.tmp") if p.relative_to(d).as_posix() not in kept]
    assert not ours, ours


def plan_keys(clean_dir: Path) -> dict[int, set[tuple]]:
    """Each unit's (participant_id, item_id) keys, as the clean run wrote them from its plan."""
    out = {}
    for part in (clean_dir / "parts").glob("part-*.parquet"):
        table = pq.read_table(part, columns=["participant_id", "item_id"])
        out[int(part.stem.split("-")[1])] = set(zip(*(c.to_pylist() for c in table.columns)))
    return out


@pytest.mark.parametrize("case", list(PART_CASES))
def test_a_damaged_part_is_set_aside_and_the_others_kept(case, clean, tmp_path):
    """The store's check as a rerun makes it first (pipelines/run.py: `RunStore.recover` with the plan's keys and
    the response columns, then `check_prompts`): the bad part is named with its problem and moved aside, every
    part left is the clean run's own and counted done (so only the bad unit is recomputed), and what finalize
    gathers from them is the clean run's rows of those units."""
    _, clean_dir = clean
    damage, quarantined, gone, kept, problem = PART_CASES[case]
    d = copy_of(clean_dir, tmp_path)
    damage(d)
    before = snapshot(d, kept)
    expect = quarantine_after(d, quarantined)
    contents = parts_contents(d, gone)
    plan = plan_keys(clean_dir)
    store = RunStore(d)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        moved = store.recover(plan, RESPONSE_SCHEMA)
        assert store.check_prompts() == []  # every part left has its prompts
    named = [str(w.message) for w in caught if issubclass(w.category, PartQuarantined)]
    check_healed_parts(d, named, quarantined, gone, kept, expect, contents, before)
    assert len(moved) == len(quarantined) and {p.relative_to(d / "parts/quarantine").as_posix() for p in moved} <= expect
    if quarantined:
        assert str(d / "parts") in named[0]
        assert all(f"{q} (" in named[0] for q in quarantined) and problem in named[0], named[0]
    done = store.done_units()
    assert done == {u for u in plan if store.part_path(u).exists()} and done <= set(plan)
    for unit in done:
        assert store.part_path(unit).read_bytes() == (clean_dir / "parts" / store.part_path(unit).name).read_bytes()
    if not done:
        return
    store.finalize()
    keys = set().union(*(plan[u] for u in done))
    want = pd.read_parquet(clean_dir / "responses.parquet")
    want = want[[k in keys for k in zip(want["participant_id"], want["item_id"])]].reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_parquet(d / "responses.parquet"), want)


@pytest.mark.parametrize("case", list(HEALED))
def test_a_damaged_run_folder_heals(case, clean, tmp_path):
    cfg, clean_dir = clean
    damage, quarantined, gone, kept = HEALED[case]
    d = copy_of(clean_dir, tmp_path)
    damage(d)
    before = snapshot(d, kept)
    expect = quarantine_after(d, quarantined)
    contents = parts_contents(d, gone)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run({**cfg, "results_dir": str(d.parent)}, print_summary=False) == d
    named = [str(w.message) for w in caught if issubclass(w.category, PartQuarantined)]
    check_healed_parts(d, named, quarantined, gone, kept, expect, contents, before)
    want = pd.read_parquet(clean_dir / "responses.parquet").drop(columns=VOLATILE)
    have = pd.read_parquet(d / "responses.parquet").drop(columns=VOLATILE)
    pd.testing.assert_frame_equal(have, want)
    assert not have.duplicated(["participant_id", "item_id"]).any()
    pd.testing.assert_frame_equal(pd.read_parquet(d / "scores.parquet"), pd.read_parquet(clean_dir / "scores.parquet"))
    assert json.loads((d / "metrics.json").read_text()) == json.loads((clean_dir / "metrics.json").read_text())
    assert not (d / "run.lock.json").exists()  # the holder record goes with the lock


BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


def torn_config(d: Path) -> None:
    text = (d / "config.yaml").read_text()
    (d / "config.yaml").write_text(text[: len(text) // 2] + '\n  "torn')


# name -> (damage, the BenchError's message must match, the path (relative to the results dir) it must name)
REFUSED = {
    "config_torn": (torn_config, r"config.yaml: not valid YAML", "config.yaml"),
    "config_alias_bomb": (write("config.yaml", BOMB), r"config.yaml: .*alias bomb", "config.yaml"),
    "config_not_a_mapping": (write("config.yaml", "- a\n- b\n"), r"config.yaml: expected the run's config", "config.yaml"),
    "config_binary": (write("config.yaml", b"run: [\x80\x81\x82 garbage" * 10), r"config.yaml: not valid YAML", "config.yaml"),
    "config_huge": (write("config.yaml", "a: 1\n" * 2_000_000), r"config.yaml: .*over the .*limit", "config.yaml"),
    "config_a_folder": (both(unlink("config.yaml"), lambda d: (d / "config.yaml").mkdir()), r"config.yaml: not a file",
                        "config.yaml"),
    "fingerprint_corrupt": (write("fingerprint.json", '{"model_sha256": "ab'), r"fingerprint.json: not valid JSON",
                            "fingerprint.json"),
    "fingerprint_not_an_object": (write("fingerprint.json", "[]"), r"fingerprint.json: expected a JSON object",
                                  "fingerprint.json"),
    "parts_is_a_file": (both(lambda d: shutil.rmtree(d / "parts"), write("parts", "mine")), r"parts: exists and is not",
                        "parts"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_damaged_run_folder_is_refused_by_name(case, clean, tmp_path):
    cfg, clean_dir = clean
    damage, message, named = REFUSED[case]
    d = copy_of(clean_dir, tmp_path)
    damage(d)
    before = {p.relative_to(d): p.read_bytes() for p in d.rglob("*") if p.is_file()}
    started = time.time()
    with pytest.raises(BenchError, match=message) as err:
        run({**cfg, "results_dir": str(d.parent)}, print_summary=False)
    assert str(d / named) in str(err.value)
    assert time.time() - started < 60  # an alias bomb or a huge file is refused, not parsed
    after = {p.relative_to(d): p.read_bytes() for p in d.rglob("*") if p.is_file()}
    # nothing changed, nothing lost (a claim that got as far as the parts has rewritten the run's own record
    # of its config, with this results_dir)
    same = lambda files: {k: v for k, v in files.items()  # noqa: E731
                          if k.name != "run.lock" and (k.name == named or k.name not in ("config.yaml", "fingerprint.json"))}
    assert same(after) == same(before)


def linked(rel: str, to_folder: bool):
    """Replace `rel` in the run folder by a symbolic link to the user's own folder (or a file in it)."""
    def damage(d: Path, user: Path) -> None:
        target = d / rel
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
        target.symlink_to(user if to_folder else user / "notes.txt")
    return damage


# name -> (the link, folder or file): a resume that followed it would move the user's file into quarantine/,
# write parts into their folder or truncate their file (the lock opens its file with O_TRUNC)
LINKED = {
    "parts_linked": linked("parts", True),
    "quarantine_linked": lambda d, user: (d / "parts" / "quarantine").symlink_to(user),
    "part_linked": linked(P1, False),
    "config_linked": linked("config.yaml", False),
    "lock_linked": linked("run.lock", False),
}


@pytest.mark.parametrize("case", list(LINKED))
def test_a_symlink_inside_a_run_folder_is_refused_and_never_followed(case, clean, tmp_path):
    cfg, clean_dir = clean
    d = copy_of(clean_dir, tmp_path)
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("my own notes\n")
    (user / "part-000001.parquet").write_bytes(b"not a part of any run")
    LINKED[case](d, user)
    link = next(p for p in d.rglob("*") if p.is_symlink())
    before = {p.name: p.read_bytes() for p in user.iterdir()}
    with pytest.raises(LinkInFolder) as err:
        run({**cfg, "results_dir": str(d.parent)}, print_summary=False)
    assert str(err.value).startswith(f"{link}: a symbolic link (to {user}") and "follows no link" in str(err.value)
    assert {p.name: p.read_bytes() for p in user.iterdir()} == before  # nothing moved, written or truncated there
    assert link.is_symlink()  # and the link itself left as the user made it


def test_a_full_disk_while_writing_figures_is_named_and_the_rerun_resumes(clean, tmp_path, monkeypatch):
    """The disk fills while the figures are written (the OS's fsync answers ENOSPC for files under figures/,
    standing in for a full device): `error:` naming the folder, exit 2, no traceback and no temp file left;
    once there is room the same command finishes with the clean run's responses."""
    import errno

    cfg, clean_dir = clean
    d = copy_of(clean_dir, tmp_path)
    shutil.rmtree(d / "figures")
    real_fsync = os.fsync

    def full_under_figures(fd: int) -> None:
        if f"{os.sep}figures{os.sep}" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_under_figures)
    out = cli_in_process(*ARGS, f"results_dir={d.parent}")
    assert out.returncode == 2, out.stderr[-2000:]
    assert "Traceback" not in out.stderr + out.stdout
    assert f"error: {d / 'figures'}: no space is left on the device while writing " in out.stderr
    assert "run the same command again: it resumes from the files already written" in out.stderr
    assert [p.name for p in (d / "figures").iterdir()] == []  # no half-written file, no temp
    monkeypatch.setattr(os, "fsync", real_fsync)  # space freed
    out = cli_in_process(*ARGS, f"results_dir={d.parent}")
    assert out.returncode == 0, out.stderr[-2000:]
    pd.testing.assert_frame_equal(pd.read_parquet(d / "responses.parquet"), pd.read_parquet(clean_dir / "responses.parquet"))
    assert sorted(p.name for p in (d / "figures").iterdir()) == sorted(p.name for p in (clean_dir / "figures").iterdir())


def run_folder_a_file(root: Path, name: str) -> tuple[Path, Path]:
    root.mkdir(parents=True)
    (root / name).write_text("mine")
    return root, root / name


def results_dir_a_file(root: Path, name: str) -> tuple[Path, Path]:
    root.parent.mkdir(parents=True, exist_ok=True)
    root.write_text("mine")
    return root, root


def results_dir_under_a_file(root: Path, name: str) -> tuple[Path, Path]:
    results_dir_a_file(root, name)
    return root / "deeper", root / "deeper" / name


PLACES = {
    "run_folder_is_a_file": (run_folder_a_file, "exists and is not a folder"),
    "results_dir_is_a_file": (results_dir_a_file, "is an existing file, not a folder"),  # refused with the config
    "results_dir_under_a_file": (results_dir_under_a_file, "a part of this path is a file"),
    "results_dir_not_writable": (lambda root, name: (Path("/sys/persona-bench-results"),
                                                     Path("/sys/persona-bench-results") / name),
                                 "cannot create the run folder"),
}


@pytest.mark.parametrize("case", list(PLACES))
def test_a_run_folder_that_cannot_be_made_is_named(case, clean, tmp_path):
    cfg, clean_dir = clean
    make, message = PLACES[case]
    results_dir, named = make(tmp_path / "results", clean_dir.name)
    with pytest.raises(BenchError, match=message) as err:
        run({**cfg, "results_dir": str(results_dir)}, print_summary=False)
    assert str(named) in str(err.value)
    files = [p for p in (tmp_path / "results", tmp_path / "results" / clean_dir.name) if p.is_file()]
    assert all(p.read_text() == "mine" for p in files)  # the file in the way is left as it was


def backstory_cfg(tmp: Path) -> dict:
    return compose("persona=backstory", "inventory=ipip25", "persona.n=3", "persona.max_new_tokens=8",
                   f"results_dir={tmp}")


def story(k: int, seed: int) -> str:
    from bench.hashing import stable_int

    return json.dumps({"id": f"backstory-{k:04d}", "text": f"story {k}", "seed": stable_int(seed, "backstory", k)})


BACKSTORIES = {
    "backstories_torn_mid_line": (lambda s: story(0, s) + "\n" + story(1, s)[:25], r"backstories.jsonl: line 2: not valid JSON"),
    "backstories_a_foreign_row": (lambda s: story(0, s) + '\n{"id": "x"}\n', r"backstories.jsonl: story 2: expected the keys"),
    "backstories_of_another_set": (lambda s: story(0, s + 1), r"backstories.jsonl: story 1 .*not this set's story"),
    "backstories_not_objects": (lambda s: "[1, 2]\n", r"backstories.jsonl: line 1: expected a JSON object"),
}


@pytest.mark.parametrize("case", list(BACKSTORIES))
def test_a_damaged_backstory_set_is_named_by_file_and_line(case, tmp_path):
    from bench.personas.backstory import backstory_dir, generate_backstories

    cfg = backstory_cfg(tmp_path)
    text, message = BACKSTORIES[case]
    folder = backstory_dir(cfg)
    folder.mkdir(parents=True)
    (folder / "backstories.jsonl").write_text(text(int(cfg["seed"])))
    before = (folder / "backstories.jsonl").read_bytes()
    with pytest.raises(BenchError, match=message):
        generate_backstories(cfg)
    assert (folder / "backstories.jsonl").read_bytes() == before


def hold_lock(folder: Path) -> subprocess.Popen:
    """A real second process holding the folder's lock until killed."""
    code = ("import sys, time; from pathlib import Path; from bench.results.atomic import folder_lock\n"
            "with folder_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.subprocess
def test_a_run_folder_held_by_a_live_process_is_refused_naming_it(clean, tmp_path):
    import socket

    cfg, clean_dir = clean
    d = copy_of(clean_dir, tmp_path)
    (d / P1).unlink()  # there is model work left to do
    holder = hold_lock(d)
    try:
        before = {p.relative_to(d): p.read_bytes() for p in d.rglob("*") if p.is_file() and p.name != "run.lock"}
        with pytest.raises(BenchError, match=f"in use by pid {holder.pid} on host {socket.gethostname()}"):
            run({**cfg, "results_dir": str(d.parent)}, print_summary=False)
        after = {p.relative_to(d): p.read_bytes() for p in d.rglob("*") if p.is_file() and p.name != "run.lock"}
        assert after == before
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    # killed with -9, the holder leaves its lock file and record behind but holds nothing: the run goes on
    assert (d / "run.lock.json").exists()
    run({**cfg, "results_dir": str(d.parent)}, print_summary=False)
    pd.testing.assert_frame_equal(pd.read_parquet(d / "responses.parquet"), pd.read_parquet(clean_dir / "responses.parquet"))


def test_the_command_line_names_a_damaged_folder_without_a_traceback(clean, tmp_path):
    cfg, clean_dir = clean
    d = copy_of(clean_dir, tmp_path)
    (d / "fingerprint.json").write_text("{")
    out = cli_in_process(*ARGS, f"results_dir={d.parent}")
    assert out.returncode == 2, out.stderr[-2000:]
    assert f"error: {d / 'fingerprint.json'}: not valid JSON" in out.stderr
    assert "Traceback" not in out.stderr
    (d / "fingerprint.json").write_text(json.dumps(json.loads((clean_dir / "fingerprint.json").read_text())))
    shutil.rmtree(d / "parts")
    (d / "parts").symlink_to(tmp_path)
    out = cli_in_process(*ARGS, f"results_dir={d.parent}")
    assert out.returncode == 2, out.stderr[-2000:]
    assert f"error: {d / 'parts'}: a symbolic link (to {tmp_path})" in out.stderr and "Traceback" not in out.stderr
