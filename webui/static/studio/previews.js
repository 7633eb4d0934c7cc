// Previews the server computes as the runtime would (webui/studio_previews.py): a user task's subject and
// instructions over a recent instance's data, and when a timer fires for a start date. A problem is shown in
// place, under the entry, in the panel's error style.
import { h } from "@bpmn-io/properties-panel/preact";
import { useEffect, useState } from "@bpmn-io/properties-panel/preact/hooks";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject } from "bpmn-js/lib/util/ModelUtil";
import { findExtension, getProperty } from "./extensions.js";
import { eventDefinition } from "./common.js";
import { _ } from "./i18n.js";

// Chosen once per page, for every task and timer: what a process owner previews with. instance: "" (no
// data), HIDDEN (the newest case with its values hidden) or an instance id; null until the panel first shows.
var HIDDEN = "hidden";
var chosen = { instance: null, start: "" };

function postJson(url, body) {
  var token = document.querySelector('meta[name="csrf-token"]');
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token ? token.content : "" },
    body: JSON.stringify(body)
  }).then(function (response) {
    return response.json().catch(function () { return {}; }).then(function (answer) {
      if (!response.ok) throw new Error(answer.message || answer.error || _("the server refused the preview (%(status)s)", { status: response.status }));
      return answer;
    });
  });
}

// Ask again when what is previewed changes; an answer about older input is dropped.
function usePreview(url, body) {
  var key = JSON.stringify(body);
  var state = useState({ key: null, answer: null, failed: "" });
  var result = state[0], set = state[1];
  useEffect(function () {
    if (!url) return undefined;
    var current = true;
    var timer = setTimeout(function () {
      postJson(url, body).then(function (answer) { if (current) set({ key: key, answer: answer, failed: "" }); })
        .catch(function (error) { if (current) set({ key: key, answer: null, failed: error.message }); });
    }, 300);
    return function () { current = false; clearTimeout(timer); };
  }, [url, key]);
  return result.key === key ? result : { key: key, answer: null, failed: "", pending: true };
}

function outcomeRow(label, outcome, kind) {
  if (!outcome) return null;
  return h("div", { class: "cf-preview-row", "data-preview": kind },
    h("span", { class: "cf-preview-label" }, label),
    outcome.ok
      ? h("div", { class: "cf-preview-text" }, outcome.text || _("(empty)"))
      : h("div", { class: "bio-properties-panel-error" }, outcome.error));
}

// The instance whose data a preview uses (one choice for the page: the task's texts and the timers). An
// owner who may read no case of the process previews by default over the newest one with its values hidden
// (‹customer_name›, 0, 2000-01-01): the text renders, and no one's data is shown.
function instanceChoice(choices, id, changed) {
  var instances = choices.instances || [];
  var options = [h("option", { value: "" }, _("no data (an empty case)"))];
  if (choices.hiddenValues) options.push(h("option", { value: HIDDEN }, _("a recent case, values hidden")));
  options = options.concat(instances.map(function (i) {
    return h("option", { value: String(i.id) }, i.label);
  }));
  var note = null;
  if (chosenInstance(choices) === HIDDEN) {
    note = _("The newest case of this process, with each value replaced by a stand-in of its type: text by its name, numbers by 0, dates by 2000-01-01. No one's data is shown.");
  } else if (!instances.length && !choices.hiddenValues) {
    note = _("No instance of this process that you may read yet: the preview uses no data.");
  }
  return [
    h("label", { class: "bio-properties-panel-label", for: id }, _("Preview with the data of")),
    h("select", {
      id: id, class: "bio-properties-panel-input", value: chosenInstance(choices),
      onChange: function (event) { chosen.instance = event.target.value; changed(); }
    }, options),
    note ? h("div", { class: "bio-properties-panel-description", "data-preview-note": "" }, note) : null
  ];
}

