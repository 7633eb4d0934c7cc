// The deploy checks' problems of the last validation, by element: the panel lists them on the element and
// shows each in place under the entry it is about (the property the message names).

var ENTRY_OF = [
  [/^condition\b/i, "conditionExpression"],
  [/^script\b/i, "script"],
  [/^(timeDate|timeDuration|timeCycle|timer)\b/i, "timerExpression"],
  [/^(calledDecisionId|decision)\b/i, "decisionRef"],
  [/^(message|messageRef)\b/i, "messageName"],
  [/^(serviceTaskOperator|operation|operator)\b/i, "serviceTaskOperator"]
];
var PROPERTIES = ["formJsonSchemaFilename", "candidateGroups", "dueIn", "fourEyes", "assignee"];

export function entryOf(message) {
  var text = (message || "").trim();
  for (var i = 0; i < PROPERTIES.length; i++) {
    if (text.indexOf(PROPERTIES[i] + ":") === 0 || text.indexOf(PROPERTIES[i] + " ") === 0) return PROPERTIES[i];
  }
  for (var j = 0; j < ENTRY_OF.length; j++) if (ENTRY_OF[j][0].test(text)) return ENTRY_OF[j][1];
  return null;
}

export default function CreditflowProblems(eventBus, selection) {
  this._eventBus = eventBus;
  this._selection = selection;
  this._byElement = {};
  var self = this;
  eventBus.on("selection.changed", function () { self._showErrors(); });
  eventBus.on("propertiesPanel.updated", function () { self._showErrors(); });
}
CreditflowProblems.$inject = ["eventBus", "selection"];

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
      var id = entryOf(p.message);
      if (id && !errors[id]) errors[id] = p.message;
    });
  }
  var current = JSON.stringify(errors);
  if (current === this._shown) return;  // setErrors re-renders the panel, which fires updated again
  this._shown = current;
  this._eventBus.fire("propertiesPanel.setErrors", { errors: errors });
};
