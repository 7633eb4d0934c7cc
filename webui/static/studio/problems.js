// The deploy checks' problems of the last validation, by element: the panel lists them on the element and
// shows each in place under the entry it is about (the property the message names).

import { is } from "bpmn-js/lib/util/ModelUtil";

var ENTRY_OF = [
  [/^condition\b/i, "conditionExpression"],
  [/^script\b/i, "script"],
  [/^(timeDate|timeDuration|timeCycle|timer)\b/i, "timerExpression"],
  [/^(calledDecisionId|decision)\b/i, "decisionRef"],
  [/^instructionsForEndUser\b/i, "instructions"],
  [/^(message|messageRef)\b/i, "messageName"],
  [/^(serviceTaskOperator|operation|operator)\b/i, "serviceTaskOperator"]
];
var PROPERTIES = [
  "formJsonSchemaFilename", "candidateGroups", "dueIn", "fourEyes", "assignee", "subject", "senderGroups",
  "messageJsonSchemaFilename", "messageVariable"
];

// The entry a problem is about: the property its message starts with, else the one code entry of its element
// (a flow's condition, a script task's script, a timer's expression), so a message in another language still
// lands where it belongs.
export function entryOf(message, element) {
  var text = (message || "").trim();
  for (var i = 0; i < PROPERTIES.length; i++) {
    if (text.indexOf(PROPERTIES[i]) === 0 && !/\w/.test(text.charAt(PROPERTIES[i].length))) return PROPERTIES[i];
  }
  for (var j = 0; j < ENTRY_OF.length; j++) if (ENTRY_OF[j][0].test(text)) return ENTRY_OF[j][1];
  var bo = element && element.businessObject;
  if (!bo) return null;
  if (is(bo, "bpmn:SequenceFlow")) return "conditionExpression";
  if (is(bo, "bpmn:ScriptTask")) return "script";
  if ((bo.eventDefinitions || []).some(function (d) { return is(d, "bpmn:TimerEventDefinition"); })) return "timerExpression";
  return null;
}

export default function CreditflowProblems(eventBus, selection, elementRegistry) {
  this._registry = elementRegistry;
  this._eventBus = eventBus;
  this._selection = selection;
  this._byElement = {};
  var self = this;
  eventBus.on("selection.changed", function () { self._showErrors(); });
  eventBus.on("propertiesPanel.updated", function () { self._showErrors(); });
}
CreditflowProblems.$inject = ["eventBus", "selection", "elementRegistry"];

CreditflowProblems.prototype.set = function (problems) {
  var byElement = {};
  (problems || []).forEach(function (p) {
    if (!p.element_id) return;
    (byElement[p.element_id] = byElement[p.element_id] || []).push(p);
  });
  this._byElement = byElement;
  this._eventBus.fire("propertiesPanel.providersChanged");
  this._showErrors();
};

CreditflowProblems.prototype.forElement = function (id) {
  return this._byElement[id] || [];
};

CreditflowProblems.prototype._showErrors = function () {
  var selected = this._selection.get();
  var errors = {};
  if (selected.length === 1) {
    this.forElement(selected[0].id).forEach(function (p) {
      var id = entryOf(p.message, selected[0]);
      if (id && !errors[id]) errors[id] = p.message;
    });
  }
  var current = JSON.stringify(errors);
  if (current === this._shown) return;  // setErrors re-renders the panel, which fires updated again
  this._shown = current;
  this._eventBus.fire("propertiesPanel.setErrors", { errors: errors });
};
