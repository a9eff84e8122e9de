"""The state machine definition: valid for cfn-lint and asl-validator, every state reachable, every
Task's failure caught and alerted, placeholders documented, rendering pure."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobs.common.lake import LakePaths
from medallion.local.jobrunner import REPO_ROOT
from medallion.spec.definition import (
    DEFAULTS,
    PLACEHOLDERS,
    DefinitionError,
    render_definition,
    template_placeholders,
)
from medallion.spec.views import view_statements

ALERT = "Notify failure"
# The same alert under a subject bounded by construction, when SNS refuses the full one.
BRIEF_ALERT = "Notify failure briefly"
# A succeeded run's notice: bronze's files not read (jobs/bronze/notice.py).
NOTICE_READ = "Read bronze notice"
NOTICE_ALERT = "Notify left out"
SUBSTITUTIONS = {
    "BronzeJobName": "medallion-dev-bronze",
    "SilverJobName": "medallion-dev-silver",
    "GoldJobName": "medallion-dev-gold",
    "BronzeCrawlerName": "medallion-dev-bronze",
    "SilverCrawlerName": "medallion-dev-silver",
    "GoldCrawlerName": "medallion-dev-gold",
    "AlertTopicArn": "arn:aws:sns:eu-west-1:123456789012:medallion-dev-alerts",
    "AthenaWorkGroup": "medallion-dev-analysts",
    "GoldDatabase": "medallion_dev_gold",
    "Environment": "dev",
    "LakeRoot": "s3://medallion-dev-lake-123456789012",
    "LakeBucket": "medallion-dev-lake-123456789012",
    "ContractsRoot": "s3://medallion-dev-artifacts-123456789012/contracts",
}


@pytest.fixture(scope="module")
def rendered() -> str:
    return render_definition(SUBSTITUTIONS, view_statements())


@pytest.fixture(scope="module")
def states(rendered: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(rendered)["States"]
    return parsed


def successors(state: dict[str, Any], with_catch: bool = True) -> Iterator[str]:
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for choice in state.get("Choices", []):
        yield choice["Next"]
    if with_catch:
        for catcher in state.get("Catch", []):
            yield catcher["Next"]


def reachable(states: dict[str, Any], start: str, with_catch: bool = True) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(successors(states[name], with_catch))
    return seen


def test_asl_validator_accepts_the_rendered_definition(rendered: str, tmp_path: Path):
    path = tmp_path / "pipeline.json"
    path.write_text(rendered)
    validator = REPO_ROOT / "node_modules" / ".bin" / "asl-validator"
    done = subprocess.run(
        [str(validator), "--json-path", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def cfn_lint(definition: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Pipeline": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/medallion-dev-pipeline",
                    "Definition": definition,
                },
            }
        },
    }
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    cfn = Path(REPO_ROOT / ".venv" / "bin" / "cfn-lint")
    return subprocess.run([str(cfn), str(path)], capture_output=True, text=True, check=False)


def test_cfn_lint_state_machine_schema_accepts_the_definition(rendered: str, tmp_path: Path):
    done = cfn_lint(json.loads(rendered), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_cfn_lint_would_catch_a_broken_definition(rendered: str, tmp_path: Path):
    broken = json.loads(rendered)
    broken["States"]["Bronze job"]["Retries"] = broken["States"]["Bronze job"].pop("Retry")
    done = cfn_lint(broken, tmp_path)
    assert done.returncode != 0 and "E3601" in done.stdout


def test_every_state_is_reachable(rendered: str, states: dict[str, Any]):
    start = json.loads(rendered)["StartAt"]
    assert reachable(states, start) == set(states)


def branches(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The branches of every Parallel state: each has states of its own."""
    for state in states.values():
        yield from state.get("Branches", [])


