// Read-only BPMN diagrams (bpmn-js NavigatedViewer): fetch the version's XML, fit it, add state markers.
// Each container: data-bpmn-viewer, data-xml-url, data-markers = {"cf-done": [bpmn ids], ...}. Failures are
// said in the page's language (static/i18n.js).
(function () {
  "use strict";

  var _ = window.creditflowGettext;

  function show(container, state, text) {
    container.dataset.state = state;
    var status = container.querySelector(".diagram-status");
    status.textContent = text;
    status.hidden = !text;
  }

  function mark(viewer, markers) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    Object.keys(markers).forEach(function (cls) {
      markers[cls].forEach(function (id) {
        if (registry.get(id)) canvas.addMarker(id, cls);
      });
    });
  }

  function setup(container) {
    if (typeof window.BpmnJS !== "function") {
      show(container, "error", _("The diagram viewer is not installed (run `make setup`)."));
      return;
    }
    var viewer = new window.BpmnJS({ container: container.querySelector(".diagram-canvas") });
    var markers = JSON.parse(container.dataset.markers || "{}");
    fetch(container.dataset.xmlUrl, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(_("the server answered %(status)s", { status: response.status }));
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        viewer.get("canvas").zoom("fit-viewport", "auto");
        mark(viewer, markers);
        show(container, "ready", "");
      })
      .catch(function (error) {
        show(container, "error", _("The diagram could not be shown: %(reason)s", { reason: error.message }));
      });
  }

  document.querySelectorAll("[data-bpmn-viewer]").forEach(setup);
})();
