// The properties panel's creditflow groups: what makes each kind of element run. Every input sits in an
// entry whose data-entry-id is the property's name (tests and users' own scripts find them by it).
import { h } from "@bpmn-io/properties-panel/preact";
import {
  CheckboxEntry, SelectEntry, TextAreaEntry, TextFieldEntry,
  isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited
} from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";
import {
  calledDecision, getProperty, operator, parameters,
  setAttributeChange, setBodyChange, setOperatorChange, setParameterChange, setPropertyChange
} from "./extensions.js";
import { durationPreview, isDuration, unquote } from "./durations.js";

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
    var problems = problemGroup(element, self._injector);
    // Problems first, then ours right after General (name, id): what a process owner came to set.
    var at = groups.length ? 1 : 0;
    groups.splice.apply(groups, [at, 0].concat(problems ? [problems] : [], ours));
    return groups;
  };
};

// --- one change, undoable, through the command stack (so validation and undo see it) --------------------

function change(injector, element, apply) {
  injector.get("commandStack").execute("creditflow.change", { element: element, apply: apply });
}

export function ChangeHandler() {}
ChangeHandler.prototype.execute = function (context) {
  context.undo = context.apply();
  return context.element;
};
ChangeHandler.prototype.revert = function (context) {
  context.undo();
  return context.element;
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
    groups.push({ id: "creditflow-script", label: "Script", entries: [entry(element, "script", ScriptEntry, isTextAreaEntryEdited)] });
  }
  if (is(element, "bpmn:SequenceFlow") && isConditionable(element)) {
    groups.push({ id: "creditflow-condition", label: "Condition", entries: [entry(element, "conditionExpression", ConditionEntry, isTextAreaEntryEdited)] });
  }
  var timer = eventDefinition(bo, "bpmn:TimerEventDefinition");
  if (timer) {
    groups.push({ id: "creditflow-timer", label: "Timer", entries: [
      entry(element, "timerType", TimerTypeEntry, isSelectEntryEdited),
      entry(element, "timerExpression", TimerExpressionEntry, isTextFieldEntryEdited)
    ] });
  }
  if (messageHolder(element)) {
    groups.push({ id: "creditflow-message", label: "Message", entries: [entry(element, "messageName", MessageNameEntry, isSelectEntryEdited)] });
  }
  if (is(element, "bpmn:BusinessRuleTask")) {
    groups.push({ id: "creditflow-decision", label: "Decision table", entries: [entry(element, "decisionRef", DecisionEntry, isSelectEntryEdited)] });
  }
  if (is(element, "bpmn:Lane")) {
    groups.push({ id: "creditflow-lane", label: "Lane", entries: [entry(element, "laneGroup", LaneGroupEntry, isSelectEntryEdited)] });
  }
  return groups;
}

function entry(element, id, component, isEdited, extra) {
  return Object.assign({ id: id, element: element, component: component, isEdited: isEdited }, extra || {});
}

function isConditionable(element) {
  var source = element.source && getBusinessObject(element.source);
  return !!getBusinessObject(element).conditionExpression ||
    !!(source && (is(source, "bpmn:ExclusiveGateway") || is(source, "bpmn:InclusiveGateway")));
}

function eventDefinition(bo, type) {
  return (bo.eventDefinitions || []).find(function (d) { return is(d, type); });
}

// What holds a messageRef: a receive/send task, or a message event's definition.
function messageHolder(element) {
  var bo = getBusinessObject(element);
  if (is(element, "bpmn:ReceiveTask") || is(element, "bpmn:SendTask")) return bo;
  return eventDefinition(bo, "bpmn:MessageEventDefinition") || null;
}

// --- service task ----------------------------------------------------------------------------------------

function operationNamed(choices, name) {
  return (choices.operations || []).find(function (o) { return o.name === name; });
}

function serviceTaskGroup(element, bo, choices) {
  var op = operator(bo);
  var chosen = op && operationNamed(choices, op.id);
  var entries = [entry(element, "serviceTaskOperator", OperatorEntry, isSelectEntryEdited)];
  if (chosen) {
    chosen.request.forEach(function (field) {
      entries.push(entry(element, "parameter-" + field.name, ParameterEntry, isTextFieldEntryEdited, { field: field }));
    });
    entries.push(entry(element, "resultVariable", ResultVariableEntry, isTextFieldEntryEdited, { operation: chosen }));
  }
  return { id: "creditflow-service", label: "Service operation", entries: entries };
}

function OperatorEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var bo = getBusinessObject(element);
  var current = operator(bo);
  var chosen = current && operationNamed(choices, current.id);
  var description = chosen ? chosen.description + (chosen.moves_money ? " Moves money: a second process owner approves the deployed version." : "") : "";
  return h(SelectEntry, {
    element: element, id: props.id, label: "Operation", description: description,
    getValue: function () { return current ? current.id || "" : ""; },
    setValue: function (value) {
      var op = operationNamed(choices, value);
      change(injector, element, setOperatorChange(bo, injector.get("moddle"), value, op ? op.request : []));
    },
    getOptions: function () {
      var options = [{ value: "", label: "(choose an operation)" }];
      (choices.operations || []).forEach(function (o) { options.push({ value: o.name, label: o.name }); });
      if (current && current.id && !operationNamed(choices, current.id)) {
        options.push({ value: current.id, label: current.id + " (unknown)" });
      }
      return options;
    }
  });
}

function ParameterEntry(props) {
  var element = props.element;
  var field = props.field;
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  var bo = getBusinessObject(element);
  var found = parameters(bo).find(function (p) { return p.id === field.name; });
  return h(TextFieldEntry, {
    element: element, id: props.id, debounce: debounce,
    label: field.name + " (" + field.type + (field.required ? ", required" : "") + ")",
    description: "A Python expression over the case's data.",
    getValue: function () { return found ? found.value || "" : ""; },
    setValue: function (value) { change(injector, element, setParameterChange(bo, injector.get("moddle"), field.name, value)); },
    validate: function (value) { return field.required && !(value || "").trim() ? field.name + " is required by the operation" : null; }
  });
}

function ResultVariableEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  var bo = getBusinessObject(element);
  var op = operator(bo);
  var names = props.operation.result.map(function (f) { return f.name + " (" + f.type + ")"; });
  return h(TextFieldEntry, {
    element: element, id: props.id, debounce: debounce, label: "Result variable",
    description: names.length ? "Result fields: " + names.join(", ") : "The operation returns no fields.",
    getValue: function () { return op ? op.resultVariable || "" : ""; },
    setValue: function (value) { change(injector, element, setAttributeChange(op, "resultVariable", value)); }
  });
}

// --- user task -------------------------------------------------------------------------------------------

function userTaskGroup(element) {
  return { id: "creditflow-user-task", label: "User task", entries: [
    entry(element, "formJsonSchemaFilename", FormEntry, isSelectEntryEdited),
    entry(element, "candidateGroups", CandidateGroupsEntry, isSelectEntryEdited),
    entry(element, "dueIn", DueInEntry, isTextFieldEntryEdited),
    entry(element, "fourEyes", FourEyesEntry, isTextFieldEntryEdited),
    entry(element, "assignee", AssigneeEntry, isTextFieldEntryEdited)
  ] };
}

function propertySetter(injector, element, name) {
  return function (value) {
    change(injector, element, setPropertyChange(getBusinessObject(element), injector.get("moddle"), name, (value || "").trim()));
  };
}

function FormEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var current = getProperty(getBusinessObject(element), "formJsonSchemaFilename");
  return h(SelectEntry, {
    element: element, id: props.id, label: "Form",
    description: "A JSON schema deployed with this version.",
    getValue: function () { return current; },
    setValue: propertySetter(injector, element, "formJsonSchemaFilename"),
    getOptions: function () { return withCurrent(choices.forms || [], current, "(no form)"); }
  });
}

function laneOf(element) {
  var bo = getBusinessObject(element);
  var lanes = bo.lanes || [];
  return lanes.length ? lanes[0].name || "" : "";
}

function CandidateGroupsEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var current = getProperty(getBusinessObject(element), "candidateGroups");
  var lane = laneOf(element);
  return h(SelectEntry, {
    element: element, id: props.id, label: "Candidate group",
    description: "Who may claim the task; without one, the lane's group" + (lane ? " (" + lane + ")" : "") + ".",
    getValue: function () { return current; },
    setValue: propertySetter(injector, element, "candidateGroups"),
    getOptions: function () { return withCurrent(choices.groups || [], current, lane ? "(the lane: " + lane + ")" : "(the lane's group)"); }
  });
}