def test_every_task_catches_everything_and_the_catch_leads_to_the_alert(states: dict[str, Any]):
    tasks = {name: s for name, s in states.items() if s["Type"] in ("Task", "Parallel")}
    assert len(tasks) >= 3 + 3 + 3 + 1 + 1
    for name, task in tasks.items():
        catchers = task.get("Catch", [])
        assert any(c["ErrorEquals"] == ["States.ALL"] for c in catchers), name
        for catcher in catchers:
            after = reachable(states, catcher["Next"])
            if name in (NOTICE_READ, NOTICE_ALERT):
                # The data is in: a notice that cannot be read or sent never fails the run.
                assert catcher["Next"] == "Run succeeded"
            elif name == ALERT:
                # The alert's failure sends it again, briefly, and still ends FAILED.
                assert catcher["Next"] == BRIEF_ALERT
                assert "Run succeeded" not in after, name
            elif name == BRIEF_ALERT:
                assert states[catcher["Next"]]["Type"] == "Fail"
            else:
                assert ALERT in after, name
                # Nothing after a failure leads back into the pipeline.
                assert "Run succeeded" not in after, name


def test_a_task_inside_a_branch_fails_its_branch_with_its_name_and_error(states: dict[str, Any]):
    # A branch's states are invisible to the Parallel state's Catch, which sees only the
    # branch's Error and Cause: each view's failure ends in a Fail state carrying both.
    views = list(branches(states))
    assert len(views) == len(view_statements())
    for branch in views:
        inner = branch["States"]
        task = inner[branch["StartAt"]]
        assert task["Type"] == "Task" and task.get("End") is True
        [catcher] = task["Catch"]
        assert catcher["ErrorEquals"] == ["States.ALL"]
        failed = inner[catcher["Next"]]
        assert failed["Parameters"] == {
            "state": branch["StartAt"],
            "error.$": catcher["ResultPath"],
        }
        fail = inner[failed["Next"]]
        assert fail["Type"] == "Fail"
        assert fail["Error"] == "Medallion.ViewFailed"
        assert fail["CausePath"] == f"States.JsonToString({failed['ResultPath']})"
        assert not set(inner) & set(states), "state names are unique across the machine"


def test_the_failure_path_reaches_the_alert_then_fails(states: dict[str, Any]):
    assert states[ALERT]["Resource"] == "arn:aws:states:::sns:publish"
    assert states[ALERT]["Next"] == "Run failed"
    assert states["Run failed"]["Type"] == "Fail"
    # One failure alert: no other state publishes, but its brief form when the first is refused,
    # and the notice of a succeeded run, which leads nowhere near the failure.
    publishers = [n for n, s in states.items() if "sns:publish" in s.get("Resource", "")]
    assert sorted(publishers) == sorted([ALERT, BRIEF_ALERT, NOTICE_ALERT])
    assert reachable(states, NOTICE_ALERT) == {NOTICE_ALERT, "Run succeeded"}
    assert states[BRIEF_ALERT]["Next"] == "Run failed"
    assert (
        states[BRIEF_ALERT]["Parameters"]["Message.$"] == states[ALERT]["Parameters"]["Message.$"]
    )


def test_the_alert_names_environment_execution_state_error_cause_start_and_console(
    states: dict[str, Any],
):
    subject = states["Compose alert"]["Parameters"]["subject.$"]
    assert subject.startswith("States.Format('[medallion] dev run {} FAILED at {}'")
    assert "$$.Execution.Name" in subject and "$.failed_state" in subject
    message = states[ALERT]["Parameters"]["Message.$"]
    for part in ("State: {}", "Error: {}", "Cause: {}", "Started: {}", "console.aws.amazon.com"):
        assert part in message
    assert "$$.Execution.StartTime" in message and "$$.Execution.Id" in message
    assert states[ALERT]["Parameters"]["TopicArn"] == SUBSTITUTIONS["AlertTopicArn"]


