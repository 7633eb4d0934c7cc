// What the studio's entries share: one undoable change, an entry's shape, the choices' options.
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";
import { setPropertyChange } from "./extensions.js";

// --- one change, undoable, through the command stack (so validation and undo see it) --------------------

export function change(injector, element, apply) {
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

export function entry(element, id, component, isEdited, extra) {
  return Object.assign({ id: id, element: element, component: component, isEdited: isEdited }, extra || {});
}

export function eventDefinition(bo, type) {
  return (bo.eventDefinitions || []).find(function (d) { return is(d, type); });
}

// What holds a messageRef: a receive/send task, or a message event's definition.
export function messageHolder(element) {
  var bo = getBusinessObject(element);
  if (is(element, "bpmn:ReceiveTask") || is(element, "bpmn:SendTask")) return bo;
  return eventDefinition(bo, "bpmn:MessageEventDefinition") || null;
}

export function propertySetter(injector, element, name) {
  return function (value) {
    change(injector, element, setPropertyChange(getBusinessObject(element), injector.get("moddle"), name, (value || "").trim()));
  };
}

export function withCurrent(values, current, emptyLabel) {
  var options = [{ value: "", label: emptyLabel }];
  values.forEach(function (v) { options.push({ value: v, label: v }); });
  if (current && values.indexOf(current) === -1) options.push({ value: current, label: current });
  return options;
}
