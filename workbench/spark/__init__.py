"""Apache Spark for the workbench: one way to get a session, local by default, any cluster by its master URL."""

from workbench.spark._session import SparkUnavailableError, spark_available, spark_session

__all__ = ["SparkUnavailableError", "spark_available", "spark_session"]
