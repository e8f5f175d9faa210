"""The run folder: atomic part files, resumable units, and a duplicate-refusing finalize."""

from __future__ import annotations

import json
import math
import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.results.atomic import atomic_write_bytes, atomic_write_json, atomic_write_parquet, atomic_write_text
from bench.results.store import RunStore


def rows(unit: int, n: int = 4, participants=("p0", "p1")) -> pd.DataFrame:
    """Rows shaped like the administrator's: scalars, NaNs and list columns."""
    out = []
    for k in range(n):
        pid = participants[k % len(participants)]
        out.append({
            "participant_id": pid,
            "item_id": f"item_{unit:02d}_{k // len(participants)}",
            "unit": unit,
            "k": k,
            "temperature": 0.7,
            "raw_answer": f"{k + 1}",
            "parsed_option": (k % 5) + 1,
            "answer": float(k % 5 + 1) if k % 3 else math.nan,
            "option_permutation": [4, 3, 2, 1, 0],
            "option_probs": [0.1, 0.2, 0.3, 0.2, 0.2],
            "invalid": k % 3 == 0,
        })
    return pd.DataFrame(out)


def leftovers(d) -> list[str]:
    return sorted(p.name for p in d.rglob("*") if p.name.endswith(".tmp") or p.name.startswith("."))


def test_parts_done_units_and_finalize_in_order(tmp_path):
    store = RunStore(tmp_path / "run")
    assert store.parts.is_dir()
    assert store.done_units() == set()
    # Written out of order, including a unit index past 10 (lexicographic vs numeric order).
    for unit in (12, 0, 3, 1):
        store.write_part(unit, rows(unit))
    assert store.done_units() == {0, 1, 3, 12}
    assert store.part_path(3).name == "part-000003.parquet"

    # A new store object on the same folder (a resumed run) sees the same units.
    assert RunStore(tmp_path / "run").done_units() == {0, 1, 3, 12}

    out = store.finalize()
    assert out == tmp_path / "run" / "responses.parquet"
    got = pd.read_parquet(out)
    expected = pd.concat([rows(u) for u in (0, 1, 3, 12)], ignore_index=True)
    assert len(got) == 16
    assert list(got.columns) == list(expected.columns)
    assert list(zip(got["unit"], got["k"])) == list(zip(expected["unit"], expected["k"]))
    assert got["participant_id"].tolist() == expected["participant_id"].tolist()
    assert got["answer"].isna().tolist() == expected["answer"].isna().tolist()
    assert got["option_permutation"].map(list).tolist() == [[4, 3, 2, 1, 0]] * 16
    assert got["invalid"].tolist() == expected["invalid"].tolist()
    assert leftovers(tmp_path) == []


def test_read_parts(tmp_path):
    store = RunStore(tmp_path)
    assert store.read_parts(["participant_id"]).empty
    store.write_part(2, rows(2))
    store.write_part(1, rows(1))
    df = store.read_parts(columns=["participant_id", "unit"])
    assert list(df.columns) == ["participant_id", "unit"]
    assert df["unit"].tolist() == [1] * 4 + [2] * 4
    assert df.index.tolist() == list(range(8))


def test_finalize_streams_many_parts(tmp_path):
    store = RunStore(tmp_path)
    for unit in range(30):
        store.write_part(unit, rows(unit, n=6, participants=("a", "b", "c")))
    out = store.finalize()
    meta = pq.ParquetFile(out).metadata
    assert meta.num_rows == 180
    assert meta.num_row_groups >= 2  # streamed part by part, not one concatenated table
    assert pd.read_parquet(out, columns=["unit"])["unit"].tolist() == [u for u in range(30) for _ in range(6)]


def test_rewriting_a_part_replaces_it(tmp_path):
    store = RunStore(tmp_path)
    store.write_part(0, rows(0, n=4))
    store.write_part(0, rows(0, n=2))
    assert len(pd.read_parquet(store.part_path(0))) == 2
    assert store.done_units() == {0}
    assert leftovers(tmp_path) == []


