"""A Spark session configured for the workbench: Spark's own configuration first, then a few fixed settings.

The master is ``--spark-master`` when given; otherwise whatever Spark's configuration says (``spark.master`` in
``$SPARK_CONF_DIR/spark-defaults.conf``, as ``spark-submit`` reads it), and ``local[*]`` when nothing does. The
settings fixed here are the ones the numbers depend on: UTC as the session time zone (periods are UTC days,
weeks and months, as in the pandas engine) and Arrow for the pandas exchange. Executors run the driver's own
Python (``spark.pyspark.python``) unless ``PYSPARK_PYTHON`` names another, so on a cluster the workbench and its
dependencies must be installed at the same path on every worker (or ``PYSPARK_PYTHON`` pointed at them).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class SparkUnavailableError(RuntimeError):
    """PySpark or Java is missing, or the session cannot start; the message says which and how to fix it."""


def spark_available() -> str | None:
    """None when PySpark and Java are present; otherwise what is missing, as a sentence."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed: pip install -e '.[spark]'"
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "Java is not installed: Spark needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)"
    return None


def spark_session(master: str | None = None, app_name: str = "workbench") -> SparkSession:
    """The active session, or a new one on ``master`` (None: Spark's configuration, else ``local[*]``)."""
    missing = spark_available()
    if missing:
        raise SparkUnavailableError(missing)
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    elif not SparkConf().contains("spark.master"):
        builder = builder.master("local[*]")
    python = os.environ.get("PYSPARK_PYTHON") or sys.executable
    builder = (
        builder.config("spark.pyspark.python", python)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
    )
    try:
        session = builder.getOrCreate()
    except Exception as error:  # the JVM did not start or the master cannot be reached
        raise SparkUnavailableError(f"Spark did not start (master {master or 'from configuration'}): {error}") from None
    session.sparkContext.setLogLevel("ERROR")
    return session
