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
    """...and only the chief writes a checkpoint, which every task restores; summaries fetched
    with a training step are written by the chief only; a placeholder placed on task 1 takes
    task 1's value on both tasks (``worker.cluster_checks``)."""
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
    _check_cluster_checks(tasks, tmp_path / "events")


def _check_cluster_checks(tasks: list, logdir: Path) -> None:
    import flowir as tf

    xs = worker.check_batches(2)
    with tf.Graph().as_default():
        x, loss, train_step, _, init = worker.build_check_model()
        with tf.Session() as sess:
            sess.run(init)
            expected = [sess.run([loss, train_step], {x: xs[step]})[0] for step in range(worker.CHECK_STEPS)]
    for params in tasks:
        np.testing.assert_allclose(params["check_losses"], expected, rtol=1e-6)
        np.testing.assert_array_equal(params["check_shift"], [20.0] * 3)  # task 1 fed 20s, task 0 10s
        np.testing.assert_array_equal(params["check_scale"], [3.0, -4.0])  # task 0 left it out
        # Each task's own rows, split along the batch: the fetch holds both tasks' rows.
        np.testing.assert_array_equal(params["check_own"], [2.0, 4.0, 6.0, 8.0])
        disagreement = str(params["check_disagreement"])
        assert "placeholder 'swapped' is placed on different tasks by different tasks" in disagreement
        assert "task /job:worker/task:0 names /job:worker/task:1" in disagreement
    assert not (logdir / "task1").exists()
    (events,) = (logdir / "task0").iterdir()
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    acc = ea.EventAccumulator(str(events), size_guidance={ea.SCALARS: 0, ea.HISTOGRAMS: 0})
    acc.Reload()
    assert sorted(acc.Tags()["histograms"]) == ["inputs", "weights"]
    scalars = acc.Scalars("loss")
    assert [e.step for e in scalars] == list(range(worker.CHECK_STEPS))
    np.testing.assert_allclose([e.value for e in scalars], expected, rtol=1e-6)
    # The chief summarises its own rows of the batch feed, the weights it holds like every task.
    assert {e.histogram_value.num for e in acc.Histograms("inputs")} == {worker.CHECK_ROWS * worker.CHECK_FEATURES}
    assert {e.histogram_value.num for e in acc.Histograms("weights")} == {worker.CHECK_FEATURES}


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
    placed = json.loads((tmp_path / "local.json").read_text())
    assert placed["mine"] == [2.0, 4.0, 6.0]
    assert "placeholder 'missing' is placed on '/job:worker/task:0', which is no task of the cluster" in placed["missing"]
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
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1  # the chief's only


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
    # Summaries fetched with the training step: the loss equals the single-device run's, and
    # the step still donates the variables it updates.
    for (loss, summarised, count, total), (loss_1, summarised_1, count_1, total_1) in zip(
        result["summaries_parallel"], result["summaries_plain"]
    ):
        assert summarised == pytest.approx(loss, rel=1e-6) and loss == pytest.approx(loss_1, rel=1e-5)
        assert summarised == pytest.approx(summarised_1, rel=1e-5)
        assert count == count_1 == 80 and total == pytest.approx(total_1, rel=1e-4, abs=1e-4)
    [donated] = result["summary_donated"]
    assert len(donated) == 6  # the three layers' weights and biases
    # batch_buckets: 1, 3, 5, 8 rows pad to 4, 4, 8, 8 (multiples of the 4 devices).
    assert result["bucket_shapes"] == [[1, 10], [3, 10], [5, 10], [8, 10]]
    assert result["bucket_diff"] <= 1e-5 and result["bucket_compiles"] == 2
    assert "splits the batch of 'input/x' over 4 devices" in result["bucket_error"]
    # A placeholder placed on task 0 is not split (3 values over 4 devices).
    assert result["task_feed"] == [12.0] * 4
    assert "placeholder 'other' is placed on '/job:worker/task:1'" in result["task_feed_error"]
    assert "runs in one process, which is task 0" in result["task_feed_error"]