def test_finalize_refuses_duplicates_across_parts(tmp_path):
    store = RunStore(tmp_path)
    store.write_part(0, rows(0))
    dup = rows(1)
    dup.loc[2, "item_id"] = rows(0).loc[2, "item_id"]  # same (participant, item) as a row in part 0
    dup.loc[2, "participant_id"] = rows(0).loc[2, "participant_id"]
    store.write_part(1, dup)
    with pytest.raises(RuntimeError, match="duplicate") as exc:
        store.finalize()
    assert "part-000001" in str(exc.value)
    assert rows(0).loc[2, "item_id"] in str(exc.value)
    assert not (tmp_path / "responses.parquet").exists()
    assert leftovers(tmp_path) == []


def test_finalize_refuses_duplicates_within_a_part(tmp_path):
    store = RunStore(tmp_path)
    df = rows(0)
    df.loc[3, ["participant_id", "item_id"]] = df.loc[1, ["participant_id", "item_id"]].values
    store.write_part(0, df)
    with pytest.raises(RuntimeError, match="duplicate"):
        store.finalize()


def test_same_item_different_participants_is_not_a_duplicate(tmp_path):
    store = RunStore(tmp_path)
    a, b = rows(0, participants=("p0",)), rows(0, participants=("p1",))
    assert set(a["item_id"]) == set(b["item_id"])
    store.write_part(0, a)
    store.write_part(1, b)
    assert len(pd.read_parquet(store.finalize())) == 8


def test_failed_finalize_keeps_previous_responses(tmp_path):
    store = RunStore(tmp_path)
    store.write_part(0, rows(0))
    first = store.finalize()
    before = first.read_bytes()
    store.write_part(1, rows(0))  # every key duplicated
    with pytest.raises(RuntimeError):
        store.finalize()
    assert first.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_finalize_custom_key(tmp_path):
    store = RunStore(tmp_path)
    store.write_part(0, rows(0))
    store.write_part(1, rows(1))
    # Keyed by participant alone, both parts repeat p0/p1.
    with pytest.raises(RuntimeError):
        store.finalize(key=("participant_id",))
    assert len(pd.read_parquet(store.finalize(key=("participant_id", "item_id")))) == 8


def test_finalize_without_parts_refuses_and_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="no parts"):
        RunStore(tmp_path).finalize()
    assert not (tmp_path / "responses.parquet").exists()
    assert leftovers(tmp_path) == []


def test_atomic_write_parquet_failure_keeps_old_file(tmp_path):
    path = tmp_path / "data.parquet"
    atomic_write_parquet(path, pd.DataFrame({"x": [1, 2, 3]}))
    before = path.read_bytes()
    bad = pd.DataFrame({"x": [{"a": 1}, 2, "three"]})  # mixed dict/int/str: arrow cannot convert
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        atomic_write_parquet(path, bad)
    assert path.read_bytes() == before
    assert pd.read_parquet(path)["x"].tolist() == [1, 2, 3]
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.parquet"]


def test_atomic_write_bytes_failure_mid_write_removes_temp(tmp_path):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(path, "not bytes")  # fails inside the temp-file write
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_atomic_write_json_failure_keeps_old_file(tmp_path):
    path = tmp_path / "meta.json"
    atomic_write_json(path, {"b": 1, "a": [1, 2]})
    before = path.read_text()
    circular: dict = {}
    circular["self"] = circular
    with pytest.raises(ValueError):
        atomic_write_json(path, circular)
    with pytest.raises(TypeError):
        atomic_write_json(path, {1: "x", "y": 2})  # sort_keys cannot order int and str keys
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json"]


def test_atomic_writes_content_and_parents(tmp_path):
    path = tmp_path / "deep" / "er" / "meta.json"
    atomic_write_json(path, {"b": 1, "a": tmp_path})  # a Path goes through default=str
    text = path.read_text()
    assert text.endswith("\n")
    assert text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": str(tmp_path), "b": 1}
    atomic_write_text(tmp_path / "t.txt", "héllo")
    assert (tmp_path / "t.txt").read_bytes() == "héllo".encode()
    atomic_write_parquet(tmp_path / "p.parquet", rows(0))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "p.parquet").drop(
        columns=["option_permutation", "option_probs"]), rows(0).drop(columns=["option_permutation", "option_probs"]))
    assert leftovers(tmp_path) == []
    assert os.listdir(tmp_path / "deep" / "er") == ["meta.json"]


# -- resuming a damaged folder, temp files, permissions, the lock ------------------------------

