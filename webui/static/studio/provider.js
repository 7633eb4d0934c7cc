// The properties panel's creditflow groups: what makes each kind of element run. Every input sits in an
// entry whose data-entry-id is the property's name (tests and users' own scripts find them by it).
import { h } from "@bpmn-io/properties-panel/preact";
import { SelectEntry, isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";
import { calledDecision, setBodyChange } from "./extensions.js";
import { change, entry, eventDefinition, messageHolder, withCurrent } from "./common.js";
import { serviceTaskGroup } from "./service_task.js";
import { messageGroup } from "./message.js";
import { userTaskGroup } from "./user_task.js";
import { ConditionEntry, ScriptEntry, TimerExpressionEntry, TimerTypeEntry, isConditionable } from "./code.js";
import { entryOf } from "./problems.js";
import { TimerStartEntry } from "./previews.js";
import { _ } from "./i18n.js";

var LOW_PRIORITY = 400;
// The base provider's message and timer groups edit what ours do under the same entry ids.
var REPLACED_GROUPS = ["message", "timer"];

export default function CreditflowPropertiesProvider(propertiesPanel, injector, config) {
  this._injector = injector;
  this._choices = config || {};
  propertiesPanel.registerProvider(LOW_PRIORITY, this);
}
CreditflowPropertiesProvider.$inject = ["propertiesPanel", "injector", "config.creditflow"];

CreditflowPropertiesProvider.prototype.getGroups = function (element) {
  var self = this;
  return function (groups) {
    groups = groups.filter(function (g) { return REPLACED_GROUPS.indexOf(g.id) === -1; });
    // Ours open by default: they are what a process owner came to set.
    var ours = groupsFor(element, self._choices, self._injector).map(function (g) { return Object.assign({ shouldOpen: true }, g); });
    var shown = [];
    ours.forEach(function (g) { g.entries.forEach(function (e) { shown.push(e.id); }); });
    var problems = problemGroup(element, self._injector, shown);
    // Problems first, then ours right after General (name, id): what a process owner came to set.
    var at = groups.length ? 1 : 0;
    groups.splice.apply(groups, [at, 0].concat(problems ? [problems] : [], ours));
    return groups;
  };
};

// --- groups by element kind --------------------------------------------------------------------------------

function groupsFor(element, choices, injector) {
  var bo = getBusinessObject(element);
  var groups = [];
  if (is(element, "bpmn:ServiceTask")) {
    groups.push(serviceTaskGroup(element, bo, choices));
  }
  if (is(element, "bpmn:UserTask")) groups.push(userTaskGroup(element));
  if (is(element, "bpmn:ScriptTask")) {
    groups.push({ id: "creditflow-script", label: _("Script"), entries: [entry(element, "script", ScriptEntry, isTextAreaEntryEdited)] });
  }
  if (is(element, "bpmn:SequenceFlow") && isConditionable(element)) {
    groups.push({ id: "creditflow-condition", label: _("Condition"), entries: [entry(element, "conditionExpression", ConditionEntry, isTextAreaEntryEdited)] });
  }
  var timer = eventDefinition(bo, "bpmn:TimerEventDefinition");
  if (timer) {
    groups.push({ id: "creditflow-timer", label: _("Timer"), entries: [
      entry(element, "timerType", TimerTypeEntry, isSelectEntryEdited),
      entry(element, "timerExpression", TimerExpressionEntry, isTextFieldEntryEdited),
      entry(element, "timerStart", TimerStartEntry, function () { return false; })
    ] });
  }
  if (messageHolder(element)) {
    groups.push(messageGroup(element));
  }
  if (is(element, "bpmn:BusinessRuleTask")) {
    groups.push({ id: "creditflow-decision", label: _("Decision table"), entries: [entry(element, "decisionRef", DecisionEntry, isSelectEntryEdited)] });
  }
  if (is(element, "bpmn:Lane")) {
    groups.push({ id: "creditflow-lane", label: _("Lane"), entries: [entry(element, "laneGroup", LaneGroupEntry, isSelectEntryEdited)] });
  }
  return groups;
}

// --- messages, decision tables, lanes ----------------------------------------------------------------------

function DecisionEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var bo = getBusinessObject(element);
  var current = calledDecision(bo);
  return h(SelectEntry, {
    element: element, id: props.id, label: _("Decision table"),
    description: _("A decision deployed with this version (its DMN files)."),
    getValue: function () { return current; },
    setValue: function (value) { change(injector, element, setBodyChange(bo, injector.get("moddle"), "calledDecisionId", value)); },
    getOptions: function () { return withCurrent(choices.decisions || [], current, _("(choose a decision)")); }
  });
}

function LaneGroupEntry(props) {
  var element = props.element;
  var modeling = useService("modeling");
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var current = getBusinessObject(element).name || "";
  return h(SelectEntry, {
    element: element, id: props.id, label: _("Group"),
    description: _("The lane's tasks go to this group unless a task names its candidate groups."),
    getValue: function () { return current; },
    setValue: function (value) { modeling.updateProperties(element, { name: value }); },
    getOptions: function () { return withCurrent(choices.groups || [], current, _("(no group)")); }
  });
}

// --- problems the deploy checks found on this element ------------------------------------------------------

// Problems that no entry of ours shows in place (those are under their entry already).
function problemGroup(element, injector, shown) {
  var problems = injector.get("creditflowProblems").forElement(element.id).filter(function (p) {
    return shown.indexOf(entryOf(p.message, element)) === -1;
  });
  if (!problems.length) return null;
  return { id: "creditflow-problems", label: _("Problems"), shouldOpen: true, entries: [entry(element, "problems", ProblemsEntry, function () { return true; }, { problems: problems })] };
}

function ProblemsEntry(props) {
  return h("div", { class: "bio-properties-panel-entry cf-panel-problems", "data-entry-id": props.id },
    h("ul", null, props.problems.map(function (p) { return h("li", null, p.message); })));
}
