// The user task's group: form, candidate group, due date, four eyes, assignee, subject (spiffworkflow:property)
// and the instructions (spiffworkflow:instructionsForEndUser).
import { h } from "@bpmn-io/properties-panel/preact";
import {
  SelectEntry, TextAreaEntry, TextFieldEntry, isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited
} from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject } from "bpmn-js/lib/util/ModelUtil";
import { findExtension, getProperty, setBodyChange } from "./extensions.js";
import { change, entry, propertySetter, withCurrent } from "./common.js";
import { durationPreview, isDuration } from "./durations.js";

export function userTaskGroup(element) {
  return { id: "creditflow-user-task", label: "User task", entries: [
    entry(element, "formJsonSchemaFilename", FormEntry, isSelectEntryEdited),
    entry(element, "candidateGroups", CandidateGroupsEntry, isSelectEntryEdited),
    entry(element, "dueIn", DueInEntry, isTextFieldEntryEdited),
    entry(element, "fourEyes", FourEyesEntry, isTextFieldEntryEdited),
    entry(element, "assignee", AssigneeEntry, isTextFieldEntryEdited),
    entry(element, "subject", SubjectEntry, isTextFieldEntryEdited),
    entry(element, "instructions", InstructionsEntry, isTextAreaEntryEdited)
  ] };
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

var FourEyesEntry = propertyEntry("fourEyes", "Four eyes",
  "Who may not complete it: initiator and/or the ids of earlier user tasks, comma-separated.");
var AssigneeEntry = propertyEntry("assignee", "Assignee",
  "initiator, or a user name; empty: anyone of the candidate group.");
var SubjectEntry = propertyEntry("subject", "Subject",
  "A Python expression over the case's data, shown in the inbox.");

function InstructionsEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var debounce = useService("debounceInput");
  var bo = getBusinessObject(element);
  return h(TextAreaEntry, {
    element: element, id: props.id, debounce: debounce, label: "Instructions (Jinja)", rows: 4,
    description: "Shown above the form; {{ name }} inserts the case's data.",
    getValue: function () {
      var node = findExtension(bo, "instructionsForEndUser");
      return node ? node.$body || "" : "";
    },
    setValue: function (value) { change(injector, element, setBodyChange(bo, injector.get("moddle"), "instructionsForEndUser", value)); }
  });
}