def test_a_truncated_part_is_quarantined_not_counted_and_recomputed(tmp_path):
    from bench.results.store import PartQuarantined

    store = RunStore(tmp_path)
    store.write_part(0, rows(0))
    store.write_part(1, rows(1))
    good = store.part_path(1).read_bytes()
    store.part_path(1).write_bytes(good[: len(good) // 2])  # a disk that lost the tail
    resumed = RunStore(tmp_path)
    with pytest.warns(PartQuarantined, match=r"part-000001.parquet \(it has \d+ bytes, its record says \d+"):
        moved = resumed.recover()
    assert [p.name for p in moved] == ["part-000001.parquet"]
    assert (tmp_path / "parts/quarantine/part-000001.parquet").read_bytes() == good[: len(good) // 2]
    assert (tmp_path / "parts/quarantine/part-000001.parquet.json").is_file()
    assert resumed.done_units() == {0}
    resumed.write_part(1, rows(1))
    assert len(pd.read_parquet(resumed.finalize())) == 8
    assert resumed.recover() == []  # a healthy folder: nothing moved, no warning


def test_only_our_stale_temp_files_are_removed(tmp_path):
    store = RunStore(tmp_path)
    store.write_part(0, rows(0))
    ours = [tmp_path / "parts/.part-000003.parquet.abc_1234.tmp", tmp_path / "parts/.part-000003.parquet.json.zzzzzzzz.tmp",
            tmp_path / ".responses.parquet.k3j4h5g6.tmp", tmp_path / ".metrics.json.qwertyui.tmp"]
    theirs = [tmp_path / "parts/.notes.abcdefgh.tmp", tmp_path / ".mydata.csv.abcdefgh.tmp", tmp_path / "x.tmp",
              tmp_path / ".responses.parquet.tmp", tmp_path / "parts/.part-000003.parquet.TOOLONG99.tmp"]
    for p in ours + theirs:
        p.write_bytes(b"x")
    assert store.recover() == []
    assert [p for p in ours if p.exists()] == []
    assert [p for p in theirs if not p.exists()] == []


@pytest.mark.subprocess
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)], ids=["022", "027", "077"])
def test_results_are_written_with_the_users_umask(tmp_path, umask, mode):
    import stat
    import subprocess
    import sys

    from tests.conftest import REPO

    code = ("import sys; from pathlib import Path; import pandas as pd\n"
            "from bench.results.atomic import atomic_write_json, atomic_write_parquet\n"
            "from bench.results.store import RunStore\n"
            "d = Path(sys.argv[1]); s = RunStore(d)\n"
            "s.write_part(0, pd.DataFrame({'participant_id': ['p'], 'item_id': ['i']})); s.finalize()\n"
            "atomic_write_json(d / 'metrics.json', {}); atomic_write_parquet(d / 'scores.parquet', pd.DataFrame({'x': [1]}))\n")
    out = subprocess.run(["/bin/bash", "-c", f'umask {umask:03o}; exec "$0" -c "$1" "$2"', sys.executable, code,
                          str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    files = ["responses.parquet", "metrics.json", "scores.parquet", "parts/part-000000.parquet",
             "parts/part-000000.parquet.json"]
    assert {f: oct(stat.S_IMODE((tmp_path / f).stat().st_mode)) for f in files} == dict.fromkeys(files, oct(mode))


@pytest.mark.subprocess
def test_a_second_holder_is_refused_naming_the_first_and_a_killed_one_blocks_nothing(tmp_path):
    import signal
    import socket
    import subprocess
    import sys

    from bench.results.atomic import FolderBusy, folder_lock
    from tests.conftest import REPO

    code = ("import sys, time; from pathlib import Path; from bench.results.atomic import folder_lock\n"
            "with folder_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusy, match=f"in use by pid {holder.pid} on host {socket.gethostname()}"):
            with folder_lock(tmp_path):
                pass
        with pytest.raises(FolderBusy, match=f"still in use by pid {holder.pid} .* after 0.3 s"):
            with folder_lock(tmp_path, wait_s=0.3):
                pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    with folder_lock(tmp_path):  # the OS dropped the dead holder's lock; its record is overwritten
        assert json.loads((tmp_path / "run.lock.json").read_text())["pid"] == os.getpid()
    assert not (tmp_path / "run.lock.json").exists()
