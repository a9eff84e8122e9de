"""Alerts: the encrypted SNS topic and its email subscription, the failed-run alarm, the budget."""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Ref, Sub, Template, budgets, cloudwatch, sns

from infra.common import name, tags
from infra.iam import document, statement
from infra.storage import Storage

HAS_ALERT_EMAIL = "HasAlertEmail"
HAS_BUDGET = "HasMonthlyBudget"


@dataclass(frozen=True)
class Alerts:
    """The alert topic, which the state machine publishes to."""

    topic: sns.Topic


def topic_policy_document(topic: sns.Topic) -> dict[str, object]:
    """Who may publish to the topic: CloudWatch alarms and Budgets of this account, over TLS.

    Parameters
    ----------
    topic : sns.Topic
        The alert topic.

    Returns
    -------
    dict
        The topic policy. The state machine publishes with its role's own permission.
    """
    account = {"aws:SourceAccount": Sub("${AWS::AccountId}")}
    publish = statement(
        "AlarmsAndBudgetsPublish",
        ["sns:Publish"],
        [Ref(topic)],
        condition={"StringEquals": account},
    )
    publish["Principal"] = {"Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]}
    deny = statement(
        "DenyInsecureTransport",
        ["sns:Publish"],
        [Ref(topic)],
        effect="Deny",
        condition={"Bool": {"aws:SecureTransport": "false"}},
    )
    deny["Principal"] = "*"
    return document(publish, deny)


def add_alerts(template: Template, storage: Storage, alert_email: Ref, budget: Ref) -> Alerts:
    """Add the topic, its policy, the email subscription and the optional budget.

    Parameters
    ----------
    template : Template
        The template to add to.
    storage : Storage
        Where the KMS key is.
    alert_email : Ref
        The AlertEmail parameter; no subscription when it is empty.
    budget : Ref
        The MonthlyBudget parameter (USD); no budget when it is 0.

    Returns
    -------
    Alerts
        The topic.
    """
    topic = template.add_resource(
        sns.Topic(
            "AlertTopic",
            TopicName=name("alerts"),
            DisplayName="medallion alerts",
            KmsMasterKeyId=Ref(storage.key),
            Tags=tags(),
        )
    )
    template.add_resource(
        sns.TopicPolicy(
            "AlertTopicPolicy", Topics=[Ref(topic)], PolicyDocument=topic_policy_document(topic)
        )
    )
    template.add_resource(
        sns.SubscriptionResource(
            "AlertEmailSubscription",
            Condition=HAS_ALERT_EMAIL,
            TopicArn=Ref(topic),
            Protocol="email",
            Endpoint=alert_email,
        )
    )
    template.add_resource(
        budgets.Budget(
            "CostBudget",
            Condition=HAS_BUDGET,
            Budget=budgets.BudgetData(
                BudgetName=name("monthly"),
                BudgetType="COST",
                TimeUnit="MONTHLY",
                BudgetLimit=budgets.Spend(Amount=budget, Unit="USD"),
            ),
            NotificationsWithSubscribers=[
                _budget_notification(topic, "ACTUAL", 80),
                _budget_notification(topic, "FORECASTED", 100),
            ],
        )
    )
    return Alerts(topic)


def _budget_notification(
    topic: sns.Topic, kind: str, percent: int
) -> budgets.NotificationWithSubscribers:
    return budgets.NotificationWithSubscribers(
        Notification=budgets.Notification(
            NotificationType=kind,
            ComparisonOperator="GREATER_THAN",
            Threshold=percent,
            ThresholdType="PERCENTAGE",
        ),
        Subscribers=[budgets.Subscriber(SubscriptionType="SNS", Address=Ref(topic))],
    )


def add_failed_runs_alarm(template: Template, topic: sns.Topic, state_machine: object) -> None:
    """Add the alarm on failed or timed-out executions of the state machine, to the topic.

    Parameters
    ----------
    template : Template
        The template to add to.
    topic : sns.Topic
        Where the alarm notifies.
    state_machine : StateMachine
        The pipeline.
    """
    dimensions = [cloudwatch.MetricDimension(Name="StateMachineArn", Value=Ref(state_machine))]

    def metric(metric_id: str, metric_name: str) -> cloudwatch.MetricDataQuery:
        return cloudwatch.MetricDataQuery(
            Id=metric_id,
            ReturnData=False,
            MetricStat=cloudwatch.MetricStat(
                Metric=cloudwatch.Metric(
                    Namespace="AWS/States", MetricName=metric_name, Dimensions=dimensions
                ),
                Period=300,
                Stat="Sum",
            ),
        )

    template.add_resource(
        cloudwatch.Alarm(
            "FailedRunsAlarm",
            AlarmName=name("failed-runs"),
            AlarmDescription=Sub(
                "A medallion ${Environment} pipeline execution failed or timed out. "
                "The run's own alert names the state and the cause."
            ),
            Metrics=[
                metric("failed", "ExecutionsFailed"),
                metric("timedout", "ExecutionsTimedOut"),
                cloudwatch.MetricDataQuery(
                    Id="failedortimedout",
                    Expression="FILL(failed, 0) + FILL(timedout, 0)",
                    Label="Executions failed or timed out",
                    ReturnData=True,
                ),
            ],
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            Threshold=1,
            EvaluationPeriods=1,
            DatapointsToAlarm=1,
            TreatMissingData="notBreaching",
            AlarmActions=[Ref(topic)],
        )
    )
