// Code entries: a script task's script, a flow's condition, a timer's type and expression (Python, checked by
// the deploy checks on every change).
import { h } from "@bpmn-io/properties-panel/preact";
import { SelectEntry, TextAreaEntry, TextFieldEntry } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";
import { eventDefinition } from "./common.js";
import { durationPreview, isDuration, unquote } from "./durations.js";
import { _ } from "./i18n.js";

export function isConditionable(element) {
  var source = element.source && getBusinessObject(element.source);
  return !!getBusinessObject(element).conditionExpression ||
    !!(source && (is(source, "bpmn:ExclusiveGateway") || is(source, "bpmn:InclusiveGateway")));
}

export function ScriptEntry(props) {
  var element = props.element;
  var modeling = useService("modeling");
  var debounce = useService("debounceInput");
  return h(TextAreaEntry, {
    element: element, id: props.id, debounce: debounce, label: _("Script (Python)"), monospace: true, rows: 6,
    getValue: function () { return getBusinessObject(element).script || ""; },
    setValue: function (value) { modeling.updateProperties(element, { scriptFormat: getBusinessObject(element).scriptFormat, script: value }); }
  });
}

export function ConditionEntry(props) {
  var element = props.element;
  var modeling = useService("modeling");
  var factory = useService("bpmnFactory");
  var debounce = useService("debounceInput");
  return h(TextAreaEntry, {
    element: element, id: props.id, debounce: debounce, label: _("Condition (Python)"), monospace: true, rows: 2,
    description: _("The flow is taken when this is true, e.g. decision == \"approve\"."),
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

var TIMER_KINDS = [["timeDate", _("Date")], ["timeDuration", _("Duration")], ["timeCycle", _("Cycle")]];

function timerKind(definition) {
  var found = TIMER_KINDS.find(function (k) { return definition[k[0]]; });
  return found ? found[0] : "";
}

export function TimerTypeEntry(props) {
  var element = props.element;
  var modeling = useService("modeling");
  var factory = useService("bpmnFactory");
  var definition = eventDefinition(getBusinessObject(element), "bpmn:TimerEventDefinition");
  return h(SelectEntry, {
    element: element, id: props.id, label: _("Type"),
    getValue: function () { return timerKind(definition); },
    setValue: function (kind) {
      var old = timerKind(definition);
      var body = old ? definition[old].body : "";
      var update = { timeDate: undefined, timeDuration: undefined, timeCycle: undefined };
      if (kind) update[kind] = factory.create("bpmn:FormalExpression", { body: body || "" });
      modeling.updateModdleProperties(element, definition, update);
    },
    getOptions: function () {
      return [{ value: "", label: _("(none)") }].concat(TIMER_KINDS.map(function (k) { return { value: k[0], label: k[1] }; }));
    }
  });
}

export function TimerExpressionEntry(props) {
  var element = props.element;
  var modeling = useService("modeling");
  var debounce = useService("debounceInput");
  var definition = eventDefinition(getBusinessObject(element), "bpmn:TimerEventDefinition");
  var kind = timerKind(definition);
  var expression = kind && definition[kind];
  var text = expression ? expression.body || "" : "";
  var quoted = unquote(text);
  var description = _("A Python expression: a quoted ISO 8601 value such as \"P5D\", or code computing one.");
  if (kind === "timeDuration" && quoted !== null && isDuration(quoted)) description = _("Fires %(duration)s after the timer starts waiting.", { duration: durationPreview(quoted) });
  var cycle = kind === "timeCycle" && quoted !== null ? /^R(\d*)\/(P[^/]+)$/.exec(quoted) : null;
  if (cycle && isDuration(cycle[2])) {
    description = cycle[1]
      ? _("Fires every %(duration)s, %(count)s times.", { duration: durationPreview(cycle[2]), count: cycle[1] })
      : _("Fires every %(duration)s, without end.", { duration: durationPreview(cycle[2]) });
  }
  if (kind === "timeDate" && quoted !== null && !isNaN(Date.parse(quoted))) {
    description = _("Fires %(when)s UTC.", { when: new Date(Date.parse(quoted)).toISOString().replace("T", " ").slice(0, 16) });
  }
  return h(TextFieldEntry, {
    element: element, id: props.id, debounce: debounce, label: _("Expression"), description: description,
    disabled: !kind,
    getValue: function () { return text; },
    setValue: function (value) { if (expression) modeling.updateModdleProperties(element, expression, { body: value }); },
    validate: function (value) {
      var q = unquote(value);
      return kind === "timeDuration" && q !== null && !isDuration(q) ? _("not an ISO 8601 duration; use e.g. \"P5D\"") : null;
    }
  });
}
