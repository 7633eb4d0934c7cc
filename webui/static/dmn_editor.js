// The decision table editor of the definition edit page (dmn-js, bundled as vendor/studio/dmn.js): each DMN file
// of the version opens in the decision table view; every change is checked with deploy's checks (the validate
// route, with the diagram and the other edited tables) and compared in words with the current version (the
// dmn-diff route). modeler.js sends the edited tables with the diagram when it validates and deploys.
(function () {
  "use strict";

  var _ = window.creditflowGettext;  // the page's language (static/i18n.js)
  var root = document.querySelector("[data-dmn-editor]");
  if (!root) return;
  var editorRoot = document.querySelector("[data-bpmn-modeler]");
  var token = document.querySelector('meta[name="csrf-token"]').content;
  var files = JSON.parse(root.dataset.files);  // name -> the version's DMN text
  var edited = {};  // name -> edited DMN text (only tables changed on this page)
  var current = null;  // the file open in the editor
  var container = root.querySelector(".dmn-table");
  var problemsBox = root.querySelector(".dmn-problems");
  var diffBox = root.querySelector(".dmn-diff");
  var modeler = window.CreditflowDmn ? new window.CreditflowDmn.Modeler({ container: container }) : null;
  window.creditflowDmnModeler = modeler;

  function list(box, texts) {
    var ul = box.querySelector("ul");
    ul.textContent = "";
    texts.forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;  // text, never markup: messages quote cells
      ul.appendChild(item);
    });
    box.hidden = texts.length === 0;
  }

  // The edited tables, with the open one's latest edit: what validate, diff and deploy send.
  function editedFiles() {
    if (!modeler || current === null || !edited.hasOwnProperty(current)) return Promise.resolve(edited);
    return modeler.saveXML({ format: true }).then(function (saved) {
      edited[current] = saved.xml;
      return edited;
    });
  }
  window.creditflowDmnEdits = editedFiles;

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token, "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (answer) { return { status: response.status, body: answer }; });
    });
  }

  function markCells(problems) {
    container.querySelectorAll(".cf-problem").forEach(function (cell) { cell.classList.remove("cf-problem"); });
    problems.forEach(function (problem) {
      if (problem.file !== current || !problem.element_id) return;
      container.querySelectorAll('[data-element-id="' + CSS.escape(problem.element_id) + '"]')
        .forEach(function (cell) { cell.classList.add("cf-problem"); });
    });
  }

  // A newer change's answers win; an older one arriving late is dropped.
  var round = 0;
  var timer = null;
  function check() {
    var mine = ++round;
    root.dataset.checked = "";
    Promise.all([editedFiles(), window.creditflowDiagramXml()]).then(function (both) {
      var body = { xml: both[1].xml, files: both[0] };
      return Promise.all([post(editorRoot.dataset.validateUrl, body), post(root.dataset.diffUrl, body)]);
    }).then(function (answers) {
      if (mine !== round) return;
      var problems = (answers[0].body.problems || []).filter(function (p) { return edited.hasOwnProperty(p.file); });
      list(problemsBox, problems.map(function (p) { return p.text; }));
      markCells(problems);
      var diff = answers[1].body;
      var sentences = [];
      (diff.decisions || []).forEach(function (d) {
        d.changes.forEach(function (c) { sentences.push(d.name + " — " + c.text); });
      });
      root.querySelector(".dmn-diff-against").textContent = diff.against
        ? _("(v%(version)s)", { version: diff.against }) : "";
      list(diffBox, sentences);
      root.dataset.checked = String(mine);
    }).catch(function (error) { list(problemsBox, [error.message]); });
  }

  function open(name) {
    editedFiles().then(function () {
      current = null;
      return modeler.importXML(edited[name] || files[name]);
    }).then(function () {
      current = name;
      var table = modeler.getViews().filter(function (v) { return v.type === "decisionTable"; })[0];
      return table ? modeler.open(table) : null;
    }).then(function () {
      container.hidden = false;
      root.querySelectorAll("[data-dmn-file]").forEach(function (b) {
        b.setAttribute("aria-pressed", String(b.dataset.dmnFile === name));
      });
      root.dataset.open = name;
      var viewer = modeler.getActiveViewer();
      viewer.on("elements.changed", function () {
        if (current !== name) return;
        edited[name] = edited[name] || files[name];  // saved from the editor by editedFiles()
        root.dataset.checked = "";  // until the answer about this edit is shown
        clearTimeout(timer);
        timer = setTimeout(check, 400);
      });
    }).catch(function (error) { list(problemsBox, [error.message]); });
  }

  // What-if: the edited tables replayed over the decisions logged in the last N days (or from/to), the
  // summary and the first page of changed decisions. Reads only.
  var whatIf = root.querySelector("form.what-if");
  function day(date) { return date.toISOString().slice(0, 10); }
  function cell(row, value) {
    var td = document.createElement("td");
    td.textContent = typeof value === "string" ? value : JSON.stringify(value);
    row.appendChild(td);
  }
  if (whatIf) whatIf.addEventListener("submit", function (event) {
    event.preventDefault();
    var status = whatIf.querySelector(".what-if-status");
    var result = root.querySelector(".what-if-result");
    var from = whatIf.elements.from.value, to = whatIf.elements.to.value;
    if (!from || !to) {
      var now = new Date();
      to = day(now);
      from = day(new Date(now.getTime() - Number(whatIf.elements.days.value || 30) * 86400000));
    }
    status.textContent = "…";
    editedFiles().then(function (tables) {
      return Promise.all([window.creditflowDiagramXml(), tables]);
    }).then(function (both) {
      return post(whatIf.dataset.whatIfUrl, { xml: both[0].xml, files: both[1], from: from, to: to });
    }).then(function (answer) {
      var body = answer.body;
      if (!body.ok) {
        var problems = body.problems ? body.problems.map(function (p) { return p.text; }) : [];
        status.textContent = (body.error && body.error.message) || problems.join("; ") || String(answer.status);
        result.hidden = true;
        return;
      }
      status.textContent = "";
      list(result, body.lines);
      var rows = result.querySelector("tbody");
      rows.textContent = "";
      body.changes.items.forEach(function (item) {
        var row = document.createElement("tr");
        [item.at, item.decision_id, item.inputs, item.recorded, item.replayed].forEach(function (v) { cell(row, v); });
        rows.appendChild(row);
      });
      result.querySelector(".what-if-changes").hidden = body.changes.items.length === 0;
      result.querySelector(".what-if-more").textContent = body.changes.total > body.changes.items.length
        ? _("the first %(shown)s of %(total)s changed decisions", { shown: body.changes.items.length, total: body.changes.total })
        : "";
      result.hidden = false;
      root.dataset.whatIf = "done";
    }).catch(function (error) { status.textContent = error.message; });
  });

  root.querySelectorAll("[data-dmn-file]").forEach(function (button) {
    button.addEventListener("click", function () { open(button.dataset.dmnFile); });
  });
  if (!modeler) list(problemsBox, [_("The decision table editor is not installed (run `make setup`).")]);
})();
