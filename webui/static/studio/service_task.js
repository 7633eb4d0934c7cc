// The service task's group: the operation from the live handler table, its request fields as inputs, its result.
import { h } from "@bpmn-io/properties-panel/preact";
import { SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject } from "bpmn-js/lib/util/ModelUtil";
import { operator, parameters, setAttributeChange, setOperatorChange, setParameterChange } from "./extensions.js";
import { change, entry } from "./common.js";
import { _ } from "./i18n.js";

function operationNamed(choices, name) {
  return (choices.operations || []).find(function (o) { return o.name === name; });
}

export function serviceTaskGroup(element, bo, choices) {
  var op = operator(bo);
  var chosen = op && operationNamed(choices, op.id);
  var entries = [entry(element, "serviceTaskOperator", OperatorEntry, isSelectEntryEdited)];
  if (chosen) {
    chosen.request.forEach(function (field) {
      entries.push(entry(element, "parameter-" + field.name, ParameterEntry, isTextFieldEntryEdited, { field: field }));
    });
    entries.push(entry(element, "resultVariable", ResultVariableEntry, isTextFieldEntryEdited, { operation: chosen }));
  }
  return { id: "creditflow-service", label: _("Service operation"), entries: entries };
}

function OperatorEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var bo = getBusinessObject(element);
  var current = operator(bo);
  var chosen = current && operationNamed(choices, current.id);
  var description = chosen ? chosen.description + (chosen.moves_money
    ? " " + _("Moves money: a second process owner approves the deployed version.") : "") : "";
  return h(SelectEntry, {
    element: element, id: props.id, label: _("Operation"), description: description,
    getValue: function () { return current ? current.id || "" : ""; },
    setValue: function (value) {
      var op = operationNamed(choices, value);
      change(injector, element, setOperatorChange(bo, injector.get("moddle"), value, op ? op.request : []));
    },
    getOptions: function () {
      var options = [{ value: "", label: _("(choose an operation)") }];
      (choices.operations || []).forEach(function (o) { options.push({ value: o.name, label: o.name }); });
      if (current && current.id && !operationNamed(choices, current.id)) {
        options.push({ value: current.id, label: _("%(name)s (unknown)", { name: current.id }) });
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
    label: field.required
      ? _("%(name)s (%(type)s, required)", { name: field.name, type: field.type })
      : _("%(name)s (%(type)s)", { name: field.name, type: field.type }),
    description: _("A Python expression over the case's data."),
    getValue: function () { return found ? found.value || "" : ""; },
    setValue: function (value) { change(injector, element, setParameterChange(bo, injector.get("moddle"), field.name, value)); },
    validate: function (value) { return field.required && !(value || "").trim() ? _("%(name)s is required by the operation", { name: field.name }) : null; }
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
    element: element, id: props.id, debounce: debounce, label: _("Result variable"),
    description: names.length
      ? _("Result fields: %(fields)s", { fields: names.join(", ") }) : _("The operation returns no fields."),
    getValue: function () { return op ? op.resultVariable || "" : ""; },
    setValue: function (value) { change(injector, element, setAttributeChange(op, "resultVariable", value)); }
  });
}
