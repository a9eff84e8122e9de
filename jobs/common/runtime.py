"""Where the jobs run: one place that starts Spark, the same on Glue and on a laptop."""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports on_glue and the job protocol without starting PySpark
    from pyspark.sql import SparkSession

from jobs.common.errors import ConfigurationError

# Measured on 2 cores (shared/PERFORMANCE.md): 8 shuffle partitions with adaptive execution on.
SPARK_SETTINGS = {
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.sql.files.maxPartitionBytes": "64m",
    # A batch called 2011-12-09 or r1.2 is a name, not a date or a number.
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
}
LOCAL_SETTINGS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # A batch job on two cores wants throughput: the parallel collector beat G1 by about 8% on
    # the 1M-line benchmark, and a 2 GiB heap keeps the whole run near 3 GiB resident.
    "spark.driver.memory": os.environ.get("MEDALLION_DRIVER_MEMORY", "2g"),
    "spark.driver.extraJavaOptions": os.environ.get(
        "MEDALLION_JAVA_OPTIONS", "-XX:+UseParallelGC -Dderby.system.home=/tmp"
    ),
    "spark.sql.warehouse.dir": os.path.join(os.environ.get("TMPDIR", "/tmp"), "medallion-wh"),
    "spark.hadoop.fs.file.impl.disable.cache": "true",
}


def on_glue(argv: list[str] | None = None) -> bool:
    """Glue passes --JOB_RUN_ID to every job run; a local run never does."""
    return "--JOB_RUN_ID" in (sys.argv if argv is None else argv)


def require_java() -> None:
    """Fail with a clear message, not a py4j traceback, when no Java is installed."""
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return
    raise ConfigurationError(
        "Java was not found: PySpark needs a Java 17 runtime "
        "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless, or set JAVA_HOME)"
    )


def get_spark(app_name: str, glue: bool | None = None) -> SparkSession:
    """Return the job's SparkSession: Glue's own on AWS, a tuned local[2] one on a laptop."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    for key, value in SPARK_SETTINGS.items():
        builder = builder.config(key, value)
    if not (on_glue() if glue is None else glue):
        require_java()
        master = os.environ.get("MEDALLION_SPARK_MASTER", "local[2]")
        builder = builder.master(master)
        for key, value in LOCAL_SETTINGS.items():
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("MEDALLION_SPARK_LOG_LEVEL", "ERROR"))
    return spark
