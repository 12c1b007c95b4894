"""Data-parallel training across processes and devices, and its failure behaviour.

Every scenario runs in subprocesses (``worker.py``, ``local_devices.py``) on 127.0.0.1 with
free ports and a hard outer timeout; a process still running then is killed and the test
fails. On a machine with few cores XLA's CPU collectives need ``PJRT_NPROC`` of at least
twice the device count, or queued steps deadlock: ``_ENV`` sets it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.distributed import worker

pytest.importorskip("jax")

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(worker.__file__)
TIMEOUT = 120

_ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT),
    "PJRT_NPROC": "8",
    "JAX_PLATFORMS": "cpu",
    # Keep the tasks' gloo and gRPC off any proxy.
    "NO_PROXY": "127.0.0.1,localhost",
}


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env or _ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait(procs: list[subprocess.Popen[bytes]], timeout: float = TIMEOUT) -> list[tuple[int, str, float]]:
    """Each process's exit code, output and seconds until it ended; kills every process (and
    fails) when one is still running after ``timeout`` seconds."""
    start = time.monotonic()
    ended: dict[int, float] = {}
    while len(ended) < len(procs):
        for i, p in enumerate(procs):
            if i not in ended and p.poll() is not None:
                ended[i] = time.monotonic() - start
        if time.monotonic() - start > timeout:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
            outs = [p.communicate()[0].decode(errors="replace")[-3000:] for p in procs]
            pytest.fail(f"a task still ran after {timeout} s:\n" + "\n----\n".join(outs))
        time.sleep(0.05)
    return [(p.returncode, p.communicate()[0].decode(errors="replace"), ended[i]) for i, p in enumerate(procs)]


def _run_cluster(mode: str, tmp_path: Path, tasks: int = 2) -> list[tuple[int, str, float]]:
    ports = ",".join(map(str, _free_ports(tasks)))
    procs = [_start([str(WORKER), mode, str(t), ports, str(tmp_path / f"task{t}")]) for t in range(tasks)]
    return _wait(procs)


def _error(path: Path) -> dict[str, object]:
    assert path.exists(), f"{path} was not written"
    return json.loads(path.read_text())


def test_two_processes_train_like_one_with_the_doubled_batch(tmp_path):
    """...and only the chief writes a checkpoint, which every task restores."""
    for t in range(2):
        (tmp_path / "checkpoints" / f"task{t}").mkdir(parents=True)
    results = _run_cluster("train", tmp_path)
    for code, out, _ in results:
        assert code == 0, out[-3000:]
    tasks = [np.load(tmp_path / f"task{t}.npz") for t in range(2)]
    reference = worker.train({}, 0, 1, batch=2 * worker.BATCH)
    initial = worker.train({}, 0, 1, batch=2 * worker.BATCH, steps=0)
    for name, value in reference.items():
        key = name.replace("/", "__")
        for params in tasks:
            np.testing.assert_allclose(params[key], value, rtol=0, atol=1e-5, err_msg=name)
        assert not np.allclose(initial[name], value, atol=1e-4), f"{name} did not train"
    assert (tmp_path / "checkpoints" / "task0" / "model.safetensors").exists()
    assert list((tmp_path / "checkpoints" / "task1").iterdir()) == []


def test_a_dead_peer_makes_the_other_raise_unavailable(tmp_path):
    (code0, out0, t0), (code1, _, t1) = _run_cluster("die", tmp_path)
    assert code1 == 3
    error = _error(tmp_path / "task0")
    assert error["error"] == "UnavailableError", out0[-3000:]
    assert "peer task" in str(error["message"])
    assert t0 - t1 < 15, f"task 0 ended {t0 - t1:.1f} s after task 1 died"


def test_a_stalled_peer_makes_the_other_miss_its_deadline(tmp_path):
    (_, out0, _), (code1, _, _) = _run_cluster("stall", tmp_path)
    error = _error(tmp_path / "task0")
    assert error["error"] == "DeadlineExceededError", out0[-3000:]
    assert "within 3000 ms" in str(error["message"])
    assert "no answer from /job:worker/task:1" in str(error["message"])
    # The stalled task does not outlive the cluster's coordinator.
    assert code1 != 0


def test_a_server_whose_peers_never_start_gives_up(tmp_path):
    """...and, side by side, a one-task cluster (``create_local_server``) trains."""
    # Task 0 of one cluster and task 1 of another, each alone.
    procs = [
        _start([str(WORKER), "alone", str(task), ",".join(map(str, _free_ports(2))), str(tmp_path / f"task{task}")])
        for task in (0, 1)
    ]
    local = _start([str(WORKER), "local", "0", "", str(tmp_path / "local.npz")])
    outputs = _wait([*procs, local])
    code, out, _ = outputs.pop()
    assert code == 0, out[-3000:]
    trained = np.load(tmp_path / "local.npz")
    for name, value in worker.train({}, 0, 1, steps=5).items():
        np.testing.assert_allclose(trained[name.replace("/", "__")], value, rtol=0, atol=1e-6, err_msg=name)
    expected = ["/job:worker/task:1 did not connect within 5 s", "the coordinator /job:worker/task:0 at 127.0.0.1:"]
    for task, (code, out, _) in enumerate(outputs):
        assert code == 0, out[-3000:]  # it recorded the error and ended by itself
        error = _error(tmp_path / f"task{task}")
        assert error["error"] == "DeadlineExceededError", out[-3000:]
        assert expected[task] in str(error["message"])
        assert 5 <= float(error["seconds"]) < 15


def test_the_example_trains_on_two_workers(tmp_path):
    ports = ",".join(map(str, _free_ports(2)))
    example = ROOT / "examples" / "distributed_mnist.py"
    args = ["--ports", ports, "--steps", "50", "--logdir", str(tmp_path)]
    outputs = _wait([_start([str(example), "--task", str(task), *args]) for task in (0, 1)])
    for code, out, _ in outputs:
        assert code == 0, out[-3000:]
    assert "step 50: loss" in outputs[0][1] and "step 50" not in outputs[1][1]
    assert (tmp_path / "model.ckpt-50.safetensors").exists()


def test_four_local_devices_train_like_one(tmp_path):
    env = {**_ENV, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    [(code, out, _)] = _wait([_start(["-m", "tests.distributed.local_devices"], env)])
    assert code == 0, out[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["devices"] == 4
    assert result["max_diff"] <= 1e-5
    assert result["logits_shape"] == [8, 10] and result["logits_diff"] <= 1e-5
    assert "splits the batch of 'input/x' over 4 devices" in result["indivisible"]
    assert "6 rows" in result["indivisible"]