function withCurrent(values, current, emptyLabel) {
  var options = [{ value: "", label: emptyLabel }];
  values.forEach(function (v) { options.push({ value: v, label: v }); });
  if (current && values.indexOf(current) === -1) options.push({ value: current, label: current });
  return options;
}

function DueInEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  var current = getProperty(getBusinessObject(element), "dueIn");
  var preview = durationPreview(current);
  return h(TextFieldEntry, {
    element: element, id: props.id, debounce: debounce, label: "Due in",
    description: preview ? "Due " + preview + " after the task opens." : "An ISO 8601 duration: P2D is 2 days, PT4H 4 hours.",
    getValue: function () { return current; },
    setValue: propertySetter(injector, element, "dueIn"),
    validate: function (value) {
      return value && !isDuration(value) ? "not an ISO 8601 duration; use e.g. P2D (2 days) or PT4H (4 hours)" : null;
    }
  });
}

function FourEyesEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  return h(TextFieldEntry, {
    element: element, id: props.id, debounce: debounce, label: "Four eyes",
    description: "Who may not complete it: initiator and/or the ids of earlier user tasks, comma-separated.",
    getValue: function () { return getProperty(getBusinessObject(element), "fourEyes"); },
    setValue: propertySetter(injector, element, "fourEyes")
  });
}

function AssigneeEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  return h(TextFieldEntry, {
    element: element, id: props.id, debounce: debounce, label: "Assignee",
    description: "initiator, or a user name; empty: anyone of the candidate group.",
    getValue: function () { return getProperty(getBusinessObject(element), "assignee"); },
    setValue: propertySetter(injector, element, "assignee")
  });
}

// --- code: scripts and conditions (Python, checked by the deploy checks on every change) -----------------

function ScriptEntry(props) {
  var element = props.element;
  var modeling = useService("modeling");
  var debounce = useService("debounceInput");
  return h(TextAreaEntry, {
    element: element, id: props.id, debounce: debounce, label: "Script (Python)", monospace: true, rows: 6,
    getValue: function () { return getBusinessObject(element).script || ""; },
    setValue: function (value) { modeling.updateProperties(element, { scriptFormat: getBusinessObject(element).scriptFormat, script: value }); }
  });
}

function ConditionEntry(props) {
  var element = props.element;
  var modeling = useService("modeling");
  var factory = useService("bpmnFactory");
  var debounce = useService("debounceInput");
  return h(TextAreaEntry, {
    element: element, id: props.id, debounce: debounce, label: "Condition (Python)", monospace: true, rows: 2,
    description: "The flow is taken when this is true, e.g. decision == \"approve\".",
    getValue: function () {
      var expression = getBusinessObject(element).conditionExpression;
      return expression ? expression.body || "" : "";
    },
    setValue: function (value) {
      var expression = getBusinessObject(element).conditionExpression;
      if (!value) modeling.updateProperties(element, { conditionExpression: undefined });
      else if (expression) modeling.updateModdleProperties(element, expression, { body: value });
      else modeling.updateProperties(element, { conditionExpression: factory.create("bpmn:FormalExpression", { body: value }) });
    }
  });
}

// --- timers ----------------------------------------------------------------------------------------------

var TIMER_KINDS = [["timeDate", "Date"], ["timeDuration", "Duration"], ["timeCycle", "Cycle"]];

function timerKind(definition) {
  var found = TIMER_KINDS.find(function (k) { return definition[k[0]]; });
  return found ? found[0] : "";
}

function TimerTypeEntry(props) {
  var element = props.element;
  var modeling = useService("modeling");
  var factory = useService("bpmnFactory");
  var definition = eventDefinition(getBusinessObject(element), "bpmn:TimerEventDefinition");
  return h(SelectEntry, {
    element: element, id: props.id, label: "Type",
    getValue: function () { return timerKind(definition); },
    setValue: function (kind) {
      var old = timerKind(definition);
      var body = old ? definition[old].body : "";
      var update = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
      if (kind) update[kind] = factory.create("bpmn:FormalExpression", { body: body || "" });
      modeling.updateModdleProperties(element, definition, update);
    },
    getOptions: function () {
      return [{ value: "", label: "(none)" }].concat(TIMER_KINDS.map(function (k) { return { value: k[0], label: k[1] }; }));
    }
  });
}

