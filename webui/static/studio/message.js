// The message group of a receive task or message event: which message, who may send it, its data's schema and
// variable. A message reaches the instance whose business key equals its correlation key (README, messages).
import { h } from "@bpmn-io/properties-panel/preact";
import { SelectEntry, TextFieldEntry, isSelectEntryEdited, isTextFieldEntryEdited } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";
import { findExtension, getProperty, setBodyChange } from "./extensions.js";
import { change, entry, messageHolder, propertySetter, withCurrent } from "./common.js";
import { _ } from "./i18n.js";

export function messageGroup(element) {
  return { id: "creditflow-message", label: _("Message"), entries: [
    entry(element, "messageName", MessageNameEntry, isSelectEntryEdited),
    entry(element, "messageCorrelation", CorrelationEntry, function () { return false; }),
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
    element: element, id: props.id, label: _("Message"),
    description: _("The message this element waits for."),
    getValue: function () { return holder.messageRef ? holder.messageRef.id : ""; },
    setValue: function (id) {
      var message = messages.find(function (m) { return m.id === id; });
      if (holder === getBusinessObject(element)) modeling.updateProperties(element, { messageRef: message });
      else modeling.updateModdleProperties(element, holder, { messageRef: message });
    },
    getOptions: function () {
      return [{ value: "", label: _("(none)") }].concat(messages.map(function (m) { return { value: m.id, label: m.name || m.id }; }));
    }
  });
}

// The correlation is creditflow's one rule, not a property: a message names the instance by its business key
// (POST /api/messages {"name", "correlation_key"}), so the panel says so instead of offering a setting.
function CorrelationEntry(props) {
  var holder = messageHolder(props.element);
  var name = holder && holder.messageRef ? holder.messageRef.name || holder.messageRef.id : "";
  return h("div", { class: "bio-properties-panel-entry", "data-entry-id": props.id },
    h("div", { class: "bio-properties-panel-label" }, _("Correlation")),
    h("div", { class: "bio-properties-panel-description" }, name
      ? _("A %(message)s message reaches the instance whose business key equals its correlation_key.", { message: name })
      : _("Choose the message: it reaches the instance whose business key equals its correlation_key.")));
}

function SenderGroupsEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  var known = (injector.get("config.creditflow") || {}).groups || [];
  return h(TextFieldEntry, {
    element: element, id: props.id, debounce: debounce, label: _("Allowed senders"),
    description: _("Groups that may send it, comma-separated (admins always may)."),
    getValue: function () { return getProperty(getBusinessObject(element), "senderGroups"); },
    setValue: propertySetter(injector, element, "senderGroups"),
    validate: function (value) {
      var unknown = (value || "").split(",").map(function (g) { return g.trim(); })
        .filter(function (g) { return g && known.indexOf(g) === -1; });
      return unknown.length ? _("unknown group(s): %(groups)s", { groups: unknown.join(", ") }) : null;
    }
  });
}

function MessageSchemaEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var current = getProperty(getBusinessObject(element), "messageJsonSchemaFilename");
  return h(SelectEntry, {
    element: element, id: props.id, label: _("Message data schema"),
    getValue: function () { return current; },
    setValue: propertySetter(injector, element, "messageJsonSchemaFilename"),
    getOptions: function () { return withCurrent(choices.forms || [], current, _("(no schema)")); }
  });
}

// The variable the message's data lands in: on the receive task, or on a message event's definition.
function MessageVariableEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  var holder = is(element, "bpmn:ReceiveTask") ? getBusinessObject(element) : messageHolder(element);
  return h(TextFieldEntry, {
    element: element, id: props.id, debounce: debounce, label: _("Data variable"),
    getValue: function () {
      var node = findExtension(holder, "messageVariable");
      return node ? (node.$body || "").trim() : "";
    },
    setValue: function (value) { change(injector, element, setBodyChange(holder, injector.get("moddle"), "messageVariable", value)); }
  });
}
