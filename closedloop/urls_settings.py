"""Routes of the closed-loop settings (included by closedloop.urls); they start with ORG.

Object kwargs are named for their model (``routing_rule_id``, not ``rule_id``, which
names distribution rules elsewhere), so the URL census creates the right object.
"""

from django.urls import path

from closedloop.views import settings as views

ORG = "o/<slug:org_slug>/"
SETTINGS = ORG + "cases/settings/"
RULE = SETTINGS + "routing/<int:routing_rule_id>/"
POLICY = SETTINGS + "sla/<int:policy_id>/"
ROOT_CAUSE = SETTINGS + "root-causes/<int:root_cause_id>/"
TEMPLATE = SETTINGS + "templates/<int:template_id>/"

urlpatterns = [
    path(SETTINGS, views.settings_home, name="settings"),
    # Routing rules
    path(SETTINGS + "routing/", views.rule_list, name="rule-list"),
    path(SETTINGS + "routing/new/", views.rule_create, name="rule-create"),
    path(RULE, views.rule_edit, name="rule-edit"),
    path(RULE + "test/", views.rule_test, name="rule-test"),
    path(RULE + "move/", views.rule_move, name="rule-move"),
    path(RULE + "enable/", views.rule_enable, name="rule-enable"),
    path(RULE + "delete/", views.rule_delete, name="rule-delete"),
    # SLA policies and escalation ladders
    path(SETTINGS + "sla/", views.policy_list, name="policy-list"),
    path(SETTINGS + "sla/new/", views.policy_create, name="policy-create"),
    path(POLICY, views.policy_edit, name="policy-edit"),
    path(POLICY + "delete/", views.policy_delete, name="policy-delete"),
    path(POLICY + "steps/", views.step_add, name="step-add"),
    path(SETTINGS + "sla/steps/<int:step_id>/delete/", views.step_delete, name="step-delete"),
    # Business hours
    path(SETTINGS + "hours/", views.hours, name="hours"),
    path(SETTINGS + "hours/clear/", views.hours_clear, name="hours-clear"),
    # Root causes
    path(SETTINGS + "root-causes/", views.root_causes, name="root-causes"),
    path(ROOT_CAUSE, views.root_cause_edit, name="root-cause-edit"),
    path(ROOT_CAUSE + "active/", views.root_cause_active, name="root-cause-active"),
    path(ROOT_CAUSE + "delete/", views.root_cause_delete_view, name="root-cause-delete"),
    # Reply templates
    path(SETTINGS + "templates/", views.template_list, name="template-list"),
    path(SETTINGS + "templates/new/", views.template_create, name="template-create"),
    path(TEMPLATE, views.template_edit, name="template-edit"),
    path(TEMPLATE + "delete/", views.template_delete, name="template-delete"),
]