function TimerExpressionEntry(props) {
  var element = props.element;
  var modeling = useService("modeling");
  var debounce = useService("debounceInput");
  var definition = eventDefinition(getBusinessObject(element), "bpmn:TimerEventDefinition");
  var kind = timerKind(definition);
  var expression = kind && definition[kind];
  var text = expression ? expression.body || "" : "";
  var quoted = unquote(text);
  var description = "A Python expression: a quoted ISO 8601 value such as \"P5D\", or code computing one.";
  if (kind === "timeDuration" && quoted !== null && isDuration(quoted)) description = "Fires " + durationPreview(quoted) + " after it starts waiting.";
  if (kind === "timeDate" && quoted !== null && !isNaN(Date.parse(quoted))) description = "Fires " + new Date(Date.parse(quoted)).toISOString().replace("T", " ").slice(0, 16) + " UTC.";
  return h(TextFieldEntry, {
    element: element, id: props.id, debounce: debounce, label: "Expression", description: description,
    disabled: !kind,
    getValue: function () { return text; },
    setValue: function (value) { if (expression) modeling.updateModdleProperties(element, expression, { body: value }); },
    validate: function (value) {
      var q = unquote(value);
      return kind === "timeDuration" && q !== null && !isDuration(q) ? "not an ISO 8601 duration; use e.g. \"P5D\"" : null;
    }
  });
}

// --- messages, decision tables, lanes ----------------------------------------------------------------------

function MessageNameEntry(props) {
  var element = props.element;
  var modeling = useService("modeling");
  var canvas = useService("canvas");
  var holder = messageHolder(element);
  var definitions = canvas.getRootElement().businessObject.$parent;
  var messages = ((definitions && definitions.rootElements) || []).filter(function (r) { return is(r, "bpmn:Message"); });
  return h(SelectEntry, {
    element: element, id: props.id, label: "Message",
    description: "Correlation and the allowed senders are set on the message's JSON schema and senderGroups.",
    getValue: function () { return holder.messageRef ? holder.messageRef.id : ""; },
    setValue: function (id) {
      var message = messages.find(function (m) { return m.id === id; });
      if (holder === getBusinessObject(element)) modeling.updateProperties(element, { messageRef: message });
      else modeling.updateModdleProperties(element, holder, { messageRef: message });
    },
    getOptions: function () {
      return [{ value: "", label: "(none)" }].concat(messages.map(function (m) { return { value: m.id, label: m.name || m.id }; }));
    }
  });
}

function DecisionEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var bo = getBusinessObject(element);
  var current = calledDecision(bo);
  return h(SelectEntry, {
    element: element, id: props.id, label: "Decision table",
    description: "A decision deployed with this version (its DMN files).",
    getValue: function () { return current; },
    setValue: function (value) { change(injector, element, setBodyChange(bo, injector.get("moddle"), "calledDecisionId", value)); },
    getOptions: function () { return withCurrent(choices.decisions || [], current, "(choose a decision)"); }
  });
}

function LaneGroupEntry(props) {
  var element = props.element;
  var modeling = useService("modeling");
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var current = getBusinessObject(element).name || "";
  return h(SelectEntry, {
    element: element, id: props.id, label: "Group",
    description: "The lane's tasks go to this group unless a task names its candidate groups.",
    getValue: function () { return current; },
    setValue: function (value) { modeling.updateProperties(element, { name: value }); },
    getOptions: function () { return withCurrent(choices.groups || [], current, "(no group)"); }
  });
}

// --- problems the deploy checks found on this element ------------------------------------------------------

function problemGroup(element, injector) {
  var problems = injector.get("creditflowProblems").forElement(element.id);
  if (!problems.length) return null;
  return { id: "creditflow-problems", label: "Problems", shouldOpen: true, entries: [entry(element, "problems", ProblemsEntry, function () { return true; }, { problems: problems })] };
}

function ProblemsEntry(props) {
  return h("div", { class: "bio-properties-panel-entry cf-panel-problems", "data-entry-id": props.id },
    h("ul", null, props.problems.map(function (p) { return h("li", null, p.message); })));
}