def test_jobs_are_glue_sync_tasks_with_trimmed_results_and_transient_retries(
    states: dict[str, Any],
):
    for layer in ("Bronze", "Silver", "Gold"):
        task = states[f"{layer} job"]
        assert task["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
        assert task["Parameters"]["JobName"] == SUBSTITUTIONS[f"{layer}JobName"]
        assert set(task["ResultSelector"]) == {"JobRunId.$", "JobRunState.$", "ExecutionTime.$"}
        retry = task["Retry"][0]
        assert "Glue.ConcurrentRunsExceededException" in retry["ErrorEquals"]
        assert retry["BackoffRate"] > 1 and "States.ALL" not in retry["ErrorEquals"]
        arguments = task["Parameters"]["Arguments"]
        assert arguments["--lake_root"] == SUBSTITUTIONS["LakeRoot"]
        assert arguments["--run_id.$"] == "$.options.run_id"
        assert arguments["--full_refresh.$"] == "$.options.full_refresh"
    assert states["Bronze job"]["Parameters"]["Arguments"]["--datasets.$"] == "$.options.datasets"
    gold = states["Gold job"]["Parameters"]["Arguments"]
    assert gold["--observation_end.$"] == "$.options.observation_end"


def test_crawlers_are_started_and_polled_with_a_bound(states: dict[str, Any]):
    for layer in ("bronze", "silver", "gold"):
        start = states[f"Start {layer} crawler"]
        assert start["Resource"] == "arn:aws:states:::aws-sdk:glue:startCrawler"
        assert "Glue.CrawlerRunningException" in start["Retry"][0]["ErrorEquals"]
        assert states[f"Get {layer} crawler"]["Resource"].endswith("aws-sdk:glue:getCrawler")
        ready = states[f"{layer.title()} crawler READY?"]
        bounds = [c for c in ready["Choices"] if "NumericGreaterThanEquals" in c]
        assert bounds == [
            {
                "Variable": "$.crawler_polls.value",
                "NumericGreaterThanEquals": int(DEFAULTS["CrawlerMaxPolls"]),
                "Next": f"{layer.title()} crawler timed out",
            }
        ]
    assert states["Wait for bronze crawler"]["Seconds"] == int(DEFAULTS["CrawlerPollSeconds"])


def test_each_crawler_starts_as_soon_as_its_job_has_written_the_layer(states: dict[str, Any]):
    # The bronze and silver crawls run while the next jobs do; the polls come after gold's start,
    # each crawler looked at before any wait (a wait only follows a look that found it running).
    chain = ["Bronze job", "Start bronze crawler", "Silver job", "Start silver crawler"]
    chain += ["Gold job", "Start gold crawler", "Start crawler polls", "Get bronze crawler"]
    for state, following in itertools.pairwise(chain):
        assert states[state]["Next"] == following


def test_every_view_is_created_with_athena_sync_in_the_workgroup_side_by_side(
    states: dict[str, Any],
):
    views = view_statements()
    created = {b["StartAt"]: b["States"][b["StartAt"]] for b in branches(states)}
    assert set(created) == {f"Create view {name}" for name, _ in views}
    for name, sql in views:
        task = created[f"Create view {name}"]
        assert task["Resource"] == "arn:aws:states:::athena:startQueryExecution.sync"
        assert task["Parameters"] == {
            "QueryString": sql,
            "WorkGroup": SUBSTITUTIONS["AthenaWorkGroup"],
            "QueryExecutionContext": {"Database": SUBSTITUTIONS["GoldDatabase"]},
        }
    assert states["Views"]["Next"] == "Create views"
    assert states["Create views"]["Type"] == "Parallel"
    assert states["Create views"]["Next"] == NOTICE_READ


def test_a_succeeded_run_reads_its_own_bronze_notice_and_emails_only_when_it_names_files(
    states: dict[str, Any],
):
    read = states[NOTICE_READ]
    assert read["Resource"] == "arn:aws:states:::aws-sdk:s3:getObject"
    assert read["Parameters"]["Bucket"] == SUBSTITUTIONS["LakeBucket"]
    # The key the bronze job writes the run's notice under, for this run id.
    key = read["Parameters"]["Key.$"]
    assert key == "States.Format('_meta/notices/{}/bronze.json', $.options.run_id)"
    written = LakePaths(SUBSTITUTIONS["LakeRoot"]).bronze_notice("r-1")
    assert written == SUBSTITUTIONS["LakeRoot"] + "/_meta/notices/r-1/bronze.json"
    assert read["Next"] == "Anything left out?"
    choice = states["Anything left out?"]
    assert choice["Default"] == "Run succeeded"
    [rule] = choice["Choices"]
    assert rule["Next"] == NOTICE_ALERT
    assert {"Variable": "$.bronze.notice.count", "NumericGreaterThan": 0} in rule["And"]
    alert = states[NOTICE_ALERT]
    assert alert["Parameters"]["TopicArn"] == SUBSTITUTIONS["AlertTopicArn"]
    assert alert["Next"] == "Run succeeded"
    # No run id in the subject: SNS refuses one over 100 characters.
    subject = alert["Parameters"]["Subject.$"]
    assert "$.options" not in subject and "Execution" not in subject
    assert "$.options.run_id" in alert["Parameters"]["Message.$"]


def test_rendering_is_pure_and_fills_every_placeholder(rendered: str):
    assert render_definition(SUBSTITUTIONS, view_statements()) == rendered
    assert "${" not in rendered
    assert json.loads(rendered)["TimeoutSeconds"] == int(DEFAULTS["ExecutionTimeoutSeconds"])


def test_placeholders_are_declared_and_documented():
    rendered_views = render_definition(
        {k: f"${{{k}}}" for k in PLACEHOLDERS}, [("v", "CREATE OR REPLACE VIEW gold.v AS SELECT 1")]
    )
    used = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", rendered_views))
    integers = {"CrawlerPollSeconds", "CrawlerMaxPolls", "ExecutionTimeoutSeconds"}
    assert used | integers == set(PLACEHOLDERS)
    assert template_placeholders() <= set(PLACEHOLDERS)
    readme = (REPO_ROOT / "statemachine" / "README.md").read_text()
    for name in PLACEHOLDERS:
        assert f"${{{name}}}" in readme, name


def test_cloudformation_tokens_pass_through_for_definition_substitutions():
    tokens = {k: f"${{{k}}}" for k in SUBSTITUTIONS}
    text = render_definition(tokens, [])
    assert '"JobName": "${BronzeJobName}"' in text
    assert "[medallion] ${Environment} run {} FAILED at {}" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Typo": "x"}, "unknown placeholder"),
        ({"Environment": "it's"}, "quotes, braces"),
        ({"CrawlerMaxPolls": "many"}, "whole number"),
    ],
)
def test_bad_substitutions_are_refused(change: dict[str, str], message: str):
    with pytest.raises(DefinitionError, match=message):
        render_definition({**SUBSTITUTIONS, **change}, [])


