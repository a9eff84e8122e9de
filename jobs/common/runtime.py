"""Where the jobs run: one place that starts Spark, the same on Glue and on a laptop."""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports on_glue and the job protocol without starting PySpark
    from pyspark.sql import SparkSession

from jobs.common.errors import ConfigurationError

RUNTIME_SETTING = "MEDALLION_RUNTIME"
"""Set to ``local`` by the local job runner and job host for every job they launch."""

JIT_SETTING = "MEDALLION_JIT"
"""How the local JVM compiles: ``full`` (the JVM's default, tiered: C1, then C2 for hot code) or
``quick`` (C1 only). The local runner sets it per run (``medallion.local.jit``)."""
JIT_OPTIONS = {"full": "", "quick": " -XX:TieredStopAtLevel=1"}

CLASS_ARCHIVE_SETTING = "MEDALLION_CLASS_ARCHIVE"
"""``off`` starts the local JVM without the class archive (``medallion.local.classcache``) even
when there is one; the archive's build sets it for the JVM it trains."""

SPARK_SETTINGS = {
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
JAVA_OPTIONS = os.environ.get(
    "MEDALLION_JAVA_OPTIONS", "-XX:+UseParallelGC -Dderby.system.home=/tmp"
)  # the local JVM's options, before the compiler's (JIT_OPTIONS) and the class archive's
LOCAL_SETTINGS = {
    # Measured on 2 cores (shared/PERFORMANCE.md): 8 shuffle partitions with adaptive execution
    # on. Only locally: on Glue the default follows the workers auto scaling gives the job.
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # A batch job on two cores wants throughput: the parallel collector beat G1 by about 8% on
    # the 1M-line benchmark, and a 2 GiB heap keeps the whole run near 3 GiB resident.
    "spark.driver.memory": os.environ.get("MEDALLION_DRIVER_MEMORY", "2g"),
    "spark.driver.extraJavaOptions": JAVA_OPTIONS
    + JIT_OPTIONS.get(os.environ.get(JIT_SETTING, "full"), ""),
    "spark.sql.warehouse.dir": os.path.join(os.environ.get("TMPDIR", "/tmp"), "medallion-wh"),
    "spark.hadoop.fs.file.impl.disable.cache": "true",
}


def on_glue(argv: list[str] | None = None) -> bool:
    """Whether this process is a job run on AWS Glue; the one place that decides it.

    The local job runner and job host launch a job as Glue does, ``--JOB_RUN_ID`` included, and
    mark it ``MEDALLION_RUNTIME=local``; that marker decides. Glue documents no environment
    variable of its own, and guessing one wrong would run a Glue job in local mode on its driver
    with the development PII salt, so the marker errs the safe way for every launch of ours. A
    process nobody marked (a developer's ``python jobs/gold/job.py``, a test starting a script
    itself) is on Glue only if it got the job run id Glue passes to every run.
    """
    marker = os.environ.get(RUNTIME_SETTING, "").strip().lower()
    if marker in ("local", "glue"):
        return marker == "glue"
    if marker:
        raise ConfigurationError(f"{RUNTIME_SETTING} must be 'local' or 'glue', not {marker!r}")
    return "--JOB_RUN_ID" in (sys.argv if argv is None else argv)


def region_of_arn(arn: str) -> str | None:
    """The region field of an ARN (``arn:aws:secretsmanager:<region>:...``), None if not one.

    A client for a resource named by ARN must call that resource's region, whatever region the
    process's configuration names.
    """
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None


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
        # Spark's Python workers (PySpark ships local rows through them) run PYSPARK_PYTHON,
        # else whatever `python3` the PATH finds first, which may be another Python than this
        # one, a version PySpark refuses to pair with it. Locally they run this interpreter,
        # as Glue's workers run its driver's.
        os.environ["PYSPARK_PYTHON"] = sys.executable
        master = os.environ.get("MEDALLION_SPARK_MASTER", "local[2]")
        builder = builder.master(master)
        java_options = LOCAL_SETTINGS["spark.driver.extraJavaOptions"] + class_archive_options()
        settings = {**LOCAL_SETTINGS, "spark.driver.extraJavaOptions": java_options}
        for key, value in settings.items():
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("MEDALLION_SPARK_LOG_LEVEL", "ERROR"))
    pin_jvm_names(spark)
    return spark


