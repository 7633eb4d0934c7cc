// A new form for a user task, made from a field list (name, type, required): a JSON schema file that the panel
// keeps in the creditflowForms service and modeler.js deploys with the diagram ("forms" of the deploy post).
// Deploy checks it as any form (FILE:LINE problems); the task's formJsonSchemaFilename names it.
import { h } from "@bpmn-io/properties-panel/preact";
import { useState } from "@bpmn-io/properties-panel/preact/hooks";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject } from "bpmn-js/lib/util/ModelUtil";
import { propertySetter } from "./common.js";
import { _ } from "./i18n.js";

// The field types a process owner picks, as the JSON schema the shipped forms use (bpmn/*.json): an amount is
// a number with "format": "money", which the forms read as an exact decimal.
var TYPES = [
  ["string", function () { return _("Text"); }, { type: "string" }],
  ["money", function () { return _("Amount"); }, { type: "number", format: "money" }],
  ["integer", function () { return _("Whole number"); }, { type: "integer" }],
  ["boolean", function () { return _("Yes / no"); }, { type: "boolean" }],
  ["date", function () { return _("Date"); }, { type: "string", format: "date" }]
];
var FIELD_NAME = /^[a-z_][a-z0-9_]{0,59}$/;
var FILE_NAME = /^[a-z0-9][a-z0-9_-]{0,59}$/;

// The forms created on this page: name -> JSON text; what modeler.js posts as "forms".
export default function CreditflowForms(config) {
  this._files = {};
  this._choices = config || {};
}
CreditflowForms.$inject = ["config.creditflow"];
CreditflowForms.prototype.add = function (name, text) {
  this._files[name] = text;
  var forms = this._choices.forms = this._choices.forms || [];
  if (forms.indexOf(name) === -1) forms.push(name);
};
// The forms the diagram names (a form made and then undone, or replaced by another, is not deployed).
CreditflowForms.prototype.files = function (xml) {
  var files = this._files, named = {};
  Object.keys(files).forEach(function (name) {
    if ((xml || "").indexOf('"' + name + '"') !== -1) named[name] = files[name];
  });
  return named;
};

export function schemaOf(title, fields) {
  var schema = { $schema: "https://json-schema.org/draft/2020-12/schema", title: title, type: "object", properties: {}, required: [] };
  fields.forEach(function (f) {
    var type = TYPES.find(function (t) { return t[0] === f.type; }) || TYPES[0];
    schema.properties[f.name] = Object.assign({ title: f.name.replace(/_/g, " ") }, type[2]);
    if (f.required) schema.required.push(f.name);
  });
  if (!schema.required.length) delete schema.required;
  return JSON.stringify(schema, null, 2) + "\n";
}

// What is wrong with the list, in words, or "" when it can be created.
export function fieldListProblem(name, fields, existing) {
  if (!FILE_NAME.test(name)) return _("the file name: lower-case letters, digits, _ and -, e.g. limit_review");
  if (existing.indexOf(name + ".json") !== -1) return _("%(name)s.json exists already; choose it above", { name: name });
  if (!fields.length) return _("add at least one field");
  var seen = {};
  for (var i = 0; i < fields.length; i++) {
    var n = fields[i].name;
    if (!FIELD_NAME.test(n)) return _("field %(name)s: lower-case letters, digits and _, starting with a letter", { name: n || "#" + (i + 1) });
    if (seen[n]) return _("field %(name)s is listed twice", { name: n });
    seen[n] = true;
  }
  return "";
}

export function NewFormEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var forms = injector.get("creditflowForms");
  var choices = injector.get("config.creditflow") || {};
  var open = useState(false), name = useState(""), fields = useState([{ name: "", type: "string", required: true }]);
  var problem = useState("");
  var list = fields[0];

  function setField(i, key, value) {
    var next = list.map(function (f, j) { return j === i ? Object.assign({}, f, { [key]: value }) : f; });
    fields[1](next);
    problem[1]("");  // said again at the next "Create"; a stale one would name a field already fixed
  }
  function create() {
    var wrong = fieldListProblem(name[0], list, choices.forms || []);
    problem[1](wrong);
    if (wrong) return;
    var file = name[0] + ".json";
    forms.add(file, schemaOf(name[0].replace(/[_-]/g, " "), list));
    propertySetter(injector, element, "formJsonSchemaFilename")(file);
    open[1](false);
    name[1]("");  // the next form starts empty
    fields[1]([{ name: "", type: "string", required: true }]);
  }
  if (!open[0]) {
    return h("div", { class: "bio-properties-panel-entry", "data-entry-id": props.id },
      h("button", { type: "button", class: "cf-new-form", onClick: function () { open[1](true); } }, _("New form from a field list…")));
  }
  var typeOptions = function (current) {
    return TYPES.map(function (t) { return h("option", { value: t[0], selected: t[0] === current }, t[1]()); });
  };
  return h("div", { class: "bio-properties-panel-entry cf-form-builder", "data-entry-id": props.id },
    h("label", { class: "bio-properties-panel-label", for: "cf-new-form-name" }, _("File name (.json is added)")),
    h("input", { id: "cf-new-form-name", class: "bio-properties-panel-input", value: name[0], onInput: function (e) { name[1](e.target.value.trim()); } }),
    h("table", { class: "cf-fields" },
      h("thead", null, h("tr", null, h("th", null, _("Field")), h("th", null, _("Type")), h("th", null, _("Required")), h("th", null, ""))),
      h("tbody", null, list.map(function (f, i) {
        return h("tr", { "data-field": String(i) },
          h("td", null, h("input", { "aria-label": _("Field name"), placeholder: _("Field name"), name: "field-name", value: f.name, onInput: function (e) { setField(i, "name", e.target.value.trim()); } })),
          h("td", null, h("select", { "aria-label": _("Type"), name: "field-type", onChange: function (e) { setField(i, "type", e.target.value); } }, typeOptions(f.type))),
          h("td", null, h("label", null, h("input", { type: "checkbox", name: "field-required", checked: f.required, onChange: function (e) { setField(i, "required", e.target.checked); } }), " ", _("Required"))),
          h("td", null, h("button", { type: "button", "aria-label": _("Remove the field"), onClick: function () { fields[1](list.filter(function (_f, j) { return j !== i; })); } }, "×")));
      }))),
    h("button", { type: "button", "data-action": "add-field", onClick: function () { fields[1](list.concat([{ name: "", type: "string", required: false }])); } }, _("Add a field")),
    " ",
    h("button", { type: "button", "data-action": "create-form", class: "primary", onClick: create }, _("Create the form")),
    " ",
    h("button", { type: "button", onClick: function () { open[1](false); problem[1](""); } }, _("Cancel")),
    problem[0] ? h("div", { class: "bio-properties-panel-error" }, problem[0]) : null,
    h("div", { class: "bio-properties-panel-description" }, _("The form is deployed with the diagram as a new JSON schema file.")));
}
