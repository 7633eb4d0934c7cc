// The message group of a receive task or message event: which message, who may send it, its data's schema and
// variable. A message reaches the instance whose business key equals its correlation key (README, messages).
import { h } from "@bpmn-io/properties-panel/preact";
import { SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";
import { findExtension, getProperty, setBodyChange } from "./extensions.js";
import { change, entry, messageHolder, propertySetter, withCurrent } from "./common.js";

export function messageGroup(element) {
  return { id: "creditflow-message", label: "Message", entries: [
    entry(element, "messageName", MessageNameEntry, isSelectEntryEdited),
    entry(element, "senderGroups", SenderGroupsEntry, isTextFieldEntryEdited),
    entry(element, "messageJsonSchemaFilename", MessageSchemaEntry, isSelectEntryEdited),
    entry(element, "messageVariable", MessageVariableEntry, isTextFieldEntryEdited)
  ] };
}

function MessageNameEntry(props) {
  var element = props.element;
  var modeling = useService("modeling");
  var canvas = useService("canvas");
  var holder = messageHolder(element);
  var definitions = canvas.getRootElement().businessObject.$parent;
  var messages = ((definitions && definitions.rootElements) || []).filter(function (r) { return is(r, "bpmn:Message"); });
  return h(SelectEntry, {
    element: element, id: props.id, label: "Message",
    description: "It reaches the instance whose business key equals the message's correlation key.",
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


function SenderGroupsEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  var known = (injector.get("config.creditflow") || {}).groups || [];
  return h(TextFieldEntry, {
    element: element, id: props.id, debounce: debounce, label: "Allowed senders",
    description: "Groups that may send it, comma-separated (admins always may).",
    getValue: function () { return getProperty(getBusinessObject(element), "senderGroups"); },
    setValue: propertySetter(injector, element, "senderGroups"),
    validate: function (value) {
      var unknown = (value || "").split(",").map(function (g) { return g.trim(); })
        .filter(function (g) { return g && known.indexOf(g) === -1; });
      return unknown.length ? "unknown group(s): " + unknown.join(", ") : null;
    }
  });
}

function MessageSchemaEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var current = getProperty(getBusinessObject(element), "messageJsonSchemaFilename");
  return h(SelectEntry, {
    element: element, id: props.id, label: "Message data schema",
    getValue: function () { return current; },
    setValue: propertySetter(injector, element, "messageJsonSchemaFilename"),
    getOptions: function () { return withCurrent(choices.forms || [], current, "(no schema)"); }
  });
}

// The variable the message's data lands in: on the receive task, or on a message event's definition.
function MessageVariableEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  var holder = is(element, "bpmn:ReceiveTask") ? getBusinessObject(element) : messageHolder(element);
  return h(TextFieldEntry, {
    element: element, id: props.id, debounce: debounce, label: "Data variable",
    getValue: function () {
      var node = findExtension(holder, "messageVariable");
      return node ? (node.$body || "").trim() : "";
    },
    setValue: function (value) { change(injector, element, setBodyChange(holder, injector.get("moddle"), "messageVariable", value)); }
  });
}