def java_command() -> str | None:
    """The Java that spark-submit starts: ``$JAVA_HOME/bin/java``, else ``java`` on the PATH."""
    home = os.environ.get("JAVA_HOME")
    return os.path.join(home, "bin", "java") if home else shutil.which("java")


def class_archive_path() -> str | None:
    """Where the class archive of this Java and these Spark jars is kept (None without Java).

    A JVM maps an archive only when it was dumped by the same JVM build with the same class
    path, so the name is a digest of both: the Java binary (its real path, size and time) and
    the names of PySpark's jars. Another Java or another PySpark finds no archive, never a
    wrong one.
    """
    import hashlib

    import pyspark

    java = java_command()
    if not java or not os.path.exists(java):
        return None
    real = os.path.realpath(java)
    status = os.stat(real)
    jars = sorted(os.listdir(os.path.join(os.path.dirname(pyspark.__file__), "jars")))
    identity = "\n".join([real, str(status.st_size), str(status.st_mtime_ns), *jars])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return os.path.join(sys.prefix, "share", "medallion", f"spark-classes-{digest}.jsa")


def class_archive_options() -> str:
    """The JVM options that map the class archive, when one was built for this Java and these
    jars (``scripts/setup.sh`` builds it), else none.

    An application class-data sharing archive holds the classes a pipeline run loads, already
    parsed and verified: the JVM maps it instead of loading each class from the jars
    (https://docs.oracle.com/en/java/javase/17/vm/class-data-sharing.html). Measured on the
    1,000,000-line benchmark's delivery: bronze, the run's first job, 5.0-6.6 s against 8.8-10.3 s.
    An archive the JVM cannot use is skipped, silently (its ``cds`` warnings are off).
    """
    if os.environ.get(CLASS_ARCHIVE_SETTING, "").strip().lower() == "off":
        return ""
    path = class_archive_path()
    if path is None or not os.path.isfile(path):
        return ""
    return f" -XX:SharedArchiveFile={path} -Xlog:cds=off,cds+dynamic=off"


PINNED_CLASSES = ("functions", "PythonUtils")
"""The classes PySpark looks up through the gateway's JVM view on nearly every DataFrame call:
``sc._jvm.functions`` for each ``pyspark.sql.functions`` call and literal, ``PythonUtils`` for each
list of columns. One small delivery run looked them up 2,590 and 550 times."""


class StaticMembers:
    """A Java class (py4j ``JavaClass``) whose static methods are looked up once.

    py4j asks the JVM for a class's member on every attribute access; the methods of a class do
    not change while the JVM runs, so each found method (``JavaMember``) is kept. Anything else
    (a field's value, a nested class) is looked up every time, as py4j does.
    """

    def __init__(self, java_class: Any) -> None:
        self._java_class = java_class

    def __getattr__(self, name: str) -> Any:
        from py4j.java_gateway import JavaMember

        member = getattr(self._java_class, name)
        if isinstance(member, JavaMember):
            setattr(self, name, member)  # found in the instance's dict from now on
        return member


def pin_jvm_names(spark: SparkSession) -> None:
    """Resolve :data:`PINNED_CLASSES` once, as plain attributes of the SparkContext's JVM view.

    py4j resolves a simple name like ``functions`` on every access: ``Class.forName`` of the bare
    name, then of each star import PySpark registered until one loads (py4j's
    ``TypeUtil.getClass``), and each miss searches every jar on the classpath. In a profile of a
    small local run (Java Flight Recorder), those lookups were a quarter of the CPU samples of the
    driver JVM's py4j threads. An attribute set on the view is found by Python before py4j's
    ``__getattr__`` is asked, so PySpark's own calls use it unchanged; on Glue as on a laptop.
    """
    jvm = spark.sparkContext._jvm
    if jvm is None:
        return
    for name in PINNED_CLASSES:
        if name not in vars(jvm):  # once per JVM view, whichever copy of this module pinned it
            setattr(jvm, name, StaticMembers(getattr(jvm, name)))
