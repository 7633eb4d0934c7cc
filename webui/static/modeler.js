// The process owners' editor (bpmn-js Modeler): load a version, edit, validate and deploy as a new version.
// Unknown extension elements (spiffworkflow:*) are kept by bpmn-moddle and written back by saveXML.
(function () {
  "use strict";

  var _ = window.creditflowGettext;  // the page's language (static/i18n.js)
  var root = document.querySelector("[data-bpmn-modeler]");
  if (!root) return;
  var status = root.querySelector(".modeler-status");
  var problemsBox = root.querySelector(".problems");
  var problemList = problemsBox.querySelector("ul");
  var token = document.querySelector('meta[name="csrf-token"]').content;
  var marked = [];

  function say(text, kind) {
    status.textContent = text;
    status.className = "modeler-status " + (kind || "");
  }

  // The studio bundle (webui/static/studio/, built by `make setup`): bpmn-js with the properties panel.
  var studio = window.CreditflowStudio;
  if (!studio) {
    say(_("The modeler is not installed (run `make setup`)."), "error");
    return;
  }
  var panel = root.querySelector(".properties-panel");
  var modeler = new studio.Modeler({
    container: root.querySelector(".editor-canvas"),
    propertiesPanel: { parent: panel },
    additionalModules: studio.modules,
    creditflow: JSON.parse(root.dataset.studio || "{}")  // operations, groups, forms, decisions
  });
  var problemStore = modeler.get("creditflowProblems");

  function clearProblems() {
    var canvas = modeler.get("canvas");
    marked.forEach(function (id) { canvas.removeMarker(id, "cf-problem"); });
    marked = [];
    problemStore.set([]);
    problemList.textContent = "";
    problemsBox.hidden = true;
  }

  function showProblems(problems) {
    clearProblems();
    problemStore.set(problems);
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    problems.forEach(function (problem) {
      var item = document.createElement("li");
      var code = document.createElement("code");
      code.textContent = problem.text;  // text, never markup: messages quote user content
      item.appendChild(code);
      problemList.appendChild(item);
      if (problem.element_id && registry.get(problem.element_id)) {
        canvas.addMarker(problem.element_id, "cf-problem");
        marked.push(problem.element_id);
      }
    });
    problemsBox.hidden = problems.length === 0;
  }

  // The diagram with the decision tables edited on this page (dmn_editor.js), deployed together. A diagram
  // nobody changed is sent as it was loaded, byte for byte (saveXML would reformat it): a decision-table-only
  // change deploys the same BPMN.
  var loadedXml = null;
  var diagramChanged = false;
  function diagramXml() {
    if (!diagramChanged && loadedXml !== null) return Promise.resolve({ xml: loadedXml });
    return modeler.saveXML({ format: true });
  }
  window.creditflowDiagramXml = diagramXml;

  function post(url) {
    var tables = window.creditflowDmnEdits ? window.creditflowDmnEdits() : Promise.resolve({});
    return Promise.all([diagramXml(), tables]).then(function (both) {
      return fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": token, "Accept": "application/json" },
        // forms: new JSON schema files the panel made from a field list (studio/form_builder.js)
        body: JSON.stringify({ xml: both[0].xml, files: both[1], forms: modeler.get("creditflowForms").files(both[0].xml) })
      });
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) {
        throw new Error(_("The server refused the request (%(status)s); reload the page and try again.", { status: response.status }));
      }
      return response.json().then(function (body) { return { status: response.status, body: body }; });
    });
  }

  function busy(on) {
    root.querySelectorAll("button").forEach(function (b) { b.disabled = on; });
  }

  function validate() {
    busy(true);
    say(_("Validating…"));
    return post(root.dataset.validateUrl).then(function (result) {
      showProblems(result.body.problems || []);
      if (result.body.ok) say(_("Valid: the diagram passes every check."), "ok");
      else say(_("%(count)s problem(s): fix them before deploying.", { count: result.body.problems.length }), "error");
    }).catch(function (error) { say(error.message, "error"); })
      .finally(function () { busy(false); });
  }

  function deploy() {
    checkRound++;  // a quiet check still on its way answers about the diagram before the deploy: dropped
    busy(true);
    say(_("Validating and deploying…"));
    return post(root.dataset.deployUrl).then(function (result) {
      if (!result.body.ok) {
        showProblems(result.body.problems || []);
        say(_("Nothing was deployed: %(count)s problem(s).", { count: (result.body.problems || []).length }), "error");
        return;
      }
      clearProblems();
      status.textContent = "";
      status.className = "modeler-status ok";
      result.body.deployed.forEach(function (d, i) {
        if (i) status.appendChild(document.createTextNode(" "));
        var link = document.createElement("a");
        link.href = d.url;
        link.textContent = d.message;
        status.appendChild(link);
      });
    }).catch(function (error) { say(error.message, "error"); })
      .finally(function () { busy(false); });
  }

  // Every change is checked as it is made, with the deploy checks: problems are marked on their element
  // and shown in the panel. A newer change's answer wins; an older one arriving late is dropped.
  var changeTimer = null;
  var checkRound = 0;  // moves on at every change, so an answer about an older diagram is never shown
  function validateQuietly() {
    var round = checkRound;
    post(root.dataset.validateUrl).then(function (result) {
      if (round !== checkRound) return;
      var problems = result.body.problems || [];
      showProblems(problems);
      if (result.body.ok) say(_("Valid: the diagram passes every check."), "ok");
      else say(_("%(count)s problem(s): fix them before deploying.", { count: problems.length }), "error");
      root.dataset.checked = String(round);
    }).catch(function (error) { say(error.message, "error"); });
  }
  modeler.on("commandStack.changed", function () {
    diagramChanged = true;
    checkRound++;
    root.dataset.checked = "";
    clearTimeout(changeTimer);
    changeTimer = setTimeout(validateQuietly, 500);
  });

  root.querySelector('[data-action="validate"]').addEventListener("click", validate);
  root.querySelector('[data-action="deploy"]').addEventListener("click", deploy);

  fetch(root.dataset.xmlUrl, { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) throw new Error(_("the server answered %(status)s", { status: response.status }));
      return response.text();
    })
    .then(function (xml) {
      loadedXml = xml;
      return modeler.importXML(xml);
    })
    .then(function (result) {
      modeler.get("canvas").zoom("fit-viewport", "auto");
      root.dataset.state = "ready";
      var warnings = (result && result.warnings) || [];
      say(warnings.length ? _("Loaded with %(count)s import warning(s).", { count: warnings.length }) : _("Loaded. Edit, then validate or deploy."));
    })
    .catch(function (error) {
      root.dataset.state = "error";
      say(_("The diagram could not be loaded: %(reason)s", { reason: error.message }), "error");
    });

  window.creditflowModeler = modeler;  // for browser tests and the console
})();
