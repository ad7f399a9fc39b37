"""A real standalone Spark cluster on localhost for the tests: one master and one worker, started with Spark's
own ``spark-class`` from PySpark's wheel, and one Spark session on it for the whole test session.

Each process is waited on by the line Spark logs once it is ready (the master's "I have been elected leader",
the worker's "Successfully registered with master"), never by a fixed sleep, and both are stopped (SIGTERM,
then SIGKILL) at the end. Executors run this interpreter with the worktree on ``PYTHONPATH``, as a cluster's
workers run the installed workbench.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 120


def java_missing() -> str | None:
    """Why Spark cannot run here (no Java, no PySpark), or None."""
    from workbench.spark import spark_available

    return spark_available()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Daemon:
    """One Spark daemon (master or worker) whose log is followed for a line that says it is ready."""

    def __init__(self, name: str, args: list[str], log: Path, env: dict[str, str]) -> None:
        import pyspark

        spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
        self.name, self.log = name, log
        self.ready = threading.Event()
        self.lines: list[str] = []
        self.wanted = ""
        self.process = subprocess.Popen(
            [str(spark_class), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        self.reader = threading.Thread(target=self._follow, daemon=True)

    def _follow(self) -> None:
        with open(self.log, "w") as out:
            for line in self.process.stdout:
                out.write(line)
                out.flush()
                self.lines.append(line)
                if self.wanted in line:
                    self.ready.set()
        self.ready.set()  # the process ended: wake the waiter, which then sees it has exited

    def wait_for(self, text: str) -> None:
        self.wanted = text
        self.reader.start()
        if not self.ready.wait(STARTUP_SECONDS) or self.process.poll() is not None:
            tail = "".join(self.lines[-20:])
            self.stop()
            raise RuntimeError(f"the Spark {self.name} did not report {text!r} (log {self.log}):\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)


@contextmanager
def standalone_cluster(work: Path):
    """A master and one worker (2 cores, 1 GB) on 127.0.0.1; yields the master URL."""
    import pyspark

    port = _free_port()
    env = {
        **os.environ,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "SPARK_LOG_DIR": str(work / "logs"),
        "SPARK_WORKER_DIR": str(work / "worker"),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "SPARK_NO_DAEMONIZE": "1",
    }
    env.pop("SPARK_CONF_DIR", None)
    (work / "worker").mkdir(parents=True, exist_ok=True)
    url = f"spark://127.0.0.1:{port}"
    master = _Daemon(
        "master",
        ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port), "--webui-port", "0"],
        work / "master.log",
        env,
    )
    worker = None
    try:
        master.wait_for("I have been elected leader")
        worker = _Daemon(
            "worker",
            [
                "org.apache.spark.deploy.worker.Worker",
                url,
                "--host",
                "127.0.0.1",
                "--cores",
                "2",
                "--memory",
                "1g",
                "--webui-port",
                "0",
                "--work-dir",
                str(work / "worker"),
            ],
            work / "worker.log",
            env,
        )
        worker.wait_for("Successfully registered with master")
        yield url
    finally:
        if worker is not None:
            worker.stop()
        master.stop()
        shutil.rmtree(work / "worker", ignore_errors=True)


@contextmanager
def cluster_session(work: Path):
    """The test session's Spark session on a fresh standalone cluster; yields (session, master URL)."""
    from workbench.spark import spark_session

    with standalone_cluster(work) as url:
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        session = spark_session(url, app_name="workbench-tests")
        session.conf.set("spark.sql.shuffle.partitions", "4")
        try:
            yield session, url
        finally:
            session.stop()
