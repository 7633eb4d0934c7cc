// The user task's group: form, candidate group, due date, four eyes, assignee, subject (spiffworkflow:property)
// and the instructions (spiffworkflow:instructionsForEndUser).
import { h } from "@bpmn-io/properties-panel/preact";
import {
  SelectEntry, TextAreaEntry, TextFieldEntry, isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited, useError
} from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject } from "bpmn-js/lib/util/ModelUtil";
import { findExtension, getProperty, setBodyChange } from "./extensions.js";
import { change, entry, propertySetter, withCurrent } from "./common.js";
import { durationPreview, isDuration } from "./durations.js";
import { NewFormEntry } from "./form_builder.js";
import { TextPreviewEntry } from "./previews.js";
import { _ } from "./i18n.js";

export function userTaskGroup(element) {
  return { id: "creditflow-user-task", label: _("User task"), entries: [
    entry(element, "formJsonSchemaFilename", FormEntry, isSelectEntryEdited),
    entry(element, "newForm", NewFormEntry, function () { return false; }),
    entry(element, "candidateGroups", CandidateGroupsEntry, function (el) { return !!getProperty(getBusinessObject(el), "candidateGroups"); }),
    entry(element, "dueIn", DueInEntry, isTextFieldEntryEdited),
    entry(element, "fourEyes", FourEyesEntry, isTextFieldEntryEdited),
    entry(element, "assignee", AssigneeEntry, isTextFieldEntryEdited),
    entry(element, "subject", SubjectEntry, isTextFieldEntryEdited),
    entry(element, "instructions", InstructionsEntry, isTextAreaEntryEdited),
    entry(element, "textPreview", TextPreviewEntry, function () { return false; })
  ] };
}

function FormEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var current = getProperty(getBusinessObject(element), "formJsonSchemaFilename");
  return h(SelectEntry, {
    element: element, id: props.id, label: _("Form"),
    description: _("A JSON schema deployed with this version, or a new one made below."),
    getValue: function () { return current; },
    setValue: propertySetter(injector, element, "formJsonSchemaFilename"),
    getOptions: function () { return withCurrent(choices.forms || [], current, _("(no form)")); }
  });
}

function laneOf(element) {
  var bo = getBusinessObject(element);
  var lanes = bo.lanes || [];
  return lanes.length ? lanes[0].name || "" : "";
}

// Several groups may be offered the task (candidateGroups is comma-separated): a multiple select of the known
// groups. A group the catalogue does not know stays listed, marked, so the deploy check's problem is visible.
function CandidateGroupsEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var known = choices.groups || [];
  var current = getProperty(getBusinessObject(element), "candidateGroups").split(",")
    .map(function (g) { return g.trim(); }).filter(Boolean);
  var lane = laneOf(element);
  var error = useError(props.id);
  var names = known.concat(current.filter(function (g) { return known.indexOf(g) === -1; }));
  var set = propertySetter(injector, element, "candidateGroups");
  var label = _("Candidate groups");
  return h("div", { class: "bio-properties-panel-entry" + (error ? " has-error" : ""), "data-entry-id": props.id },
    h("label", { class: "bio-properties-panel-label", for: "cf-candidate-groups" }, label),
    h("select", {
      id: "cf-candidate-groups", class: "bio-properties-panel-input cf-multi", multiple: true, size: Math.min(names.length, 6),
      onChange: function (event) {
        var picked = Array.prototype.filter.call(event.target.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
        set(picked.join(", "));
      }
    }, names.map(function (g) {
      var unknown = known.indexOf(g) === -1;
      return h("option", { value: g, selected: current.indexOf(g) !== -1 }, unknown ? _("%(group)s (unknown group)", { group: g }) : g);
    })),
    error ? h("div", { class: "bio-properties-panel-error" }, error) : null,
    h("div", { class: "bio-properties-panel-description" }, current.length
      ? _("Offered to: %(groups)s. Ctrl-click (⌘-click) to choose several.", { groups: current.join(", ") })
      : lane
        ? _("None chosen: the lane's group (%(lane)s). Ctrl-click (⌘-click) to choose several.", { lane: lane })
        : _("None chosen: the lane's group. Ctrl-click (⌘-click) to choose several.")));
}

function DueInEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  var current = getProperty(getBusinessObject(element), "dueIn");
  var preview = durationPreview(current);
  return h(TextFieldEntry, {
    element: element, id: props.id, debounce: debounce, label: _("Due in"),
    description: preview ? _("Due %(duration)s after the task is created.", { duration: preview }) : _("An ISO 8601 duration: P2D is 2 days, PT4H 4 hours."),
    getValue: function () { return current; },
    setValue: propertySetter(injector, element, "dueIn"),
    validate: function (value) {
      return value && !isDuration(value) ? _("not an ISO 8601 duration; use e.g. P2D (2 days) or PT4H (4 hours)") : null;
    }
  });
}

// A text field holding one spiffworkflow property of the element (four eyes, assignee, subject).
function propertyEntry(name, label, description) {
  return function (props) {
    var element = props.element;
    var injector = useService("injector");
    var debounce = useService("debounceInput");
    return h(TextFieldEntry, {
      element: element, id: props.id, debounce: debounce, label: label, description: description,
      getValue: function () { return getProperty(getBusinessObject(element), name); },
      setValue: propertySetter(injector, element, name)
    });
  };
}

var FourEyesEntry = propertyEntry("fourEyes", _("Four eyes"),
  _("Who may not complete it: initiator and/or the ids of earlier user tasks, comma-separated."));
var AssigneeEntry = propertyEntry("assignee", _("Assignee"),
  _("initiator, or a user name; empty: anyone of the candidate groups."));
var SubjectEntry = propertyEntry("subject", _("Subject"),
  _("A Python expression over the case's data, shown in the inbox; previewed below."));

function InstructionsEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  var bo = getBusinessObject(element);
  return h(TextAreaEntry, {
    element: element, id: props.id, debounce: debounce, label: _("Instructions (Jinja)"), rows: 4,
    description: _("Shown above the form; {{ name }} inserts the case's data; previewed below."),
    getValue: function () {
      var node = findExtension(bo, "instructionsForEndUser");
      return node ? node.$body || "" : "";
    },
    setValue: function (value) { change(injector, element, setBodyChange(bo, injector.get("moddle"), "instructionsForEndUser", value)); }
  });
}