def test_missing_placeholders_are_named():
    partial = {k: v for k, v in SUBSTITUTIONS.items() if k != "AlertTopicArn"}
    with pytest.raises(DefinitionError, match=r"missing placeholder.*AlertTopicArn"):
        render_definition(partial, [])


def test_landing_defaults_to_the_lake_landing_directory(states: dict[str, Any]):
    arguments = states["Bronze job"]["Parameters"]["Arguments"]
    assert arguments["--landing_root"] == SUBSTITUTIONS["LakeRoot"] + "/landing"


def test_a_view_whose_branch_state_names_exceed_80_characters_is_refused():
    # Step Functions refuses a state name over 80 characters; a view's longest is the Fail state
    # that ends its branch: "Create view <name> stops the views".
    fits, too_long = "v" * 52, "v" * 53
    sql = "CREATE OR REPLACE VIEW gold.{} AS SELECT 1"
    rendered = json.loads(render_definition(SUBSTITUTIONS, [(fits, sql.format(fits))]))
    [branch] = rendered["States"]["Create views"]["Branches"]
    assert max(len(name) for name in branch["States"]) == 80
    with pytest.raises(DefinitionError, match="longer than 80 characters"):
        render_definition(SUBSTITUTIONS, [(too_long, sql.format(too_long))])