// The page's choice; at first, hidden values when the owner may read no case of the process and one exists.
function chosenInstance(choices) {
  if (chosen.instance === null) chosen.instance = !(choices.instances || []).length && choices.hiddenValues ? HIDDEN : "";
  return chosen.instance;
}

// What the server is asked to preview with: {instance_id, hidden_values}.
function chosenData(choices) {
  var instance = chosenInstance(choices);
  if (instance === HIDDEN) return { instance_id: null, hidden_values: true };
  return { instance_id: instance ? Number(instance) : null, hidden_values: false };
}

// --- the user task's subject and instructions -------------------------------------------------------------

export function TextPreviewEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var bo = getBusinessObject(element);
  var instructions = findExtension(bo, "instructionsForEndUser");
  var body = Object.assign(chosenData(choices), {
    subject: getProperty(bo, "subject"),
    instructions: instructions ? instructions.$body || "" : ""
  });
  var again = useState(0);
  var result = usePreview(choices.previewTextsUrl, body);
  var answer = result.answer || {};
  return h("div", { class: "bio-properties-panel-entry cf-preview", "data-entry-id": props.id },
    instanceChoice(choices, "cf-preview-instance", function () { again[1](again[0] + 1); }),
    !body.subject.trim() && !body.instructions.trim()
      ? h("div", { class: "bio-properties-panel-description" }, _("Write a subject or instructions to preview them."))
      : result.failed
        ? h("div", { class: "bio-properties-panel-error" }, result.failed)
        : result.pending
          ? h("div", { class: "bio-properties-panel-description" }, _("Rendering…"))
          : h("div", { class: "cf-preview-out", "data-state": "done" },
            outcomeRow(_("Subject"), answer.subject, "subject"),
            outcomeRow(_("Instructions"), answer.instructions, "instructions")));
}

// --- a timer's firings for a start date ----------------------------------------------------------------

var TIMER_KINDS = ["timeDate", "timeDuration", "timeCycle"];

export function timerKindOf(element) {
  var definition = eventDefinition(getBusinessObject(element), "bpmn:TimerEventDefinition");
  var kind = definition && TIMER_KINDS.find(function (k) { return definition[k]; });
  return kind ? { kind: kind, expression: definition[kind].body || "" } : null;
}

export function TimerStartEntry(props) {
  var element = props.element;
  var injector = useService("injector");
  var choices = injector.get("config.creditflow") || {};
  var again = useState(0);
  var timer = timerKindOf(element);
  var body = timer ? Object.assign(chosenData(choices), { kind: timer.kind, expression: timer.expression, start: chosen.start }) : null;
  var result = usePreview(timer && timer.expression.trim() ? choices.previewTimerUrl : null, body || {});
  var answer = result.answer;
  var shown;
  if (!timer || !timer.expression.trim()) shown = null;
  else if (result.failed) shown = h("div", { class: "bio-properties-panel-error" }, result.failed);
  else if (result.pending || !answer) shown = h("div", { class: "bio-properties-panel-description" }, _("Computing…"));
  else if (!answer.ok) shown = h("div", { class: "bio-properties-panel-error" }, answer.error);
  else shown = h("div", { class: "cf-preview-text", "data-preview": "timer" }, answer.text);
  return h("div", { class: "bio-properties-panel-entry cf-preview", "data-entry-id": props.id },
    h("label", { class: "bio-properties-panel-label", for: "cf-timer-start" }, _("Start date (UTC)")),
    h("input", {
      id: "cf-timer-start", class: "bio-properties-panel-input", type: "text", value: chosen.start,
      placeholder: _("now, or e.g. 2027-01-12 09:00"),
      onInput: function (event) { chosen.start = event.target.value.trim(); again[1](again[0] + 1); }
    }),
    h("div", { class: "bio-properties-panel-description" }, _("When the timer starts waiting; the preview says when it fires.")),
    instanceChoice(choices, "cf-timer-instance", function () { again[1](again[0] + 1); }),
    shown);
}
